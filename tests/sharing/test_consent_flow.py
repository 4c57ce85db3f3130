"""Use request → the citizen's answer → a fetch of the consented data, signed by the platform
root key → the citizen's access log; one-time and standing consents, revocation, expiry."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import update

from credential import b64url_decode, read_data_package
from registry.models import Consent, SharingAccess, UseRequest
from tests.sharing.conftest import BANK_PURPOSE, LI, ZHANG, Sharing, bearer, driving, in_days


def test_request_approve_fetch_once_and_the_citizen_sees_the_access(sharing_any: Sharing) -> None:
    world = sharing_any
    licence_id = world.issue("TRANSPORT", **driving(ZHANG))
    key = world.party("CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE])

    asked = world.ask(key, fields=["holder_name", "first_issued"])
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["state"] == "pending" and request["consent_id"] is None
    assert "id_number" not in asked.text and ZHANG not in asked.text

    # the citizen sees who asks, why, exactly which fields of which licences, how long
    shown = world.get(f"/wallet/sharing/requests/{request['id']}", ZHANG).json()
    assert shown["relying_party"] == {
        "code": "CITY_BANK",
        "name": "城市商业银行 City Bank",
        "kind": "bank",
    }
    assert shown["purpose"]["text_zh"] == "开立个人账户核验驾驶证"
    assert shown["licence_types"] == [
        {
            "licence_type": "TRANSPORT/DL",
            "name": "Motor vehicle driving licence",
            "department_name": "Municipal Transport Bureau",
            "fields": [
                {"name": "holder_name", "label": None},
                {"name": "first_issued", "label": "初次领证日期 First issued"},
            ],
        }
    ]
    assert [held["id"] for held in shown["licences"]] == [licence_id]
    assert shown["kind"] == "one_time" and shown["state"] == "pending"

    approved = world.client.post(
        f"/wallet/sharing/requests/{request['id']}/approve", headers=world.auth(ZHANG)
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    consent_id = approved.json()["consent_id"]
    assert (
        world.client.get(f"/sharing/requests/{request['id']}", headers=bearer(key)).json()[
            "consent_id"
        ]
        == consent_id
    )

    fetched = world.fetch(key, consent_id)
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["cache-control"] == "no-store"
    assert fetched.headers["content-type"] == "application/json"
    token = fetched.json()["package"]
    package = read_data_package(token, world.root_key())
    # the convenience copy is the signed payload itself
    assert fetched.json()["content"] == json.loads(b64url_decode(token.split(".")[1]))
    assert fetched.json()["content"]["jti"] == package.package_id
    assert package.consent_id == consent_id and package.consent_kind == "one_time"
    assert (package.relying_party, package.relying_party_name) == (
        "CITY_BANK",
        "城市商业银行 City Bank",
    )
    assert (package.purpose, package.purpose_en) == ("ACCOUNT_OPENING", BANK_PURPOSE["text_en"])
    assert package.fields == ("holder_name", "first_issued")
    (licence,) = package.licences
    row = world.licence_row(licence_id)
    assert licence.identifier == row.identifier and licence.status == "valid"
    assert licence.licence_type == "TRANSPORT/DL"
    # only the consented fields: no number, categories, points, dates of validity
    assert licence.fields == {"holder_name": "张秀英", "first_issued": "2015-03-02"}

    again = world.fetch(key, consent_id)
    assert again.status_code == 403 and again.json()["error"] == "consent_used"
    assert world.count(SharingAccess) == 1

    log = world.get("/wallet/sharing/access-log", ZHANG).json()["accesses"]
    assert [
        (a["kind"], a["relying_party"]["name"], a["purpose"]["code"], a["fields"]) for a in log
    ] == [("fetch", "城市商业银行 City Bank", "ACCOUNT_OPENING", ["holder_name", "first_issued"])]
    assert log[0]["licences"] == [row.number]
    consents = world.get("/wallet/sharing/consents", ZHANG).json()["consents"]
    assert [(c["id"], c["state"]) for c in consents] == [(consent_id, "used")]
    assert world.get("/wallet/sharing/access-log", LI).json()["accesses"] == []


def test_a_standing_consent_serves_until_the_citizen_revokes_it(sharing_any: Sharing) -> None:
    world = sharing_any
    world.issue("TRANSPORT", **driving(ZHANG))
    key = world.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    consent_id = world.approved(key, kind="standing", until=in_days(20))

    assert world.fetch(key, consent_id).status_code == 200
    assert world.fetch(key, consent_id).status_code == 200
    assert (
        world.client.get(f"/sharing/consents/{consent_id}", headers=bearer(key)).json()["state"]
        == "active"
    )

    revoked = world.client.post(
        f"/wallet/sharing/consents/{consent_id}/revoke", headers=world.auth(ZHANG)
    )
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    refused = world.fetch(key, consent_id)
    assert refused.status_code == 403 and refused.json()["error"] == "consent_revoked"
    assert world.count(SharingAccess) == 2
    twice = world.client.post(
        f"/wallet/sharing/consents/{consent_id}/revoke", headers=world.auth(ZHANG)
    )
    assert twice.status_code == 409
    states = world.get("/wallet/sharing/consents", ZHANG).json()["consents"]
    assert [c["state"] for c in states] == ["revoked"]
    log = world.get("/wallet/sharing/access-log", ZHANG).json()["accesses"]
    assert [a["kind"] for a in log] == ["fetch", "fetch"]


def test_revoked_and_suspended_licences_are_reported_not_hidden(sharing: Sharing) -> None:
    first = sharing.issue("TRANSPORT", **driving(ZHANG))
    sharing.revoke("TRANSPORT", first, "holder_request")
    second = sharing.issue("TRANSPORT", **driving(ZHANG))
    sharing.suspend("TRANSPORT", second, "investigation")
    sharing.issue("MARKET", licence_type="BL", id_number=ZHANG, holder_name="张秀英")
    key = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])

    consent_id = sharing.approved(key, fields=["number"])
    package = read_data_package(
        sharing.fetch(key, consent_id).json()["package"], sharing.root_key()
    )

    shown = {licence.fields["number"]: licence.status for licence in package.licences}
    assert shown == {
        sharing.licence_row(first).number: "revoked",
        sharing.licence_row(second).number: "suspended",
    }  # the business licence is of a type not asked for: not shared


def test_refusing_shares_nothing(sharing: Sharing) -> None:
    sharing.issue("TRANSPORT", **driving(ZHANG))
    key = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    request_id = sharing.ask(key).json()["id"]

    refused = sharing.client.post(
        f"/wallet/sharing/requests/{request_id}/refuse", headers=sharing.auth(ZHANG)
    )
    assert refused.status_code == 200 and refused.json()["state"] == "refused"
    assert refused.json()["consent_id"] is None
    late = sharing.client.post(
        f"/wallet/sharing/requests/{request_id}/approve", headers=sharing.auth(ZHANG)
    )
    assert late.status_code == 409 and late.json()["error"] == "request_closed"
    assert sharing.count(Consent) == 0
    assert sharing.client.get("/sharing/consents", headers=bearer(key)).json() == []


def _age(sharing: Sharing, model: type, column: str, row_id: str) -> None:
    """Move a row's deadline into the past, as time would."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with sharing.database.writing() as session:
        session.execute(update(model).where(model.id == row_id).values({column: past}))


def test_requests_and_consents_expire(sharing: Sharing) -> None:
    sharing.issue("TRANSPORT", **driving(ZHANG))
    key = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    unanswered = sharing.ask(key).json()["id"]
    _age(sharing, UseRequest, "expires_at", unanswered)

    assert (
        sharing.client.get(f"/sharing/requests/{unanswered}", headers=bearer(key)).json()["state"]
        == "expired"
    )
    late = sharing.client.post(
        f"/wallet/sharing/requests/{unanswered}/approve", headers=sharing.auth(ZHANG)
    )
    assert late.status_code == 409 and sharing.count(Consent) == 0

    consent_id = sharing.approved(key, kind="standing", until=in_days(3))
    _age(sharing, Consent, "valid_until", consent_id)
    expired = sharing.fetch(key, consent_id)
    assert expired.status_code == 403 and expired.json()["error"] == "consent_expired"
    assert sharing.count(SharingAccess) == 0
    states = sharing.get("/wallet/sharing/consents", ZHANG).json()["consents"]
    assert [c["state"] for c in states] == ["expired"]


def test_a_citizen_without_such_licences_gets_the_same_answer(sharing: Sharing) -> None:
    """Whether a citizen holds a licence is the citizen's to share: a request for one who holds
    none is answered like any other, and approved it yields a package with no licences."""
    sharing.issue("TRANSPORT", **driving(ZHANG))
    key = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])

    holder = sharing.ask(key, ZHANG)
    nobody = sharing.ask(key, LI)
    assert holder.status_code == nobody.status_code == 201
    volatile = {"id", "created_at", "expires_at", "until"}
    assert {k: v for k, v in holder.json().items() if k not in volatile} == {
        k: v for k, v in nobody.json().items() if k not in volatile
    }
    shown = sharing.get(f"/wallet/sharing/requests/{nobody.json()['id']}", LI).json()
    assert shown["licences"] == []
    sharing.client.post(
        f"/wallet/sharing/requests/{nobody.json()['id']}/approve", headers=sharing.auth(LI)
    )
    consent_id = sharing.get(f"/wallet/sharing/requests/{nobody.json()['id']}", LI).json()[
        "consent_id"
    ]
    package = read_data_package(
        sharing.fetch(key, consent_id).json()["package"], sharing.root_key()
    )
    assert package.licences == ()


def test_a_revocation_between_the_read_and_the_write_wins(sharing: Sharing) -> None:
    """The package is built from a read; the access is recorded in the writer, which checks
    the consent again: a revocation committed in between refuses it, and nothing is stored."""
    from sharing import service
    from sharing.routes import prepare_fetch

    sharing.issue("TRANSPORT", **driving(ZHANG))
    key = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    standing = sharing.approved(key, kind="standing", until=in_days(5))
    once = sharing.approved(key)
    now = dt.datetime.now(dt.UTC)
    with sharing.database.reading() as session:
        prepared = {
            consent_id: prepare_fetch(
                session,
                runtime=sharing.context.sharing,
                authorization=f"Bearer {key}",
                consent_id=consent_id,
                now=now,
            )
            for consent_id in (standing, once)
        }
    sharing.client.post(f"/wallet/sharing/consents/{standing}/revoke", headers=sharing.auth(ZHANG))
    assert sharing.fetch(key, once).status_code == 200  # the one-time consent is spent

    for consent_id, state in ((standing, "revoked"), (once, "used")):
        try:
            sharing.database.write_now(
                lambda s, c=consent_id: service.record_access(
                    session=s, prepared=prepared[c], now=now
                )
            )
        except service.ConsentNotUsable as refused:
            assert refused.code == f"consent_{state}"
        else:
            raise AssertionError(f"{consent_id} recorded after it became {state}")
    assert sharing.count(SharingAccess) == 1


def test_a_corrected_licence_is_shared_in_place_of_the_one_it_replaces(sharing: Sharing) -> None:
    """A package carries the citizen's current licences: a correction's new version, not the
    superseded one (nor both)."""
    from issuer.revocation.schemas import CorrectRequest
    from issuer.revocation.service import correct

    old_id = sharing.issue("TRANSPORT", **driving(ZHANG))
    with sharing.database.writing() as session:
        new, _ = correct(
            session=session,
            runtime=sharing.issuer,
            caller=sharing.departments["TRANSPORT"].caller,
            licence_id=old_id,
            correction=CorrectRequest(reason="name_change", holder_name="张秀兰"),
        )
        new_id = new.id
    key = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    consent_id = sharing.approved(key, fields=["holder_name", "number"])

    package = read_data_package(
        sharing.fetch(key, consent_id).json()["package"], sharing.root_key()
    )
    (licence,) = package.licences
    assert licence.identifier == sharing.licence_row(new_id).identifier
    assert licence.fields == {
        "holder_name": "张秀兰",
        "number": sharing.licence_row(new_id).number,
    }
    assert licence.status == "valid"
    log = sharing.get("/wallet/sharing/access-log", ZHANG).json()["accesses"]
    assert log[0]["licences"] == [sharing.licence_row(new_id).number]
