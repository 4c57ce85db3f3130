"""The one sealed-blob format for secrets at rest (citizen ID numbers, holder private keys):
a version byte, a random 12-byte nonce and the AES-GCM ciphertext with its tag, bound to
associated data the caller names."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._signing import KeyStoreError

_VERSION = b"\x01"
_NONCE_LENGTH = 12
_TAG_LENGTH = 16


class SealedBox:
    """AES-GCM under one 32-byte subkey: ``seal`` and ``open`` versioned blobs."""

    __slots__ = ("_aead",)

    def __init__(self, subkey: bytes) -> None:
        self._aead = AESGCM(subkey)

    def __repr__(self) -> str:
        return "SealedBox()"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("SealedBox cannot be pickled")

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        """Version byte, fresh random nonce, ciphertext and tag."""
        nonce = os.urandom(_NONCE_LENGTH)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, *, aad: bytes, what: str, length: int | None = None) -> bytes:
        """The plaintext of a sealed blob (of ``length`` bytes when given). Raises
        ``KeyStoreError`` naming ``what`` for a blob of another format, key or ``aad``, or one
        tampered with."""
        overhead = 1 + _NONCE_LENGTH + _TAG_LENGTH
        size_ok = len(blob) >= overhead if length is None else len(blob) == overhead + length
        if not size_ok or blob[:1] != _VERSION:
            raise KeyStoreError(f"not a sealed {what} (damaged or another format)")
        try:
            return self._aead.decrypt(blob[1 : 1 + _NONCE_LENGTH], blob[1 + _NONCE_LENGTH :], aad)
        except InvalidTag:
            raise KeyStoreError(
                f"cannot decrypt the {what}: wrong key or row, or damaged"
            ) from None
