"""Citizen ID numbers at rest: a keyed blind index for look-up plus an encrypted copy."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys import PURPOSE_BLIND_INDEX, PURPOSE_ID_ENCRYPTION, KeyStoreError, derive_subkey

_VERSION = b"\x01"
_NONCE_LENGTH = 12
_AAD = b"elicence/citizen-id/v1"


def normalise_id_number(id_number: str) -> str:
    """The stored form: no surrounding blanks, check character ``x`` upper case."""
    return id_number.strip().upper()


class CitizenIdVault:
    """Blind index and AES-GCM encryption of ID numbers, keyed from the master key."""

    __slots__ = ("_aead", "_index_key")

    def __init__(self, master_key: bytes) -> None:
        self._index_key = derive_subkey(master_key, PURPOSE_BLIND_INDEX)
        self._aead = AESGCM(derive_subkey(master_key, PURPOSE_ID_ENCRYPTION))

    def blind_index(self, id_number: str) -> str:
        """HMAC-SHA256 hex of the normalised number: equal numbers give equal indexes."""
        data = normalise_id_number(id_number).encode("ascii")
        return hmac.new(self._index_key, data, hashlib.sha256).hexdigest()

    def encrypt(self, id_number: str) -> bytes:
        """Version byte, random 12-byte nonce, AES-GCM ciphertext and tag."""
        nonce = os.urandom(_NONCE_LENGTH)
        data = normalise_id_number(id_number).encode("ascii")
        return _VERSION + nonce + self._aead.encrypt(nonce, data, _AAD)

    def decrypt(self, blob: bytes) -> str:
        """The ID number. Raises ``KeyStoreError`` for a blob from another key or tampered with."""
        if len(blob) < 1 + _NONCE_LENGTH + 16 or blob[:1] != _VERSION:
            raise KeyStoreError("not an encrypted ID number")
        nonce, ciphertext = blob[1 : 1 + _NONCE_LENGTH], blob[1 + _NONCE_LENGTH :]
        try:
            return self._aead.decrypt(nonce, ciphertext, _AAD).decode("ascii")
        except InvalidTag:
            raise KeyStoreError("cannot decrypt the ID number (wrong key or damaged)") from None

    def __repr__(self) -> str:
        return "CitizenIdVault()"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("CitizenIdVault cannot be pickled")
