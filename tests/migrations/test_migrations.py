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
    "credential_offers",
    "department_api_keys",
    "departments",
    "holder_keys",
    "import_jobs",
    "issuance_tokens",
    "licence_types",
    "licences",
    "signing_keys",
    "status_lists",
    "used_nonces",
    "verification_checks",
    # 0007: sharing
    "consents",
    "relying_parties",
    "relying_party_api_keys",
    "sharing_accesses",
    "sharing_purposes",
    "show_tokens",
    "use_requests",
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
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE signing_keys SET state = 'stolen' WHERE kid = 'k1'"))
    finally:
        engine.dispose()


def test_the_vocabulary_rule_goes_onto_a_database_with_licences_and_checks(
    database_url: str,
) -> None:
    """0001 -> head over rows that point at each other (a correction, a verification check):
    nothing is copied or dropped, every row stays, and the rule holds afterwards."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    upgrade(database_url, "0001")
    engine = make_engine(database_url)
    at = "2026-01-01 00:00:00"
    try:
        with engine.begin() as connection:
            run = connection.execute
            run(
                text(
                    "INSERT INTO departments (id, code, name, created_at) VALUES (1, 'T', 'T', :at)"
                ),
                {"at": at},
            )
            run(
                text(
                    "INSERT INTO licence_types (id, department_id, code, name, fields,"
                    " default_validity_days) VALUES (1, 1, 'DL', 'DL', '[]', 30)"
                )
            )
            run(
                text(
                    "INSERT INTO status_lists (id, department_id, bits, size, data, version,"
                    " updated_at) VALUES (1, 1, 2, 8, :data, 1, :at)"
                ),
                {"data": bytes(2), "at": at},
            )
            for number, (licence_id, replaces) in enumerate(
                (("a" * 36, None), ("b" * 36, "a" * 36))
            ):
                run(
                    text(
                        "INSERT INTO licences (id, department_id, licence_type_id, number,"
                        " holder_name, id_index, id_ciphertext, fields, categories, valid_from,"
                        " valid_until, issued_at, status, status_list_id, status_index,"
                        " credential, kid, replaces_id) VALUES (:id, 1, 1, :number, 'x', 'i',"
                        " :blob, '{}', '[]', :at, :at, :at, :status, 1, :index, :blob, 'k',"
                        " :replaces)"
                    ),
                    {
                        "id": licence_id,
                        "number": f"N{number}",
                        "blob": b"x",
                        "at": at,
                        "status": "revoked" if replaces is None else "valid",
                        "index": number,
                        "replaces": replaces,
                    },
                )
            run(
                text(
                    "INSERT INTO verification_checks (licence_id, verifier_name, checked_at,"
                    " outcome) VALUES (:id, 'Counter 1', :at, 'valid')"
                ),
                {"id": "b" * 36, "at": at},
            )
        upgrade(database_url)
        with engine.connect() as connection:
            counts = [
                connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("licences", "verification_checks")
            ]
        assert counts == [2, 1]
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE licences SET status = 'lost'"))
        downgrade(database_url, "0001")
        with engine.begin() as connection:  # the rule went with the downgrade
            connection.execute(text("UPDATE licences SET status = 'lost'"))
    finally:
        engine.dispose()
