"""``registry.db.insert_unless_taken``: one INSERT that reports a taken unique value instead of
failing the transaction, on SQLite and on PostgreSQL (also against a concurrent transaction)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from registry.db import insert_unless_taken, make_engine
from registry.models import HolderKey


def _row(id_index: str) -> dict[str, object]:
    return {"id_index": id_index, "encrypted_private_key": b"k", "public_cose_key": b"p"}


def test_a_taken_value_is_reported_and_the_transaction_goes_on(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    try:
        with engine.begin() as connection:
            assert insert_unless_taken(connection, HolderKey, _row("citizen-1")) is True
            assert insert_unless_taken(connection, HolderKey, _row("citizen-1")) is False
            # No error was raised, so the same transaction still works and commits.
            assert insert_unless_taken(connection, HolderKey, _row("citizen-2")) is True
        with engine.connect() as connection:
            count = select(func.count()).select_from(HolderKey)
            assert connection.execute(count).scalar_one() == 2
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_concurrent_insert_waits_for_the_first_and_is_reported_taken(postgres_url: str) -> None:
    from registry.migrate import upgrade

    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    outcome: list[bool] = []
    try:
        with engine.connect() as first:
            first.begin()
            assert insert_unless_taken(first, HolderKey, _row("citizen-1")) is True

            def second() -> None:
                with engine.begin() as connection:
                    outcome.append(insert_unless_taken(connection, HolderKey, _row("citizen-1")))

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(0.5)
            assert outcome == []  # waits on the first transaction's unique entry
            first.commit()
            thread.join(10)
        assert outcome == [False]
    finally:
        engine.dispose()
