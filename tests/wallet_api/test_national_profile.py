"""The national profile in the wallet and at the counter: the citizen sees each licence's
identifier and finds a licence by it; SM2 and ES256 departments' presentations verify side by
side, online (``POST /verify``) and offline (a synced verifier bundle), the identifier shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from credential import jwk_to_public_key, parse_licence_identifier, read_jws
from issuer.departments.schemas import LicenceTypeCreate
from issuer.trust_list.service import root_public_key
from verifier import Bundle, Policy, sync_bundle, verify_payload

from .conftest import LI, ZHANG, Wallet, driving_licence

SM2_CREDIT = "11220000013544541J"
ES256_CREDIT = "11430000006122244L"
CATALOGUE = "11100000000013338W011"
CATALOGUED_DRIVING = LicenceTypeCreate(
    code="CDL",
    name="Motor vehicle driving licence",
    validity_days=2190,
    categories=["C1"],
    catalogue_code=CATALOGUE,
    defining_body_name="公安部",
)


def _national(wallet: Wallet) -> None:
    wallet.department(
        "PROVINCE_SM2", "Provincial Transport (SM2)", [CATALOGUED_DRIVING],
        credit_code=SM2_CREDIT, jurisdiction_code="220000", alg="SM2",
    )  # fmt: skip
    wallet.department(
        "PROVINCE_ES", "Provincial Transport (ES256)", [CATALOGUED_DRIVING],
        credit_code=ES256_CREDIT, jurisdiction_code="430000",
    )  # fmt: skip


def _cdl(id_number: str = ZHANG) -> dict[str, Any]:
    return driving_licence(id_number, licence_type="CDL")


def test_the_wallet_shows_and_finds_licences_by_identifier(wallet: Wallet) -> None:
    _national(wallet)
    first = wallet.issue("PROVINCE_ES", **_cdl())
    wallet.issue("PROVINCE_SM2", **_cdl())
    wallet.issue("TRANSPORT", **driving_licence())  # uncatalogued: no identifier
    listed = wallet.get("/wallet/licences", ZHANG).json()["licences"]
    identifiers = {lic["department_code"]: lic["identifier"] for lic in listed}
    assert identifiers["TRANSPORT"] is None
    assert parse_licence_identifier(identifiers["PROVINCE_ES"]).issuer_code == ES256_CREDIT
    assert parse_licence_identifier(identifiers["PROVINCE_SM2"]).issuer_code == SM2_CREDIT
    wanted = wallet.licence_row(first).identifier
    assert wanted == identifiers["PROVINCE_ES"]
    found = wallet.get("/wallet/licences", ZHANG, identifier=wanted).json()["licences"]
    assert [lic["id"] for lic in found] == [first]
    assert wallet.get(f"/wallet/licences/{first}", ZHANG).json()["identifier"] == wanted
    # another citizen does not find it: an empty list, as for an identifier nobody has
    assert wallet.get("/wallet/licences", LI, identifier=wanted).json()["licences"] == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s[:-1] + ("0" if s[-1] != "0" else "1"), "check"),
        (lambda s: s.replace(".001.", ".1."), "version"),
        (lambda s: "2" + s[1:], "root"),
        (lambda s: s.rsplit(".", 1)[0], "segments"),
        (lambda s: s.replace(".001.", ".001-.", 1), "version"),
        (lambda s: s.rsplit(".", 3)[0] + ".ab." + ".".join(s.rsplit(".", 2)[1:]), "serial"),
    ],
)
def test_a_malformed_identifier_filter_is_refused_naming_its_segment(
    wallet: Wallet, mutate: Any, reason: str
) -> None:
    _national(wallet)
    identifier = wallet.licence_row(wallet.issue("PROVINCE_ES", **_cdl())).identifier
    assert identifier is not None
    r = wallet.get("/wallet/licences", ZHANG, identifier=mutate(identifier))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_licence_identifier"
    assert r.json()["detail"].endswith(f"({reason})")


def test_sm2_and_es256_presentations_verify_online_and_offline(
    wallet: Wallet, tmp_path: Path
) -> None:
    _national(wallet)
    licences = {code: wallet.issue(code, **_cdl()) for code in ("PROVINCE_SM2", "PROVINCE_ES")}
    # the trust list names each key's algorithm
    token = wallet.client.get("/trust-list").text
    algs = {
        d["code"]: [k["alg"] for k in d["keys"]]
        for d in read_jws(token, typ="trustlist+jwt").payload["departments"]
    }
    assert algs["PROVINCE_SM2"] == ["SM2"] and algs["PROVINCE_ES"] == ["ES256"]
    # an offline counter: a bundle synced from the service, then no service
    with wallet.database.reading() as session:
        root = jwk_to_public_key(root_public_key(session=session)["jwk"])
    sync_bundle(
        source="http://testserver", bundle_dir=tmp_path / "bundle", root_key=root,
        client=wallet.client,
    )  # fmt: skip
    bundle = Bundle.load(tmp_path / "bundle")
    for code, licence_id in licences.items():
        identifier = wallet.licence_row(licence_id).identifier
        payload = wallet.get(f"/wallet/licences/{licence_id}/presentation", ZHANG).json()
        online = wallet.client.post("/verify", json={"payload": payload["payload"]}).json()
        assert online["valid"] is True, (code, online)
        assert online["kind"] == "presentation"
        assert online["licence"]["identifier"] == identifier
        assert online["licence"]["department_code"] == code
        at = int(payload["presented_at"])
        offline = verify_payload(
            payload["payload"],
            trust=bundle.trust,
            status=bundle.status,
            now=lambda at=at: at,
            policy=Policy(),
        )
        assert offline.valid is True, (code, offline.outcome)
        assert offline.licence is not None and offline.licence.identifier == identifier
    # the SM2 credential is labelled SM2 (COSE -65537): its key is an SM2 key
    sm2_row = wallet.licence_row(licences["PROVINCE_SM2"])
    assert sm2_row.credential[:16].find(bytes.fromhex("3a00010000")) != -1
