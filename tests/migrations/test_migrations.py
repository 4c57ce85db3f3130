"""migrations: upgrade head builds exactly the models' schema; downgrade base removes it."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from registry.db import make_engine
from registry.migrate import current_revision, downgrade, head_revision, upgrade
from registry.models import Base

TABLES = {
    "audit_entries",
    "department_api_keys",
    "departments",
    "holder_keys",
    "licence_types",
    "licences",
    "signing_keys",
    "status_lists",
    "verification_checks",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_head_builds_the_schema(database_url: str) -> None:
    assert current_revision(database_url) is None
    upgrade(database_url)
    assert _tables(database_url) == TABLES == set(Base.metadata.tables)
    assert current_revision(database_url) == head_revision() is not None


def test_models_and_migrated_database_do_not_differ(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_compare_would_notice_a_missing_table(migrated_url: str) -> None:
    """Guards the comparison itself: dropping a table must show up as a difference."""
    engine = make_engine(migrated_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE verification_checks")
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert [d[0] for d in diff] == ["add_table", "add_index"]
    assert diff[0][1].name == "verification_checks"


def test_downgrade_base_removes_everything(migrated_url: str) -> None:
    downgrade(migrated_url)
    assert _tables(migrated_url) == set()
    assert current_revision(migrated_url) is None
    upgrade(migrated_url)  # and back again
    assert _tables(migrated_url) == TABLES


def test_upgrade_twice_is_a_no_op(migrated_url: str) -> None:
    upgrade(migrated_url)
    assert current_revision(migrated_url) == head_revision()


def test_unknown_revision_is_refused(sqlite_url: str) -> None:
    from alembic.util import CommandError

    with pytest.raises(CommandError):
        upgrade(sqlite_url, "ffff")


def test_the_database_refuses_a_status_or_key_state_outside_the_vocabulary(
    migrated_url: str,
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    engine = make_engine(migrated_url)
    try:
        insert_key = text(
            "INSERT INTO signing_keys (kid, alg, public_jwk, encrypted_private_key, not_before,"
            " state, created_at) VALUES (:kid, 'ES256', '{}', :blob, :at, :state, :at)"
        )
        values = {"blob": b"x", "at": "2026-01-01 00:00:00"}
        with engine.begin() as connection:
            connection.execute(insert_key, {**values, "kid": "k1", "state": "retired"})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert_key, {**values, "kid": "k2", "state": "lost"})
    finally:
        engine.dispose()
