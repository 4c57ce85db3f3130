"""Per-process state of the department service: the ID vault, the holder-key box and caches of
decrypted signers and signed documents (decrypting a PKCS#8 key costs tens of milliseconds, so
each signing key is decrypted once per process)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from keys import LocalSigner
from registry.db import READ_ONLY_METHODS, get_session
from registry.holder_keys import HolderKeyBox
from registry.models import SigningKey
from registry.settings import Settings
from registry.signing_keys import load_signer
from registry.vault import CitizenIdVault


@dataclass(slots=True)
class SignedDocument:
    """A signed token kept for re-serving while its content and key are unchanged."""

    fingerprint: str
    token: str
    issued_at: int


class IssuerRuntime:
    """What the issuer keeps in memory between requests (one per app)."""

    def __init__(self, *, settings: Settings, vault: CitizenIdVault, key_secret: bytes) -> None:
        self.settings = settings
        self.vault = vault
        self.holder_box = HolderKeyBox(key_secret)
        self._key_secret = key_secret
        self._signers: dict[str, LocalSigner] = {}
        self._lock = threading.Lock()
        self.documents: dict[str, SignedDocument] = {}

    def __repr__(self) -> str:
        return "IssuerRuntime()"

    @property
    def key_secret(self) -> bytes:
        return self._key_secret

    def signer(self, row: SigningKey) -> LocalSigner:
        """The decrypted signer of a stored key, cached by kid."""
        signer = self._signers.get(row.kid)
        if signer is None:
            signer = load_signer(row, key_secret=self._key_secret)
            with self._lock:
                self._signers[row.kid] = signer
        return signer

    def signer_by_kid(self, *, session: Session, kid: str, key_id: int) -> LocalSigner:
        """The decrypted signer of key ``kid`` (row id ``key_id``); the row is loaded only
        when the key is not cached yet."""
        signer = self._signers.get(kid)
        if signer is not None:
            return signer
        row = session.get(SigningKey, key_id)
        if row is None or row.kid != kid:
            raise LookupError(f"no signing key {kid}")
        return self.signer(row)


async def get_runtime(request: Request) -> IssuerRuntime:
    """FastAPI dependency: the app's ``IssuerRuntime`` (made on first use)."""
    runtime: IssuerRuntime | None = getattr(request.app.state, "issuer_runtime", None)
    if runtime is None:
        state = request.app.state
        runtime = IssuerRuntime(
            settings=state.settings, vault=state.vault, key_secret=state.key_secret
        )
        state.issuer_runtime = runtime
    return runtime


# SQLite has one writer and every transaction here begins IMMEDIATE. Writers queue on a lock
# instead of on SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10 ... 100 ms) and
# turns 16 concurrent requests into seconds of p99 latency: threads of one process on
# ``_sqlite_writer``, processes (uvicorn workers) on an exclusive ``flock`` of a file next to the
# database, which wakes the next waiter as soon as it is released. Anything else that writes
# (the CLI, other services) still meets SQLite's own lock, so correctness never depends on these.
_sqlite_writer = threading.Lock()
T = TypeVar("T")
_lock_files: dict[tuple[int, str], int] = {}


def _writer_lock_fd(engine: Engine) -> int | None:
    """An open descriptor of the database's writer-lock file (one per process), or ``None``
    for an in-memory database."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = (os.getpid(), database)
    fd = _lock_files.get(key)
    if fd is None:
        fd = os.open(f"{database}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        _lock_files[key] = fd
    return fd


def _take_writer_lock(engine: Engine) -> None:
    """Take the writer lock of ``engine``'s database: this process's threads, then its worker
    processes. Blocks until it is free."""
    _sqlite_writer.acquire()
    fd = _writer_lock_fd(engine)
    if fd is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            _sqlite_writer.release()
            raise


def _release_writer_lock(engine: Engine) -> None:
    fd = _writer_lock_fd(engine)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    _sqlite_writer.release()


@contextlib.contextmanager
def _sqlite_write_lock(engine: Engine) -> Iterator[None]:
    _take_writer_lock(engine)
    try:
        yield
    finally:
        _release_writer_lock(engine)


@contextlib.contextmanager
def issuer_transaction(request: Request) -> Iterator[Session]:
    """The request's unit of work: ``registry.db.get_session`` (commit at the end, rollback on
    error), writers serialised per database on SQLite (threads and worker processes). Async
    routes use ``write_transaction`` instead (group commit on SQLite)."""
    engine: Engine = request.app.state.engine
    unit = contextlib.contextmanager(get_session)(request)
    if engine.dialect.name != "sqlite" or request.method in READ_ONLY_METHODS:
        # Reads (GET/HEAD begin DEFERRED on SQLite) take no write lock and wait for no writer.
        with unit as session:
            yield session
        return
    with _sqlite_write_lock(engine), unit as session:
        yield session


# Most requests one group-commit transaction takes: bounds how long it blocks the event loop.
MAX_BATCH = 64


class SqliteWriteBatcher:
    """Group commit for the SQLite writes of ``async`` routes (one per app).

    SQLite has one writer at a time, so what limits issuance is how long each write holds the
    lock. Requests that arrive while the lock is elsewhere (another worker process, a sync
    route's transaction) wait here; when it is free, one transaction on the event loop runs
    every waiting request's work, each in its own savepoint, and commits once. A request whose
    work fails gets its own error and leaves nothing behind; the others still commit. Callers
    hear their result only after the commit, so a 201 always means stored.
    """

    def __init__(self, engine: Engine, session_factory: sessionmaker[Session]) -> None:
        self._engine = engine
        self._session_factory = session_factory
        self._waiting: list[tuple[Callable[[Session], Any], asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """How many requests wait for the next transaction."""
        return len(self._waiting)

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)``'s result once its transaction has committed (or its error)."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[T] = loop.create_future()
        self._waiting.append((work, result))
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_while_waiting())
        return await result

    async def _write_while_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            # Wait for the writer lock in a thread, so the loop goes on reading requests (they
            # join this batch) while another writer holds it.
            locked = loop.run_in_executor(None, _take_writer_lock, self._engine)
            try:
                await asyncio.shield(locked)
            except asyncio.CancelledError:
                locked.add_done_callback(
                    lambda done: (
                        _release_writer_lock(self._engine) if done.exception() is None else None
                    )
                )
                raise
            try:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                self._commit(batch)
            finally:
                _release_writer_lock(self._engine)

    def _commit(self, batch: list[tuple[Callable[[Session], Any], asyncio.Future[Any]]]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            with self._session_factory() as session:
                for work, result in batch:
                    if result.done():  # the caller has gone (cancelled) before its turn
                        continue
                    try:
                        with session.begin_nested():
                            outcomes.append((result, work(session), None))
                    except Exception as exc:
                        outcomes.append((result, None, exc))
                session.commit()
        except Exception as exc:  # the commit failed: nothing of this batch was stored
            outcomes = [(result, None, error or exc) for result, _, error in outcomes]
        except BaseException:  # interrupted (the process is stopping): nobody may wait forever
            for _, result in batch:
                if not result.done():
                    result.set_exception(RuntimeError("the write was interrupted; not stored"))
            raise
        for result, value, error in outcomes:
            if result.done():
                continue
            if error is not None:
                result.set_exception(error)
            else:
                result.set_result(value)


async def write_transaction(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in a write transaction and return its result, from an ``async``
    route: on SQLite through the app's ``SqliteWriteBatcher`` (on the event loop, committed
    together with the other requests waiting for the writer lock), elsewhere in a thread of the
    pool in a transaction of its own (``issuer_transaction``)."""
    engine: Engine = request.app.state.engine
    if engine.dialect.name == "sqlite":
        batcher: SqliteWriteBatcher | None = getattr(request.app.state, "write_batcher", None)
        if batcher is None:
            batcher = SqliteWriteBatcher(engine, request.app.state.session_factory)
            request.app.state.write_batcher = batcher
        return await batcher.run(work)

    def in_transaction() -> T:
        with issuer_transaction(request) as session:
            return work(session)

    return await run_in_threadpool(in_transaction)


def get_issuer_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency form of ``issuer_transaction``."""
    with issuer_transaction(request) as session:
        yield session


IssuerSessionDep = Annotated[Session, Depends(get_issuer_session, scope="function")]
