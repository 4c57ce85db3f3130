"""Answers the OpenAPI fuzzing found wrong, each pinned: a 405 names every method served at the
path, ``/licences/search`` no longer falls into ``/licences/{licence_id}``, and an ID number in a
name or a note is a 422 (it was a 500: the audit log refuses full ID numbers)."""

from __future__ import annotations

import pytest

from registry.models import AuditEntry, Department, LicenceType

from .conftest import VALID_IDS, Issuer, bearer


@pytest.mark.parametrize("method", ["OPTIONS", "GET", "PUT", "DELETE"])
def test_other_methods_on_licence_search_are_405_allowing_post(issuer: Issuer, method: str) -> None:
    key = issuer.department("TRANSPORT")
    r = issuer.client.request(method, "/issuer/licences/search", headers=bearer(key))
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json() == {"error": "method_not_allowed", "detail": "Method Not Allowed"}


def test_a_405_names_every_method_served_at_the_path(issuer: Issuer) -> None:
    r = issuer.client.options("/issuer/admin/departments", headers=issuer.admin)
    assert (r.status_code, r.headers["allow"]) == (405, "GET, POST")
    r = issuer.client.delete("/issuer/licences", headers=issuer.admin)
    assert (r.status_code, r.headers["allow"]) == (405, "POST")


def test_a_licence_is_read_by_its_uuid_only(issuer: Issuer) -> None:
    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    licence = issuer.issue(key)
    r = issuer.client.get(f"/issuer/licences/{licence['id'].upper()}", headers=bearer(key))
    assert (r.status_code, r.json()["id"]) == (200, licence["id"])
    r = issuer.client.get("/issuer/licences/not-a-licence", headers=bearer(key))
    assert r.status_code == 404
    assert set(r.json()) == {"error", "detail"}


def test_an_id_number_in_a_department_name_is_422_and_nothing_is_kept(issuer: Issuer) -> None:
    audit_before = issuer.audit_count()
    r = issuer.client.post(
        "/issuer/admin/departments",
        json={"code": "TRANSPORT", "name": f"Bureau {VALID_IDS[1]}"},
        headers=issuer.admin,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "id_number_in_text"
    assert VALID_IDS[1] not in r.text
    assert issuer.count(Department) == 0
    assert issuer.audit_count() == audit_before


def test_an_id_number_in_a_licence_type_name_is_422(issuer: Issuer) -> None:
    issuer.department("TRANSPORT")
    r = issuer.client.post(
        "/issuer/admin/departments/TRANSPORT/licence-types",
        json={"code": "DRIVING", "name": VALID_IDS[0], "validity_days": 10},
        headers=issuer.admin,
    )
    assert (r.status_code, r.json()["error"]) == (422, "id_number_in_text")
    assert issuer.count(LicenceType) == 0


def test_an_id_number_in_a_revocation_note_is_422_and_the_licence_stays_valid(
    issuer: Issuer,
) -> None:
    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    licence = issuer.issue(key)
    audit_before = issuer.audit_count()
    r = issuer.client.post(
        f"/issuer/licences/{licence['id']}/revoke",
        json={"reason": "other", "note": f"holder {VALID_IDS[0]} asked"},
        headers=bearer(key),
    )
    assert (r.status_code, r.json()["error"]) == (422, "id_number_in_text")
    assert VALID_IDS[0] not in r.text
    r = issuer.client.get(f"/issuer/licences/{licence['id']}", headers=bearer(key))
    assert r.json()["status"] == "valid"
    assert issuer.audit_count() == audit_before
    assert issuer.count(AuditEntry) == audit_before


@pytest.mark.parametrize("verifier", [False, 0, "", [], "counter"])
def test_verify_refuses_a_verifier_that_is_not_an_object(issuer: Issuer, verifier: object) -> None:
    r = issuer.client.post("/verify", json={"payload": "EL1:X", "verifier": verifier})
    assert r.status_code == 422, r.text
    assert r.json() == {"error": "invalid_request", "detail": "verifier must be an object"}


def test_verify_takes_a_null_verifier_as_none(issuer: Issuer) -> None:
    r = issuer.client.post("/verify", json={"payload": "EL1:X", "verifier": None})
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is False
