"""The OpenID4VCI exchanges: the pre-authorized code for an access token (token endpoint), a
fresh ``c_nonce`` (nonce endpoint), and a key proof plus access token for the licence as an
SD-JWT VC bound to the proven key (credential endpoint).

State lives in the database (``registry.models``: ``CredentialOffer``, ``IssuanceToken``,
``UsedNonce``), written through the one writer. A ``c_nonce`` is made without a write: it is
its expiry and 16 random bytes under an HMAC of a key derived from the master key, so the
unauthenticated nonce endpoint cannot fill the database; the nonce is written when a key proof
uses it (``UsedNonce``, unique), which makes a second use a replay. Every single-use step is one
conditional ``UPDATE`` or ``INSERT ... ON CONFLICT DO NOTHING``, so two racing requests cannot
both win, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from credential import (
    LicenceStatus,
    PublicKey,
    b64url,
    b64url_decode,
    errors,
    jwk_thumbprint,
    jwk_to_public_key,
    read_credential,
    read_jws,
    sd_jwt_vc_of_licence,
)
from registry.audit import append_audit
from registry.db import insert_unless_taken
from registry.errors import ServiceError
from registry.models import CredentialOffer, IssuanceToken, Licence, UsedNonce
from registry.openid4vci import MAX_TX_CODE_TRIES, secret_digest, tx_code_digest

from ..licences.service import find_licence_type, issuing_key
from ..runtime import IssuerRuntime
from .errors import (
    CREDENTIAL_REQUEST_DENIED,
    INVALID_GRANT,
    INVALID_NONCE,
    INVALID_PROOF,
    INVALID_REQUEST,
    INVALID_TOKEN,
    UNKNOWN_CREDENTIAL_CONFIGURATION,
    OAuthError,
    bearer_error,
)
from .metadata import PROOF_ALGORITHMS

PROOF_TYP = "openid4vci-proof+jwt"
ACCESS_TOKEN_LIFETIME = 300
NONCE_LIFETIME = 300
# How far a key proof's iat may lie behind or ahead of the issuer's clock.
PROOF_MAX_AGE = 300
PROOF_FUTURE_SKEW = 60
MAX_PROOF_CHARS = 16 * 1024
_NONCE_KEY_LABEL = b"elicence/openid4vci/c_nonce/v1"
_NONCE_RANDOM = 16
_NONCE_TAG = 16


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# --- c_nonce --------------------------------------------------------------------------------
def _nonce_key(runtime: IssuerRuntime) -> bytes:
    return hmac.new(runtime.key_secret, _NONCE_KEY_LABEL, hashlib.sha256).digest()


def new_nonce(*, runtime: IssuerRuntime, now: int) -> str:
    """A fresh ``c_nonce``: ``base64url(expiry || random || tag)``, good for
    ``NONCE_LIFETIME`` seconds and one key proof."""
    body = struct.pack(">Q", now + NONCE_LIFETIME) + secrets.token_bytes(_NONCE_RANDOM)
    tag = hmac.new(_nonce_key(runtime), body, hashlib.sha256).digest()[:_NONCE_TAG]
    return b64url(body + tag)


def nonce_expiry(*, runtime: IssuerRuntime, nonce: str, now: int) -> int:
    """When a ``c_nonce`` this issuer made expires. Raises ``OAuthError`` (``invalid_nonce``)
    for one it did not make or that has expired (its use is checked when it is spent)."""
    try:
        raw = b64url_decode(nonce) if len(nonce) <= 64 else b""
    except errors.MalformedPayload:
        raw = b""
    if len(raw) != 8 + _NONCE_RANDOM + _NONCE_TAG:
        raise OAuthError(INVALID_NONCE, "the key proof's nonce is not a c_nonce of this issuer")
    body, tag = raw[:-_NONCE_TAG], raw[-_NONCE_TAG:]
    expected = hmac.new(_nonce_key(runtime), body, hashlib.sha256).digest()[:_NONCE_TAG]
    if not hmac.compare_digest(tag, expected):
        raise OAuthError(INVALID_NONCE, "the key proof's nonce is not a c_nonce of this issuer")
    (expires,) = struct.unpack(">Q", body[:8])
    if expires < now:
        raise OAuthError(INVALID_NONCE, "the c_nonce has expired; fetch a new one")
    return int(expires)


def spend_nonce(*, session: Session, nonce: str, expires: int, now: dt.datetime) -> None:
    """Record the nonce as used. Raises ``OAuthError`` (``invalid_nonce``) on a second use.

    Rows of nonces that have expired go at the same time: such a nonce is refused by what it
    says itself, so its row no longer guards anything."""
    session.execute(delete(UsedNonce).where(UsedNonce.expires_at < now))
    row = {
        "nonce_digest": secret_digest(nonce),
        "expires_at": dt.datetime.fromtimestamp(expires, dt.UTC),
    }
    if not insert_unless_taken(session.connection(), UsedNonce, row):
        raise OAuthError(INVALID_NONCE, "the c_nonce was used already; fetch a new one")


# --- token endpoint -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Redemption:
    """What the token endpoint's write did: a token, or why none (``error`` set; a wrong
    transaction code still counts against the offer, so it is an answer, not a raise)."""

    access_token: str | None = None
    error: OAuthError | None = None

    def __repr__(self) -> str:
        return f"Redemption(error={self.error!r})"


def redeem_offer(
    *, session: Session, pre_authorized_code: str, tx_code: str | None, now: dt.datetime
) -> Redemption:
    """Exchange a pre-authorized code and its transaction code for an access token, once.

    Returns a ``Redemption``; an unknown, used or expired code, or a wrong transaction code,
    is ``invalid_grant`` (each attempt with a transaction code is counted: after
    ``MAX_TX_CODE_TRIES`` the offer is dead); a missing transaction code is
    ``invalid_request``."""
    offer = session.scalars(
        select(CredentialOffer).where(
            CredentialOffer.code_digest == secret_digest(pre_authorized_code)
        )
    ).first()
    if offer is None:
        return Redemption(error=OAuthError(INVALID_GRANT, "unknown pre-authorized code"))
    if offer.redeemed_at is not None:
        return Redemption(error=OAuthError(INVALID_GRANT, "the pre-authorized code was used"))
    if _utc(offer.expires_at) <= now:
        return Redemption(error=OAuthError(INVALID_GRANT, "the pre-authorized code has expired"))
    if tx_code is None:
        return Redemption(
            error=OAuthError(INVALID_REQUEST, "this offer needs its transaction code (tx_code)")
        )
    # Every attempt takes one try before the code is compared, in one conditional UPDATE: so
    # concurrent guesses cannot all pass a check made on a stale count.
    tried = session.execute(
        update(CredentialOffer)
        .where(
            CredentialOffer.id == offer.id,
            CredentialOffer.tries < MAX_TX_CODE_TRIES,
            CredentialOffer.redeemed_at.is_(None),
        )
        .values(tries=CredentialOffer.tries + 1)
        .returning(CredentialOffer.tries)
    ).scalar()
    if tried is None:  # the tries are spent, or a concurrent request redeemed the code
        return Redemption(
            error=OAuthError(
                INVALID_GRANT,
                "no tries left (too many wrong transaction codes, or used): ask for a new offer",
            )
        )
    if not hmac.compare_digest(tx_code_digest(pre_authorized_code, tx_code), offer.tx_code_digest):
        left = MAX_TX_CODE_TRIES - tried
        return Redemption(
            error=OAuthError(INVALID_GRANT, f"wrong transaction code ({left} tries left)")
        )
    session.execute(
        update(CredentialOffer).where(CredentialOffer.id == offer.id).values(redeemed_at=now)
    )
    access_token = secrets.token_urlsafe(32)
    session.add(
        IssuanceToken(
            token_digest=secret_digest(access_token),
            offer_id=offer.id,
            expires_at=now + dt.timedelta(seconds=ACCESS_TOKEN_LIFETIME),
        )
    )
    session.flush()
    return Redemption(access_token=access_token)


# --- credential endpoint --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyProof:
    """A key proof that verified: the wallet's key and the ``c_nonce`` it signed."""

    holder_key: PublicKey
    nonce: str
    nonce_expires: int


def check_key_proof(
    proof: Any, *, runtime: IssuerRuntime, credential_issuer: str, now: int
) -> KeyProof:
    """Verify a ``jwt`` key proof (OpenID4VCI 1.0 appendix F.1): ``typ``
    ``openid4vci-proof+jwt``, ``alg`` ES256 or EdDSA, the wallet's public key in ``jwk``,
    signed by that key, ``aud`` this issuer, a recent ``iat`` and a ``nonce`` this issuer made
    that has not expired. Raises ``OAuthError`` (``invalid_proof`` or ``invalid_nonce``)."""
    if not isinstance(proof, str) or len(proof) > MAX_PROOF_CHARS:
        raise OAuthError(INVALID_PROOF, "a jwt key proof is a compact JWS")
    try:
        jws = read_jws(proof, typ=PROOF_TYP)
    except errors.MalformedToken as exc:
        raise OAuthError(INVALID_PROOF, f"key proof: {exc.detail}") from None
    except errors.UnsupportedAlgorithm:
        raise OAuthError(INVALID_PROOF, "key proof: alg must be ES256 or EdDSA") from None
    if jws.alg not in PROOF_ALGORITHMS:
        raise OAuthError(INVALID_PROOF, "key proof: alg must be ES256 or EdDSA")
    jwk = jws.header.get("jwk")
    if not isinstance(jwk, dict) or "kid" in jws.header or "x5c" in jws.header:
        raise OAuthError(INVALID_PROOF, "key proof: the wallet's public key goes in jwk, alone")
    if "d" in jwk:
        raise OAuthError(INVALID_PROOF, "key proof: jwk holds a private key")
    try:
        holder_key = jwk_to_public_key(jwk)
        jws.verify(holder_key)
    except errors.BadSignature:
        raise OAuthError(INVALID_PROOF, "key proof: not signed by the key in jwk") from None
    except errors.ElicenceError as exc:
        raise OAuthError(INVALID_PROOF, f"key proof: {exc.detail}") from None
    claims = jws.payload
    audience = claims.get("aud")
    if audience != credential_issuer and audience != [credential_issuer]:
        raise OAuthError(INVALID_PROOF, "key proof: aud must be this credential issuer")
    issued_at = claims.get("iat")
    if type(issued_at) is not int:
        raise OAuthError(INVALID_PROOF, "key proof: iat (integer seconds) is required")
    if issued_at > now + PROOF_FUTURE_SKEW or issued_at < now - PROOF_MAX_AGE:
        raise OAuthError(INVALID_PROOF, "key proof: iat is not recent")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise OAuthError(INVALID_PROOF, "key proof: nonce (a c_nonce) is required")
    expires = nonce_expiry(runtime=runtime, nonce=nonce, now=now)
    return KeyProof(holder_key, nonce, expires)


def parse_bearer(authorization: str | None) -> str:
    """The access token of an ``Authorization: Bearer`` header. Raises ``OAuthError`` (401)."""
    if authorization is None:
        raise bearer_error(None, "an access token is required (Authorization: Bearer)")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise bearer_error(INVALID_TOKEN, "the Authorization header must be Bearer <token>")
    return token


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A live access token: which offer (licence, configuration) it came from."""

    token_id: int
    licence_id: str
    configuration_id: str


def live_token(*, session: Session, access_token: str, now: dt.datetime) -> TokenGrant:
    """The grant of an unused, unexpired access token. Raises ``OAuthError`` (401
    ``invalid_token``)."""
    row = session.execute(
        select(IssuanceToken, CredentialOffer)
        .join(CredentialOffer, IssuanceToken.offer_id == CredentialOffer.id)
        .where(IssuanceToken.token_digest == secret_digest(access_token))
    ).first()
    if row is None:
        raise bearer_error(INVALID_TOKEN, "unknown access token")
    token, offer = row
    if token.used_at is not None:
        raise bearer_error(INVALID_TOKEN, "the access token was used already")
    if _utc(token.expires_at) <= now:
        raise bearer_error(INVALID_TOKEN, "the access token has expired")
    return TokenGrant(token.id, offer.licence_id, offer.credential_configuration_id)


def _usable(licence: Licence, now: dt.datetime) -> None:
    if licence.status != LicenceStatus.VALID:
        raise OAuthError(CREDENTIAL_REQUEST_DENIED, f"the licence is {licence.status.value}")
    if _utc(licence.valid_until) <= now:
        raise OAuthError(CREDENTIAL_REQUEST_DENIED, "the licence has expired")


def issue_sd_jwt_vc(
    *,
    session: Session,
    runtime: IssuerRuntime,
    access_token: str,
    configuration_id: str,
    proof: KeyProof,
    now: dt.datetime,
) -> str:
    """The write of the credential endpoint: spend the access token and the ``c_nonce``, sign
    the licence as an SD-JWT VC bound to the proof's key (the department's current key, the
    licence's own status entry) and audit it. Raises ``OAuthError``; nothing is kept then."""
    grant = live_token(session=session, access_token=access_token, now=now)
    if configuration_id != grant.configuration_id:
        raise OAuthError(
            UNKNOWN_CREDENTIAL_CONFIGURATION,
            "the access token is for another credential configuration",
        )
    spend_nonce(session=session, nonce=proof.nonce, expires=proof.nonce_expires, now=now)
    spent = session.execute(
        update(IssuanceToken)
        .where(IssuanceToken.id == grant.token_id, IssuanceToken.used_at.is_(None))
        .values(used_at=now)
        .returning(IssuanceToken.id)
    ).first()
    if spent is None:
        raise bearer_error(INVALID_TOKEN, "the access token was used already")
    licence = session.get(Licence, grant.licence_id)
    if licence is None:
        raise OAuthError(CREDENTIAL_REQUEST_DENIED, "the licence is gone")
    _usable(licence, now)
    try:
        rules = find_licence_type(
            session=session,
            department_id=licence.department_id,
            code=licence.licence_type.code,
        )
        key = issuing_key(
            session=session,
            runtime=runtime,
            department_id=licence.department_id,
            licence_type=rules,
        )
    except ServiceError as exc:
        raise OAuthError(CREDENTIAL_REQUEST_DENIED, exc.detail) from None
    claims = dataclasses.replace(
        read_credential(licence.credential).claims, holder_key=proof.holder_key
    )
    issued = sd_jwt_vc_of_licence(
        claims, key.signer, public_base_url=runtime.settings.public_base_url
    )
    append_audit(
        session,
        actor="openid4vci-wallet",
        act="licence.sd_jwt_vc_issue",
        object_type="licence",
        object_id=licence.id,
        detail={
            "credential_configuration_id": configuration_id,
            "holder_key_thumbprint": b64url(jwk_thumbprint(proof.holder_key)),
            "kid": key.kid,
            "status_list": licence.status_list_id,
            "status_index": licence.status_index,
        },
    )
    return issued
