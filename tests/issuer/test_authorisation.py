"""Authorisation matrix (item 7): every issuer route without a key, with a malformed or unknown
key, with another department's key, and with a department key on admin routes. Every denied
write leaves no row and no audit entry. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from registry.models import (
    AuditEntry,
    Department,
    DepartmentApiKey,
    HolderKey,
    Licence,
    LicenceType,
    SigningKey,
)
from tests.issuer.conftest import VALID_IDS, Issuer, bearer, licence_body

TABLES = (AuditEntry, Department, DepartmentApiKey, HolderKey, Licence, LicenceType, SigningKey)


def _counts(issuer: Issuer) -> dict[str, int]:
    return {t.__tablename__: issuer.count(t) for t in TABLES}


@pytest.fixture
def issuer(issuer_any: Issuer) -> Issuer:
    """Every test here runs on SQLite and on PostgreSQL."""
    return issuer_any


@pytest.fixture
def world(issuer: Issuer) -> dict[str, Any]:
    key_a = issuer.department("TRANSPORT")
    key_b = issuer.department("MARKET")
    issuer.licence_type("TRANSPORT")
    issuer.licence_type("MARKET", code="TRADING", fields=[], categories=[])
    licence_b = issuer.issue(key_b, licence_type="TRADING", fields={}, categories=[])
    return {"a": key_a, "b": key_b, "licence_b": licence_b["id"]}


def _department_routes(licence_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "/issuer/licences", licence_body()),
        ("GET", f"/issuer/licences/{licence_id}", None),
        ("POST", "/issuer/licences/search", {"id_number": VALID_IDS[0]}),
        ("POST", f"/issuer/licences/{licence_id}/revoke", {"reason": "fraud"}),
        ("POST", f"/issuer/licences/{licence_id}/suspend", {"reason": "investigation"}),
        ("POST", f"/issuer/licences/{licence_id}/reinstate", {"reason": "other"}),
        ("POST", f"/issuer/licences/{licence_id}/correct", {"reason": "other"}),
        ("GET", "/issuer/licence-types", None),
    ]


ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/issuer/admin/departments", {"code": "CIVIL", "name": "Civil affairs"}),
    ("GET", "/issuer/admin/departments", None),
    ("POST", "/issuer/admin/departments/TRANSPORT/api-keys", None),
    ("GET", "/issuer/admin/departments/TRANSPORT/api-keys", None),
    ("POST", "/issuer/admin/departments/TRANSPORT/api-keys/AbCd1234/revoke", None),
    (
        "POST",
        "/issuer/admin/departments/TRANSPORT/licence-types",
        {"code": "BOAT", "name": "Boat", "validity_days": 10},
    ),
    ("POST", "/issuer/admin/departments/TRANSPORT/keys/rotate", None),
    ("POST", "/issuer/admin/departments/TRANSPORT/keys/abc/compromise", None),
]

BAD_AUTH = {
    "none": {},
    "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty bearer": {"Authorization": "Bearer "},
    "malformed": {"Authorization": "Bearer elk_short_x"},
    "unknown": {"Authorization": "Bearer elk_AbCdEfGh_" + "A" * 43},
}


@pytest.mark.parametrize("auth", list(BAD_AUTH))
def test_every_route_refuses_missing_malformed_and_unknown_keys(
    issuer: Issuer, world: dict[str, Any], auth: str
) -> None:
    before = _counts(issuer)
    for method, path, body in _department_routes(world["licence_b"]) + ADMIN_ROUTES:
        r = issuer.client.request(method, path, json=body, headers=BAD_AUTH[auth])
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"] == "unauthorized"
    assert _counts(issuer) == before


def test_a_wrong_secret_with_a_real_prefix_is_refused(
    issuer: Issuer, world: dict[str, Any]
) -> None:
    prefix = world["a"].split("_")[1]
    forged = f"elk_{prefix}_" + "B" * 43
    r = issuer.client.get("/issuer/licence-types", headers=bearer(forged))
    assert r.status_code == 401


def test_department_key_on_admin_routes_is_refused(issuer: Issuer, world: dict[str, Any]) -> None:
    before = _counts(issuer)
    for method, path, body in ADMIN_ROUTES:
        r = issuer.client.request(method, path, json=body, headers=bearer(world["a"]))
        assert r.status_code == 401, (method, path)
    assert _counts(issuer) == before


def test_a_revoked_key_is_refused_on_every_route(issuer: Issuer, world: dict[str, Any]) -> None:
    prefix = world["b"].split("_")[1]
    r = issuer.client.post(
        f"/issuer/admin/departments/MARKET/api-keys/{prefix}/revoke", headers=issuer.admin
    )
    assert r.status_code == 200, r.text
    before = _counts(issuer)
    for method, path, body in _department_routes(world["licence_b"]):
        if path == "/issuer/licences":
            body = licence_body(licence_type="TRADING", fields={}, categories=[])
        r = issuer.client.request(method, path, json=body, headers=bearer(world["b"]))
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"] == "unauthorized"
    assert _counts(issuer) == before


def test_admin_token_is_not_a_department_key(issuer: Issuer, world: dict[str, Any]) -> None:
    for method, path, body in _department_routes(world["licence_b"]):
        r = issuer.client.request(method, path, json=body, headers=issuer.admin)
        assert r.status_code == 401, (method, path)


def test_department_a_cannot_touch_department_b(issuer: Issuer, world: dict[str, Any]) -> None:
    before = _counts(issuer)
    for method, path, body in _department_routes(world["licence_b"]):
        if path == "/issuer/licences":
            body = licence_body(licence_type="TRADING", fields={}, categories=[])
        r = issuer.client.request(method, path, json=body, headers=bearer(world["a"]))
        if path == "/issuer/licences/search":
            assert r.status_code == 200 and r.json() == {"licences": []}
        elif path == "/issuer/licence-types":
            assert [t["code"] for t in r.json()] == ["DRIVING"]
        else:
            assert r.status_code in (403, 404), (method, path, r.status_code)
            assert world["licence_b"] not in r.text or r.json()["error"] == "not_found"
    assert _counts(issuer) == before
    # B's licence is untouched.
    r = issuer.client.get(f"/issuer/licences/{world['licence_b']}", headers=bearer(world["b"]))
    assert r.json()["status"] == "valid"


def test_status_list_and_trust_list_are_public(issuer: Issuer, world: dict[str, Any]) -> None:
    licence = issuer.client.get(
        f"/issuer/licences/{world['licence_b']}", headers=bearer(world["b"])
    ).json()
    assert issuer.client.get(f"/status-lists/{licence['status_list']}").status_code == 200
    assert issuer.client.get("/trust-list").status_code == 200
    assert issuer.client.get("/root-key").status_code == 200


def test_admin_api_is_off_without_a_configured_token(issuer: Issuer) -> None:
    issuer.settings.admin_token = None
    r = issuer.client.post(
        "/issuer/admin/departments", json={"code": "CIVIL", "name": "Civil"}, headers=issuer.admin
    )
    assert r.status_code == 401 and "disabled" in r.json()["detail"]
    assert issuer.count(Department) == 0
