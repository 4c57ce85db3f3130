"""Bad input (item 9): each a 4xx with a reason and nothing stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from registry.models import AuditEntry, HolderKey, Licence, LicenceType
from tests.issuer.conftest import Issuer, bearer, licence_body


@pytest.fixture
def key(issuer: Issuer) -> str:
    api_key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    return api_key


def _nothing_stored(issuer: Issuer) -> tuple[int, int, int]:
    return issuer.count(Licence), issuer.count(HolderKey), issuer.count(AuditEntry)


PAST = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
BAD_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "invalid id check digit": (licence_body(id_number="110105194912310021"), "invalid_id_number"),
    "invalid id length": (licence_body(id_number="1101051949"), "invalid_id_number"),
    "id not text": (licence_body(id_number=110105194912310021), "invalid_request"),
    "unknown top-level field": (licence_body(colour="red"), "invalid_request"),
    "unknown licence field": (
        licence_body(fields={"licence_class": "B", "first_issued": "2020-05-01", "x": "1"}),
        "unknown_field",
    ),
    "missing required field": (licence_body(fields={"licence_class": "B"}), "missing_field"),
    "choice out of range": (
        licence_body(fields={"licence_class": "Z", "first_issued": "2020-05-01"}),
        "invalid_field",
    ),
    "bad date field": (
        licence_body(fields={"licence_class": "B", "first_issued": "yesterday"}),
        "invalid_field",
    ),
    "int field given text": (
        licence_body(fields={"licence_class": "B", "first_issued": "2020-05-01", "points": "3"}),
        "invalid_field",
    ),
    "category not allowed": (licence_body(categories=["Z9"]), "invalid_category"),
    "holder name wrong type": (licence_body(holder_name=["a"]), "invalid_request"),
    "empty holder name": (licence_body(holder_name=""), "invalid_request"),
    "past valid_until": (licence_body(valid_until=PAST), "valid_until_in_past"),
    "valid_until before valid_from": (
        licence_body(valid_from="2031-01-01T00:00:00Z", valid_until="2030-01-01T00:00:00Z"),
        "invalid_validity",
    ),
    "unknown licence type": (licence_body(licence_type="NOPE"), "not_found"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_issuance_bodies_are_4xx_with_a_reason_and_store_nothing(
    issuer: Issuer, key: str, case: str
) -> None:
    body, error = BAD_BODIES[case]
    before = _nothing_stored(issuer)
    r = issuer.client.post("/issuer/licences", json=body, headers=bearer(key))
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"] == error and r.json()["detail"]
    assert "110105194912310021" not in r.text
    assert _nothing_stored(issuer) == before


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[]", b"", b'{"licence_type": "DRIVING"', "\xff\xfe".encode("latin-1")],
)
def test_malformed_json_is_422(issuer: Issuer, key: str, raw: bytes) -> None:
    before = _nothing_stored(issuer)
    r = issuer.client.post(
        "/issuer/licences",
        content=raw,
        headers={**bearer(key), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert _nothing_stored(issuer) == before


def test_ten_megabyte_body_is_413_and_stores_nothing(issuer: Issuer, key: str) -> None:
    before = _nothing_stored(issuer)
    huge = b'{"licence_type": "' + b"A" * (10 * 1024 * 1024) + b'"}'
    r = issuer.client.post(
        "/issuer/licences",
        content=huge,
        headers={**bearer(key), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"
    assert _nothing_stored(issuer) == before

    def chunks() -> Any:
        for _ in range(11):
            yield b"A" * (1024 * 1024)

    r = issuer.client.post("/issuer/licences", content=chunks(), headers=bearer(key))
    assert r.status_code == 413
    assert _nothing_stored(issuer) == before


def test_bad_idempotency_key_and_bad_admin_bodies(issuer: Issuer, key: str) -> None:
    r = issuer.client.post(
        "/issuer/licences",
        json=licence_body(),
        headers={**bearer(key), "Idempotency-Key": "x" * 201},
    )
    assert r.status_code == 422
    types_before = issuer.count(LicenceType)
    audit_before = issuer.count(AuditEntry)
    for body in (
        {"code": "lower", "name": "x", "validity_days": 10},
        {"code": "OK1", "name": "x", "validity_days": -1},
        {
            "code": "OK1",
            "name": "x",
            "validity_days": 10,
            "fields": [{"name": "a", "type": "float"}],
        },
        {"code": "OK1", "name": "x", "validity_days": 10, "extra": 1},
        {"code": "DRIVING", "name": "dup", "validity_days": 10},
    ):
        r = issuer.client.post(
            "/issuer/admin/departments/TRANSPORT/licence-types", json=body, headers=issuer.admin
        )
        assert r.status_code in (409, 422), body
    assert issuer.count(LicenceType) == types_before
    assert issuer.count(AuditEntry) == audit_before
    r = issuer.client.post(
        "/issuer/admin/departments", json={"code": "TRANSPORT", "name": "dup"}, headers=issuer.admin
    )
    assert r.status_code == 409
    r = issuer.client.post("/issuer/licences/search", json={"id_number": 5}, headers=bearer(key))
    assert r.status_code == 422
