"""Engines and sessions: SQLite (WAL) for the embedded default, PostgreSQL (psycopg 3) in
production. ``registry.database.Database`` puts them together into the one path to the database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zlib import crc32

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker
from sqlalchemy.sql.visitors import InternalTraversal

if TYPE_CHECKING:
    from psycopg import sql as pgsql

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


def _begin_immediate(connection: Any) -> None:
    # IMMEDIATE takes the write lock at BEGIN, so a transaction never reads a state (the audit
    # chain head, a free status index) that another writer changes before it writes.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(connection: Any) -> None:
    # A read-only transaction: a WAL snapshot at its first read, no write lock, so it neither
    # waits for nor blocks the writer.
    connection.exec_driver_sql("BEGIN")


def _on_sqlite_connect_read_only(dbapi_connection: Any, record: Any) -> None:
    _on_sqlite_connect(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    # A write on a read connection fails at once ("attempt to write a readonly database")
    # instead of queueing for the lock behind the writer's back.
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


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


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for PostgreSQL and in-memory databases)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database)


def _create_private_file(path: Path) -> None:
    # SQLite would create the file 0644 (umask); it holds encrypted ID numbers, blind indexes
    # and the audit log: readable by the service's user only, like the master key. Its -wal and
    # -shm files take the same mode from it.
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


POSTGRES_POOL_SIZE, POSTGRES_POOL_OVERFLOW = 30, 10
SQLITE_POOL_SIZE, SQLITE_POOL_OVERFLOW = 40, 10


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql[+psycopg]://...``).

    SQLite gets WAL, ``foreign_keys=ON``, a busy timeout and ``BEGIN IMMEDIATE`` transactions
    (``read_only``: ``PRAGMA query_only`` and ``BEGIN``), and a new file is created mode 0600;
    a plain ``postgresql://`` URL is switched to the psycopg 3 driver. Raises ``ValueError`` for
    any other backend.
    """
    backend = database_backend(url)
    parsed = make_url(url)
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            _create_private_file(path)
        # Every request thread (anyio's 40) may read at once: SQLAlchemy's 5 (+10 overflow) closed
        # and reopened connections under load, and a new one runs its PRAGMAs and parses the schema.
        kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
        kwargs.setdefault("max_overflow", SQLITE_POOL_OVERFLOW)
        engine = create_engine(parsed, **kwargs)
        if read_only:
            event.listen(engine, "connect", _on_sqlite_connect_read_only)
            event.listen(engine, "begin", _begin_deferred)
        else:
            event.listen(engine, "connect", _on_sqlite_connect)
            event.listen(engine, "begin", _begin_immediate)
        event.listen(engine, "checkin", _on_sqlite_checkin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_pre_ping", True)
    # A service process holds connections from up to 40 request threads (anyio's pool) and 16
    # writer threads at once; SQLAlchemy's default 5 (+10 overflow) made them queue for one
    # (benchmarks/mixed.py --postgres, busy machine: p50 115–238 ms with 30, 186–433 ms with 5).
    kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
    kwargs.setdefault("max_overflow", POSTGRES_POOL_OVERFLOW)
    return create_engine(parsed, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


class _OneOf(ColumnElement[bool]):
    """``column IN (:name...)``, on PostgreSQL ``column = ANY(:name)`` (see ``one_of``)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is, never ``... = 1``
    # what the statement cache keys on (SQLAlchemy's protocol: a list on the class)
    _traverse_internals = [  # noqa: RUF012
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


@compiles(_OneOf)
def _one_of_in(element: _OneOf, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw))


@compiles(_OneOf, "postgresql")
def _one_of_any(element: _OneOf, compiler: Any, **kw: Any) -> str:
    array = bindparam(element.name, type_=postgresql.ARRAY(element.column.type))
    return str(compiler.process(element.column == any_(array), **kw))


def one_of(column: QueryableAttribute[Any], name: str) -> ColumnElement[bool]:
    """``column`` is one of the list given as parameter ``name`` (a batch's keys). On SQLite an
    expanding ``IN``; on PostgreSQL ``= ANY(array)``, one parameter: psycopg converts an
    ``IN`` list's hundreds of placeholders to ``$n`` again on every execution (no cache for
    a statement that long), 10-20 us a row of a bulk import per such read (py-spy)."""
    return _OneOf(column.expression, name)


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


@dataclass(frozen=True, slots=True)
class _RowsStatement:
    """A one-row ``INSERT ... ON CONFLICT DO NOTHING`` compiled once for a dialect, a table and
    the columns its rows bring, with the bind processors ``Connection.execute`` applies."""

    sql: str
    columns: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def parameters(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        spec = tuple(zip(self.columns, self.processors, strict=True))
        return [
            {name: row[name] if process is None else process(row[name]) for name, process in spec}
            for row in rows
        ]


_ROWS_STATEMENTS: dict[tuple[str, tuple[str, ...]], _RowsStatement] = {}


def _rows_statement(connection: Connection, table: Table, given: tuple[str, ...]) -> _RowsStatement:
    statement = _ROWS_STATEMENTS.get((table.name, given))
    if statement is None:
        dialect = connection.dialect
        # for_executemany: no implicit RETURNING of a generated primary key
        compiled = (
            postgresql.insert(table)
            .on_conflict_do_nothing()
            .compile(dialect=dialect, column_keys=list(given), for_executemany=True)
        )
        if compiled.insert_prefetch or set(compiled.binds) != set(given):
            raise ValueError(f"{table.name} rows in bulk must bring every column with a default")
        columns = {column.key: column for column in table.columns}
        statement = _RowsStatement(
            compiled.string,
            given,
            tuple(columns[name].type._cached_bind_processor(dialect) for name in given),
        )
        _ROWS_STATEMENTS[(table.name, given)] = statement
    return statement


def insert_all_unless_taken(
    connection: Connection, model: type[Any], rows: list[dict[str, Any]]
) -> int:
    """``insert_unless_taken`` for many rows (bulk import): how many went in; the others hit a
    taken unique value. Every row has the same keys.

    SQLite: one ``INSERT ... VALUES (...), (...) ... ON CONFLICT DO NOTHING RETURNING`` per page
    (SQLAlchemy's insertmanyvalues). PostgreSQL: the one-row statement, compiled once, through
    psycopg's ``executemany`` (one pipeline), the values converted by the columns' own bind
    processors: psycopg converts a statement's placeholders to ``$n`` on each execution, and
    those of a 500-row page (11,000 of them) took 30% of a PostgreSQL import's CPU time
    (py-spy of a 6,000-row ``elicence import``; ``benchmarks/import.py --postgres``); a short
    statement's conversion is cached. On SQLite that path measured slower: 200 against 160 us a
    licence row, sqlite3 stepping one statement per row."""
    if not rows:
        return 0
    table = model.__table__
    if connection.dialect.name == "postgresql":
        statement = _rows_statement(connection, table, tuple(rows[0]))
        result = connection.exec_driver_sql(statement.sql, statement.parameters(rows))
        return int(result.rowcount)
    (key,) = table.primary_key.columns
    ignoring = sqlite.insert(table).on_conflict_do_nothing().returning(key)
    return len(connection.execute(ignoring, rows).all())


# Dialects without an engine: what a bulk import's worker processes convert values with.
# (PostgreSQL: the base dialect, whose JSON is text, which psycopg sends untyped and the server
# reads as JSON; psycopg's own wraps it in an object of the driver.)
_OFFLINE_DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.base.PGDialect()}
_BIND_PROCESSORS: dict[tuple[str, str, tuple[str, ...]], tuple[Callable[[Any], Any] | None, ...]]
_BIND_PROCESSORS = {}


def table_order(model: type[Any], names: set[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``names`` in the order of ``model``'s columns: the order of ``bind_values`` tuples."""
    return tuple(column.key for column in model.__table__.columns if column.key in names)


def bind_values(
    dialect_name: str, model: type[Any], columns: tuple[str, ...], values: dict[str, Any]
) -> tuple[Any, ...]:
    """``values`` (one row of ``model``) converted as ``Connection.execute`` converts them for
    the database ``dialect_name``, in the order of ``columns``, with no connection: a bulk
    import's worker processes convert the rows (JSON to text, SQLite's datetimes to text) and
    the importing process inserts them as they are (``insert_bound_unless_taken``). Plain
    values: they cross a pipe."""
    key = (dialect_name, model.__table__.name, columns)
    processors = _BIND_PROCESSORS.get(key)
    if processors is None:
        dialect = _OFFLINE_DIALECTS[dialect_name]
        table = model.__table__
        processors = tuple(
            table.columns[name].type._cached_bind_processor(dialect) for name in columns
        )
        _BIND_PROCESSORS[key] = processors
    return tuple(
        values[name] if process is None else process(values[name])
        for name, process in zip(columns, processors, strict=True)
    )


_BOUND_INSERTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, str]] = {}
_SQLITE_MAX_VARIABLES = 32_766


def _bound_insert(
    connection: Connection, table: Table, columns: tuple[str, ...]
) -> tuple[str, str]:
    """(statement, its VALUES group) of a one-row ``INSERT ... ON CONFLICT DO NOTHING`` of
    ``columns``, compiled for the connection's dialect."""
    dialect = connection.dialect
    key = (dialect.name, table.name, columns)
    found = _BOUND_INSERTS.get(key)
    if found is None:
        insert = postgresql.insert(table) if dialect.name == "postgresql" else sqlite.insert(table)
        compiled = insert.on_conflict_do_nothing().compile(
            dialect=dialect, column_keys=list(columns), for_executemany=True
        )
        if compiled.insert_prefetch or set(compiled.binds) != set(columns):
            raise ValueError(f"{table.name} rows in bulk must bring every column with a default")
        sql = compiled.string
        if dialect.name != "postgresql" and tuple(compiled.positiontup or ()) != columns:
            raise ValueError("give the columns in the table's order (table_order)")
        start = sql.index(" VALUES (") + len(" VALUES ")
        group = sql[start : sql.index(")", start) + 1]
        found = _BOUND_INSERTS[key] = (sql, group)
    return found


# PostgreSQL: (CREATE of the session's staging table, COPY into it, INSERT from it) per (table,
# columns) of ``insert_bound_unless_taken``.
_COPIES: dict[tuple[str, tuple[str, ...]], tuple[pgsql.Composed, pgsql.Composed, pgsql.Composed]]
_COPIES = {}
COPY_MIN_ROWS = 16


def _copy_statements(
    table: Table, columns: tuple[str, ...]
) -> tuple[pgsql.Composed, pgsql.Composed, pgsql.Composed]:
    found = _COPIES.get((table.name, columns))
    if found is None:
        from psycopg import sql as pgsql  # here: PostgreSQL only, not on SQLite's start-up

        # One staging table per session, per (table, columns): created once and kept (ON COMMIT
        # DELETE ROWS empties it); only the columns given, no constraints, no defaults (a serial
        # key's would draw from the sequence). The INSERT takes the rows out of it again.
        names = pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
        parts = {
            "staging": pgsql.Identifier(
                f"import_{table.name}_{crc32(','.join(columns).encode()):08x}"
            ),
            "target": pgsql.Identifier(table.name),
            "names": names,
        }
        found = _COPIES[(table.name, columns)] = (
            pgsql.SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                "SELECT {names} FROM {target} WITH NO DATA"
            ).format(**parts),
            pgsql.SQL("COPY {staging} ({names}) FROM STDIN").format(**parts),
            pgsql.SQL(
                "WITH staged AS (DELETE FROM {staging} RETURNING {names}) "
                "INSERT INTO {target} ({names}) SELECT {names} FROM staged "
                "ON CONFLICT DO NOTHING"
            ).format(**parts),
        )
    return found


def _copy_unless_taken(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> int:
    create, copy, insert = _copy_statements(table, columns)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:  # in the connection's transaction
        cursor.execute(create)
        with cursor.copy(copy) as stream:
            for row in rows:
                stream.write_row(row)
        cursor.execute(insert)
        return int(cursor.rowcount)


def insert_bound_unless_taken(
    connection: Connection,
    model: type[Any],
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> int:
    """``insert_all_unless_taken`` for rows converted already (``bind_values``): how many
    went in. SQLite: ``INSERT ... VALUES (...), (...) ... ON CONFLICT DO NOTHING`` as
    SQLAlchemy's insertmanyvalues builds it, without converting anything here. PostgreSQL, from
    ``COPY_MIN_ROWS`` rows: ``COPY`` into a temporary table of the session, then one ``INSERT ...
    SELECT ... ON CONFLICT DO NOTHING`` (the same conflicts, the rows in the order given): the
    one-row statement through ``executemany`` is one execution per row, and cost the server 48-64
    us of CPU a licence row against 36-42 us, and psycopg 17-18 us against 12-15 us (500-row
    batches into a 100,000-licence table, 10 of each, alternating); fewer rows: that
    ``executemany`` (a batch's re-signed rows, one at a time)."""
    if not rows:
        return 0
    table = model.__table__
    if connection.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        return _copy_unless_taken(connection, table, columns, rows)
    sql, group = _bound_insert(connection, table, columns)
    if connection.dialect.name == "postgresql":
        parameters = [dict(zip(columns, row, strict=True)) for row in rows]
        return int(connection.exec_driver_sql(sql, parameters).rowcount)
    head, _, tail = sql.partition(group)
    most = 1 << ((_SQLITE_MAX_VARIABLES // len(columns)).bit_length() - 1)
    landed = 0
    start = 0
    while start < len(rows):
        # pages of powers of two: sqlite3 keeps each statement text it prepared (128 of them),
        # and one per page length would hold a few hundred kB each
        size = min(most, 1 << (len(rows) - start).bit_length() - 1)
        page = rows[start : start + size]
        statement = head + ", ".join([group] * size) + tail
        flat = tuple(value for row in page for value in row)
        landed += connection.exec_driver_sql(statement, flat).rowcount
        start += size
    return landed


def analyze_if_outgrown(connection: Connection, models: list[type[Any]], added: int) -> list[str]:
    """PostgreSQL: ``ANALYZE`` each of ``models``' tables whose statistics count fewer rows than
    ``added`` (rows a bulk import has written since it began), i.e. were taken before most of its
    rows; returns the tables analyzed (SQLite: none, it keeps no such statistics).

    Why: into a table last analyzed empty (a registry's first import, before autovacuum's next
    round a minute on), the planner takes the lookups of 500 keys for tiny-table plans and keeps
    them as the table grows: a sequential scan of ``holder_keys`` and a walk of the department's
    whole record-key index range, twice a batch (60,000 rows: 6.8 million holder keys and 6.8
    million index entries read; 161-180 us of PostgreSQL CPU a licence against 101-132 once
    analyzed). A table's owner only: for another role ANALYZE warns and skips."""
    if connection.dialect.name != "postgresql":
        return []
    analyzed = []
    for model in models:
        name = model.__table__.name
        counted = connection.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(name)s)", {"name": name}
        ).scalar()
        if counted is not None and added > max(float(counted), 0.0):
            connection.exec_driver_sql(f'ANALYZE "{name}"')
            analyzed.append(name)
    return analyzed


def padded(values: list[Any]) -> list[Any]:
    """``values`` (not empty) made a power of two long by repeating its last: for an IN list
    (``one_of``) on SQLite, whose sqlite3 keeps each statement text it prepared (128), one per
    list length; a few hundred lengths of long lists held over 100 MB."""
    return values + values[-1:] * ((1 << (len(values) - 1).bit_length()) - len(values))
