"""Group commit on SQLite (``issuer.runtime.SqliteWriteBatcher``): requests waiting for the writer
lock share one transaction, each in its own savepoint; a caller hears its result only after the
commit; a failing request leaves nothing behind, and a failed commit fails every caller."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer import runtime
from issuer.runtime import SqliteWriteBatcher
from registry.audit import append_audit, verify_audit_chain
from registry.db import make_engine, make_session_factory
from registry.models import AuditEntry, Licence, LicenceType

from .conftest import VALID_IDS, Issuer, bearer, licence_body
from .test_licences import _setup


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_waiting_requests_commit_together_and_a_failing_one_leaves_nothing(
    issuer: Issuer,
) -> None:
    key = _setup(issuer)
    issuer.issue(key)  # the app's batcher exists from here on
    app_state = issuer.client.app.state  # type: ignore[attr-defined]
    batcher: SqliteWriteBatcher = app_state.write_batcher
    licences_before, audit_before = issuer.count(Licence), issuer.audit_count()
    commits: list[int] = []
    event.listen(app_state.engine, "commit", lambda _conn: commits.append(1))
    bodies = [licence_body(id_number=number) for number in VALID_IDS]
    bodies.append(licence_body(licence_type="NO_SUCH_TYPE"))
    bodies.append(licence_body(fields={"licence_class": "Z", "first_issued": "2020-05-01"}))
    statuses: dict[int, int] = {}

    def post(n: int) -> None:
        response = issuer.client.post("/issuer/licences", json=bodies[n], headers=bearer(key))
        statuses[n] = response.status_code

    with runtime._sqlite_writer:  # another writer holds the lock while the requests arrive
        threads = [threading.Thread(target=post, args=(n,)) for n in range(len(bodies))]
        for thread in threads:
            thread.start()
        # The invalid field value is refused while waiting too: it is checked in the
        # transaction, after the licence type (a 404 comes before a 422).
        _wait_for(lambda: batcher.waiting == len(bodies))
        assert statuses == {}  # nobody hears back before the commit
    for thread in threads:
        thread.join(10)
    assert statuses == {0: 201, 1: 201, 2: 201, 3: 404, 4: 422}
    assert len(commits) == 1  # one transaction for all five
    assert issuer.count(Licence) == licences_before + 3
    assert issuer.audit_count() == audit_before + 3
    with issuer.session() as session:
        assert verify_audit_chain(session).ok


def _audit_work(name: str) -> Any:
    def work(session: Session) -> str:
        append_audit(session, actor="test", act="batch.test", object_type="t", object_id=name)
        return name

    return work


def _orphan_licence_type(session: Session) -> None:
    # A foreign key checked at COMMIT (deferred): the savepoint is fine, the commit fails.
    session.execute(text("PRAGMA defer_foreign_keys = ON"))
    session.execute(
        insert(LicenceType).values(department_id=999_999, code="ORPHAN", name="x", fields=[])
    )


def _audit_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def batcher(sqlite_migrated_url: str) -> Iterator[SqliteWriteBatcher]:
    """A group-commit writer on a migrated SQLite file."""
    engine = make_engine(sqlite_migrated_url)
    try:
        yield SqliteWriteBatcher(engine, make_session_factory(engine))
    finally:
        engine.dispose()


async def _queued(
    batcher: SqliteWriteBatcher,
    works: list[Any],
    while_locked: Callable[[list[asyncio.Future[Any]]], None] | None = None,
) -> list[asyncio.Future[Any]]:
    """Submit ``works`` while another writer holds the lock, so they share the next
    transaction; ``while_locked`` runs once all wait, before the lock is released."""
    with runtime._sqlite_writer:
        runs = [asyncio.ensure_future(batcher.run(work)) for work in works]
        while batcher.waiting < len(works):
            await asyncio.sleep(0.01)
        if while_locked is not None:
            while_locked(runs)
    return runs


def test_failed_commit_fails_every_caller_and_stores_nothing(
    sqlite_migrated_url: str, batcher: SqliteWriteBatcher
) -> None:
    async def scenario() -> list[Any]:
        runs = await _queued(batcher, [_audit_work("kept?"), _orphan_licence_type])
        return await asyncio.gather(*runs, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, IntegrityError) for outcome in outcomes), outcomes
    assert _audit_rows(sqlite_migrated_url) == 0
    # The locks were released: the next transaction goes through.
    assert asyncio.run(batcher.run(_audit_work("after"))) == "after"
    assert _audit_rows(sqlite_migrated_url) == 1


def test_a_caller_gone_before_its_turn_runs_nothing(
    sqlite_migrated_url: str, batcher: SqliteWriteBatcher
) -> None:
    ran: list[str] = []

    def recorded(name: str) -> Any:
        def work(session: Session) -> str:
            ran.append(name)
            return str(_audit_work(name)(session))

        return work

    async def scenario() -> str:
        works = [recorded("gone"), recorded("stays")]
        gone, stays = await _queued(batcher, works, while_locked=lambda runs: runs[0].cancel())
        value = await stays
        assert gone.cancelled()
        return str(value)

    assert asyncio.run(scenario()) == "stays"
    assert ran == ["stays"]
    assert _audit_rows(sqlite_migrated_url) == 1


@pytest.mark.parametrize("failing", [ValueError("refused"), KeyError("missing")])
def test_one_callers_error_reaches_only_that_caller(
    sqlite_migrated_url: str, batcher: SqliteWriteBatcher, failing: Exception
) -> None:
    def fails(session: Session) -> None:
        _audit_work("rolled back")(session)  # written, then undone with its savepoint
        raise failing

    async def scenario() -> list[Any]:
        runs = await _queued(batcher, [_audit_work("a"), fails, _audit_work("b")])
        return await asyncio.gather(*runs, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert outcomes[1] is failing
    assert _audit_rows(sqlite_migrated_url) == 2
    engine = make_engine(sqlite_migrated_url)
    try:
        with make_session_factory(engine)() as session:
            assert verify_audit_chain(session).ok
    finally:
        engine.dispose()


def test_a_long_queue_is_split_into_transactions_of_at_most_max_batch(
    sqlite_migrated_url: str, batcher: SqliteWriteBatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "MAX_BATCH", 2)
    commits: list[int] = []
    event.listen(batcher._engine, "commit", lambda _conn: commits.append(1))

    async def scenario() -> list[Any]:
        runs = await _queued(batcher, [_audit_work(str(n)) for n in range(5)])
        return await asyncio.gather(*runs)

    assert asyncio.run(scenario()) == ["0", "1", "2", "3", "4"]
    assert len(commits) == 3
    assert _audit_rows(sqlite_migrated_url) == 5


def test_one_idempotency_key_twice_in_one_batch_issues_once(issuer: Issuer) -> None:
    key = _setup(issuer)
    issuer.issue(key)
    batcher: SqliteWriteBatcher = issuer.client.app.state.write_batcher  # type: ignore[attr-defined]
    licences_before = issuer.count(Licence)
    answers: list[Any] = []

    def post() -> None:
        headers = {**bearer(key), "Idempotency-Key": "retry-7f3a"}
        answers.append(issuer.client.post("/issuer/licences", json=licence_body(), headers=headers))

    with runtime._sqlite_writer:
        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        _wait_for(lambda: batcher.waiting == 2)
    for thread in threads:
        thread.join(10)
    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    replayed = next(answer for answer in answers if answer.status_code == 200)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert issuer.count(Licence) == licences_before + 1


class _Halt(BaseException):
    """Like KeyboardInterrupt or SystemExit: not an ``Exception``."""


def test_an_interrupted_batch_answers_every_caller_and_stores_nothing(
    sqlite_migrated_url: str, batcher: SqliteWriteBatcher
) -> None:
    def halts(session: Session) -> None:
        raise _Halt()

    async def scenario() -> list[Any]:
        runs = await _queued(batcher, [_audit_work("a"), halts, _audit_work("b")])
        done = await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 10)
        writer = batcher._writer
        assert writer is not None
        with pytest.raises(_Halt):
            await writer  # the interruption itself still goes up
        return done

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes), outcomes
    assert _audit_rows(sqlite_migrated_url) == 0
    assert not runtime._sqlite_writer.locked()
    assert asyncio.run(batcher.run(_audit_work("after"))) == "after"
