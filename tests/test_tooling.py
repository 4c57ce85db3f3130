"""The test infrastructure itself: the databases and the browser are real."""

from __future__ import annotations

import sqlite3
import subprocess
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import CHROMIUM

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.mark.postgres
def test_postgres_url_points_at_a_real_local_server(postgres_url: str) -> None:
    url = make_url(postgres_url)
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "127.0.0.1"
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as conn:
        row = conn.execute("select version(), current_database()").fetchone()
    assert row is not None
    assert "PostgreSQL" in row[0]
    assert row[1] == url.database


def test_sqlite_url_is_a_file(sqlite_url: str) -> None:
    path = make_url(sqlite_url).database
    assert path is not None
    with sqlite3.connect(path) as conn:
        conn.execute("create table licence (number text)")
        conn.execute("insert into licence values ('A-1')")
    with sqlite3.connect(path) as conn:
        assert conn.execute("select number from licence").fetchall() == [("A-1",)]


def test_database_url_runs_on_both_backends(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table licence (number varchar(20))"))
            conn.execute(text("insert into licence values ('证-001')"))
        with engine.connect() as conn:
            assert conn.execute(text("select number from licence")).scalar_one() == "证-001"
    finally:
        engine.dispose()


@pytest.mark.browser
def test_browser_is_the_debian_chromium(browser: Browser) -> None:
    debian_version = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert browser.version in debian_version
    page = browser.new_page()
    try:
        page.set_content("<p id='t'>电子证照</p>")
        assert page.inner_text("#t") == "电子证照"
    finally:
        page.close()
