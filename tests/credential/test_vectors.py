"""One test per vector in ``tests/vectors/credential_vectors.json``.

A miniature verifier built only from ``credential`` functions and the vector file's public keys:
decode, read, look the kid up, check the signature, then nbf/exp at the vector's clock, then the
holder proof. The vectors are stored, never regenerated here (see ``tests/vectors/generate.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credential import (
    PublicKey,
    decode_qr,
    errors,
    jwk_to_public_key,
    kid_for,
    kid_text,
    public_key_to_jwk,
    read_credential,
    read_holder_proof,
)
from credential.errors import CredentialError

VECTORS_FILE = Path(__file__).resolve().parents[1] / "vectors" / "credential_vectors.json"
DOCUMENT = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
ERROR_CLASSES = {
    cls.code: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, CredentialError)
}


def trusted_keys() -> dict[bytes, PublicKey]:
    keys = {}
    for name in DOCUMENT["trusted_keys"]:
        entry = DOCUMENT["keys"][name]
        public_key = jwk_to_public_key(entry["public_jwk"])
        assert kid_for(public_key).hex() == entry["kid_hex"]
        keys[kid_for(public_key)] = public_key
    return keys


def verify(vector: dict[str, Any]) -> dict[str, Any]:
    """Verify one vector's QR text; returns what a counter would show. Raises its error."""
    now = DOCUMENT["clock"]
    payload = decode_qr(vector["qr"])
    credential = read_credential(payload.credential)
    issuer_key = trusted_keys().get(credential.kid)
    if issuer_key is None:
        raise errors.UnknownKey()
    credential.verify_signature(issuer_key)
    claims = credential.claims
    if now < claims.not_before:
        raise errors.NotYetValid()
    if now >= claims.expires_at:
        raise errors.Expired()
    if payload.kind == "presentation":
        assert payload.proof is not None
        proof = read_holder_proof(payload.proof)
        proof.verify(claims.holder_key, payload.credential)
        if "challenge" in vector and proof.challenge != vector["challenge"]:
            raise errors.ChallengeMismatch()
        assert proof.presented_at == vector.get("presented_at", proof.presented_at)
    return {
        "kind": payload.kind,
        "kid": kid_text(credential.kid),
        "credential": payload.credential,
        "claims": {
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
        },
    }


def _vectors(valid: bool) -> list[Any]:
    return [
        pytest.param(v, id=v["name"])
        for v in DOCUMENT["vectors"]
        if ("expected_error" not in v) == valid
    ]


def test_the_file_has_both_kinds() -> None:
    assert len(_vectors(True)) >= 4
    assert len(_vectors(False)) >= 8
    assert "TEST KEY, never use" in DOCUMENT["note"]
    assert all("TEST KEY" in key["note"] for key in DOCUMENT["keys"].values())


@pytest.mark.parametrize("vector", _vectors(True))
def test_positive_vector(vector: dict[str, Any]) -> None:
    result = verify(vector)
    assert result["kind"] == ("static" if vector["qr"].startswith("EL1:") else "presentation")
    assert result["credential"].hex() == vector["credential_hex"]
    assert result["kid"] == vector["expected"]["kid"]
    assert result["claims"] == vector["expected"]["claims"]


@pytest.mark.parametrize("vector", _vectors(False))
def test_negative_vector(vector: dict[str, Any]) -> None:
    expected = ERROR_CLASSES[vector["expected_error"]]
    with pytest.raises(CredentialError) as caught:
        verify(vector)
    assert type(caught.value) is expected, f"{type(caught.value).__name__}: {caught.value}"
    assert caught.value.code == vector["expected_error"]


def test_private_keys_match_the_public_keys() -> None:
    """Another implementation signs with the private JWKs: they must belong to the listed keys."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from credential import b64url_decode

    for entry in DOCUMENT["keys"].values():
        d = b64url_decode(entry["private_jwk"]["d"])
        public: PublicKey
        if entry["alg"] == "EdDSA":
            public = Ed25519PrivateKey.from_private_bytes(d).public_key()
        else:
            public = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1()).public_key()
        assert public_key_to_jwk(public) == entry["public_jwk"]
        assert kid_text(kid_for(public)) == entry["kid"] == entry["private_jwk"]["kid"]
