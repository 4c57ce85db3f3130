"""The platform root signer a fetch signs with is kept in memory (no look-up per fetch), and a
new root key still signs the very next package: the change counter moved. A change the counter
does not see (another machine's, on PostgreSQL) shows after ``ROOT_KEY_RECHECK_SECONDS``."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from credential import errors, kid_text, read_data_package
from keys import generate_signing_key
from registry.models import SigningKey
from registry.signing_keys import store_signing_key
from sharing.runtime import ROOT_KEY_RECHECK_SECONDS, SharingRuntime
from tests.sharing.conftest import BANK_PURPOSE, ZHANG, Sharing, driving, in_days


def test_a_new_root_key_signs_the_very_next_package(sharing_any: Sharing) -> None:
    world = sharing_any
    world.issue("TRANSPORT", **driving(ZHANG))
    key = world.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    consent_id = world.approved(key, kind="standing", until=in_days(5))
    old_root = world.root_key()
    first = world.fetch(key, consent_id).json()["package"]
    assert read_data_package(first, old_root).consent_id == consent_id

    world.new_root_key()
    new_root = world.root_key()
    second = world.fetch(key, consent_id).json()["package"]
    assert read_data_package(second, new_root).consent_id == consent_id
    with pytest.raises(errors.UnknownKey):
        read_data_package(second, old_root)


def _root_key_row_values(sharing: Sharing) -> dict[str, object]:
    """The columns of a new root key's row, made by the ORM in a transaction that stores none."""
    with sharing.database.writing() as session:
        made = store_signing_key(
            session,
            private_key=generate_signing_key(),
            key_secret=sharing.context.key_secret,
            department_id=None,
        )
        values = {c.name: getattr(made, c.key) for c in SigningKey.__table__.columns}
        session.delete(made)
    return values


def test_a_change_the_counter_misses_shows_after_the_recheck_time(sharing: Sharing) -> None:
    values = _root_key_row_values(sharing)
    now = [1000.0]
    runtime = SharingRuntime(
        settings=sharing.settings,
        database=sharing.database,
        vault=sharing.context.vault,
        key_secret=sharing.context.key_secret,
        clock=lambda: now[0],
    )
    with sharing.database.reading() as session:
        first = runtime.root_signer(session)
    generation = sharing.database.changes.value()
    with sharing.database.writing() as session:  # a Core insert: the counter does not see it
        session.execute(insert(SigningKey).values(values))
    assert sharing.database.changes.value() == generation

    now[0] += ROOT_KEY_RECHECK_SECONDS - 1
    with sharing.database.reading() as session:
        assert runtime.root_signer(session) is first
    now[0] += 2
    with sharing.database.reading() as session:
        assert kid_text(runtime.root_signer(session).kid) == values["kid"] != kid_text(first.kid)
