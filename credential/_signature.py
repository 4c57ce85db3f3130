"""Raw signatures as COSE and JWS carry them (RFC 9053 section 2.1, RFC 7518 section 3.4):
``r || s`` for ES256 and SM2, the 64-byte signature for EdDSA."""

from __future__ import annotations

from typing import cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ._keyformat import ALG_ES256, ALG_SM2, PublicKey, alg_of
from ._sm2 import sm2_verify
from .errors import UnsupportedAlgorithm

_P256_SIZE = 32
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())  # immutable: one for every ES256 verification


def der_to_raw(der_signature: bytes) -> bytes:
    """ECDSA or SM2 DER (as cryptography and tongsuopy return it) to the fixed-size r||s form."""
    r, s = decode_dss_signature(der_signature)
    return r.to_bytes(_P256_SIZE, "big") + s.to_bytes(_P256_SIZE, "big")


def verify_raw(public_key: PublicKey, alg: str, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` over ``data`` verifies with ``public_key`` under ``alg``.

    Raises ``UnsupportedAlgorithm`` when ``alg`` does not fit the key: a key is only ever used
    with its own algorithm, whatever a header claims.
    """
    if alg_of(public_key) != alg:
        raise UnsupportedAlgorithm(f"algorithm {alg!r} does not match the signing key")
    if alg == ALG_SM2:
        return sm2_verify(public_key, signature, data)
    if len(signature) != 64:
        return False
    try:
        if alg == ALG_ES256:
            r = int.from_bytes(signature[:_P256_SIZE], "big")
            s = int.from_bytes(signature[_P256_SIZE:], "big")
            # alg_of(public_key) == alg above: the key is a P-256 key here, Ed25519 below
            cast(ec.EllipticCurvePublicKey, public_key).verify(
                encode_dss_signature(r, s), data, _ECDSA_SHA256
            )
        else:
            cast(Ed25519PublicKey, public_key).verify(signature, data)
    except InvalidSignature:
        return False
    return True
