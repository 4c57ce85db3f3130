"""SQLite engines: the write engine begins IMMEDIATE; the read engine begins DEFERRED (a WAL
snapshot) and refuses writes; a failed commit never keeps the write lock; durable WAL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError

from registry.db import make_engine, make_session_factory


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


@pytest.fixture
def engines(url: str) -> Iterator[tuple[Engine, Engine]]:
    write, read = make_engine(url), make_engine(url, read_only=True)
    with write.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (v INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    yield write, read
    write.dispose()
    read.dispose()


def _begins(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: (
            seen.append(statement) if statement.startswith("BEGIN") else None
        ),
    )
    return seen


def test_writes_begin_immediate_and_reads_deferred(engines: tuple[Engine, Engine]) -> None:
    write, read = engines
    writes, reads = _begins(write), _begins(read)
    with make_session_factory(write)() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
        session.commit()
    with make_session_factory(read)() as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 2
    assert writes == ["BEGIN IMMEDIATE"]
    assert reads == ["BEGIN"]


def test_reads_see_the_committed_state_while_a_writer_holds_the_lock(
    engines: tuple[Engine, Engine],
) -> None:
    write, read = engines
    writer = write.connect()  # begins IMMEDIATE at its first statement
    writer.exec_driver_sql("INSERT INTO t VALUES (99)")  # not committed
    try:
        # Fail fast instead of the 10 s busy timeout if the read had to wait for the lock.
        event.listen(
            read, "checkout", lambda dbapi, _rec, _proxy: dbapi.execute("PRAGMA busy_timeout=50")
        )
        with make_session_factory(read)() as session:
            assert session.scalars(text("SELECT v FROM t")).all() == [1]
            with pytest.raises(OperationalError, match="readonly"):
                session.execute(text("INSERT INTO t VALUES (3)"))
    finally:
        writer.rollback()
        writer.close()


def _write_lock_is_free(path: Path) -> bool:
    """Whether another connection can take SQLite's write lock within 200 ms."""
    import sqlite3

    other = sqlite3.connect(path, isolation_level=None, timeout=0.2)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_a_failed_commit_does_not_keep_the_write_lock(
    engines: tuple[Engine, Engine], tmp_path: Path
) -> None:
    """A COMMIT refused by a deferred foreign key leaves SQLite's transaction open; the engine
    ends it when the connection goes back to the pool, so other writers are not locked out."""
    write, _ = engines
    with write.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id))")
    factory = make_session_factory(write)
    with pytest.raises(Exception, match="FOREIGN KEY"), factory() as session:
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.execute(text("INSERT INTO child VALUES (42)"))
        session.commit()
    assert _write_lock_is_free(tmp_path / "db.sqlite")
    with factory() as session:  # the pooled connection is usable again
        session.execute(text("INSERT INTO t VALUES (2)"))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM child")) == 0


def test_sqlite_connections_are_durable_wal_with_foreign_keys(
    engines: tuple[Engine, Engine],
) -> None:
    for engine in engines:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert raw.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
            assert raw.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_a_postgresql_process_gets_thirty_connections_at_once(postgres_url: str) -> None:
    """As many request and writer threads as a service process runs get a connection each
    without queueing (the default pool of 5 + 10 made the 16th wait, here 5 s, then fail)."""
    from sqlalchemy import Connection, text

    from registry.db import make_engine

    engine = make_engine(postgres_url, pool_timeout=5)
    held: list[Connection] = []
    try:
        for _ in range(30):
            held.append(engine.connect())
        assert [c.execute(text("SELECT 1")).scalar() for c in held] == [1] * 30
    finally:
        for connection in held:
            connection.close()
        engine.dispose()


def test_sqlite_connections_of_forty_readers_at_once_are_kept_for_the_next(tmp_path: Path) -> None:
    """Each request thread's connection goes back to the pool, not closed: a new SQLite
    connection runs its PRAGMAs and parses the schema again (the default pool kept 5)."""
    from sqlalchemy import Connection

    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}", read_only=True)
    opened: list[object] = []
    event.listen(engine, "connect", lambda dbapi, _record: opened.append(dbapi))
    try:
        for _round in range(2):
            held: list[Connection] = [engine.connect() for _ in range(40)]
            assert [c.execute(text("SELECT 1")).scalar() for c in held] == [1] * 40
            for connection in held:
                connection.close()
        assert len(opened) == 40  # the second round reused the first round's connections
    finally:
        engine.dispose()
