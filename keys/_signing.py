"""Key generation, the local signer and encrypted PKCS#8 storage.

SM2 keys are tongsuopy keys (see ``credential/_sm2.py`` for why): cryptography has no SM2 curve.
tongsuopy keeps cryptography's interface, so SM2 keys are signed with, serialised and encrypted
the same way; its ``BestAvailableEncryption`` encrypts PKCS#8 with PBES2 and SM4-CBC.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tongsuopy.crypto import hashes as tongsuo_hashes
from tongsuopy.crypto import serialization as tongsuo_serialization
from tongsuopy.crypto.asymciphers import ec as tongsuo_ec
from tongsuopy.crypto.exceptions import UnsupportedAlgorithm as TongsuoUnsupportedAlgorithm

from credential import (
    ALG_EDDSA,
    ALG_ES256,
    ALG_SM2,
    ALGORITHMS,
    PublicKey,
    alg_of,
    der_to_raw,
    kid_for,
    kid_text,
)
from credential.errors import UnsupportedAlgorithm

PrivateKey: TypeAlias = (
    ec.EllipticCurvePrivateKey | Ed25519PrivateKey | tongsuo_ec.EllipticCurvePrivateKey
)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_SM2_SM3 = tongsuo_ec.ECDSA(tongsuo_hashes.SM3())  # SM2 over SM3, default signer ID


class UnknownSigningAlgorithm(UnsupportedAlgorithm, ValueError):
    """No key can be made for this algorithm (it is not ES256, EdDSA or SM2)."""


class KeyStoreError(Exception):
    """A stored key could not be read (wrong secret, damaged blob, unsupported key type)."""


def generate_signing_key(alg: str = ALG_ES256) -> PrivateKey:
    """A fresh private key for ``alg`` ("ES256": P-256, "EdDSA": Ed25519, "SM2": SM2).

    Raises ``UnsupportedAlgorithm`` (a ``ValueError`` too) naming any other algorithm.
    """
    if alg == ALG_ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == ALG_EDDSA:
        return Ed25519PrivateKey.generate()
    if alg == ALG_SM2:
        return tongsuo_ec.generate_private_key(tongsuo_ec.SM2())
    raise UnknownSigningAlgorithm(
        f"unsupported signing algorithm {alg!r} (use {', '.join(ALGORITHMS)})"
    )


class LocalSigner:
    """A ``credential.Signer`` over a private key held in this process."""

    __slots__ = ("_alg", "_kid", "_private_key", "_public_key")

    def __init__(self, private_key: PrivateKey) -> None:
        self._private_key = private_key
        self._public_key: PublicKey = private_key.public_key()
        self._alg = alg_of(self._public_key)
        self._kid = kid_for(self._public_key)

    @property
    def alg(self) -> str:
        return self._alg

    @property
    def kid(self) -> bytes:
        return self._kid

    @property
    def public_key(self) -> PublicKey:
        return self._public_key

    def sign(self, data: bytes) -> bytes:
        """Raw signature over ``data``: r||s (64 bytes) for ES256 and SM2, 64 bytes for EdDSA."""
        if isinstance(self._private_key, Ed25519PrivateKey):
            return self._private_key.sign(data)
        algorithm = _SM2_SM3 if self._alg == ALG_SM2 else _ECDSA_SHA256
        return der_to_raw(self._private_key.sign(data, algorithm))

    def __repr__(self) -> str:
        return f"LocalSigner(alg={self._alg!r}, kid={kid_text(self._kid)!r})"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:  # never pickle the private key by accident
        raise TypeError("LocalSigner cannot be pickled")


def encrypt_private_key(key: PrivateKey, secret: bytes) -> bytes:
    """PKCS#8 PEM of ``key`` encrypted under ``secret`` (``BestAvailableEncryption``: AES for
    P-256 and Ed25519 keys with cryptography, SM4 for SM2 keys with tongsuopy)."""
    if not secret:
        raise KeyStoreError("an empty secret cannot protect a private key")
    # the same enums, from the library that made the key
    formats: Any = (
        tongsuo_serialization
        if isinstance(key, tongsuo_ec.EllipticCurvePrivateKey)
        else serialization
    )
    return key.private_bytes(
        formats.Encoding.PEM,
        formats.PrivateFormat.PKCS8,
        formats.BestAvailableEncryption(secret),
    )


def decrypt_private_key(blob: bytes, secret: bytes) -> PrivateKey:
    """Load a key stored by ``encrypt_private_key``.

    Raises ``KeyStoreError`` when the secret is wrong, the blob is damaged or the key type is
    not P-256, Ed25519 or SM2. The message never contains key material.
    """
    key: object
    try:
        key = serialization.load_pem_private_key(blob, password=secret)
    except (ValueError, TypeError):
        # Not a key cryptography reads: an SM2 key (SM4-encrypted, SM2 curve), or a wrong
        # secret or damaged blob, which tongsuopy refuses as well.
        try:
            key = tongsuo_serialization.load_pem_private_key(blob, password=secret)
        except (ValueError, TypeError, TongsuoUnsupportedAlgorithm):
            # the libraries' messages may quote parts of the input: do not chain them.
            raise KeyStoreError(
                "cannot decrypt the private key: wrong secret or damaged key blob"
            ) from None
    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    if isinstance(key, tongsuo_ec.EllipticCurvePrivateKey):
        return key  # tongsuopy reads no other curve than SM2
    raise KeyStoreError("stored key is not a P-256, Ed25519 or SM2 key")
