"""Signing keys in the registry: store one encrypted, load its signer, find the platform root key.

The private key is encrypted under ``derive_subkey(master, PURPOSE_KEY_ENCRYPTION)`` (pass that
32-byte value as ``key_secret``; ``app.state.key_secret`` holds it in the app).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from credential import KeyState, kid_text, public_key_to_jwk
from keys import LocalSigner, PrivateKey, decrypt_private_key, encrypt_private_key

from .models import SigningKey, utcnow


def store_signing_key(
    session: Session,
    *,
    private_key: PrivateKey,
    key_secret: bytes,
    department_id: int | None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    allowed_types: list[str] | None = None,
) -> SigningKey:
    """Add a ``SigningKey`` row (state "active") for ``private_key`` and flush it."""
    signer = LocalSigner(private_key)
    row = SigningKey(
        department_id=department_id,
        kid=kid_text(signer.kid),
        alg=signer.alg,
        public_jwk=public_key_to_jwk(signer.public_key),
        encrypted_private_key=encrypt_private_key(private_key, key_secret),
        not_before=not_before or utcnow(),
        not_after=not_after,
        state=KeyState.ACTIVE,
        allowed_types=allowed_types,
    )
    session.add(row)
    session.flush()
    return row


def load_signer(row: SigningKey, *, key_secret: bytes) -> LocalSigner:
    """The signer for a stored key. Raises ``keys.KeyStoreError`` with the wrong secret."""
    return LocalSigner(decrypt_private_key(row.encrypted_private_key, key_secret))


def root_signing_key(session: Session) -> SigningKey | None:
    """The newest active platform root key (``department_id`` null), if any."""
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.department_id.is_(None), SigningKey.state == KeyState.ACTIVE)
        .order_by(SigningKey.not_before.desc(), SigningKey.id.desc())
        .limit(1)
    ).first()
