"""Issuer fixtures: a migrated database, the real app over HTTP (TestClient), builders.

``client`` runs on SQLite (a copy of one migrated template file, so the schema is built by
Alembic once per session); ``client_any`` runs the test on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keys import encode_master_key, generate_signing_key
from registry.database import Database
from registry.models import AuditEntry
from registry.settings import Settings
from registry.signing_keys import store_signing_key

VALID_IDS = ("11010519491231002X", "440524188001010014", "110105199001011232")


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from registry.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_migrated_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "elicence.db"
    shutil.copy(migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@dataclass
class Issuer:
    """The running app plus the admin token and helpers to set up departments."""

    client: TestClient
    settings: Settings
    admin_token: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def database(self) -> Database:
        database: Database = self.client.app.state.context.database  # type: ignore[attr-defined]
        return database

    def session(self) -> contextlib.AbstractContextManager[Session]:
        """A read-only transaction on the app's database."""
        return self.database.reading()

    def department(self, code: str, name: str | None = None, **extra: Any) -> str:
        """Create a department (``extra``: credit_code, jurisdiction_code, alg) and return a
        fresh API key for it."""
        r = self.client.post(
            "/issuer/admin/departments",
            json={"code": code, "name": name or code.title(), **extra},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        r = self.client.post(f"/issuer/admin/departments/{code}/api-keys", headers=self.admin)
        assert r.status_code == 201, r.text
        key: str = r.json()["api_key"]
        return key

    def licence_type(self, department: str, code: str = "DRIVING", **overrides: Any) -> None:
        body: dict[str, Any] = {
            "code": code,
            "name": "Driving licence",
            "fields": [
                {"name": "licence_class", "type": "choice", "choices": ["A", "B", "C"]},
                {"name": "first_issued", "type": "date"},
                {"name": "points", "type": "int", "required": False},
            ],
            "validity_days": 3650,
            "categories": ["A1", "B1", "C1"],
        }
        body.update(overrides)
        r = self.client.post(
            f"/issuer/admin/departments/{department}/licence-types", json=body, headers=self.admin
        )
        assert r.status_code == 201, r.text

    def issue(self, api_key: str, **overrides: Any) -> Any:
        r = self.client.post(
            "/issuer/licences", json=licence_body(**overrides), headers=bearer(api_key)
        )
        assert r.status_code == 201, r.text
        return r.json()

    def count(self, model: type) -> int:
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def audit_count(self) -> int:
        return self.count(AuditEntry)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def licence_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "licence_type": "DRIVING",
        "id_number": VALID_IDS[0],
        "holder_name": "张三",
        "fields": {"licence_class": "B", "first_issued": "2020-05-01"},
        "categories": ["B1"],
    }
    body.update(overrides)
    return body


def _app(settings: Settings) -> Any:
    from elicence.app import create_app

    return create_app(settings)


def _running(url: str, tmp_path: Path, **overrides: Any) -> Iterator[Issuer]:
    """The issuer over ``url``; ``overrides``: other settings (``import_max_bytes=...``)."""
    admin_token = secrets.token_urlsafe(32)
    values: dict[str, Any] = {
        "environment": "development",
        "data_dir": tmp_path / "data",
        "database_url": url,
        "master_key": encode_master_key(os.urandom(32)),
        "admin_token": admin_token,
    }
    settings = Settings(**(values | overrides))
    with TestClient(_app(settings)) as client:
        context = client.app.state.context  # type: ignore[attr-defined]
        with context.database.writing() as session:
            store_signing_key(
                session,
                private_key=generate_signing_key(),
                key_secret=context.key_secret,
                department_id=None,
            )
        yield Issuer(client, settings, admin_token)


@pytest.fixture
def issuer(sqlite_migrated_url: str, tmp_path: Path) -> Iterator[Issuer]:
    """The issuer on SQLite, with a platform root key and no departments."""
    yield from _running(sqlite_migrated_url, tmp_path)


@pytest.fixture
def issuer_any(migrated_url: str, tmp_path: Path) -> Iterator[Issuer]:
    """The issuer on SQLite and on PostgreSQL (the test runs twice)."""
    yield from _running(migrated_url, tmp_path)
