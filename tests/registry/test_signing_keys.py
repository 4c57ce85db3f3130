"""registry.signing_keys: stored encrypted, loaded back as a signer, root key look-up."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy.orm import Session

from credential import jwk_to_public_key, kid_for, kid_text, verify_raw
from keys import KeyStoreError, generate_signing_key
from registry.models import SigningKey
from registry.signing_keys import load_signer, root_signing_key, store_signing_key
from tests.registry.builders import create_department


def test_stored_key_is_encrypted_and_loads_back(db_session: Session) -> None:
    secret = os.urandom(32)
    key = generate_signing_key("EdDSA")
    row = store_signing_key(db_session, private_key=key, key_secret=secret, department_id=None)
    db_session.expire_all()
    row = db_session.get(SigningKey, row.id)  # type: ignore[assignment]
    assert row.kid == kid_text(kid_for(key.public_key()))
    assert row.alg == "EdDSA" and row.state == "active"
    assert b"ENCRYPTED PRIVATE KEY" in row.encrypted_private_key
    signer = load_signer(row, key_secret=secret)
    public = jwk_to_public_key(row.public_jwk)
    assert verify_raw(public, "EdDSA", signer.sign(b"x"), b"x")
    with pytest.raises(KeyStoreError):
        load_signer(row, key_secret=os.urandom(32))


def test_root_key_is_the_newest_active_platform_key(db_session: Session) -> None:
    secret = os.urandom(32)
    assert root_signing_key(db_session) is None
    department = create_department(db_session)
    store_signing_key(
        db_session,
        private_key=generate_signing_key(),
        key_secret=secret,
        department_id=department.id,
    )
    assert root_signing_key(db_session) is None  # department keys are not root keys
    now = dt.datetime.now(dt.UTC)
    old = store_signing_key(
        db_session,
        private_key=generate_signing_key(),
        key_secret=secret,
        department_id=None,
        not_before=now - dt.timedelta(days=30),
    )
    new = store_signing_key(
        db_session,
        private_key=generate_signing_key(),
        key_secret=secret,
        department_id=None,
        not_before=now,
    )
    assert root_signing_key(db_session) is new
    new.state = "compromised"
    db_session.flush()
    assert root_signing_key(db_session) is old
