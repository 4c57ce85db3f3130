"""Request sessions on SQLite: writes begin IMMEDIATE, GET/HEAD reads begin DEFERRED."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from starlette.requests import Request

from registry.db import get_session, make_engine, make_session_factory


def _request(app: FastAPI, method: str) -> Request:
    return Request({"type": "http", "method": method, "app": app, "headers": [], "path": "/"})


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    app = FastAPI()
    app.state.engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    app.state.session_factory = make_session_factory(app.state.engine)
    with app.state.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (v INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    yield app
    app.state.engine.dispose()


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


@pytest.mark.parametrize(
    ("method", "begin"),
    [
        ("GET", "BEGIN"),
        ("HEAD", "BEGIN"),
        ("POST", "BEGIN IMMEDIATE"),
        ("DELETE", "BEGIN IMMEDIATE"),
    ],
)
def test_begin_kind_follows_the_method(app: FastAPI, method: str, begin: str) -> None:
    seen = _begins(app.state.engine)
    with contextlib.contextmanager(get_session)(_request(app, method)) as session:
        assert session.scalar(text("SELECT v FROM t")) == 1
    assert seen == [begin]
    # The pooled connection does not keep the option: the next write is IMMEDIATE again.
    seen.clear()
    with contextlib.contextmanager(get_session)(_request(app, "POST")) as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
    assert seen == ["BEGIN IMMEDIATE"]


def test_get_reads_while_a_writer_holds_the_lock(app: FastAPI) -> None:
    engine: Engine = app.state.engine
    # Fail fast instead of the 10 s busy timeout when a session has to wait for the lock.
    event.listen(
        engine, "checkout", lambda dbapi, _rec, _proxy: dbapi.execute("PRAGMA busy_timeout=50")
    )
    writer = engine.connect()  # begins IMMEDIATE at its first statement
    writer.exec_driver_sql("INSERT INTO t VALUES (99)")  # not committed
    try:
        with contextlib.contextmanager(get_session)(_request(app, "GET")) as session:
            values = session.scalars(text("SELECT v FROM t")).all()
        assert values == [1]  # the committed state, not the writer's row
        with (
            pytest.raises(OperationalError, match="locked"),
            contextlib.contextmanager(get_session)(_request(app, "POST")) as session,
        ):
            session.execute(text("SELECT v FROM t"))
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


def test_a_failed_commit_does_not_keep_the_write_lock(app: FastAPI, tmp_path: Path) -> None:
    """A COMMIT refused by a deferred foreign key leaves SQLite's transaction open; the engine
    ends it when the connection goes back to the pool, so other writers are not locked out."""
    with app.state.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id))")
    with pytest.raises(Exception, match="FOREIGN KEY"), app.state.session_factory() as session:
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.execute(text("INSERT INTO child VALUES (42)"))
        session.commit()
    assert _write_lock_is_free(tmp_path / "db.sqlite")
    with app.state.session_factory() as session:  # the pooled connection is usable again
        session.execute(text("INSERT INTO t VALUES (2)"))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM child")) == 0


def test_sqlite_connections_are_durable_wal_with_foreign_keys(app: FastAPI) -> None:
    with app.state.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert raw.execute("PRAGMA foreign_keys").fetchone() == (1,)
