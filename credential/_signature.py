"""Raw signatures as COSE and JWS carry them (RFC 9053 section 2.1, RFC 7518 section 3.4):
``r || s`` for ES256 and SM2, the 64-byte signature for EdDSA.

cryptography verifies ECDSA only from DER, so an ES256 ``r || s`` is re-encoded for every
verification. ``_raw_to_der`` does it by hand instead of
``encode_dss_signature(int.from_bytes(r), int.from_bytes(s))``: 1.2-3.8 us against 3.6-6.4 us
per signature (timeit, best of 3 x 200,000 runs, three times, on a 2-core machine at load 9),
and a presentation needs two (``benchmarks/verify_sd_jwt.py``). The tests check it against
``encode_dss_signature`` over edge values (leading zeros, high bits, zero).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ._keyformat import ALG_ES256, ALG_SM2, PublicKey, alg_of
from ._sm2 import sm2_verify
from .errors import UnsupportedAlgorithm

_P256_SIZE = 32
_SHA256 = hashes.SHA256()  # immutable: one for every digest and ES256 verification
_ECDSA_SHA256 = ec.ECDSA(_SHA256)
_SHA256_START = hashes.Hash(_SHA256)  # never updated itself: sha256 copies it


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data`` through cryptography's OpenSSL, the one that hashes for every ES256
    verification, not ``hashlib`` (the interpreter's own OpenSSL, a second copy of the same code
    and its EVP look-ups). A presentation hashes between its two signature checks (the
    credential for the holder proof's AAD; an SD-JWT VC's disclosures and ``sd_hash``), and with
    one SHA-256 in the process fewer lines compete for the core's L2 with the P-256 tables:
    under cachegrind (``--LL=524288,8,64``, per presentation, ``benchmarks/verify.py``'s
    presentations) 7,331 -> 6,863 misses for a QR presentation and 7,179 -> 6,391 for an SD-JWT
    VC one, for 0.4% and 0.7% more instructions (cryptography's ``Hash`` object costs a little
    more to set up than ``hashlib``'s).

    Each digest starts from a copy of one fresh context rather than from ``hashes.Hash``, which
    looks the algorithm up and checks its class (an ABC ``isinstance``) every time: 0.46 against
    0.87 us for 60 bytes (``hashlib`` 0.33; timeit, best of 5 x 100,000), and an SD-JWT VC
    presentation hashes four times."""
    digest = _SHA256_START.copy()
    digest.update(data)
    return digest.finalize()


def der_to_raw(der_signature: bytes) -> bytes:
    """ECDSA or SM2 DER (as cryptography and tongsuopy return it) to the fixed-size r||s form."""
    r, s = decode_dss_signature(der_signature)
    return r.to_bytes(_P256_SIZE, "big") + s.to_bytes(_P256_SIZE, "big")


def _der_integer(value: bytes) -> bytes:
    """A DER INTEGER of the unsigned big-endian ``value``: minimal, with a 0 byte before a set
    high bit (so it stays positive)."""
    first = value[0]
    if first & 0x80:  # half of all values: no stripping can apply
        return b"\x02\x21\x00" + value
    if first:
        return b"\x02\x20" + value
    value = value.lstrip(b"\0") or b"\0"
    if value[0] & 0x80:
        value = b"\0" + value
    return b"\x02" + len(value).to_bytes(1, "big") + value


def _raw_to_der(signature: bytes) -> bytes:
    """``r || s`` (32 bytes each) as the DER ``SEQUENCE { r INTEGER, s INTEGER }`` (at most 70
    bytes: always the short length form)."""
    body = _der_integer(signature[:_P256_SIZE]) + _der_integer(signature[_P256_SIZE:])
    return b"\x30" + len(body).to_bytes(1, "big") + body


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
    # alg_of(public_key) == alg above: the key is a P-256 key here, Ed25519 below. (Annotated,
    # not typing.cast: cast is a Python call, two per presentation.)
    try:
        if alg == ALG_ES256:
            p256_key: ec.EllipticCurvePublicKey = public_key  # type: ignore[assignment]
            p256_key.verify(_raw_to_der(signature), data, _ECDSA_SHA256)
        else:
            ed25519_key: Ed25519PublicKey = public_key  # type: ignore[assignment]
            ed25519_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
