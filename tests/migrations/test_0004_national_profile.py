"""Migration 0004 (national profile) on a database made at 0002 with licences in it: the rows
survive, holder-code types are filled with 111, codes and identifiers stay null (they cannot be
derived), and licences issued afterwards may take identifiers, unique."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from registry.db import make_engine
from registry.migrate import current_revision, downgrade, upgrade

_AT = "2026-01-01 00:00:00"


def _fill_at_0002(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            run = connection.execute
            run(
                text(
                    "INSERT INTO departments (id, code, name, created_at)"
                    " VALUES (1, 'TRANSPORT', 'Transport bureau', :at)"
                ),
                {"at": _AT},
            )
            run(
                text(
                    "INSERT INTO licence_types (id, department_id, code, name, fields,"
                    " default_validity_days) VALUES (1, 1, 'DL', 'Driving licence', '[]', 3650)"
                )
            )
            run(
                text(
                    "INSERT INTO status_lists (id, department_id, bits, size, data, version,"
                    " updated_at) VALUES (1, 1, 2, 1024, :data, 1, :at)"
                ),
                {"data": bytes(256), "at": _AT},
            )
            for n in (1, 2):
                run(
                    text(
                        "INSERT INTO licences (id, department_id, licence_type_id, number,"
                        " holder_name, id_index, id_ciphertext, fields, categories, valid_from,"
                        " valid_until, issued_at, status, status_list_id, status_index,"
                        " credential, kid) VALUES (:id, 1, 1, :number, '张三', 'idx', :blob,"
                        " '{}', '[]', :at, :at, :at, 'valid', 1, :n, :blob, 'kid')"
                    ),
                    {
                        "id": f"00000000-0000-0000-0000-00000000000{n}",
                        "number": f"L{n}",
                        "n": n,
                        "blob": b"x",
                        "at": _AT,
                    },
                )
    finally:
        engine.dispose()


def test_upgrade_from_0003_keeps_licences_and_fills_what_is_known(database_url: str) -> None:
    upgrade(database_url, "0003")
    _fill_at_0002(database_url)
    upgrade(database_url, "0004")
    assert current_revision(database_url) == "0004"
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            licences = connection.execute(
                text("SELECT number, identifier, status FROM licences ORDER BY number")
            ).all()
            assert [tuple(r) for r in licences] == [("L1", None, "valid"), ("L2", None, "valid")]
            licence_type = connection.execute(
                text(
                    "SELECT holder_code_type, catalogue_code, defining_body_name FROM licence_types"
                )
            ).one()
            assert tuple(licence_type) == ("111", None, None)
            department = connection.execute(
                text("SELECT credit_code, jurisdiction_code FROM departments")
            ).one()
            assert tuple(department) == (None, None)
            # an operator gives the codes later; a licence then takes an identifier
            connection.execute(
                text("UPDATE departments SET credit_code = '11100000000000000X'")  # any 18
            )
            connection.execute(text("UPDATE licences SET identifier = 'ID-1' WHERE number = 'L1'"))
            connection.execute(
                text(
                    "INSERT INTO licence_types (id, department_id, code, name, fields,"
                    " default_validity_days) VALUES (2, 1, 'X', 'X', '[]', 1)"
                )
            )
            assert (
                connection.execute(
                    text("SELECT holder_code_type FROM licence_types WHERE code = 'X'")
                ).scalar_one()
                == "111"
            )
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE licences SET identifier = 'ID-1' WHERE number = 'L2'"))
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO departments (id, code, name, credit_code, created_at)"
                    " VALUES (2, 'OTHER', 'Other', '11100000000000000X', :at)"
                ),
                {"at": _AT},
            )
    finally:
        engine.dispose()


def test_downgrade_to_0003_and_back(database_url: str) -> None:
    upgrade(database_url, "0003")
    _fill_at_0002(database_url)
    upgrade(database_url, "0004")
    downgrade(database_url, "0003")
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            columns = (
                [r[1] for r in connection.exec_driver_sql("PRAGMA table_info(licences)")]
                if engine.dialect.name == "sqlite"
                else None
            )
            count = connection.execute(text("SELECT count(*) FROM licences")).scalar_one()
    finally:
        engine.dispose()
    assert count == 2
    if columns is not None:
        assert "identifier" not in columns
    upgrade(database_url, "0004")
    assert current_revision(database_url) == "0004"
