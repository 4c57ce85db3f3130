// A third-party wallet and verifier that no one in this project wrote, run by
// tests/openid4vci/test_interop.py against a served app on 127.0.0.1:
//
//   issue:  @openid4vc/openid4vci (with @openid4vc/oauth2) resolves the credential offer, fetches
//           the issuer and authorization server metadata, exchanges the pre-authorized code and
//           tx_code for an access token, asks for a c_nonce, signs a jwt key proof with a fresh
//           P-256 key and retrieves the credential; @sd-jwt/sd-jwt-vc then verifies it (issuer
//           signature with the key /.well-known/jwt-vc-issuer names, every disclosure, the status
//           list token and the licence's entry in it) and makes a presentation with a KB-JWT,
//           which it verifies too.
//   verify: @sd-jwt/sd-jwt-vc verifies a credential again (after a revocation, say).
//
// Reads one JSON object on stdin and writes one on stdout; exits 1 with {"error"} on failure.
// Only the origin it is given is ever fetched.

import { createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';

import {
  clientAuthenticationAnonymous,
  decodeJwt,
  setGlobalConfig,
} from '@openid4vc/oauth2';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';

// The served app is plain http on the loopback interface.
setGlobalConfig({ allowInsecureUrls: true });

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const fromB64url = (text) => Buffer.from(text, 'base64url');

function algOfJwk(jwk) {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  throw new Error(`unsupported key ${jwk.kty}/${jwk.crv}`);
}

function signWith(privateKey, alg, data) {
  const options = alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey;
  return sign(alg === 'ES256' ? 'sha256' : null, Buffer.from(data), options);
}

function verifyWith(publicJwk, data, signature) {
  const alg = algOfJwk(publicJwk);
  const key = { key: publicJwk, format: 'jwk' };
  if (alg === 'ES256') key.dsaEncoding = 'ieee-p1363';
  return verify(alg === 'ES256' ? 'sha256' : null, Buffer.from(data), key, fromB64url(signature));
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return response.json();
}

function sdJwtVc({ issuerKeys, holder }) {
  // The issuer's key by the kid of the signed JWT's header: the sd-jwt library hands the
  // verifier only the signing input and the signature.
  const byKid = (data, signature) => {
    const header = JSON.parse(fromB64url(data.split('.')[0]).toString('utf8'));
    const jwk = issuerKeys.find((key) => key.kid === header.kid);
    if (!jwk) throw new Error(`no key ${header.kid} in /.well-known/jwt-vc-issuer`);
    const { kid, alg, use, ...publicJwk } = jwk;
    return verifyWith(publicJwk, data, signature);
  };
  return new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
    verifier: byKid,
    statusVerifier: byKid,
    kbVerifier: (data, signature, payload) => verifyWith(payload.cnf.jwk, data, signature),
    kbSigner: holder ? (data) => b64url(signWith(holder.privateKey, 'ES256', data)) : undefined,
    kbSignAlg: 'ES256',
    // the status list token is fetched by the library itself (its own fetcher, its own decoder)
  });
}

async function issue({ offer_uri: offerUri, tx_code: txCode, kb_audience: kbAudience }) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicJwk = publicKey.export({ format: 'jwk' });
  const callbacks = {
    fetch,
    hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
    generateRandom: (length) => randomBytes(length),
    clientAuthentication: clientAuthenticationAnonymous(),
    signJwt: async (signer, { header, payload }) => {
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
      const jwt = `${input}.${b64url(signWith(privateKey, 'ES256', input))}`;
      return { jwt, signerJwk: publicJwk };
    },
    verifyJwt: async (signer, { compact, header }) => {
      const [h, p, s] = compact.split('.');
      const jwk = signer.publicJwk ?? header.jwk;
      return { verified: verifyWith(jwk, `${h}.${p}`, s), signerJwk: jwk };
    },
  };
  const client = new Openid4vciClient({ callbacks });
  const credentialOffer = await client.resolveCredentialOffer(offerUri);
  const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
  const [configurationId] = credentialOffer.credential_configuration_ids;
  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer,
    issuerMetadata,
    txCode,
  });
  const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });
  const { jwt: proof } = await client.createCredentialRequestJwtProof({
    issuerMetadata,
    credentialConfigurationId: configurationId,
    signer: { method: 'jwk', alg: 'ES256', publicJwk },
    nonce,
    issuedAt: new Date(),
  });
  const retrieved = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configurationId,
    proofs: { jwt: [proof] },
  });
  const [{ credential }] = retrieved.credentialResponse.credentials;

  const issuer = credentialOffer.credential_issuer;
  const { keys: issuerKeys } = (await getJson(`${issuer}/.well-known/jwt-vc-issuer`)).jwks;
  const sdjwt = sdJwtVc({ issuerKeys, holder: { privateKey } });
  const verified = await sdjwt.verify(credential, {
    requiredClaimKeys: ['holder_name', 'masked_id_number', 'licence_number'],
  });
  const claims = await sdjwt.getClaims(credential);
  const kbNonce = b64url(randomBytes(16));
  const presentation = await sdjwt.present(
    credential,
    { holder_name: true, fields: { licence_class: true } },
    { kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: kbAudience, nonce: kbNonce } } },
  );
  const presented = await sdjwt.verify(presentation, {
    keyBindingNonce: kbNonce,
    requiredClaimKeys: ['holder_name'],
  });
  return {
    metadata_version: issuerMetadata.originalDraftVersion,
    configuration_id: configurationId,
    token_type: accessTokenResponse.token_type,
    credential,
    wallet_jwk: publicJwk,
    proof_header: decodeJwt({ jwt: proof }).header,
    verified_payload: verified.payload,
    claims,
    presentation,
    kb_nonce: kbNonce,
    presented_claims: await sdjwt.getClaims(presentation),
    presentation_kb: presented.kb.payload,
  };
}

async function verifyAgain({ credential, issuer }) {
  const { keys: issuerKeys } = (await getJson(`${issuer}/.well-known/jwt-vc-issuer`)).jwks;
  try {
    const verified = await sdJwtVc({ issuerKeys }).verify(credential);
    return { ok: true, payload: verified.payload };
  } catch (error) {
    return { ok: false, reason: String(error.message ?? error) };
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
try {
  const answer = request.mode === 'verify' ? await verifyAgain(request) : await issue(request);
  process.stdout.write(JSON.stringify(answer));
} catch (error) {
  const details = error.response ? ` (${error.response.status})` : '';
  const body = error.errorResponse ? ` ${JSON.stringify(error.errorResponse)}` : '';
  process.stdout.write(JSON.stringify({ error: `${error.name}: ${error.message}${details}${body}` }));
  process.exitCode = 1;
}
