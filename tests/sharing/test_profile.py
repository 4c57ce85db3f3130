"""What the relying-party pages and the wallet's 亮证 ask for beyond the consent flow:
``GET /sharing/me`` (the signed-in party, its purposes with licence-type names and field labels),
``GET /wallet/sharing/relying-parties`` (the register a citizen binds an authorisation to) and
``POST /wallet/sharing/show-tokens/qr.png`` (the authorisation drawn as a QR a real decoder
reads back)."""

from __future__ import annotations

from registry.models import AuditEntry, ShowToken
from tests._qr import qr_texts
from tests.sharing.conftest import BANK_PURPOSE, LI, ZHANG, Sharing, bearer, driving

OTHER_PURPOSE = {
    "code": "EMPLOYMENT",
    "text_zh": "入职核验营业执照",
    "text_en": "Hiring: business licence check",
    "licence_types": ["MARKET/BL"],
    "fields": ["holder_name", "scope"],
    "max_days": 7,
}


def test_a_party_sees_its_own_name_and_purposes_with_labels(sharing: Sharing) -> None:
    bank = sharing.party("CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE])
    employer = sharing.party("ACME", "某公司 Acme", "employer", [OTHER_PURPOSE])

    me = sharing.client.get("/sharing/me", headers=bearer(bank))

    assert me.status_code == 200, me.text
    assert me.headers["cache-control"] == "no-store"
    body = me.json()
    assert body["code"] == "CITY_BANK" and body["kind"] == "bank"
    assert body["name"] == "城市商业银行 City Bank"
    (purpose,) = body["purposes"]
    assert purpose["code"] == "ACCOUNT_OPENING" and purpose["max_days"] == 30
    assert purpose["fields"] == BANK_PURPOSE["fields"]
    (offered,) = purpose["licence_types"]
    assert offered["licence_type"] == "TRANSPORT/DL"
    assert offered["name"] == "Motor vehicle driving licence"
    assert offered["department_name"] == "Municipal Transport Bureau"
    labels = {f["name"]: f["label"] for f in offered["fields"]}
    assert labels["first_issued"] == "初次领证日期 First issued"
    assert labels["holder_name"] is None  # a field every licence has: the page has its words
    # the other party sees its own, never the bank's
    other = sharing.client.get("/sharing/me", headers=bearer(employer)).json()
    assert [p["code"] for p in other["purposes"]] == ["EMPLOYMENT"]
    assert other["purposes"][0]["licence_types"][0]["fields"] == [
        {"name": "holder_name", "label": None},
        {"name": "scope", "label": None},
    ]


def test_who_am_i_needs_a_valid_key(sharing: Sharing) -> None:
    key = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    assert sharing.client.get("/sharing/me").status_code == 401
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    answer = sharing.client.get("/sharing/me", headers=bearer(wrong))
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"


def test_the_citizen_sees_the_register_of_parties_and_purposes(sharing: Sharing) -> None:
    sharing.party("CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE])
    sharing.party("ACME", "某公司 Acme", "employer", [OTHER_PURPOSE])
    sharing.party("EMPTY", "No purposes yet", "other")

    assert sharing.client.get("/wallet/sharing/relying-parties").status_code == 401
    answer = sharing.get("/wallet/sharing/relying-parties", ZHANG)

    assert answer.status_code == 200, answer.text
    register = answer.json()
    assert [p["code"] for p in register] == ["ACME", "CITY_BANK"]  # EMPTY offers nothing
    bank = register[1]
    assert bank["name"] == "城市商业银行 City Bank" and bank["kind"] == "bank"
    assert bank["purposes"] == [
        {
            "code": "ACCOUNT_OPENING",
            "text_zh": BANK_PURPOSE["text_zh"],
            "text_en": BANK_PURPOSE["text_en"],
            "licence_types": ["TRANSPORT/DL"],
            "fields": BANK_PURPOSE["fields"],
        }
    ]
    assert "contact" not in answer.text and "x.cn" not in answer.text  # contacts stay private


def test_a_shown_authorisation_is_drawn_as_a_qr_that_reads_back_and_redeems(
    sharing: Sharing,
) -> None:
    licence_id = sharing.issue("TRANSPORT", **driving(ZHANG))
    bank = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    made = sharing.client.post(
        "/wallet/sharing/show-tokens", json={"licence_id": licence_id}, headers=sharing.auth(ZHANG)
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    audit_before = sharing.count(AuditEntry)
    tokens_before = sharing.count(ShowToken)

    picture = sharing.client.post(
        "/wallet/sharing/show-tokens/qr.png", json={"token": token}, headers=sharing.auth(LI)
    )

    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert picture.headers["cache-control"] == "no-store"
    assert qr_texts(picture.content) == [token]
    # drawing looks nothing up and stores nothing (another citizen may draw any text: it is
    # not a secret of theirs, and it is worthless without the holder's token row)
    assert (sharing.count(AuditEntry), sharing.count(ShowToken)) == (audit_before, tokens_before)
    redeemed = sharing.client.post(
        "/sharing/show-tokens/redeem",
        json={"token": qr_texts(picture.content)[0], "purpose": "ACCOUNT_OPENING"},
        headers=bearer(bank),
    )
    assert redeemed.status_code == 201, redeemed.text


def test_drawing_refuses_what_is_not_a_token(sharing: Sharing) -> None:
    for body in (
        {"token": "short"},
        {"token": "has spaces in it, and more than 16"},
        {"token": "x" * 65},
        {"token": "<script>alert(1)</script>abcdef"},
        {},
    ):
        answer = sharing.client.post(
            "/wallet/sharing/show-tokens/qr.png", json=body, headers=sharing.auth(ZHANG)
        )
        assert answer.status_code == 422, body
        assert answer.json()["error"] == "invalid_request"
    unsigned = sharing.client.post("/wallet/sharing/show-tokens/qr.png", json={"token": "a" * 32})
    assert unsigned.status_code == 401
