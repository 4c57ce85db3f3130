"""Migration 0003 (issue 13): ``licences.record_key`` unique per (department, licence type) and
``licence_types.single_valid``, upgraded over existing rows and back, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from registry.db import make_engine
from registry.migrate import current_revision, downgrade, upgrade

NOW = "2026-01-01 00:00:00"


def _seed(connection: Connection) -> None:
    """One department, two licence types, one status list and two licences, as 0001 had them."""
    connection.execute(
        text("INSERT INTO departments (id, code, name, created_at) VALUES (1, 'T', 'T', :now)"),
        {"now": NOW},
    )
    for type_id, code in ((1, "DRIVING"), (2, "PERMIT")):
        connection.execute(
            text(
                "INSERT INTO licence_types (id, department_id, code, name, fields, categories, "
                "default_validity_days) VALUES (:id, 1, :code, :code, '[]', NULL, 365)"
            ),
            {"id": type_id, "code": code},
        )
    connection.execute(
        text(
            "INSERT INTO status_lists (id, department_id, bits, size, data, version, updated_at) "
            "VALUES (1, 1, 2, 8, :data, 1, :now)"
        ),
        {"data": bytes(2), "now": NOW},
    )
    for n in (1, 2):
        _licence(connection, n, type_id=1, record_key=None)


def _licence(connection: Connection, n: int, *, type_id: int, record_key: str | None) -> None:
    columns = {
        "id": f"00000000-0000-0000-0000-00000000000{n}",
        "department_id": 1,
        "licence_type_id": type_id,
        "number": f"T-DRIVING-{n}",
        "holder_name": "x",
        "id_index": f"index{n}",
        "id_ciphertext": b"c",
        "fields": "{}",
        "categories": "[]",
        "valid_from": NOW,
        "valid_until": NOW,
        "issued_at": NOW,
        "status": "valid",
        "status_list_id": 1,
        "status_index": n,
        "credential": b"c",
        "kid": "k",
    }
    if record_key is not None:
        columns["record_key"] = record_key
    names = ", ".join(columns)
    values = ", ".join(f":{name}" for name in columns)
    connection.execute(text(f"INSERT INTO licences ({names}) VALUES ({values})"), columns)


def test_upgrade_over_existing_rows_then_record_keys_are_unique_per_type(
    database_url: str,
) -> None:
    upgrade(database_url, "0001")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            _seed(connection)
        upgrade(database_url, "0003")
        assert current_revision(database_url) == "0003"
        with engine.begin() as connection:
            keys = connection.execute(text("SELECT record_key FROM licences")).scalars().all()
            flags = connection.execute(text("SELECT single_valid FROM licence_types")).all()
            assert keys == [None, None]  # licences issued before keep no record key
            assert [bool(f) for (f,) in flags] == [False, False]
            _licence(connection, 3, type_id=1, record_key="A-1")
            _licence(connection, 4, type_id=2, record_key="A-1")  # another type: allowed
        with pytest.raises(IntegrityError), engine.begin() as connection:
            _licence(connection, 5, type_id=1, record_key="A-1")
        downgrade(database_url, "0001")
        with engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM licences")).scalar() == 4
            _licence(connection, 6, type_id=1, record_key=None)
        upgrade(database_url, "0003")
        assert current_revision(database_url) == "0003"
    finally:
        engine.dispose()
