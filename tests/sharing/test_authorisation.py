"""The authorisation matrix: a relying party sees only its own requests and consents and asks
only within its own purposes; a citizen answers only their own requests; bad input is a clear
4xx. Every refused call stores nothing and leaves no audit entry. Rate limits per party."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.models import Consent, SharingAccess, UseRequest
from tests.sharing.conftest import (
    BANK_PURPOSE,
    LI,
    ZHANG,
    Sharing,
    _world,
    bearer,
    driving,
    in_days,
)

EMPLOYER_PURPOSE = {
    **BANK_PURPOSE,
    "code": "HIRING",
    "text_zh": "入职核验",
    "text_en": "Hiring",
    "fields": ["holder_name"],
    "max_days": 7,
}


def _stored(world: Sharing) -> tuple[int, ...]:
    return (
        world.count(UseRequest),
        world.count(Consent),
        world.count(SharingAccess),
        world.audit_count(),
    )


def _refused(world: Sharing, call: Callable[[], httpx.Response], status: int, error: str) -> None:
    before = _stored(world)
    response = call()
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert response.json()["detail"]
    assert _stored(world) == before, "a refused call stored something or left an audit entry"


@pytest.fixture
def two_parties(sharing_any: Sharing) -> tuple[Sharing, str, str]:
    """A citizen with a driving licence, a bank and an employer (on SQLite and PostgreSQL)."""
    sharing_any.issue("TRANSPORT", **driving(ZHANG))
    bank = sharing_any.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    employer = sharing_any.party("HR_CO", "HR Company", "employer", [EMPLOYER_PURPOSE])
    return sharing_any, bank, employer


def test_a_party_never_sees_another_partys_requests_or_consents(
    two_parties: tuple[Sharing, str, str],
) -> None:
    world, bank, employer = two_parties
    request_id = world.ask(bank).json()["id"]
    consent_id = world.approved(bank, kind="standing", until=in_days(10))

    for path in (f"/sharing/requests/{request_id}", f"/sharing/consents/{consent_id}"):
        _refused(world, lambda p=path: world.client.get(p, headers=bearer(employer)), 404, (
            "request_not_found" if "requests" in path else "consent_not_found"
        ))  # fmt: skip
    _refused(world, lambda: world.fetch(employer, consent_id), 404, "consent_not_found")
    assert world.client.get("/sharing/requests", headers=bearer(employer)).json() == []
    assert world.client.get("/sharing/consents", headers=bearer(employer)).json() == []
    # the owner still fetches
    assert world.fetch(bank, consent_id).status_code == 200


def test_a_party_asks_only_within_its_own_purposes(two_parties: tuple[Sharing, str, str]) -> None:
    world, bank, _ = two_parties
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"purpose": "HIRING"}, 403, "unknown_purpose"),  # the employer's, not the bank's
        ({"purpose": "NO_SUCH"}, 403, "unknown_purpose"),
        ({"fields": ["holder_name", "points"]}, 403, "field_not_allowed"),
        ({"licence_types": ["MARKET/BL"]}, 403, "licence_type_not_allowed"),
        ({"kind": "standing"}, 422, "until_required"),
        ({"kind": "standing", "until": in_days(31)}, 422, "consent_too_long"),
        ({"until": in_days(-1)}, 422, "until_in_past"),
        ({"until": "2030-01-01T00:00:00"}, 422, "invalid_request"),  # no time zone
        ({"kind": "forever"}, 422, "invalid_request"),
        ({"fields": []}, 422, "invalid_request"),
        ({"fields": ["holder_name", "holder_name"]}, 422, "invalid_request"),
        ({"extra": 1}, 422, "invalid_request"),
    ]
    for overrides, status, error in cases:
        _refused(world, lambda o=overrides: world.ask(bank, **o), status, error)


@pytest.mark.parametrize(
    "id_number",
    ["11010519491231002Y", "110105194912310021", "1101051949", "", "11010519491231002X' OR 1=1"],
)
def test_a_malformed_id_number_is_refused_and_never_echoed(
    two_parties: tuple[Sharing, str, str], id_number: str
) -> None:
    world, bank, _ = two_parties
    before = _stored(world)
    response = world.ask(bank, id_number)
    assert response.status_code == 422, response.text
    assert response.json()["error"] in ("invalid_id_number", "invalid_request")
    assert not id_number or id_number not in response.text
    assert _stored(world) == before


def test_credentials_are_required_and_checked(two_parties: tuple[Sharing, str, str]) -> None:
    world, bank, _ = two_parties
    prefix = bank.split("_")[1]
    for headers in (
        {},
        bearer("elk_" + bank[4:]),  # a department key's shape
        bearer(bank[:-1] + ("A" if bank[-1] != "A" else "B")),  # wrong secret
        bearer(f"erp_{prefix}_{'x' * 43}"),
        {"Authorization": bank},  # no scheme
    ):
        _refused(
            world,
            lambda h=headers: world.client.post(
                "/sharing/requests",
                json={"id_number": ZHANG, "purpose": "ACCOUNT_OPENING",
                      "licence_types": ["TRANSPORT/DL"], "fields": ["holder_name"],
                      "kind": "one_time"},
                headers=h,
            ),
            401,
            "unauthorized",
        )  # fmt: skip


def test_a_citizen_answers_only_their_own_requests(two_parties: tuple[Sharing, str, str]) -> None:
    world, bank, _ = two_parties
    request_id = world.ask(bank, ZHANG).json()["id"]
    for verb in ("approve", "refuse"):
        _refused(
            world,
            lambda v=verb: world.client.post(
                f"/wallet/sharing/requests/{request_id}/{v}", headers=world.auth(LI)
            ),
            404,
            "request_not_found",
        )
    assert world.get(f"/wallet/sharing/requests/{request_id}", LI).status_code == 404
    assert world.get("/wallet/sharing/requests", LI).json()["requests"] == []
    consent_id = world.approved(bank, kind="standing", until=in_days(5))
    _refused(
        world,
        lambda: world.client.post(
            f"/wallet/sharing/consents/{consent_id}/revoke", headers=world.auth(LI)
        ),
        404,
        "consent_not_found",
    )
    _refused(
        world,
        lambda: world.client.post(f"/wallet/sharing/requests/{request_id}/approve"),
        401,
        "missing_token",
    )
    assert world.fetch(bank, consent_id).status_code == 200


def test_bad_ids_in_paths_are_a_422(two_parties: tuple[Sharing, str, str]) -> None:
    world, bank, _ = two_parties
    for path in ("/sharing/consents/not-an-id/data", "/sharing/requests/1"):
        _refused(world, lambda p=path: world.client.get(p, headers=bearer(bank)), 422,
                 "invalid_request")  # fmt: skip


@pytest.fixture
def limited(tmp_path: Path, sqlite_url: str) -> Iterator[Sharing]:
    """A world where each party may make 3 requests at once, then one every 10 s."""
    yield from _world(tmp_path, sqlite_url, relying_party_rate=0.1, relying_party_burst=3)


def test_relying_party_credentials_are_rate_limited_per_party(limited: Sharing) -> None:
    bank = limited.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    employer = limited.party("HR_CO", "HR Company", "employer", [EMPLOYER_PURPOSE])
    for _ in range(3):
        assert limited.client.get("/sharing/purposes", headers=bearer(bank)).status_code == 200
    _refused(limited, lambda: limited.ask(bank), 429, "rate_limited")
    over = limited.client.get("/sharing/requests", headers=bearer(bank))
    assert over.status_code == 429 and 1 <= int(over.headers["Retry-After"]) <= 10
    # a signed-in check spends the same allowance (an anonymous one is not limited here)
    scan = {"payload": "EL1:X", "verifier": {"purpose": "ACCOUNT_OPENING"}}
    assert limited.client.post("/verify", json=scan, headers=bearer(bank)).status_code == 429
    assert limited.client.post("/verify", json=scan).status_code == 200
    # another party has its own allowance
    assert limited.ask(employer, purpose="HIRING", fields=["holder_name"]).status_code == 201


def test_the_rate_limit_holds_over_worker_processes(limited: Sharing) -> None:
    """Two apps on one data directory are two workers (each gets part of a party's
    connections): the party's 3-request allowance is spent across both, not 3 in each."""
    from fastapi.testclient import TestClient

    from elicence.app import create_app

    bank = limited.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    with TestClient(create_app(limited.settings)) as other_worker:
        answers = [
            client.get("/sharing/purposes", headers=bearer(bank)).status_code
            for client in (limited.client, other_worker, limited.client, other_worker)
        ]
        assert answers == [200, 200, 200, 429]
        assert other_worker.get("/sharing/requests", headers=bearer(bank)).status_code == 429
        assert limited.client.get("/sharing/requests", headers=bearer(bank)).status_code == 429
