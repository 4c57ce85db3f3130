"""One number, every licence; full detail to the holder only; 404 for anyone else's licence;
fresh presentations that the verifier accepts; 409 for revoked and suspended licences; the
checks log newest first."""

from __future__ import annotations

import datetime as dt

from credential import decode_qr, read_holder_proof
from issuer.departments.schemas import FieldSpec, LicenceTypeCreate
from tests.wallet_api.conftest import BUSINESS, LI, WANG, ZHANG, Wallet, driving_licence


def test_one_number_lists_every_department(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    bl = wallet.issue("MARKET", licence_type="BL", id_number=ZHANG, holder_name="张秀英")
    other = wallet.issue("TRANSPORT", **driving_licence(LI, holder_name="李四"))

    response = wallet.get("/wallet/licences", ZHANG)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    listed = {item["id"]: item for item in response.json()["licences"]}
    assert set(listed) == {dl, bl}
    assert other not in listed
    assert listed[dl]["department_code"] == "TRANSPORT"
    assert listed[dl]["type_code"] == "DL"
    assert listed[dl]["type_name"] == "Motor vehicle driving licence"
    assert listed[bl]["department_code"] == "MARKET"
    assert listed[bl]["type_name"] == BUSINESS.name
    assert listed[dl]["number"] == wallet.licence_row(dl).number
    assert listed[dl]["status"] == "valid"
    valid_from = dt.datetime.fromisoformat(listed[dl]["valid_from"])
    valid_until = dt.datetime.fromisoformat(listed[dl]["valid_until"])
    assert (valid_until - valid_from).days == 2190
    assert ZHANG not in response.text

    assert [i["id"] for i in wallet.get("/wallet/licences", LI).json()["licences"]] == [other]
    assert wallet.get("/wallet/licences", WANG).json() == {"licences": []}


def test_detail_names_fields_with_the_types_labels(wallet: Wallet) -> None:
    wallet.department(
        "FOOD_SAFETY",
        "Food safety bureau",
        [
            LicenceTypeCreate(
                code="FOOD",
                name="Food business licence",
                validity_days=1825,
                fields=[
                    FieldSpec(name="premises", label="经营场所 Premises"),
                    FieldSpec(name="scope"),  # no label: the page words the name itself
                ],
            )
        ],
    )
    food = wallet.issue(
        "FOOD_SAFETY",
        licence_type="FOOD",
        id_number=ZHANG,
        holder_name="张秀英",
        fields={"premises": "北京市东城区 1 号", "scope": "catering"},
    )

    body = wallet.get(f"/wallet/licences/{food}", ZHANG).json()

    assert body["fields"] == {"premises": "北京市东城区 1 号", "scope": "catering"}
    assert body["field_labels"] == {"premises": "经营场所 Premises"}


def test_lower_case_check_character_is_the_same_citizen(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    listed = wallet.get("/wallet/licences", ZHANG.lower()).json()["licences"]
    assert [item["id"] for item in listed] == [dl]


def test_detail_shows_the_full_id_number_to_its_holder(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG, categories=["C1", "C2"]))

    response = wallet.get(f"/wallet/licences/{dl}", ZHANG)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id_number"] == ZHANG
    assert body["masked_id"] == "110105********002X"
    assert body["holder_name"] == "张秀英"
    assert body["categories"] == ["C1", "C2"]
    assert body["issuer"] == "TRANSPORT"
    assert body["status"] == "valid"
    assert response.headers["cache-control"] == "no-store"


def test_another_citizens_licence_is_a_404_like_a_missing_one(wallet: Wallet) -> None:
    theirs = wallet.issue("TRANSPORT", **driving_licence(LI, holder_name="李四"))
    missing = "00000000-0000-4000-8000-000000000000"
    for suffix in ("", "/presentation", "/qr", "/qr.png", "/qr.svg", "/checks"):
        foreign = wallet.get(f"/wallet/licences/{theirs}{suffix}", ZHANG)
        absent = wallet.get(f"/wallet/licences/{missing}{suffix}", ZHANG)
        assert foreign.status_code == absent.status_code == 404, suffix
        assert (
            foreign.json()
            == absent.json()
            == {
                "error": "licence_not_found",
                "detail": "No such licence.",
            }
        )
        assert "李四" not in foreign.text
    # The owner does get it.
    assert wallet.get(f"/wallet/licences/{theirs}", LI).status_code == 200


def test_presentation_is_fresh_and_verifies(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    before = int(dt.datetime.now(dt.UTC).timestamp())

    first = wallet.get(f"/wallet/licences/{dl}/presentation", ZHANG)
    second = wallet.get(f"/wallet/licences/{dl}/presentation", ZHANG)

    assert first.status_code == 200
    body = first.json()
    assert before <= body["presented_at"] <= before + 5
    assert body["expires_at"] == body["presented_at"] + wallet.settings.presentation_ttl
    assert body["mode"] == "presentation" and body["challenge"] is None
    decoded = decode_qr(body["payload"])
    assert decoded.kind == "presentation"
    assert decoded.credential == wallet.licence_row(dl).credential
    assert decoded.proof is not None
    assert read_holder_proof(decoded.proof).presented_at == body["presented_at"]
    # A new proof every time (ECDSA signatures are randomised), same credential.
    assert second.json()["payload"] != body["payload"]

    result = wallet.verify(body["payload"])
    assert result.valid, result.outcome
    assert result.kind == "presentation"
    assert result.licence is not None and result.licence.masked_id == "110105********002X"

    # The same payload a few minutes later is a screenshot, not a presentation.
    late = wallet.verify(body["payload"], now=body["presented_at"] + 600)
    assert (late.valid, late.outcome) == (False, "stale_presentation")


def test_challenge_binds_the_presentation(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))

    body = wallet.get(f"/wallet/licences/{dl}/presentation", ZHANG, challenge="K7Q2-9XZ").json()

    assert body["challenge"] == "K7Q2-9XZ"
    assert wallet.verify(body["payload"], challenge="K7Q2-9XZ").valid
    wrong = wallet.verify(body["payload"], challenge="other-counter")
    assert (wrong.valid, wrong.outcome) == (False, "challenge_mismatch")
    unbound = wallet.get(f"/wallet/licences/{dl}/presentation", ZHANG).json()["payload"]
    assert wallet.verify(unbound, challenge="K7Q2-9XZ").outcome == "challenge_mismatch"

    too_long = wallet.get(f"/wallet/licences/{dl}/presentation", ZHANG, challenge="x" * 65)
    assert too_long.status_code == 422
    assert too_long.json()["error"] == "invalid_request"


def test_revoked_and_suspended_licences_list_but_do_not_present(wallet: Wallet) -> None:
    revoked = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    suspended = wallet.issue("MARKET", licence_type="BL", id_number=ZHANG, holder_name="张秀英")
    fine = wallet.issue("TRANSPORT", **driving_licence(ZHANG, categories=["B1"]))
    wallet.revoke("TRANSPORT", revoked, "court_order")
    wallet.suspend("MARKET", suspended, "unpaid_fee")

    listed = {i["id"]: i for i in wallet.get("/wallet/licences", ZHANG).json()["licences"]}
    assert listed[revoked]["status"] == "revoked"
    assert listed[revoked]["status_reason"] == "court_order"
    assert listed[suspended]["status"] == "suspended"
    assert listed[fine]["status"] == "valid"

    for licence_id, code, reason in (
        (revoked, "revoked", "court_order"),
        (suspended, "suspended", "unpaid_fee"),
    ):
        for suffix, params in (
            ("/presentation", {}),
            ("/qr", {"mode": "static"}),
            ("/qr.png", {}),
            ("/qr.svg", {"mode": "static"}),
        ):
            response = wallet.get(f"/wallet/licences/{licence_id}{suffix}", ZHANG, **params)
            assert response.status_code == 409, (code, suffix)
            assert response.json()["error"] == code
            assert reason in response.json()["detail"]
    assert wallet.get(f"/wallet/licences/{fine}/presentation", ZHANG).status_code == 200


def test_a_presentation_made_before_revocation_no_longer_verifies(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = wallet.get(f"/wallet/licences/{dl}/presentation", ZHANG).json()["payload"]
    wallet.revoke("TRANSPORT", dl, "fraud")
    result = wallet.verify(payload)
    assert (result.valid, result.outcome) == (False, "revoked")


def test_static_copy_payload(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    body = wallet.get(f"/wallet/licences/{dl}/qr", ZHANG, mode="static").json()
    assert body["mode"] == "static"
    assert body["presented_at"] is None and body["expires_at"] is None
    decoded = decode_qr(body["payload"])
    assert (decoded.kind, decoded.proof) == ("static", None)
    result = wallet.verify(body["payload"])
    assert result.valid and result.kind == "static"
    default = wallet.get(f"/wallet/licences/{dl}/qr", ZHANG).json()
    assert default["mode"] == "presentation" and default["payload"].startswith("EP1:")
    bad_mode = wallet.get(f"/wallet/licences/{dl}/qr", ZHANG, mode="printed")
    assert bad_mode.status_code == 422


def test_checks_newest_first(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    other = wallet.issue("TRANSPORT", **driving_licence(ZHANG, categories=["B1"]))
    base = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    wallet.record_check(
        dl, verifier_name="Hotel front desk", purpose="check-in", checked_at=base, outcome="valid"
    )
    wallet.record_check(
        dl,
        verifier_name="Traffic police 12",
        purpose="roadside check",
        checked_at=base + dt.timedelta(hours=5),
        outcome="valid",
    )
    wallet.record_check(
        dl,
        verifier_name="Car rental",
        purpose=None,
        checked_at=base + dt.timedelta(hours=1),
        outcome="stale_presentation",
    )
    wallet.record_check(
        other, verifier_name="Bank", purpose="kyc", checked_at=base, outcome="valid"
    )

    response = wallet.get(f"/wallet/licences/{dl}/checks", ZHANG)

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert [c["verifier"] for c in checks] == [
        "Traffic police 12",
        "Car rental",
        "Hotel front desk",
    ]
    assert checks[1] == {
        "verifier": "Car rental",
        "purpose": None,
        "checked_at": "2026-03-01T10:00:00Z",
        "outcome": "stale_presentation",
    }
    others = wallet.get(f"/wallet/licences/{other}/checks", ZHANG).json()["checks"]
    assert [c["verifier"] for c in others] == ["Bank"]
