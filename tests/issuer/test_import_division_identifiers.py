"""Issue 14 item 2, older data: an imported identifier whose issuer segment is the department's
6-digit jurisdiction (administrative division) code is kept. The trust list carries that code
(``division_code``), the credential says the issuer segment is it (the top bit of the cti's
version bytes, or ``lic/7``'s third element), the verifier rebuilds the identifier with it, and
a correction is the next version with the same segment. A division code not the department's is
a rejected row; a trust list without the member still parses, and a credential claiming the
division form is then refused, ``unknown_division_code``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cbor2
from sqlalchemy import select

from credential import (
    parse_licence_identifier,
    read_credential,
    read_jws,
    read_trust_list,
    sign_trust_list,
)
from registry.models import Licence
from tests.issuer._import_files import licence_row, write_csv
from tests.issuer.conftest import Issuer, bearer
from tests.issuer.test_import_identifiers import (
    CREDIT,
    WITH_IDENTIFIER,
    _by_record_key,
    _catalogued,
    _import,
    correct_holder_name,
    identifier,
)
from tests.verifier._world import signer
from verifier import FixedTrust, Policy, TokenStatusSource, verify_payload

DIVISION = "430000"  # the department's jurisdiction code (``_catalogued``)
LONG = identifier("2019A00001234", version=2, issuer_code=DIVISION)  # lic/7
SHORT = identifier("0000ABCE", version=1, issuer_code=DIVISION)  # the 7-byte cti
BY_CREDIT = identifier("2019B00000001")  # the credit-code form, beside them
FOREIGN = identifier("2019C00000001", issuer_code="110000")  # a division code, not theirs


def _imported(issuer: Issuer, tmp_path: Path) -> tuple[str, dict[str, Licence]]:
    key = _catalogued(issuer)
    records = [  # valid and issued since 2019-03-01 (``licence_row``)
        licence_row(0, identifier=LONG),
        licence_row(1, identifier=SHORT),
        licence_row(2, identifier=BY_CREDIT),
        licence_row(3, identifier=FOREIGN),
    ]
    body = write_csv(tmp_path / "old.csv", records, columns=WITH_IDENTIFIER).read_bytes()
    job = _import(issuer, key, body)
    assert (job["counts"]["imported"], job["counts"]["rejected"]) == (3, 1), job
    assert job["counts"]["reject_reasons"] == {"identifier_issuer_mismatch": 1}
    return key, _by_record_key(issuer)


def _verified(issuer: Issuer, static_qr: str) -> dict[str, Any]:
    answer = issuer.client.post("/verify", json={"payload": static_qr})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    assert result["valid"] is True, result
    return result


def test_division_code_identifiers_are_kept_found_verified_and_corrected_with_their_segment(
    issuer: Issuer, tmp_path: Path
) -> None:
    key, stored = _imported(issuer, tmp_path)
    assert stored["D00000000"].identifier == LONG and stored["D00000001"].identifier == SHORT
    assert stored["D00000002"].identifier == BY_CREDIT and "D00000003" not in stored
    with issuer.session() as session:
        assert FOREIGN not in set(session.scalars(select(Licence.identifier)))
    # the trust list names both codes of the department
    payload = read_jws(issuer.client.get("/trust-list").text, typ="trustlist+jwt").payload
    (transport,) = [d for d in payload["departments"] if d["code"] == "TRANSPORT"]
    assert (transport["credit_code"], transport["division_code"]) == (CREDIT, DIVISION)
    # lic/7 carries a third element 1; the cti form sets the top bit of its version bytes
    raw = read_credential(stored["D00000000"].credential)
    assert raw.claims.identifier_issuer_is_division
    assert raw.claims.licence.identifier == ("2019A00001234", 2)
    assert cbor2.loads(raw.envelope.payload)["lic"][7] == ["2019A00001234", 2, 1]
    raw = read_credential(stored["D00000001"].credential)
    assert raw.claims.licence.identifier is None and len(raw.claims.credential_id) == 7
    assert raw.claims.credential_id[5:] == bytes([0x80, 0x01])
    assert raw.claims.identifier_reference == ("0000ABCE", 1)
    assert raw.claims.identifier_issuer_is_division
    assert not read_credential(stored["D00000002"].credential).claims.identifier_issuer_is_division
    for kept in (LONG, SHORT, BY_CREDIT):
        found = issuer.client.get(f"/issuer/licences/by-identifier/{kept}", headers=bearer(key))
        assert found.status_code == 200, found.text
        assert found.json()["identifier"] == kept
        assert found.json()["issued_at"] == "2019-02-28T16:00:00Z"  # 2019-03-01 in China
        assert _verified(issuer, found.json()["static_qr"])["licence"]["identifier"] == kept
    # a correction is the next version, with the division segment, shown whole
    for record_key, serial, version in (
        ("D00000000", "2019A00001234", 3),
        ("D00000001", "0000ABCE", 2),
    ):
        corrected = correct_holder_name(issuer, stored[record_key].id, key)
        expected = identifier(serial, version=version, issuer_code=DIVISION)
        assert corrected["identifier"] == expected
        assert f".{DIVISION}.{serial}.{version:03d}." in expected
        assert _verified(issuer, corrected["static_qr"])["licence"]["identifier"] == expected
        found = issuer.client.get(f"/issuer/licences/by-identifier/{expected}", headers=bearer(key))
        assert found.status_code == 200 and found.json()["id"] == corrected["id"], found.text
        # the version it replaces is revoked
        previous = stored[record_key].identifier
        old = issuer.client.get(f"/issuer/licences/by-identifier/{previous}", headers=bearer(key))
        assert old.json()["status"] == "revoked", old.json()


def test_a_trust_list_without_division_codes_parses_and_refuses_the_division_form(
    issuer: Issuer, tmp_path: Path
) -> None:
    key, stored = _imported(issuer, tmp_path)
    payload = read_jws(issuer.client.get("/trust-list").text, typ="trustlist+jwt").payload
    for department in payload["departments"]:  # as a list written before the member existed
        department.pop("division_code", None)
    root = signer()
    trust = FixedTrust(read_trust_list(sign_trust_list(payload, root), root.public_key))
    trust_list = trust.trust_list()
    assert trust_list is not None
    transport = trust_list.department("TRANSPORT")
    assert transport is not None and transport.division_code is None
    assert transport.credit_code == CREDIT

    def status_list(uri: str) -> str | None:
        answer = issuer.client.get(f"/status-lists/{uri}")
        return answer.text if answer.status_code == 200 else None

    def verify(licence: Licence) -> Any:
        static_qr = issuer.client.get(f"/issuer/licences/{licence.id}", headers=bearer(key)).json()[
            "static_qr"
        ]
        return verify_payload(
            static_qr,
            trust=trust,
            status=TokenStatusSource(status_list, trust),
            now=lambda: int(time.time()),
            policy=Policy(),
        )

    for record_key in ("D00000000", "D00000001"):  # lic/7 and cti forms
        result = verify(stored[record_key])
        assert (result.valid, result.outcome) == (False, "unknown_division_code"), result
        assert "TRANSPORT" in result.detail
        failed = [check for check in result.checks if not check.passed]
        assert [(c.name, c.code) for c in failed] == [("trusted_key", "unknown_division_code")]
        assert result.licence is None  # nothing shown from a credential the list cannot place
    # the credit-code form still verifies whole with the same list
    result = verify(stored["D00000002"])
    assert result.valid, result
    assert result.licence is not None and result.licence.identifier == BY_CREDIT
    assert parse_licence_identifier(BY_CREDIT).issuer_code == CREDIT
