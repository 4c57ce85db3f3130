"""SM2 with SM3 (GB/T 32918.2, GB/T 35276), through tongsuopy.

Why tongsuopy: it is the Python binding of Tongsuo (铜锁, the OpenAtom Foundation's OpenSSL fork
for the national algorithms, formerly BabaSSL), shipped as manylinux wheels with Tongsuo linked
in, and it keeps cryptography's API (``ec.generate_private_key``, ``key.sign(data,
ec.ECDSA(hashes.SM3()))``, PKCS#8 ``private_bytes``), so SM2 keys go through the same code paths
as P-256 keys. cryptography itself has SM3 but no SM2 curve; the other SM2 packages are either
pure Python (gmssl: the tests use it as the independent check; it took 30-70 ms per verification
here against 1.1-1.5 ms for tongsuopy, and is too lightly reviewed to hold a department key) or
bindings that need a system GmSSL library. tongsuopy's last release is 1.0.1 (2023-02; it
links Tongsuo 8.3.2, then still named BabaSSL, on OpenSSL 1.1.1h), older than cryptography's:
SM2 stays the option for deployments that must use it, ES256 the default.

Cost, measured on a busy shared machine: an SM2 verification 1.1-1.5 ms against 0.18-0.34 ms
for ES256, a signature 1.1-1.8 ms against 0.05-0.12 ms. Importing tongsuopy adds 7-20 ms; its
library loads on the first SM2 operation (~70 ms), never for ES256 or EdDSA alone.

Signatures: Tongsuo computes ``e = SM3(Z || message)`` with ``Z`` over the default signer ID
``1234567812345678`` (GB/T 35276 / GM/T 0009); tongsuopy offers no way to pass another ID, which
is the one the wire format fixes anyway. The tests check it against gmssl's independent
``Z``. COSE and JOSE carry the signature raw, ``r || s`` with 32 bytes each, as for ES256.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SM2_CURVE",
    "SM2_SIGNER_ID",
    "SM2_SM3",
    "SM2PrivateKey",
    "SM2PublicKey",
    "is_sm2_public_key",
    "sm2_public_key_from_point",
    "sm2_verify",
]

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from tongsuopy.crypto import hashes as _tongsuo_hashes
from tongsuopy.crypto.asymciphers import ec as _tongsuo_ec
from tongsuopy.crypto.asymciphers.ec import EllipticCurvePrivateKey as SM2PrivateKey
from tongsuopy.crypto.asymciphers.ec import EllipticCurvePublicKey as SM2PublicKey
from tongsuopy.crypto.exceptions import InvalidSignature as _TongsuoInvalidSignature

SM2_CURVE = _tongsuo_ec.SM2()
SM2_SIGNER_ID = b"1234567812345678"  # what Tongsuo's Z value uses; documented, not passable
SM2_SM3 = _tongsuo_ec.ECDSA(_tongsuo_hashes.SM3())  # immutable: one for every SM2 operation
# Order n of the SM2 base point (GB/T 32918.5): r and s must lie in [1, n - 1].
_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_SIZE = 32


def is_sm2_public_key(key: Any) -> bool:
    return isinstance(key, SM2PublicKey) and isinstance(key.curve, _tongsuo_ec.SM2)


def sm2_public_key_from_point(point: bytes) -> SM2PublicKey:
    """An SM2 public key from an SEC 1 point (compressed or not).

    Raises ``ValueError`` when the bytes are not a point on the SM2 curve.
    """
    return SM2PublicKey.from_encoded_point(SM2_CURVE, point)


def sm2_verify(public_key: SM2PublicKey, signature: bytes, data: bytes) -> bool:
    """True when the raw ``r || s`` ``signature`` over ``data`` verifies with ``public_key``."""
    if len(signature) != 2 * _SIZE:
        return False
    r = int.from_bytes(signature[:_SIZE], "big")
    s = int.from_bytes(signature[_SIZE:], "big")
    if not (0 < r < _ORDER and 0 < s < _ORDER):  # GB/T 32918.2 7.1 B1, B2
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), data, SM2_SM3)
    except _TongsuoInvalidSignature:
        return False
    return True
