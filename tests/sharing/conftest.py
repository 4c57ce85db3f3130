"""A real world for sharing tests: the whole app over a migrated database (SQLite, or both
SQLite and PostgreSQL with ``sharing_any``), a transport bureau and a market regulator with
real keys, relying parties registered through the admin API, citizens signed in with the
development identity provider. Every request is real HTTP through the app's TestClient.

No log line of a test may carry one of the citizens' ID numbers (the wallet tests' check).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from credential import jwk_to_public_key
from issuer.departments.schemas import FieldSpec, LicenceTypeCreate
from issuer.trust_list.service import root_public_key
from registry.migrate import upgrade
from registry.models import AuditEntry
from tests.wallet_api.conftest import (
    LI,
    WANG,
    ZHANG,
    Wallet,
    no_id_number_in_logs,
    settings_for,
)

__all__ = ["LI", "WANG", "ZHANG", "no_id_number_in_logs"]

DRIVING = LicenceTypeCreate(
    code="DL",
    name="Motor vehicle driving licence",
    validity_days=2190,
    categories=["A1", "B1", "C1"],
    fields=[
        FieldSpec(name="first_issued", type="date", label="初次领证日期 First issued"),
        FieldSpec(name="points", type="int", required=False),
    ],
)
BUSINESS = LicenceTypeCreate(
    code="BL",
    name="Business licence",
    validity_days=3650,
    fields=[FieldSpec(name="scope", type="text", required=False)],
)
BANK_PURPOSE = {
    "code": "ACCOUNT_OPENING",
    "text_zh": "开立个人账户核验驾驶证",
    "text_en": "Opening a personal account: driving licence check",
    "licence_types": ["TRANSPORT/DL"],
    "fields": ["holder_name", "number", "valid_until", "first_issued", "categories"],
    "max_days": 30,
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Sharing(Wallet):
    """The wallet world plus the admin token and relying-party helpers."""

    admin_token: str

    @property
    def admin(self) -> dict[str, str]:
        return bearer(self.admin_token)

    def party(
        self, code: str, name: str, kind: str = "bank", purposes: list[dict[str, Any]] = ()
    ) -> str:
        """Register a relying party with ``purposes``; return a fresh API key of it."""
        r = self.client.post(
            "/sharing/admin/relying-parties",
            json={"code": code, "name": name, "kind": kind, "contact": f"{code.lower()}@x.cn"},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        for purpose in purposes:
            r = self.client.post(
                f"/sharing/admin/relying-parties/{code}/purposes", json=purpose, headers=self.admin
            )
            assert r.status_code == 201, r.text
        r = self.client.post(f"/sharing/admin/relying-parties/{code}/api-keys", headers=self.admin)
        assert r.status_code == 201, r.text
        key: str = r.json()["api_key"]
        return key

    def ask(self, key: str, id_number: str = ZHANG, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "id_number": id_number,
            "purpose": "ACCOUNT_OPENING",
            "licence_types": ["TRANSPORT/DL"],
            "fields": ["holder_name", "valid_until"],
            "kind": "one_time",
            **overrides,
        }
        return self.client.post("/sharing/requests", json=body, headers=bearer(key))

    def approved(self, key: str, id_number: str = ZHANG, **overrides: Any) -> str:
        """A request answered yes by the citizen: its consent id."""
        r = self.ask(key, id_number, **overrides)
        assert r.status_code == 201, r.text
        answer = self.client.post(
            f"/wallet/sharing/requests/{r.json()['id']}/approve", headers=self.auth(id_number)
        )
        assert answer.status_code == 200, answer.text
        consent: str = answer.json()["consent_id"]
        return consent

    def fetch(self, key: str, consent_id: str) -> httpx.Response:
        return self.client.get(f"/sharing/consents/{consent_id}/data", headers=bearer(key))

    def root_key(self) -> Any:
        with self.database.reading() as session:
            return jwk_to_public_key(root_public_key(session=session)["jwk"])

    def count(self, model: type) -> int:
        with self.database.reading() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def audit_count(self) -> int:
        return self.count(AuditEntry)


def in_days(days: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def _world(tmp_path: Path, url: str, **overrides: Any) -> Iterator[Sharing]:
    from elicence.app import create_app

    upgrade(url)
    admin_token = secrets.token_urlsafe(32)
    settings = settings_for(tmp_path / "data", url, admin_token=admin_token, **overrides)
    app = create_app(settings)
    with TestClient(app) as client:
        world = Sharing(app, client, settings)
        world.admin_token = admin_token
        world.department("TRANSPORT", "Municipal Transport Bureau", [DRIVING])
        world.department("MARKET", "Market Regulation Administration", [BUSINESS])
        yield world


@pytest.fixture
def sharing(tmp_path: Path, sqlite_url: str) -> Iterator[Sharing]:
    """The world on SQLite."""
    yield from _world(tmp_path, sqlite_url)


@pytest.fixture
def sharing_any(tmp_path: Path, database_url: str) -> Iterator[Sharing]:
    """The world on SQLite and on PostgreSQL (the test runs twice)."""
    yield from _world(tmp_path, database_url)


def driving(id_number: str = ZHANG, **overrides: Any) -> dict[str, Any]:
    return {
        "licence_type": "DL",
        "id_number": id_number,
        "holder_name": "张秀英",
        "categories": ["C1"],
        "fields": {"first_issued": "2015-03-02", "points": 12},
        **overrides,
    }
