"""Key generation, the local signer and encrypted PKCS#8 storage."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credential import ALG_EDDSA, ALG_ES256, PublicKey, alg_of, der_to_raw, kid_for, kid_text

PrivateKey = ec.EllipticCurvePrivateKey | Ed25519PrivateKey


class KeyStoreError(Exception):
    """A stored key could not be read (wrong secret, damaged blob, unsupported key type)."""


def generate_signing_key(alg: str = ALG_ES256) -> PrivateKey:
    """A fresh private key for ``alg`` ("ES256": P-256, "EdDSA": Ed25519).

    Raises ``ValueError`` for any other algorithm.
    """
    if alg == ALG_ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == ALG_EDDSA:
        return Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported signing algorithm {alg!r} (use ES256 or EdDSA)")


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
        """Raw signature over ``data``: r||s (64 bytes) for ES256, 64 bytes for EdDSA."""
        if isinstance(self._private_key, Ed25519PrivateKey):
            return self._private_key.sign(data)
        return der_to_raw(self._private_key.sign(data, ec.ECDSA(hashes.SHA256())))

    def __repr__(self) -> str:
        return f"LocalSigner(alg={self._alg!r}, kid={kid_text(self._kid)!r})"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:  # never pickle the private key by accident
        raise TypeError("LocalSigner cannot be pickled")


def encrypt_private_key(key: PrivateKey, secret: bytes) -> bytes:
    """PKCS#8 PEM of ``key`` encrypted under ``secret`` (``BestAvailableEncryption``)."""
    if not secret:
        raise KeyStoreError("an empty secret cannot protect a private key")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )


def decrypt_private_key(blob: bytes, secret: bytes) -> PrivateKey:
    """Load a key stored by ``encrypt_private_key``.

    Raises ``KeyStoreError`` when the secret is wrong, the blob is damaged or the key type is
    not P-256/Ed25519. The message never contains key material.
    """
    try:
        key = serialization.load_pem_private_key(blob, password=secret)
    except (ValueError, TypeError):
        # cryptography's message may quote parts of the input: do not chain it.
        raise KeyStoreError(
            "cannot decrypt the private key: wrong secret or damaged key blob"
        ) from None
    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise KeyStoreError("stored key is not a P-256 or Ed25519 key")
