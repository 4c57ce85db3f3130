"""Signing keys: generation, the local signer, encrypted storage at rest and the master key.

Public interface (other packages import only these names):

- ``generate_signing_key(alg="ES256") -> PrivateKey`` (``"ES256"`` P-256, ``"EdDSA"`` Ed25519 or
  ``"SM2"`` SM2 through tongsuopy); another name raises ``UnknownSigningAlgorithm`` (both a
  ``credential.errors.UnsupportedAlgorithm`` and a ``ValueError``), naming it.
- ``LocalSigner(private_key)``: a ``credential.Signer`` (``alg``, ``kid``, ``sign(data)``,
  ``public_key``); its ``repr`` shows the alg and kid text only.
- ``encrypt_private_key(key, secret) -> bytes`` / ``decrypt_private_key(blob, secret)``:
  PKCS#8 PEM encrypted with ``secret`` (SM2 keys: with SM4); a wrong secret raises
  ``KeyStoreError``.
- ``encode_master_key(master) -> str`` / ``decode_master_key(text) -> bytes`` (base64url).
- ``load_or_create_master_key(*, env_value, path, create) -> bytes`` (32 bytes) and
  ``derive_subkey(master, purpose) -> bytes`` (HKDF-SHA256, 32 bytes); ``PURPOSE_*`` names.
- ``KeyStoreError`` (message never holds key material).
"""

from ._master import (
    PURPOSE_BLIND_INDEX,
    PURPOSE_ID_ENCRYPTION,
    PURPOSE_KEY_ENCRYPTION,
    decode_master_key,
    derive_subkey,
    encode_master_key,
    load_or_create_master_key,
)
from ._sealed import SealedBox
from ._signing import (
    KeyStoreError,
    LocalSigner,
    PrivateKey,
    UnknownSigningAlgorithm,
    decrypt_private_key,
    encrypt_private_key,
    generate_signing_key,
)

__all__ = [
    "PURPOSE_BLIND_INDEX",
    "PURPOSE_ID_ENCRYPTION",
    "PURPOSE_KEY_ENCRYPTION",
    "KeyStoreError",
    "LocalSigner",
    "PrivateKey",
    "SealedBox",
    "UnknownSigningAlgorithm",
    "decode_master_key",
    "decrypt_private_key",
    "derive_subkey",
    "encode_master_key",
    "encrypt_private_key",
    "generate_signing_key",
    "load_or_create_master_key",
]
