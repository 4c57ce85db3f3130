"""The national standards profile at the issuer: departments with credit and jurisdiction
codes, catalogued licence types, licence identifiers (GB/T 36904) assigned at issuance and
versioned by corrections, found by identifier, shown by the verifier; the public catalogue;
malformed codes refused naming the wrong part, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from credential import decode_qr, parse_licence_identifier, read_credential
from registry.models import Department, Licence, LicenceType

from .conftest import Issuer, bearer

TRANSPORT_CREDIT = "11430000006122244L"
OTHER_CREDIT = "11220000013544541J"
MINISTRY = "11100000000013338W"  # the defining body of the driving licence type
DRIVING_CATALOGUE = MINISTRY + "011"
DRIVING_BODY = {"catalogue_code": DRIVING_CATALOGUE, "defining_body_name": "公安部"}


def _catalogued(issuer: Issuer) -> str:
    key = issuer.department("TRANSPORT", credit_code=TRANSPORT_CREDIT, jurisdiction_code="430000")
    issuer.licence_type("TRANSPORT", **DRIVING_BODY)
    return key


def _verify(issuer: Issuer, payload: str) -> dict[str, Any]:
    r = issuer.client.post("/verify", json={"payload": payload})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def test_issuance_assigns_an_identifier_the_verifier_rebuilds(issuer: Issuer) -> None:
    key = _catalogued(issuer)
    licence = issuer.issue(key)
    identifier = parse_licence_identifier(licence["identifier"])
    assert identifier.type_code == DRIVING_CATALOGUE
    assert identifier.issuer_code == TRANSPORT_CREDIT
    assert identifier.version == 1 and len(identifier.serial) == 8
    # the credential carries only serial and version: a 7-byte cti, no codes
    credential = decode_qr(licence["static_qr"]).credential
    claims = read_credential(credential).claims
    assert claims.identifier_reference == (identifier.serial, 1)
    assert len(claims.credential_id) == 7
    assert TRANSPORT_CREDIT.encode() not in credential
    result = _verify(issuer, licence["static_qr"])
    assert result["valid"] is True
    assert result["licence"]["identifier"] == licence["identifier"]
    # read back, by id and by identifier
    got = issuer.client.get(f"/issuer/licences/{licence['id']}", headers=bearer(key)).json()
    assert got["identifier"] == licence["identifier"]
    found = issuer.client.get(
        f"/issuer/licences/by-identifier/{licence['identifier']}", headers=bearer(key)
    )
    assert found.status_code == 200 and found.json()["id"] == licence["id"]
    # another department cannot find it
    other = issuer.department("MARKET", credit_code=OTHER_CREDIT)
    assert (
        issuer.client.get(
            f"/issuer/licences/by-identifier/{licence['identifier']}", headers=bearer(other)
        ).status_code
        == 404
    )
    # two licences, two serials
    assert issuer.issue(key)["identifier"] != licence["identifier"]


def test_a_correction_is_the_next_version_of_the_same_identifier(issuer: Issuer) -> None:
    key = _catalogued(issuer)
    first = issuer.issue(key)
    r = issuer.client.post(
        f"/issuer/licences/{first['id']}/correct",
        json={"reason": "name_change", "holder_name": "张三丰"},
        headers=bearer(key),
    )
    assert r.status_code in (200, 201), r.text
    corrected = r.json()
    corrected = corrected.get("licence", corrected)
    old, new = (parse_licence_identifier(x["identifier"]) for x in (first, corrected))
    assert (new.serial, new.version) == (old.serial, 2)
    assert ".002." in corrected["identifier"] and ".001." in first["identifier"]
    assert _verify(issuer, corrected["static_qr"])["licence"]["identifier"] == str(new)
    # each version is found by its own identifier; the first is revoked (superseded)
    by_old = issuer.client.get(
        f"/issuer/licences/by-identifier/{first['identifier']}", headers=bearer(key)
    ).json()
    assert by_old["id"] == first["id"] and by_old["status"] == "revoked"
    # and a third version after correcting the second
    r = issuer.client.post(
        f"/issuer/licences/{corrected['id']}/correct",
        json={"reason": "data_error", "holder_name": "张三"},
        headers=bearer(key),
    )
    third = r.json().get("licence", r.json())
    assert parse_licence_identifier(third["identifier"]).version == 3


def test_without_codes_a_licence_has_no_identifier(issuer: Issuer) -> None:
    key = issuer.department("OLDDEPT")
    issuer.licence_type("OLDDEPT")
    licence = issuer.issue(key)
    assert licence["identifier"] is None
    assert (
        len(read_credential(decode_qr(licence["static_qr"]).credential).claims.credential_id) == 8
    )
    assert _verify(issuer, licence["static_qr"])["licence"]["identifier"] is None
    # a catalogued type of a department without a credit code: still none
    issuer.licence_type("OLDDEPT", code="FISHING", **DRIVING_BODY)
    assert (
        issuer.issue(
            key, licence_type="FISHING", fields={"licence_class": "A", "first_issued": "2020-01-01"}
        )["identifier"]
        is None
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s[:-1] + ("0" if s[-1] != "0" else "1"), "check"),
        (lambda s: s.replace("1.2.156.3005.2", "1.2.156.3005.3"), "root"),
        (lambda s: s.replace(".001.", ".01."), "version"),
        (lambda s: s.replace(TRANSPORT_CREDIT, TRANSPORT_CREDIT[:-1] + "X"), "issuer_code"),
        (lambda s: s.replace(DRIVING_CATALOGUE, DRIVING_CATALOGUE[:-1]), "type_code"),
        (lambda s: s.rsplit(".", 3)[0] + ".ab" + "." + s.rsplit(".", 2)[1] + "." + s[-1], "serial"),
        (lambda s: s.rsplit(".", 1)[0], "segments"),
        (lambda s: s + ".0", "segments"),
        (lambda s: s.lower(), "type_code"),
        (lambda s: s.replace(TRANSPORT_CREDIT, "990000"), "issuer_code"),
        (lambda s: "urn:" + s, "root"),
    ],
)
def test_a_malformed_identifier_is_refused_naming_its_segment(
    issuer: Issuer, mutate: Any, reason: str
) -> None:
    key = _catalogued(issuer)
    identifier = issuer.issue(key)["identifier"]
    r = issuer.client.get(
        f"/issuer/licences/by-identifier/{mutate(identifier)}", headers=bearer(key)
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_licence_identifier"
    assert r.json()["detail"].endswith(f"({reason})")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"credit_code": TRANSPORT_CREDIT[:-1] + "X"}, "(check)"),
        ({"credit_code": "1143000000612224"}, "(length)"),
        ({"credit_code": "11430000006122244I"}, "(character)"),
        ({"credit_code": "11AB0000006122244L"}, "(division_code)"),
        ({"jurisdiction_code": "990000"}, "administrative division"),
        ({"alg": "RSA-1024"}, "unknown signature algorithm 'RSA-1024'"),
    ],
)
def test_a_malformed_department_code_is_refused_and_nothing_stored(
    issuer: Issuer, extra: dict[str, str], needle: str
) -> None:
    audit = issuer.audit_count()
    r = issuer.client.post(
        "/issuer/admin/departments",
        json={"code": "TRANSPORT", "name": "Transport", **extra},
        headers=issuer.admin,
    )
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]
    assert issuer.count(Department) == 0 and issuer.audit_count() == audit


def test_a_credit_code_belongs_to_one_department(issuer: Issuer) -> None:
    issuer.department("TRANSPORT", credit_code=TRANSPORT_CREDIT)
    r = issuer.client.post(
        "/issuer/admin/departments",
        json={"code": "OTHER", "name": "Other", "credit_code": TRANSPORT_CREDIT},
        headers=issuer.admin,
    )
    assert r.status_code == 409 and "TRANSPORT" in r.json()["detail"]
    assert issuer.count(Department) == 1


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"catalogue_code": MINISTRY + "01"}, "(type_code)"),
        ({"catalogue_code": MINISTRY[:-1] + "X011"}, "(type_code)"),
        ({"catalogue_code": MINISTRY + "0A1"}, "3-digit"),
        ({"catalogue_code": DRIVING_CATALOGUE}, "defining body"),
        ({**DRIVING_BODY, "holder_code_type": "999"}, "holder_code_type"),
    ],
)
def test_a_malformed_catalogue_code_is_refused_and_nothing_stored(
    issuer: Issuer, extra: dict[str, str], needle: str
) -> None:
    issuer.department("TRANSPORT", credit_code=TRANSPORT_CREDIT)
    body = {"code": "DRIVING", "name": "Driving licence", "validity_days": 10, **extra}
    r = issuer.client.post(
        "/issuer/admin/departments/TRANSPORT/licence-types", json=body, headers=issuer.admin
    )
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]
    assert issuer.count(LicenceType) == 0


def test_department_and_type_reads_show_the_codes(issuer: Issuer) -> None:
    key = _catalogued(issuer)
    departments = issuer.client.get("/issuer/admin/departments", headers=issuer.admin).json()
    assert departments[0]["credit_code"] == TRANSPORT_CREDIT
    assert departments[0]["jurisdiction_code"] == "430000"
    assert departments[0]["alg"] == "ES256"
    (licence_type,) = issuer.client.get("/issuer/licence-types", headers=bearer(key)).json()
    assert licence_type["catalogue_code"] == DRIVING_CATALOGUE
    assert licence_type["defining_body"] == {"name": "公安部", "credit_code": MINISTRY}
    assert licence_type["holder_code_type"] == "111"


def test_the_public_catalogue_lists_every_type_with_its_issuers(issuer: Issuer) -> None:
    _catalogued(issuer)
    issuer.department("HUNAN", credit_code=OTHER_CREDIT, jurisdiction_code="110000")
    issuer.licence_type("HUNAN", code="DL", **DRIVING_BODY)
    issuer.department("OLDDEPT")
    issuer.licence_type("OLDDEPT", code="FISHING", name="Fishing permit")
    r = issuer.client.get("/catalogue/licence-types")  # no credentials
    assert r.status_code == 200
    driving, fishing = r.json()
    assert driving["catalogue_code"] == DRIVING_CATALOGUE
    assert driving["defining_body"] == {"name": "公安部", "credit_code": MINISTRY}
    assert driving["holder_code_type"] == "111"
    assert [
        (d["code"], d["licence_type"], d["credit_code"]) for d in driving["issuing_departments"]
    ] == [
        ("HUNAN", "DL", OTHER_CREDIT),
        ("TRANSPORT", "DRIVING", TRANSPORT_CREDIT),
    ]
    assert fishing["catalogue_code"] is None and fishing["defining_body"] is None
    assert fishing["name"] == "Fishing permit"
    assert [d["code"] for d in fishing["issuing_departments"]] == ["OLDDEPT"]


def test_the_trust_list_carries_codes_and_each_keys_alg(issuer: Issuer) -> None:
    from credential import read_jws

    _catalogued(issuer)
    token = issuer.client.get("/trust-list").text
    (department,) = read_jws(token, typ="trustlist+jwt").payload["departments"]
    assert department["credit_code"] == TRANSPORT_CREDIT
    assert department["licence_types"][0]["catalogue_code"] == DRIVING_CATALOGUE
    assert [k["alg"] for k in department["keys"]] == ["ES256"]


def test_identifiers_are_unique_in_the_database(issuer: Issuer) -> None:
    key = _catalogued(issuer)
    issuer.issue(key)
    issuer.issue(key)
    with issuer.session() as session:
        identifiers = [lic.identifier for lic in session.query(Licence)]
    assert len(set(identifiers)) == 2 and None not in identifiers


def test_admin_api_makes_and_rotates_sm2_keys(issuer: Issuer) -> None:
    issuer.department("TRANSPORT", credit_code=TRANSPORT_CREDIT, alg="SM2")
    departments = issuer.client.get("/issuer/admin/departments", headers=issuer.admin).json()
    assert departments[0]["alg"] == "SM2"
    rotate = "/issuer/admin/departments/TRANSPORT/keys/rotate"
    r = issuer.client.post(rotate, json={"alg": "P-521"}, headers=issuer.admin)
    assert r.status_code == 422 and "'P-521'" in r.json()["detail"]
    r = issuer.client.post(rotate, headers=issuer.admin)  # no body: ES256, as before
    assert r.status_code == 201 and r.json()["alg"] == "ES256"
    r = issuer.client.post(rotate, json={"alg": "SM2"}, headers=issuer.admin)
    assert r.status_code == 201 and r.json()["alg"] == "SM2"
    token = issuer.client.get("/trust-list").text
    from credential import read_jws

    (department,) = read_jws(token, typ="trustlist+jwt").payload["departments"]
    assert [(k["alg"], k["state"]) for k in department["keys"]] == [
        ("SM2", "retired"),
        ("ES256", "retired"),
        ("SM2", "active"),
    ]
