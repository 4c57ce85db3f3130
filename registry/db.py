"""Engine and session: SQLite (WAL) for the embedded default, PostgreSQL (psycopg 3) in production.

Transactions end at the route boundary: services ``flush()``, the request session commits once
after the endpoint returns (before the response is sent) and rolls back on any error. Routes take
``session: SessionDep``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, Insert, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide where transactions begin (pysqlite would start them
    # only at the first write, leaving earlier reads outside the transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # FULL: a commit is on disk before the service answers (WAL's NORMAL could lose the last
    # commits on power loss). Its fsync is shared by every request of a group commit.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


# Execution option of a connection whose transactions only read (``get_session`` of a GET).
SQLITE_READ_ONLY = "elicence_sqlite_read_only"
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


def _on_sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock at BEGIN, so a transaction never reads a state (the audit
    # chain head, a free status index) that another writer changes before it writes. A
    # read-only transaction begins DEFERRED: a WAL snapshot at its first read, no write lock,
    # so it neither waits for nor blocks writers.
    if connection.get_execution_options().get(SQLITE_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _on_sqlite_checkin(dbapi_connection: Any, _record: Any) -> None:
    # A COMMIT that fails (a deferred constraint, a full disk) leaves SQLite's transaction open,
    # and SQLAlchemy skips its reset-on-return for a transaction it saw end; back in the pool,
    # that connection would hold the write lock for good. End it here.
    if dbapi_connection.in_transaction:
        dbapi_connection.rollback()


SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def database_backend(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"``: the backend of a database URL. Raises ``ValueError``
    for anything else (without repeating the URL, which may hold a password)."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            "the database URL must be sqlite:///PATH or postgresql://USER:PASSWORD@HOST/NAME"
        )
    return backend


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql[+psycopg]://...``).

    SQLite gets WAL, ``foreign_keys=ON``, a busy timeout and ``BEGIN IMMEDIATE`` transactions;
    a plain ``postgresql://`` URL is switched to the psycopg 3 driver. Raises ``ValueError`` for
    any other backend.
    """
    backend = database_backend(url)
    parsed = make_url(url)
    if backend == "sqlite":
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        event.listen(engine, "checkin", _on_sqlite_checkin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a session from ``request.app.state.session_factory``.

    Commits once after the endpoint returns and rolls back on any error; on SQLite a GET or
    HEAD request's transaction begins DEFERRED (those routes only read). Use it through
    ``SessionDep`` (``scope="function"``) so the commit happens before the response is sent.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        if request.method in READ_ONLY_METHODS and session.get_bind().dialect.name == "sqlite":
            # GET and HEAD routes only read: their SQLite transaction begins DEFERRED.
            session.connection(execution_options={SQLITE_READ_ONLY: True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# ``INSERT ... ON CONFLICT DO NOTHING`` per (dialect, table), built once.
_INSERTS_UNLESS_TAKEN: dict[tuple[str, str], Insert] = {}


def insert_unless_taken(connection: Connection, model: type[Any], row: dict[str, Any]) -> bool:
    """Insert ``row`` into ``model``'s table unless a unique value is already taken (by a
    committed row, or on PostgreSQL by a concurrent transaction once it commits). Returns whether
    the row was inserted. One statement: no savepoint is needed to survive the conflict, so the
    caller's transaction stays usable on both dialects."""
    dialect = connection.dialect.name
    table = model.__table__
    statement = _INSERTS_UNLESS_TAKEN.get((dialect, table.name))
    if statement is None:
        # make_engine admits only SUPPORTED_BACKENDS: PostgreSQL, else SQLite.
        ignoring = (
            postgresql.insert(table).on_conflict_do_nothing()
            if dialect == "postgresql"
            else sqlite.insert(table).on_conflict_do_nothing()
        )
        # RETURNING says whether a row went in (rowcount is not reliable once SQLAlchemy adds
        # its own RETURNING for generated keys).
        statement = ignoring.returning(*table.primary_key.columns)
        _INSERTS_UNLESS_TAKEN[(dialect, table.name)] = statement
    return connection.execute(statement, row).first() is not None
