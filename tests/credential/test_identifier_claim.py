"""The licence identifier in the credential (wire format section 15): serial and version in a
7-byte cti (or ``lic/7`` for a serial the cti cannot carry), the codes from the trust list."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

import cbor2
import pytest

from credential import (
    errors,
    identifier_credential_id,
    kid_text,
    new_licence_serial,
    parse_licence_identifier,
    parse_trust_list,
    public_key_to_jwk,
    read_credential,
    read_jws,
    sign1,
    sign_credential,
    sign_trust_list,
)
from tests.credential._support import NOW, TestSigner, driving_licence

CREDIT = "11430000006122244L"
CATALOGUE = "11100000000013338W011"


def _read(claims: Any, issuer: TestSigner) -> Any:
    return read_credential(sign_credential(claims, issuer)).claims


def test_serial_and_version_travel_in_a_seven_byte_cti() -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    for _ in range(50):
        serial, version = new_licence_serial(), secrets.randbelow(1000)
        assert len(serial) == 8 and serial.isalnum() and serial.upper() == serial
        cti = identifier_credential_id(serial, version)
        assert cti is not None and len(cti) == 7
        claims = _read(driving_licence(holder.public_key, credential_id=cti), issuer)
        assert claims.identifier_reference == (serial, version)
    # the largest serial a cti carries, and one past it
    # the worked example of the wire format, section 15
    assert identifier_credential_id("0A1B2C3D", 2) == bytes.fromhex("05162cd8b90002")
    assert identifier_credential_id("E13WU1OF", 999) == bytes([255] * 5) + (999).to_bytes(2, "big")
    assert identifier_credential_id("E13WU1OG", 1) is None  # 2**40: beyond 5 bytes
    assert identifier_credential_id("0A1B2C3", 1) is None  # 7 characters
    assert identifier_credential_id("0a1b2c3d", 1) is None  # lower case
    assert identifier_credential_id("0A1B2C3D", 1000) is None


def test_an_eight_byte_cti_carries_no_identifier() -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    claims = _read(driving_licence(holder.public_key), issuer)
    assert len(claims.credential_id) == 8 and claims.identifier_reference is None


def test_a_serial_the_cti_cannot_carry_travels_in_lic_7() -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    assert identifier_credential_id("20230000403", 1) is None  # an imported, longer serial
    licence = replace(driving_licence(holder.public_key).licence, identifier=("20230000403", 1))
    claims = _read(driving_licence(holder.public_key, licence=licence), issuer)
    assert claims.identifier_reference == ("20230000403", 1)


@pytest.mark.parametrize(
    ("lic7", "message"),
    [
        ("AB12", "[serial, version]"),
        (["AB12"], "[serial, version]"),
        (["ab12", 1], "0-9A-Z"),
        (["", 1], "0-9A-Z"),
        (["AB12", 1000], "0 to 999"),
        (["AB12", -1], "0 to 999"),
        (["AB12", True], "0 to 999"),
        ([b"AB12", 1], "0-9A-Z"),
    ],
)
def test_a_malformed_lic_7_is_refused(lic7: Any, message: str) -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    credential = sign_credential(driving_licence(holder.public_key), issuer)
    payload = cbor2.loads(cbor2.loads(credential).value[2])
    payload["lic"][7] = lic7
    forged = _resign(payload, issuer)
    with pytest.raises(errors.MalformedCredential, match=message.replace("[", r"\[")):
        read_credential(forged)


def test_a_seven_byte_cti_with_a_version_over_999_is_refused() -> None:
    issuer, holder = TestSigner.generate(), TestSigner.generate()
    cti = bytes(5) + (1000).to_bytes(2, "big")
    credential = sign_credential(driving_licence(holder.public_key, credential_id=cti), issuer)
    with pytest.raises(errors.MalformedCredential, match="0 to 999"):
        read_credential(credential)


def _resign(payload: dict[Any, Any], issuer: TestSigner) -> bytes:
    return sign1(cbor2.dumps(payload), issuer)


def _trust_list(issuer: TestSigner, root: TestSigner, **codes: Any) -> Any:
    department: dict[str, Any] = {
        "code": "110000-JTJ",
        "name": "交管局",
        "licence_types": [{"code": "DL", "name": "机动车驾驶证", **codes.get("type", {})}],
        "status_lists": ["12"],
        "keys": [
            {
                "kid": kid_text(issuer.kid),
                "alg": issuer.alg,
                "jwk": public_key_to_jwk(issuer.public_key),
                "state": "active",
                "not_before": NOW - 86400,
                "not_after": None,
                "licence_types": ["DL"],
            }
        ],
        **codes.get("department", {}),
    }
    token = sign_trust_list({"iat": NOW, "departments": [department]}, root)
    return parse_trust_list(read_jws(token, typ="trustlist+jwt"))


def test_the_trust_list_completes_the_identifier() -> None:
    issuer, root = TestSigner.generate("SM2"), TestSigner.generate()
    trust_list = _trust_list(
        issuer,
        root,
        department={"credit_code": CREDIT},
        type={"catalogue_code": CATALOGUE},
    )
    assert [k.alg for k in trust_list.keys.values()] == ["SM2"]
    text = trust_list.licence_identifier("110000-JTJ", "DL", ("0A1B2C3D", 2))
    identifier = parse_licence_identifier(text)
    assert (identifier.type_code, identifier.issuer_code) == (CATALOGUE, CREDIT)
    assert (identifier.serial, identifier.version) == ("0A1B2C3D", 2)
    assert trust_list.licence_identifier("110000-JTJ", "DL", None) is None
    assert trust_list.licence_identifier("110000-JTJ", "OTHER", ("0A1B2C3D", 2)) is None
    assert trust_list.licence_identifier("OTHER", "DL", ("0A1B2C3D", 2)) is None
    # without the codes there is no identifier to show
    bare = _trust_list(issuer, root)
    assert bare.licence_identifier("110000-JTJ", "DL", ("0A1B2C3D", 2)) is None


@pytest.mark.parametrize(
    "codes",
    [
        {"department": {"credit_code": CREDIT[:-1] + "X"}},
        {"department": {"credit_code": 11430000006122244}},
        {"type": {"catalogue_code": CATALOGUE[:-1]}},
        {"type": {"catalogue_code": CREDIT[:-1] + "X011"}},
    ],
)
def test_a_trust_list_with_a_malformed_code_is_refused(codes: dict[str, Any]) -> None:
    issuer, root = TestSigner.generate(), TestSigner.generate()
    with pytest.raises(errors.MalformedToken):
        _trust_list(issuer, root, **codes)
