"""Authenticated checks (``POST /verify`` by a signed-in party naming its purpose) in the
citizen's access log, and the one-time authorisation a citizen shows at a counter (亮证)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from credential import read_data_package
from registry.models import Consent, ShowToken, VerificationCheck
from tests.sharing.conftest import BANK_PURPOSE, LI, ZHANG, Sharing, bearer, driving

COUNTER_PURPOSE = {
    **BANK_PURPOSE,
    "code": "COUNTER_CHECK",
    "text_zh": "柜台核验驾驶证",
    "text_en": "Counter check of a driving licence",
    "fields": ["holder_name", "number"],
}


def _presentation(world: Sharing, licence_id: str) -> str:
    response = world.get(f"/wallet/licences/{licence_id}/presentation", ZHANG)
    assert response.status_code == 200
    payload: str = response.json()["payload"]
    return payload


def _verify(world: Sharing, payload: str, headers: dict[str, str], **verifier: Any) -> Any:
    return world.client.post(
        "/verify", json={"payload": payload, "verifier": verifier}, headers=headers
    )


def test_only_authenticated_checks_reach_the_access_log(sharing_any: Sharing) -> None:
    world = sharing_any
    licence_id = world.issue("TRANSPORT", **driving(ZHANG))
    bank = world.party(
        "CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE, COUNTER_PURPOSE]
    )
    no_purpose = world.party("NO_PURPOSE_CO", "No Purpose Co", "other")
    payload = _presentation(world, licence_id)

    anonymous = _verify(world, payload, {}, name="公安局", purpose="COUNTER_CHECK")
    assert anonymous.status_code == 200 and anonymous.json()["valid"] is True
    assert world.count(VerificationCheck) == 0

    foreign = _verify(world, payload, bearer(bank), purpose="SOMEONE_ELSES")
    assert foreign.status_code == 403 and foreign.json()["error"] == "unknown_purpose"
    bad_key = _verify(world, payload, bearer(bank[:-2] + "zz"), purpose="COUNTER_CHECK")
    assert bad_key.status_code == 401
    purposeless = _verify(world, payload, bearer(no_purpose), purpose="COUNTER_CHECK")
    assert purposeless.status_code == 403 and purposeless.json()["error"] == "unknown_purpose"
    assert world.count(VerificationCheck) == 0

    signed_in = _verify(world, payload, bearer(bank), name="typed", purpose="COUNTER_CHECK")
    assert signed_in.status_code == 200 and signed_in.json()["valid"] is True
    log = world.get("/wallet/sharing/access-log", ZHANG).json()["accesses"]
    assert [
        (a["kind"], a["relying_party"]["name"], a["purpose"]["code"], a["outcome"]) for a in log
    ] == [("check", "城市商业银行 City Bank", "COUNTER_CHECK", "valid")]
    assert log[0]["licences"] == [world.licence_row(licence_id).number]
    checks = world.get(f"/wallet/licences/{licence_id}/checks", ZHANG).json()["checks"]
    assert [c["verifier"] for c in checks] == ["城市商业银行 City Bank"]


def _show(world: Sharing, licence_id: str, id_number: str = ZHANG, **bound: Any) -> Any:
    return world.client.post(
        "/wallet/sharing/show-tokens",
        json={"licence_id": licence_id, **bound},
        headers=world.auth(id_number),
    )


def _redeem(world: Sharing, key: str, token: str, purpose: str = "COUNTER_CHECK") -> Any:
    return world.client.post(
        "/sharing/show-tokens/redeem",
        json={"token": token, "purpose": purpose},
        headers=bearer(key),
    )


def test_a_shown_authorisation_becomes_a_one_time_consent_for_that_licence(
    sharing: Sharing,
) -> None:
    shown_licence = sharing.issue("TRANSPORT", **driving(ZHANG))
    sharing.issue("TRANSPORT", **driving(ZHANG))  # another driving licence, not shown
    bank = sharing.party("CITY_BANK", "City Bank", "bank", [COUNTER_PURPOSE])

    created = _show(sharing, shown_licence)
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    redeemed = _redeem(sharing, bank, token)
    assert redeemed.status_code == 201, redeemed.text
    consent = redeemed.json()
    assert consent["kind"] == "one_time" and consent["state"] == "active"
    assert consent["fields"] == ["holder_name", "number"]

    package = read_data_package(
        sharing.fetch(bank, consent["id"]).json()["package"], sharing.root_key()
    )
    assert [licence.fields["number"] for licence in package.licences] == [
        sharing.licence_row(shown_licence).number
    ]
    assert sharing.fetch(bank, consent["id"]).status_code == 403
    again = _redeem(sharing, bank, token)
    assert again.status_code == 403 and again.json()["error"] == "show_token_not_usable"
    states = sharing.get("/wallet/sharing/consents", ZHANG).json()["consents"]
    assert [(c["relying_party"]["code"], c["state"]) for c in states] == [("CITY_BANK", "used")]


def test_a_bound_or_stale_authorisation_serves_no_one_else(sharing: Sharing) -> None:
    licence_id = sharing.issue("TRANSPORT", **driving(ZHANG))
    bank = sharing.party("CITY_BANK", "City Bank", "bank", [COUNTER_PURPOSE])
    other = sharing.party("OTHER_BANK", "Other Bank", "bank", [COUNTER_PURPOSE])

    bound = _show(sharing, licence_id, relying_party="CITY_BANK", purpose="COUNTER_CHECK")
    assert bound.status_code == 201, bound.text
    refused = _redeem(sharing, other, bound.json()["token"])
    assert refused.status_code == 403 and sharing.count(Consent) == 0

    stale = _show(sharing, licence_id).json()["token"]
    with sharing.database.writing() as session:
        session.execute(
            update(ShowToken).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert _redeem(sharing, bank, stale).status_code == 403
    assert _redeem(sharing, bank, "x" * 32).status_code == 403
    assert sharing.count(Consent) == 0

    # the citizen can show only their own licence, to a party's own purpose
    assert _show(sharing, licence_id, LI).status_code == 404
    assert _show(sharing, licence_id, relying_party="CITY_BANK").status_code == 422
    wrong = _show(sharing, licence_id, relying_party="CITY_BANK", purpose="NOPE")
    assert wrong.status_code == 403
