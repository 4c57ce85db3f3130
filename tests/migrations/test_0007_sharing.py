"""Migration 0007 (sharing) on a database at 0004 with licences and checks in it: the checks
survive with no relying party or purpose (their typed names say nothing of who checked), the
new references hold, and a downgrade keeps the checks."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from registry.db import make_engine
from registry.migrate import current_revision, downgrade, upgrade
from tests.migrations.test_0004_national_profile import _AT, _fill_at_0002

_CHECK = (
    "INSERT INTO verification_checks (licence_id, verifier_name, purpose, checked_at, outcome)"
    " VALUES ('00000000-0000-0000-0000-000000000001', 'Typed name', 'typed', :at, 'valid')"
)


def _at_0004_with_a_check(url: str) -> None:
    upgrade(url, "0004")
    _fill_at_0002(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(_CHECK), {"at": _AT})
    finally:
        engine.dispose()


def test_upgrade_keeps_checks_without_a_party_and_references_hold(database_url: str) -> None:
    _at_0004_with_a_check(database_url)
    upgrade(database_url, "0007")
    assert current_revision(database_url) == "0007"
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            row = connection.execute(
                text("SELECT verifier_name, relying_party_id, purpose_id FROM verification_checks")
            ).one()
            assert tuple(row) == ("Typed name", None, None)
            connection.execute(
                text(
                    "INSERT INTO relying_parties (id, code, name, kind, contact, created_at)"
                    " VALUES (1, 'BANK', 'Bank', 'bank', '-', :at)"
                ),
                {"at": _AT},
            )
            connection.execute(text("UPDATE verification_checks SET relying_party_id = 1"))
        with pytest.raises(IntegrityError), engine.begin() as connection:  # no such party
            connection.execute(text("UPDATE verification_checks SET relying_party_id = 99"))
        with pytest.raises(IntegrityError), engine.begin() as connection:  # not a kind
            connection.execute(
                text(
                    "INSERT INTO relying_parties (id, code, name, kind, contact, created_at)"
                    " VALUES (2, 'X', 'X', 'church', '-', :at)"
                ),
                {"at": _AT},
            )
    finally:
        engine.dispose()


def test_downgrade_to_0004_keeps_the_checks(database_url: str) -> None:
    _at_0004_with_a_check(database_url)
    upgrade(database_url, "0007")
    downgrade(database_url, "0004")
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM verification_checks")).scalar()
    finally:
        engine.dispose()
    assert count == 1
    upgrade(database_url, "0007")
    assert current_revision(database_url) == "0007"
