"""A licence identifier whose issuer segment is the department's division code (older data,
wire format section 15): the credential says so (the top bit of the 7-byte cti's version bytes,
or ``lic/7``'s third element ``1``), the trust list carries the code (``division_code``), and
``TrustList.licence_identifier`` rebuilds the identifier with it or refuses,
``unknown_division_code``, when the list has none."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cbor2
import pytest

from credential import (
    errors,
    identifier_credential_id,
    parse_licence_identifier,
    read_credential,
    sign_credential,
)
from tests.credential._support import TestSigner, driving_licence
from tests.credential.test_identifier_claim import CATALOGUE, CREDIT, _resign, _trust_list

DIVISION = "430000"


def _read(claims: Any, issuer: TestSigner) -> Any:
    return read_credential(sign_credential(claims, issuer)).claims


def test_the_cti_form_sets_the_top_bit_of_the_version_bytes() -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    cti = identifier_credential_id("0A1B2C3D", 2, division=True)
    assert cti == bytes.fromhex("05162cd8b98002")  # the worked example of section 15
    assert identifier_credential_id("0A1B2C3D", 2) == bytes.fromhex("05162cd8b90002")
    claims = _read(driving_licence(holder.public_key, credential_id=cti), issuer)
    assert claims.identifier_reference == ("0A1B2C3D", 2) and claims.identifier_issuer_is_division
    assert claims.licence.identifier is None
    plain = _read(
        driving_licence(holder.public_key, credential_id=identifier_credential_id("0A1B2C3D", 2)),
        issuer,
    )
    assert plain.identifier_reference == ("0A1B2C3D", 2)
    assert not plain.identifier_issuer_is_division
    # an 8-byte (random) cti with its sixth byte's top bit set says nothing
    random_cti = _read(
        driving_licence(holder.public_key, credential_id=bytes(5) + b"\x80\0\0"), issuer
    )
    assert random_cti.identifier_reference is None and not random_cti.identifier_issuer_is_division


@pytest.mark.parametrize("field", [0x8000 | 1000, 0x4001, 0x0400, 0xFFFF])
def test_a_cti_version_field_beyond_the_flag_and_999_is_refused(field: int) -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    cti = bytes(5) + field.to_bytes(2, "big")
    credential = sign_credential(driving_licence(holder.public_key, credential_id=cti), issuer)
    with pytest.raises(errors.MalformedCredential, match="0 to 999"):
        read_credential(credential)


def test_the_lic_7_form_carries_a_third_element() -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    licence = replace(
        driving_licence(holder.public_key).licence,
        identifier=("2019A00001234", 2),
        identifier_division=True,
    )
    credential = sign_credential(driving_licence(holder.public_key, licence=licence), issuer)
    payload = cbor2.loads(cbor2.loads(credential).value[2])
    assert payload["lic"][7] == ["2019A00001234", 2, 1]
    # the bytes of wire format section 15
    assert cbor2.dumps(payload["lic"][7]).hex() == "836d32303139413030303031323334" + "0201"
    claims = read_credential(credential).claims
    assert claims.identifier_reference == ("2019A00001234", 2)
    assert claims.licence.identifier_division and claims.identifier_issuer_is_division
    # without the flag: two elements, as before
    plain = replace(licence, identifier_division=False)
    credential = sign_credential(driving_licence(holder.public_key, licence=plain), issuer)
    assert cbor2.loads(cbor2.loads(credential).value[2])["lic"][7] == ["2019A00001234", 2]
    assert not read_credential(credential).claims.identifier_issuer_is_division


@pytest.mark.parametrize(
    "lic7",
    [["AB12", 1, 0], ["AB12", 1, 2], ["AB12", 1, True], ["AB12", 1, "1"], ["AB12", 1, 1, 1]],
)
def test_a_lic_7_with_another_third_element_is_refused(lic7: Any) -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    payload = cbor2.loads(
        cbor2.loads(sign_credential(driving_licence(holder.public_key), issuer)).value[2]
    )
    payload["lic"][7] = lic7
    with pytest.raises(errors.MalformedCredential, match="licence identifier claim"):
        read_credential(_resign(payload, issuer))


def test_the_trust_list_rebuilds_a_division_identifier() -> None:
    issuer, root = TestSigner.generate(), TestSigner.generate()
    trust_list = _trust_list(
        issuer,
        root,
        department={"credit_code": CREDIT, "division_code": DIVISION},
        type={"catalogue_code": CATALOGUE},
    )
    entry = trust_list.department("110000-JTJ")
    assert (entry.credit_code, entry.division_code) == (CREDIT, DIVISION)
    text = trust_list.licence_identifier("110000-JTJ", "DL", ("2019A00001234", 2), division=True)
    identifier = parse_licence_identifier(text)
    assert (identifier.type_code, identifier.issuer_code) == (CATALOGUE, DIVISION)
    assert (identifier.serial, identifier.version) == ("2019A00001234", 2)
    credit = trust_list.licence_identifier("110000-JTJ", "DL", ("2019A00001234", 2))
    assert parse_licence_identifier(credit).issuer_code == CREDIT
    assert trust_list.licence_identifier("110000-JTJ", "DL", None, division=True) is None


def test_a_trust_list_without_the_member_parses_and_refuses_the_division_form() -> None:
    issuer, root = TestSigner.generate(), TestSigner.generate()
    old = _trust_list(
        issuer, root, department={"credit_code": CREDIT}, type={"catalogue_code": CATALOGUE}
    )
    assert old.department("110000-JTJ").division_code is None
    assert old.licence_identifier("110000-JTJ", "DL", ("0A1B2C3D", 2)) is not None
    for department in ("110000-JTJ", "OTHER"):
        with pytest.raises(errors.UnknownDivisionCode, match=department) as raised:
            old.licence_identifier(department, "DL", ("0A1B2C3D", 2), division=True)
        assert raised.value.code == "unknown_division_code"
        assert isinstance(raised.value, errors.TrustError)


@pytest.mark.parametrize("division_code", ["43000", "4300001", "990000", "43000A", 430000, ""])
def test_a_trust_list_with_a_malformed_division_code_is_refused(division_code: Any) -> None:
    issuer, root = TestSigner.generate(), TestSigner.generate()
    with pytest.raises(errors.MalformedToken, match="division_code"):
        _trust_list(issuer, root, department={"division_code": division_code})
