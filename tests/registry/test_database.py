"""One path to the database (``registry.database``): reads never take SQLite's write lock and
cannot write; writes go through one writer that commits waiting writes together, each in its own
savepoint; a caller hears its result only after the commit; a failing write leaves nothing
behind, a failed commit fails every caller; document changes bump the shared change counter."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from registry import database as database_module
from registry.audit import append_audit, verify_audit_chain
from registry.database import ChangeCounter, Database
from registry.migrate import upgrade
from registry.models import AuditEntry, Department, LicenceType, StatusList


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


@contextlib.contextmanager
def another_writer(url: str) -> Iterator[Session]:
    """Another process's writer (its own lock file descriptor) holding the write lock."""
    other = Database(url)
    try:
        with other.writing() as session:
            yield session
    finally:
        other.close()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'elicence.db'}"
    upgrade(url)
    opened = Database(url)
    try:
        yield opened
    finally:
        opened.close()


def _audit_work(name: str) -> Callable[[Session], str]:
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


def _audit_rows(database: Database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def _queued(
    database: Database,
    works: list[Callable[[Session], Any]],
    while_locked: Callable[[list[concurrent.futures.Future[Any]]], None] | None = None,
) -> list[concurrent.futures.Future[Any]]:
    """Submit ``works`` while another writer holds the lock, so they share the next
    transaction; ``while_locked`` runs once all wait, before the lock is released."""
    with another_writer(database.url):
        futures = [database.submit(work) for work in works]
        wait_for(lambda: database.writes_waiting == len(works))
        assert not any(future.done() for future in futures)  # nobody hears before the commit
        if while_locked is not None:
            while_locked(futures)
    return futures


def _outcomes(futures: list[concurrent.futures.Future[Any]]) -> list[Any]:
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(timeout=10))
        except BaseException as exc:
            outcomes.append(exc)
    return outcomes


def test_waiting_writes_commit_together_in_one_transaction(database: Database) -> None:
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _conn: commits.append(1))
    futures = _queued(database, [_audit_work(str(n)) for n in range(5)])
    assert _outcomes(futures) == ["0", "1", "2", "3", "4"]
    assert len(commits) == 1
    assert _audit_rows(database) == 5
    with database.reading() as session:
        assert verify_audit_chain(session).ok


def test_failed_commit_fails_every_caller_and_stores_nothing(database: Database) -> None:
    outcomes = _outcomes(_queued(database, [_audit_work("kept?"), _orphan_licence_type]))
    assert all(isinstance(outcome, IntegrityError) for outcome in outcomes), outcomes
    assert _audit_rows(database) == 0
    # The locks were released: the next write goes through.
    assert database.write_now(_audit_work("after")) == "after"
    assert _audit_rows(database) == 1


def test_a_caller_gone_before_its_turn_runs_nothing(database: Database) -> None:
    ran: list[str] = []

    def recorded(name: str) -> Callable[[Session], str]:
        def work(session: Session) -> str:
            ran.append(name)
            return _audit_work(name)(session)

        return work

    gone, stays = _queued(
        database,
        [recorded("gone"), recorded("stays")],
        while_locked=lambda futures: futures[0].cancel(),
    )
    assert stays.result(10) == "stays"
    assert gone.cancelled()
    assert ran == ["stays"]
    assert _audit_rows(database) == 1


@pytest.mark.parametrize("failing", [ValueError("refused"), KeyError("missing")])
def test_one_callers_error_reaches_only_that_caller(database: Database, failing: Exception) -> None:
    def fails(session: Session) -> None:
        _audit_work("rolled back")(session)  # written, then undone with its savepoint
        raise failing

    outcomes = _outcomes(_queued(database, [_audit_work("a"), fails, _audit_work("b")]))
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert outcomes[1] is failing
    assert _audit_rows(database) == 2
    with database.reading() as session:
        assert verify_audit_chain(session).ok


def test_a_write_alone_that_fails_stores_nothing_and_the_next_write_goes_through(
    database: Database,
) -> None:
    # Alone in its batch a write has no savepoint: its failure rolls back the transaction.
    def fails(session: Session) -> None:
        _audit_work("rolled back")(session)
        raise ValueError("refused")

    def fails_at_flush(session: Session) -> None:
        _audit_work("rolled back too")(session)
        session.add(LicenceType(department_id=None, code="NULL", name="x", fields=[]))

    with pytest.raises(ValueError, match="refused"):
        database.write_now(fails)
    with pytest.raises(IntegrityError):
        database.write_now(fails_at_flush)
    assert _audit_rows(database) == 0
    assert database.write_now(_audit_work("after")) == "after"
    assert _audit_rows(database) == 1
    with database.reading() as session:
        assert verify_audit_chain(session).ok


def test_a_long_queue_is_split_into_transactions_of_at_most_max_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "MAX_BATCH", 2)
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _conn: commits.append(1))
    futures = _queued(database, [_audit_work(str(n)) for n in range(5)])
    assert _outcomes(futures) == ["0", "1", "2", "3", "4"]
    assert len(commits) == 3
    assert _audit_rows(database) == 5


class _Halt(BaseException):
    """Like SystemExit: not an ``Exception``."""


def test_an_interrupted_batch_answers_every_caller_and_the_writer_goes_on(
    database: Database,
) -> None:
    def halts(session: Session) -> None:
        raise _Halt()

    outcomes = _outcomes(_queued(database, [_audit_work("a"), halts, _audit_work("b")]))
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes), outcomes
    assert _audit_rows(database) == 0
    assert database.write_now(_audit_work("after")) == "after"


def test_a_read_neither_waits_for_nor_takes_the_write_lock(database: Database) -> None:
    with another_writer(database.url):
        with database.reading() as session:  # would wait 10 s if it wanted the lock
            assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
        # and the other writer still holds the lock: our writer waits for it
        future = database.submit(_audit_work("queued"))
        wait_for(lambda: database.writes_waiting == 1)
        assert not future.done()
    assert future.result(10) == "queued"


def test_a_read_transaction_cannot_write(database: Database) -> None:
    with database.reading() as session, pytest.raises(OperationalError, match="readonly"):
        _audit_work("sneaked")(session)
        session.flush()
    assert _audit_rows(database) == 0


def test_document_changes_bump_the_shared_counter_after_the_commit(database: Database) -> None:
    other_process = Database(database.url)  # another worker process's view of the counter
    try:
        before = other_process.changes.value()
        database.write_now(_audit_work("not a document"))
        assert other_process.changes.value() == before

        def add_department(session: Session) -> None:
            session.add(Department(code="TRANSPORT", name="Transport"))

        database.write_now(add_department)
        assert other_process.changes.value() == before + 1
        with database.writing() as session:
            department = session.scalars(select(Department)).one()
            department.name = "Transport Bureau"
        assert other_process.changes.value() == before + 2
    finally:
        other_process.close()


def test_a_rolled_back_change_is_not_counted(database: Database) -> None:
    before = database.changes.value()

    def fails(session: Session) -> None:
        session.add(Department(code="MARKET", name="Market"))
        session.flush()
        raise ValueError("refused")

    with pytest.raises(ValueError), database.writing() as session:
        fails(session)
    assert database.changes.value() == before


def test_change_counter_is_shared_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "documents.changes"
    first, second = ChangeCounter(path), ChangeCounter(path)
    try:
        threads = [threading.Thread(target=first.bump) for _ in range(20)]
        threads += [threading.Thread(target=second.bump) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert first.value() == second.value() == 40
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        first.close()
        second.close()


def test_the_database_file_is_private(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    upgrade(url)
    opened = Database(url)
    try:
        opened.write_now(_audit_work("x"))
    finally:
        opened.close()
    for name in ("new.db", "new.db.writer-lock", "new.db.changes"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name


def test_on_both_databases_a_read_cannot_write_and_writes_still_can(migrated_url: str) -> None:
    """PostgreSQL reads are READ ONLY transactions on connections of the writers' pool: the
    characteristic is reset when a connection goes back, so the next write can write."""
    from sqlalchemy.exc import DBAPIError

    opened = Database(migrated_url)
    try:
        for _ in range(3):  # the same pooled connections go back and forth
            with pytest.raises(DBAPIError), opened.reading() as session:
                _audit_work("sneaked")(session)
                session.flush()
            assert opened.write_now(_audit_work("kept")) == "kept"
        assert _audit_rows(opened) == 3
        with opened.reading() as session:
            assert verify_audit_chain(session).ok
    finally:
        opened.close()


def test_on_both_databases_read_runs_the_work_in_a_read_only_transaction_off_the_loop(
    migrated_url: str,
) -> None:
    """``await database.read(work)``: ``work``'s result, in a read-only transaction (a write
    in it fails and leaves nothing), its own error passed on, and run in another thread while
    the event loop goes on."""
    from sqlalchemy.exc import DBAPIError

    opened = Database(migrated_url)
    loop_thread: list[int] = []
    work_thread: list[int] = []

    def count(session: Session) -> int:
        work_thread.append(threading.get_ident())
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)

    def refused(session: Session) -> None:
        raise LookupError("no such licence")

    async def reads() -> tuple[int, int]:
        loop_thread.append(threading.get_ident())
        opened.write_now(_audit_work("before"))  # setup: nothing else runs on this loop
        before = await opened.read(count)
        with pytest.raises(DBAPIError):
            await opened.read(lambda session: (_audit_work("sneaked")(session), session.flush()))
        with pytest.raises(LookupError, match="no such licence"):
            await opened.read(refused)
        # The loop goes on while a read waits (here for the ticks of another task).
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(ticking())
        await opened.read(lambda session: (time.sleep(0.05), count(session))[1])
        ticker.cancel()
        return before, ticks

    try:
        # A loop of its own in a thread of its own: a browser test run earlier in this process
        # leaves its driver's loop running in the main thread.
        with concurrent.futures.ThreadPoolExecutor(1) as runner:
            before, ticks = runner.submit(asyncio.run, reads()).result(60)
        assert before == 1
        assert _audit_rows(opened) == 1  # the sneaked write left nothing
        assert ticks > 0
        assert work_thread and loop_thread[0] not in work_thread
    finally:
        opened.close()


def test_a_status_list_bits_change_is_not_a_trust_list_change(database: Database) -> None:
    """A new status list changes the trust list (it names the list); new bits in it change
    only the status list: ``trust_changes`` stays, ``changes`` moves."""
    other_process = Database(database.url)
    try:

        def add_department_and_list(session: Session) -> int:
            department = Department(code="TRANSPORT", name="Transport")
            session.add(department)
            session.flush()
            status_list = StatusList(department_id=department.id, bits=2, size=16, data=bytes(4))
            session.add(status_list)
            session.flush()
            return status_list.id

        before = (other_process.changes.value(), other_process.trust_changes.value())
        list_id = database.write_now(add_department_and_list)
        after_new = (other_process.changes.value(), other_process.trust_changes.value())
        assert after_new == (before[0] + 1, before[1] + 1)

        def set_bits(session: Session) -> None:
            status_list = session.get(StatusList, list_id)
            assert status_list is not None
            status_list.data = b"\x01" + bytes(3)
            status_list.version += 1

        database.write_now(set_bits)
        after_bits = (other_process.changes.value(), other_process.trust_changes.value())
        assert after_bits == (after_new[0] + 1, after_new[1])
    finally:
        other_process.close()
