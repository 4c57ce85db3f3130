"""``registry.db.insert_unless_taken``: one INSERT that reports a taken unique value instead of
failing the transaction, on SQLite and on PostgreSQL (also against a concurrent transaction);
``insert_all_unless_taken``, its bulk form."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from registry.db import insert_all_unless_taken, insert_unless_taken, make_engine
from registry.models import HolderKey, utcnow


def _row(id_index: str) -> dict[str, object]:
    return {
        "id_index": id_index,
        "encrypted_private_key": b"k",
        "public_cose_key": b"p",
        "created_at": utcnow(),
    }


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


def test_rows_in_bulk_count_what_went_in_and_read_back_as_given(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    moment = dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.UTC)
    try:
        with engine.begin() as connection:
            assert insert_unless_taken(connection, HolderKey, _row("citizen-1")) is True
            rows = [_row("citizen-1"), _row("citizen-2"), _row("citizen-3"), _row("citizen-2")]
            rows[1]["created_at"] = moment.astimezone(dt.timezone(dt.timedelta(hours=8)))
            # citizen-1 is taken, the second citizen-2 too (by the first): two went in
            assert insert_all_unless_taken(connection, HolderKey, rows) == 2
            assert insert_all_unless_taken(connection, HolderKey, []) == 0
            # no error was raised: the transaction goes on and commits
            assert insert_all_unless_taken(connection, HolderKey, [_row("citizen-4")]) == 1
        with engine.connect() as connection:
            stored = connection.execute(
                select(
                    HolderKey.id_index, HolderKey.public_cose_key, HolderKey.created_at
                ).order_by(HolderKey.id_index)
            ).all()
        assert [row.id_index for row in stored] == [f"citizen-{n}" for n in (1, 2, 3, 4)]
        assert all(row.public_cose_key == b"p" for row in stored)
        # the column's own conversion applied (UTC, as the ORM stores it): read back as given
        assert stored[1].created_at == moment and stored[1].created_at.tzinfo == dt.UTC
    finally:
        engine.dispose()
