"""Shared fixtures: real databases (SQLite file, PostgreSQL server) and a real headless Chromium.

- ``sqlite_url``: a fresh SQLite file per test.
- ``postgres_url``: a fresh database per test on one throwaway PostgreSQL server per pytest
  process (each xdist worker starts its own on its own free port; see ``tests/_postgres.py``).
- ``database_url``: parametrized over ``sqlite`` and ``postgres`` so a test runs on both.
- ``browser``: one headless Chromium (``/usr/bin/chromium``) per pytest process.

Every test gets an empty database; building the schema (``alembic upgrade head``) is left to the
fixtures of the packages that own it.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests._postgres import PostgresServer, running_postgres

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from sqlalchemy.orm import Session

CHROMIUM = os.environ.get("ELICENCE_TEST_CHROMIUM", "/usr/bin/chromium")

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for this pytest process, stopped at session end."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL (``postgresql+psycopg://``) of a new, empty database."""
    name = f"test_{next(_database_numbers)}"
    postgres_server.create_database(name)
    return postgres_server.url(name)


@pytest.fixture
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLAlchemy URL of a new SQLite file (the file itself does not exist yet)."""
    path: Path = tmp_path_factory.mktemp("sqlite") / "elicence.db"
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLAlchemy URL of a new, empty database: the test runs once on SQLite, once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Chromium from the Debian package (never a Playwright-downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found; run ./scripts/setup")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Root in a container has no user namespaces for the sandbox.
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        try:
            yield chromium
        finally:
            chromium.close()


# --- schema and sessions (owned by the registry/migrations helper) -------------------------------


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """``database_url`` after ``alembic upgrade head``: runs on SQLite and on PostgreSQL."""
    from registry.migrate import upgrade

    upgrade(database_url)
    return database_url


@pytest.fixture
def db_session(migrated_url: str) -> Iterator[Session]:
    """A session on the migrated database, inside a transaction rolled back after the test.

    ``session.commit()`` in code under test only releases a savepoint, so nothing persists.
    """
    from sqlalchemy.orm import Session

    from registry.db import make_engine

    engine = make_engine(migrated_url)
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()
        engine.dispose()
