"""Citizen ID numbers at rest: a keyed blind index for look-up plus an encrypted copy."""

from __future__ import annotations

import hashlib
import hmac

from keys import PURPOSE_BLIND_INDEX, PURPOSE_ID_ENCRYPTION, SealedBox, derive_subkey

_AAD = b"elicence/citizen-id/v1"


def normalise_id_number(id_number: str) -> str:
    """The stored form: no surrounding blanks, check character ``x`` upper case."""
    return id_number.strip().upper()


class CitizenIdVault:
    """Blind index and AES-GCM encryption of ID numbers, keyed from the master key."""

    __slots__ = ("_box", "_index_key")

    def __init__(self, master_key: bytes) -> None:
        self._index_key = derive_subkey(master_key, PURPOSE_BLIND_INDEX)
        self._box = SealedBox(derive_subkey(master_key, PURPOSE_ID_ENCRYPTION))

    def blind_index(self, id_number: str) -> str:
        """HMAC-SHA256 hex of the normalised number: equal numbers give equal indexes."""
        data = normalise_id_number(id_number).encode("ascii")
        return hmac.new(self._index_key, data, hashlib.sha256).hexdigest()

    def encrypt(self, id_number: str) -> bytes:
        """A sealed blob (``keys.SealedBox``: version, nonce, AES-GCM ciphertext and tag)."""
        return self._box.seal(normalise_id_number(id_number).encode("ascii"), aad=_AAD)

    def decrypt(self, blob: bytes) -> str:
        """The ID number. Raises ``KeyStoreError`` for a blob from another key or tampered with."""
        return self._box.open(blob, aad=_AAD, what="ID number").decode("ascii")

    def __repr__(self) -> str:
        return "CitizenIdVault()"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("CitizenIdVault cannot be pickled")
