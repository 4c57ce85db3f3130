"""One path to the database: ``Database`` reads in read-only transactions and writes through one
writer.

- **Reads** (``reading()``) never take SQLite's write lock: their connections come from a pool
  of their own with ``PRAGMA query_only`` and ``BEGIN`` (a WAL snapshot), whatever the HTTP
  method. A write attempted there fails loudly instead of queueing for the lock. On PostgreSQL
  they are ``READ ONLY`` transactions.
- **Writes** on SQLite go through the writer lock (this process's threads, then an ``flock`` of
  ``<database>.writer-lock`` shared by every process on the file: worker processes and the CLI).
  Inside a service they go through ``SqliteWriter``: one thread per process that runs every
  waiting write, each in its own savepoint, in one transaction and one ``fsync`` (group commit).
  ``await database.write(work)`` from async code, ``database.write_now(work)`` from a thread;
  ``database.writing()`` for the CLI and tests. On PostgreSQL each write is an ordinary
  transaction in a thread of the database's own pool.
- **Changes to signed documents** (status lists, keys, departments, licence types: what the trust
  list and status lists are made of) bump ``database.changes``, a counter shared by every process
  on this machine (a memory-mapped file), after the commit and before anyone hears of it. Caches
  of parsed documents compare it on each use, so a revocation shows on the very next scan. A
  change to what the trust list is made of (anything but a status list's bits) first bumps
  ``database.trust_changes`` too, so a status change does not rebuild the trust list.

Nothing here knows the web framework; the app layer hands ``Database`` to routes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import fcntl
import mmap
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from .db import make_engine, make_session_factory, sqlite_path
from .models import Department, LicenceType, SigningKey, StatusList

T = TypeVar("T")

# Rows the trust list and the status lists are made of: changing one changes a signed document.
DOCUMENT_MODELS: tuple[type[Any], ...] = (Department, LicenceType, SigningKey, StatusList)
_DOCUMENTS_CHANGED = "elicence_documents_changed"
_TRUST_LIST_CHANGED = "elicence_trust_list_changed"
# Most writes one group-commit transaction takes: bounds how long the others wait for its fsync.
MAX_BATCH = 64
# Threads that run ``Database.read`` work: reads release the GIL while SQLite or the PostgreSQL
# server works, so a few overlap; more would only queue for the one core a process uses.
READ_THREADS = 8


def _note_document_changes(session: Session, _context: Any) -> None:
    dirty = session.dirty
    for instance in (*session.new, *dirty, *session.deleted):
        if isinstance(instance, DOCUMENT_MODELS):
            session.info[_DOCUMENTS_CHANGED] = True
            # The trust list names status lists, not their bits: a changed list's bits are not
            # a trust-list change; a new or deleted list is.
            if not (isinstance(instance, StatusList) and instance in dirty):
                session.info[_TRUST_LIST_CHANGED] = True
                return


def documents_changed(session: Session) -> bool:
    """Whether ``session`` flushed a change to a row a signed document is made of."""
    return bool(session.info.get(_DOCUMENTS_CHANGED))


def trust_list_changed(session: Session) -> bool:
    """Whether ``session`` flushed a change to what the trust list is made of."""
    return bool(session.info.get(_TRUST_LIST_CHANGED))


def mark_status_bits_changed(session: Session) -> None:
    """Say that ``session`` changes a status list's bits through a Core statement (not a
    trust-list change: see ``_note_document_changes``)."""
    session.info[_DOCUMENTS_CHANGED] = True


def mark_documents_changed(session: Session) -> None:
    """Say that ``session`` changes a signed document through a Core statement (ORM flushes of
    ``DOCUMENT_MODELS`` are seen without this)."""
    session.info[_DOCUMENTS_CHANGED] = True
    session.info[_TRUST_LIST_CHANGED] = True


class ChangeCounter:
    """A counter of document changes shared by the processes that open the same file (8 bytes,
    memory-mapped, so reading it is a memory load); in-process when ``path`` is ``None``."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self._local = 0
        if path is not None:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._fd = fd
            self._map = mmap.mmap(fd, 8)

    def value(self) -> int:
        """The number of document changes so far."""
        if self._map is None:
            return self._local
        value: int = struct.unpack_from("<Q", self._map)[0]
        return value

    def bump(self) -> None:
        """Count one change (atomic across processes: an ``flock`` of the file)."""
        with self._lock:
            if self._map is None or self._fd is None:
                self._local += 1
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                struct.pack_into("<Q", self._map, 0, self.value() + 1)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        if self._fd is not None:
            os.close(self._fd)
        self._map = self._fd = None


class WriterLock:
    """SQLite's one writer, as a lock: this process's threads, then every process on the file
    (an exclusive ``flock`` of ``<database>.writer-lock``, released the moment its holder
    finishes, where SQLite's busy handler would sleep in growing steps)."""

    def __init__(self, database_path: Path | None) -> None:
        self._threads = threading.Lock()
        self._fd = (
            None
            if database_path is None
            else os.open(f"{database_path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        )

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise

    def __exit__(self, *_: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Job:
    __slots__ = ("future", "work")

    def __init__(self, work: Callable[[Session], Any]) -> None:
        self.work = work
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


class SqliteWriter:
    """Group commit: one thread runs every write of this process.

    It takes the writer lock for the first waiting write, then every write that queued
    meanwhile (at most ``MAX_BATCH``) runs in its own savepoint of one transaction, committed
    once. A write that fails gets its own error and leaves nothing behind; a failed commit fails
    the whole batch. Nobody hears back before the commit (and the change counter) is done, so a
    201 always means stored.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        lock: WriterLock,
        on_documents_changed: Callable[[Session], None],
    ) -> None:
        self._session_factory = session_factory
        self._lock = lock
        self._on_documents_changed = on_documents_changed
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending = 0  # submitted, not yet in a transaction
        self._pending_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[Session], T]) -> concurrent.futures.Future[T]:
        """Queue ``work(session)``; the future holds its result once committed."""
        if not self._thread.is_alive():
            raise RuntimeError("the database writer has stopped")
        job = _Job(work)
        with self._pending_lock:
            self._pending += 1
        self._queue.put(job)
        return job.future

    @property
    def waiting(self) -> int:
        """How many writes wait for a transaction (for tests and metrics)."""
        return self._pending

    def stop(self) -> None:
        """Finish the queued writes, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            with self._lock:
                # What queued while the lock was held elsewhere joins this transaction.
                while len(batch) < MAX_BATCH:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stopping = True
                        break
                    batch.append(job)
                with self._pending_lock:
                    self._pending -= len(batch)
                outcomes = self._commit(batch)
            for future, value, error in outcomes:
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)

    def _commit(
        self, batch: list[_Job]
    ) -> list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]]:
        outcomes: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        try:
            with self._session_factory() as session:
                # A write alone in its batch needs no savepoint: if it fails, the transaction is
                # rolled back whole (a savepoint took a recorded scan's writer CPU 0.84 -> 1.56 ms).
                alone = len(batch) == 1
                for job in batch:
                    if not job.future.set_running_or_notify_cancel():
                        continue  # the caller went away before its turn
                    try:
                        if alone:
                            value = job.work(session)
                            session.flush()  # may raise too
                        else:
                            with session.begin_nested():  # its release flushes: may raise too
                                value = job.work(session)
                    except Exception as exc:
                        if alone:
                            session.rollback()
                        outcomes.append((job.future, None, exc))
                    else:
                        outcomes.append((job.future, value, None))
                session.commit()
                self._on_documents_changed(session)  # commit flushes: read it after
        except Exception as exc:  # the commit failed: nothing of this batch was stored
            outcomes = [(future, None, error or exc) for future, _, error in outcomes]
        except BaseException as exc:  # interrupted (SystemExit in a write): nobody may wait
            # forever, and the writer goes on serving the writes that come next.
            interrupted = RuntimeError("the write was interrupted; not stored")
            interrupted.__cause__ = exc
            outcomes = [
                (job.future, None, interrupted)
                for job in batch
                if job.future.running() or job.future.set_running_or_notify_cancel()
            ]
        return outcomes


class Database:
    """The database of one process: engines, sessions, the writer and the change counter."""

    def __init__(self, url: str, *, changes_path: Path | None = None) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        path = sqlite_path(url)
        self._sessions = make_session_factory(self.engine)
        event.listen(self._sessions, "after_flush", _note_document_changes)
        if self.dialect == "sqlite":
            self._read_engine = make_engine(url, read_only=True)
            if changes_path is None and path is not None:
                changes_path = Path(f"{path}.changes")
        else:
            self._read_engine = self.engine.execution_options(postgresql_readonly=True)
        self._read_sessions = make_session_factory(self._read_engine)
        self.changes = ChangeCounter(changes_path)
        self.trust_changes = ChangeCounter(
            None if changes_path is None else Path(f"{changes_path}.trust-list")
        )
        self._readers = concurrent.futures.ThreadPoolExecutor(
            max_workers=READ_THREADS, thread_name_prefix="db-read"
        )
        self._writer_lock = WriterLock(path) if self.dialect == "sqlite" else None
        self._writer: SqliteWriter | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        if self._writer_lock is not None:
            self._writer = SqliteWriter(self._sessions, self._writer_lock, self._count_changes)
        else:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=16, thread_name_prefix="db-write"
            )

    def __repr__(self) -> str:
        return f"Database({self.dialect})"

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction (no write lock on SQLite), ended when the block exits."""
        # Closing the session ends its transaction; loaded objects stay usable (detached).
        with self._read_sessions() as session:
            yield session

    def _read_alone(self, work: Callable[[Session], T]) -> T:
        with self.reading() as session:
            return work(session)

    async def read(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a read-only transaction, from async code: the whole read in one
        worker thread, one hop from the event loop and back. (A sync route with a session
        dependency hops four or five times: the dependency's enter and exit, the route, the
        answer's validation; each hop wakes a thread and the loop again.)"""
        loop = asyncio.get_running_loop()
        call = contextvars.copy_context().run
        return await loop.run_in_executor(self._readers, call, self._read_alone, work)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction of its own, committed when the block exits (rolled back on an
        error), for the CLI and tests. On SQLite it waits for the writer lock first. Inside a
        service use ``write`` or ``write_now`` (group commit)."""
        lock = self._writer_lock if self._writer_lock is not None else contextlib.nullcontext()
        with lock, self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            self._count_changes(session)  # commit flushes: read it after

    def _count_changes(self, session: Session) -> None:
        """After ``session`` committed: bump the change counters its flushes call for (the
        trust list's first, so whoever sees the new ``changes`` sees the new trust count)."""
        if documents_changed(session):
            if trust_list_changed(session):
                self.trust_changes.bump()
            self.changes.bump()

    def _write_alone(self, work: Callable[[Session], T]) -> T:
        with self.writing() as session:
            return work(session)

    def submit(self, work: Callable[[Session], T]) -> concurrent.futures.Future[T]:
        """Queue ``work(session)`` with the writer; the future holds its committed result."""
        if self._writer is not None:
            return self._writer.submit(work)
        assert self._executor is not None
        return self._executor.submit(self._write_alone, work)

    async def write(self, work: Callable[[Session], T]) -> T:
        """``work(session)``'s result once its transaction has committed (or its error), from
        async code: the event loop goes on while the writer works."""
        return await asyncio.wrap_future(self.submit(work))

    def write_now(self, work: Callable[[Session], T]) -> T:
        """``write`` for a thread (never call it on the event loop: it blocks)."""
        return self.submit(work).result()

    @property
    def writes_waiting(self) -> int:
        return self._writer.waiting if self._writer is not None else 0

    def close(self) -> None:
        """Finish queued writes and release every connection and file."""
        if self._writer is not None:
            self._writer.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        if self._writer_lock is not None:
            self._writer_lock.close()
        self.changes.close()
        self.trust_changes.close()
        self._read_engine.dispose()
        self.engine.dispose()
