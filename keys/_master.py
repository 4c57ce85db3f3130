"""The master key and the subkeys derived from it.

One 32-byte master key protects everything at rest: HKDF-SHA256 derives a separate subkey per
purpose (private-key encryption, ID-number blind index, ID-number encryption), so no key is
used for two jobs.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._signing import KeyStoreError

MASTER_KEY_LENGTH = 32
PURPOSE_KEY_ENCRYPTION = "elicence/key-encryption/v1"
PURPOSE_BLIND_INDEX = "elicence/id-blind-index/v1"
PURPOSE_ID_ENCRYPTION = "elicence/id-encryption/v1"


def encode_master_key(master: bytes) -> str:
    """The text form of a master key (unpadded base64url), as ``ELICENCE_MASTER_KEY`` holds it."""
    return base64.urlsafe_b64encode(master).rstrip(b"=").decode("ascii")


def decode_master_key(text: str, where: str = "the environment") -> bytes:
    """Parse the text form of a master key. Raises ``KeyStoreError`` (naming ``where``)."""
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise KeyStoreError(f"master key from {where} is not base64url") from None
    if len(raw) != MASTER_KEY_LENGTH:
        raise KeyStoreError(f"master key from {where} must be {MASTER_KEY_LENGTH} bytes")
    return raw


def load_or_create_master_key(*, env_value: str | None, path: Path, create: bool) -> bytes:
    """The 32-byte master key.

    ``env_value`` (base64url, from ``ELICENCE_MASTER_KEY``) wins when set. Otherwise the key is
    read from ``path``, which must have mode 0600 or stricter; when the file is missing and
    ``create`` is true (development), a new key is written there with mode 0600.
    Raises ``KeyStoreError`` on a malformed key, loose permissions or a missing file.
    """
    if env_value:
        return decode_master_key(env_value)
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyStoreError(
                f"master key file {path} has mode {mode:04o}; refusing to use it "
                "(run: chmod 600 on it)"
            )
        return decode_master_key(path.read_text(encoding="ascii"), str(path))
    if not create:
        raise KeyStoreError(f"no master key: set ELICENCE_MASTER_KEY or create {path}")
    master = os.urandom(MASTER_KEY_LENGTH)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never overwrite a key another process just wrote; 0600 from the first byte.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encode_master_key(master) + "\n")
    return master


def derive_subkey(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose`` (HKDF-SHA256, ``info`` = purpose)."""
    if len(master) != MASTER_KEY_LENGTH:
        raise KeyStoreError(f"master key must be {MASTER_KEY_LENGTH} bytes")
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("utf-8")
    ).derive(master)
