"""Department API keys: the admin lists them and revokes one by its prefix (the public part).

A revoked key is refused on the next request while the department's other keys keep working;
every revocation is audited; a denied or impossible revocation writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from registry.audit import verify_audit_chain
from registry.models import AuditEntry, DepartmentApiKey
from tests.issuer.conftest import VALID_IDS, Issuer, bearer

REVOKE = "/issuer/admin/departments/{code}/api-keys/{prefix}/revoke"
LIST = "/issuer/admin/departments/{code}/api-keys"


def _prefix(api_key: str) -> str:
    return api_key.split("_")[1]


def _new_key(issuer: Issuer, code: str) -> str:
    r = issuer.client.post(LIST.format(code=code), headers=issuer.admin)
    assert r.status_code == 201, r.text
    key: str = r.json()["api_key"]
    return key


def _key_rows(issuer: Issuer) -> list[tuple[str, Any]]:
    """Each stored key's prefix and revocation time (a denied call leaves them as they were)."""
    with issuer.session() as session:
        return [
            (k.prefix, k.revoked_at)
            for k in session.scalars(select(DepartmentApiKey).order_by(DepartmentApiKey.id))
        ]


def test_a_revoked_key_is_refused_while_the_departments_other_key_still_works(
    issuer_any: Issuer,
) -> None:
    issuer = issuer_any
    old = issuer.department("TRANSPORT")
    new = _new_key(issuer, "TRANSPORT")
    issuer.licence_type("TRANSPORT")
    licence = issuer.issue(old)
    audit_before = issuer.audit_count()

    r = issuer.client.post(
        REVOKE.format(code="TRANSPORT", prefix=_prefix(old)), headers=issuer.admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["prefix"] == _prefix(old) and r.json()["revoked_at"] is not None
    revoked_at = r.json()["revoked_at"]

    # The revoked key: refused on a write and on reads, with nothing written.
    rows = issuer.count(AuditEntry)
    r = issuer.client.post(
        "/issuer/licences",
        json={
            "licence_type": "DRIVING",
            "id_number": VALID_IDS[1],
            "holder_name": "李四",
            "fields": {"licence_class": "B", "first_issued": "2020-05-01"},
        },
        headers=bearer(old),
    )
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    for method, path in (
        ("GET", f"/issuer/licences/{licence['id']}"),
        ("GET", "/issuer/licence-types"),
    ):
        r = issuer.client.request(method, path, headers=bearer(old))
        assert r.status_code == 401, (method, path, r.text)
    assert issuer.count(AuditEntry) == rows

    # The department's other key: unaffected.
    r = issuer.client.get(f"/issuer/licences/{licence['id']}", headers=bearer(new))
    assert r.status_code == 200 and r.json()["number"] == licence["number"]
    issuer.issue(new, id_number=VALID_IDS[1])

    # One audit row names the act, the admin and the prefix (never the secret); chain intact.
    with issuer.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.act == "api_key.revoke")
        ).all()
        assert [(e.actor, e.object_type, e.object_id) for e in entries] == [
            ("admin", "api_key", _prefix(old))
        ]
        assert entries[0].detail == {"department": "TRANSPORT"}
        assert entries[0].id == audit_before + 1
        report = verify_audit_chain(session)
    assert report.ok, report.problem
    secret = old.split("_", 2)[2]
    with issuer.session() as session:
        for entry in session.scalars(select(AuditEntry)):
            assert secret not in str(entry.detail) and secret not in entry.object_id

    # The listing shows both keys, the first one revoked.
    r = issuer.client.get(LIST.format(code="TRANSPORT"), headers=issuer.admin)
    assert r.status_code == 200
    assert [(k["prefix"], k["revoked_at"]) for k in r.json()] == [
        (_prefix(old), revoked_at),
        (_prefix(new), None),
    ]


def test_the_listing_shows_prefixes_and_times_never_a_hash_or_secret(issuer: Issuer) -> None:
    first = issuer.department("TRANSPORT")
    second = _new_key(issuer, "TRANSPORT")
    issuer.department("MARKET")
    r = issuer.client.get(LIST.format(code="TRANSPORT"), headers=issuer.admin)
    assert r.status_code == 200
    assert [set(k) for k in r.json()] == [{"prefix", "created_at", "revoked_at"}] * 2
    assert [k["prefix"] for k in r.json()] == [_prefix(first), _prefix(second)]
    with issuer.session() as session:
        hashes = session.scalars(select(DepartmentApiKey.secret_hash)).all()
    for leaked in [*hashes, first.split("_", 2)[2], second.split("_", 2)[2]]:
        assert leaked not in r.text
    assert issuer.client.get(LIST.format(code="NOPE"), headers=issuer.admin).status_code == 404
    assert issuer.client.get(LIST.format(code="TRANSPORT")).status_code == 401
    assert issuer.client.get(LIST.format(code="TRANSPORT"), headers=bearer(first)).status_code == (
        401
    )


def test_impossible_or_denied_revocations_are_refused_and_write_nothing(
    issuer_any: Issuer,
) -> None:
    issuer = issuer_any
    transport = issuer.department("TRANSPORT")
    market = issuer.department("MARKET")
    issuer.licence_type("MARKET", code="TRADING", fields=[], categories=[])
    prefix = _prefix(transport)
    rows, audit = _key_rows(issuer), issuer.audit_count()

    def refused(path: str, status: int, error: str, headers: dict[str, str] | None = None) -> str:
        r = issuer.client.post(path, headers=issuer.admin if headers is None else headers)
        assert r.status_code == status, (path, r.text)
        assert r.json()["error"] == error, r.text
        assert _key_rows(issuer) == rows and issuer.audit_count() == audit
        detail: str = r.json()["detail"]
        return detail

    # Unknown prefix; another department's prefix; unknown department.
    refused(REVOKE.format(code="TRANSPORT", prefix="AbCd1234"), 404, "not_found")
    refused(REVOKE.format(code="TRANSPORT", prefix=_prefix(market)), 404, "not_found")
    refused(REVOKE.format(code="CIVIL", prefix=prefix), 404, "not_found")
    # No admin token, a wrong one, a department key: 401 (also before looking at the prefix).
    for headers in ({}, bearer("x" * 32), bearer(transport)):
        refused(REVOKE.format(code="TRANSPORT", prefix=prefix), 401, "unauthorized", headers)
        refused(REVOKE.format(code="TRANSPORT", prefix="bad!"), 401, "unauthorized", headers)
    # Malformed prefixes, the whole key included (and that key is not echoed back).
    for bad in ("short", "AbCd12345", "AbCd-123", "AbCd%20123", transport):
        detail = refused(REVOKE.format(code="TRANSPORT", prefix=bad), 422, "invalid_request")
        assert "prefix" in detail and transport.split("_", 2)[2] not in detail
    # The market's key still works after all that.
    assert issuer.client.get("/issuer/licence-types", headers=bearer(market)).status_code == 200

    # Revoking twice: the second is a 409 that says so, and writes nothing.
    r = issuer.client.post(REVOKE.format(code="TRANSPORT", prefix=prefix), headers=issuer.admin)
    assert r.status_code == 200
    rows, audit = _key_rows(issuer), issuer.audit_count()
    detail = refused(REVOKE.format(code="TRANSPORT", prefix=prefix), 409, "conflict")
    assert "already revoked" in detail and prefix in detail


@pytest.mark.parametrize("bad", ["short", "AbCd-123", "elk_AbCd1234_" + "x" * 43])
def test_the_service_refuses_a_malformed_prefix_without_echoing_it(
    issuer: Issuer, bad: str
) -> None:
    from issuer.departments import service
    from issuer.errors import InvalidRequest

    issuer.department("TRANSPORT")
    with issuer.session() as session, pytest.raises(InvalidRequest) as caught:
        service.revoke_api_key(
            session=session, department_code="TRANSPORT", prefix=bad, actor="test"
        )
    assert bad not in str(caught.value)
