"""Write ``tests/vectors/credential_vectors.json``: QR payload vectors for other implementations.

Run from the repository root: ``.venv/bin/python tests/vectors/generate.py``. Keys are fixed
(derived from small integers) and ES256 signatures use RFC 6979, so the output repeats exactly
with the same zlib build. The tests read the stored file; they never regenerate it.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path
from typing import Any

import base45
import cbor2

_REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(_REPO))

from credential import (  # noqa: E402
    PublicKey,
    b64url,
    encode_presentation_qr,
    encode_static_qr,
    kid_text,
    public_key_to_jwk,
    read_credential,
    sign_credential,
    sign_holder_proof,
)
from tests.credential._support import NOW, TestSigner, driving_licence  # noqa: E402

OUTPUT = Path(__file__).with_name("credential_vectors.json")
TEST_KEY_NOTE = "TEST KEY, never use: published so that other implementations can check their code."
CHALLENGE = "K7Q2M9XA"

KEYS = {
    "issuer-es256": TestSigner.from_seed("ES256", 0x1001),
    "issuer-eddsa": TestSigner.from_seed("EdDSA", 0x1002),
    "holder-es256": TestSigner.from_seed("ES256", 0x2001),
    "holder-eddsa": TestSigner.from_seed("EdDSA", 0x2002),
    "rogue-es256": TestSigner.from_seed("ES256", 0x6666),  # signs, but is not trusted
}
TRUSTED = ["issuer-es256", "issuer-eddsa"]


def _private_jwk(signer: TestSigner) -> dict[str, str]:
    jwk = public_key_to_jwk(signer.public_key)
    key = signer.private_key
    if signer.alg == "EdDSA":
        raw = key.private_bytes_raw()  # type: ignore[union-attr]
    else:
        raw = key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]
    return {**jwk, "d": b64url(raw), "alg": signer.alg, "kid": kid_text(signer.kid)}


def _key_set() -> dict[str, Any]:
    return {
        name: {
            "note": TEST_KEY_NOTE,
            "alg": signer.alg,
            "kid_hex": signer.kid.hex(),
            "kid": kid_text(signer.kid),
            "public_jwk": public_key_to_jwk(signer.public_key),
            "private_jwk": _private_jwk(signer),
        }
        for name, signer in KEYS.items()
    }


def _credential(issuer: str, holder: str, **overrides: Any) -> bytes:
    holder_key: PublicKey = KEYS[holder].public_key
    return sign_credential(driving_licence(holder_key, **overrides), KEYS[issuer])


def _presentation(credential: bytes, holder: str, challenge: str | None = None) -> str:
    proof = sign_holder_proof(credential, KEYS[holder], presented_at=NOW - 5, challenge=challenge)
    return encode_presentation_qr(credential, proof)


def _expected_claims(credential: bytes) -> dict[str, Any]:
    claims = read_credential(credential).claims
    return {
        "iss": claims.issuer,
        "iat": claims.issued_at,
        "nbf": claims.not_before,
        "exp": claims.expires_at,
        "cti_hex": claims.credential_id.hex(),
        "status": {"uri": claims.status.uri, "idx": claims.status.index},
        "holder_jwk": public_key_to_jwk(claims.holder_key),
        "lic": {
            "type": claims.licence.type_code,
            "number": claims.licence.number,
            "holder_name": claims.licence.holder_name,
            "masked_id": claims.licence.masked_id,
            "categories": list(claims.licence.categories),
        },
    }


def _positive(name: str, description: str, qr: str, credential: bytes, **extra: Any) -> dict:
    return {
        "name": name,
        "description": description,
        "qr": qr,
        "credential_hex": credential.hex(),
        **extra,
        "expected": {"valid": True, "kid": kid_text(read_credential(credential).kid)}
        | {"claims": _expected_claims(credential)},
    }


def _negative(name: str, description: str, qr: str, error: str, **extra: Any) -> dict:
    return {"name": name, "description": description, "qr": qr, **extra, "expected_error": error}


def _raw_qr(prefix: str, data: bytes) -> str:
    return prefix + base45.b45encode(zlib.compress(data, 9)).decode("ascii")


def _with_signature(credential: bytes, change: Any) -> bytes:
    protected, unprotected, payload, signature = cbor2.loads(credential).value
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, change(signature)]))


def _es384_header(credential: bytes) -> bytes:
    """The same credential re-signed under a protected header saying ES384 (-35)."""
    signer = KEYS["issuer-es256"]
    _, unprotected, payload, _ = cbor2.loads(credential).value
    protected = cbor2.dumps({1: -35, 4: signer.kid}, canonical=True)
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload], canonical=True)
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signer.sign(to_sign)]))


def build() -> dict[str, Any]:
    es256 = _credential("issuer-es256", "holder-es256")
    eddsa = _credential(
        "issuer-eddsa", "holder-eddsa", credential_id=bytes.fromhex("0a0b0c0d0e0f1011")
    )
    expired = _credential(
        "issuer-es256", "holder-es256", issued_at=NOW - 7 * 365 * 86400,
        not_before=NOW - 7 * 365 * 86400, expires_at=NOW - 86400,
    )  # fmt: skip
    future = _credential("issuer-es256", "holder-es256", not_before=NOW + 86400)
    rogue = _credential("rogue-es256", "holder-es256")
    other = _credential("issuer-es256", "holder-es256", credential_id=b"\x99" * 8)
    other_proof = sign_holder_proof(other, KEYS["holder-es256"], presented_at=NOW - 5)
    vectors = [
        _positive("static-es256", "static copy (paper fallback), ES256", encode_static_qr(es256),
                  es256),
        _positive("presentation-es256", "presentation without a challenge",
                  _presentation(es256, "holder-es256"), es256, presented_at=NOW - 5),
        _positive("presentation-es256-challenge", "presentation bound to a verifier challenge",
                  _presentation(es256, "holder-es256", CHALLENGE), es256, presented_at=NOW - 5,
                  challenge=CHALLENGE),
        _positive("presentation-eddsa-challenge", "EdDSA issuer and holder keys",
                  _presentation(eddsa, "holder-eddsa", CHALLENGE), eddsa, presented_at=NOW - 5,
                  challenge=CHALLENGE),
        _positive("static-eddsa", "static copy, EdDSA", encode_static_qr(eddsa), eddsa),
        _negative("tampered-signature", "first signature byte flipped",
                  encode_static_qr(_with_signature(es256, lambda s: bytes([s[0] ^ 1]) + s[1:])),
                  "bad_signature"),
        _negative("tampered-claims", "categories changed to A1 after signing",
                  encode_static_qr(_tamper_categories(es256)), "bad_signature"),
        _negative("unknown-kid", "well signed by a key the trust list does not hold",
                  encode_static_qr(rogue), "unknown_kid"),
        _negative("wrong-alg", "protected header says ES384 (-35)",
                  encode_static_qr(_es384_header(es256)), "unsupported_alg"),
        _negative("expired", "exp one day before the clock", encode_static_qr(expired),
                  "expired"),
        _negative("not-yet-valid", "nbf one day after the clock", encode_static_qr(future),
                  "not_yet_valid"),
        _negative("holder-proof-other-credential", "proof signed for another credential",
                  encode_presentation_qr(es256, other_proof), "holder_signature"),
        _negative("challenge-mismatch", "proof bound to another challenge",
                  _presentation(es256, "holder-es256", "ZZZZ9999"), "challenge_mismatch",
                  challenge=CHALLENGE),
        _negative("bad-base45-character", "lower-case letter in the Base45 body",
                  encode_static_qr(es256)[:10] + "a" + encode_static_qr(es256)[11:], "bad_base45"),
        _negative("bad-base45-length", "body length is 1 modulo 3",
                  encode_static_qr(es256)[:-2], "bad_base45"),
        _negative("bad-base45-triplet", "a triplet worth 65536 (GGW)", "EL1:GGW", "bad_base45"),
        _negative("truncated-cbor", "credential cut in half, then packed correctly",
                  encode_static_qr(es256[: len(es256) // 2]), "bad_cbor"),
        _negative("trailing-cbor", "one byte after the credential",
                  encode_static_qr(es256 + b"\x00"), "bad_cbor"),
        _negative("not-zlib", "Base45 of bytes that are not a zlib stream",
                  "EL1:" + base45.b45encode(b"definitely not zlib").decode(), "bad_compression"),
        _negative("compression-bomb", "2 MiB of zeros deflated (inflate cap is 16 KiB)",
                  _raw_qr("EP1:", bytes(2 * 1024 * 1024)), "compression_bomb"),
        _negative("wrong-prefix", "prefix of another scheme", "HC1:" + encode_static_qr(es256)[4:],
                  "bad_prefix"),
        _negative("presentation-shape", "presentation that is a 3-array",
                  _raw_qr("EP1:", cbor2.dumps([es256, b"", b""])), "bad_cbor"),
    ]  # fmt: skip
    return {
        "description": "E-licence QR payload vectors (docs/wire-format.md). Each vector is checked "
        "at the given clock against the trusted keys: decode the QR text, read the COSE_Sign1 "
        "credential, look its kid up among the trusted keys, verify the signature, check nbf/exp, "
        "and for a presentation verify the holder proof with the cnf key (and the challenge, "
        "when the vector names one). A negative vector names the error code that must result.",
        "note": TEST_KEY_NOTE,
        "clock": NOW,
        "trusted_keys": TRUSTED,
        "keys": _key_set(),
        "vectors": vectors,
    }


def _tamper_categories(credential: bytes) -> bytes:
    protected, unprotected, payload, signature = cbor2.loads(credential).value
    claims = cbor2.loads(payload)
    claims["lic"][5] = ["A1"]
    forged = cbor2.dumps(claims, canonical=True)
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, forged, signature]))


def main() -> None:
    document = build()
    OUTPUT.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(document['vectors'])} vectors to {OUTPUT.relative_to(_REPO)}")


if __name__ == "__main__":
    main()
