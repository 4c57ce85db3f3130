"""The trust list: signed by the platform root, read back, and asked who may sign what."""

from __future__ import annotations

import json
from typing import Any

import pytest

from credential import (
    TRUST_LIST_TYP,
    b64url,
    b64url_decode,
    errors,
    kid_text,
    public_key_to_jwk,
    read_jws,
    read_trust_list,
    sign_trust_list,
)
from tests.credential._support import NOW, TestSigner

YEAR = 365 * 86400


def key_entry(signer: TestSigner, **overrides: Any) -> dict[str, Any]:
    entry = {
        "kid": kid_text(signer.kid),
        "jwk": public_key_to_jwk(signer.public_key),
        "state": "active",
        "not_before": NOW - YEAR,
        "not_after": None,
        "licence_types": ["DL"],
    }
    entry.update(overrides)
    return entry


class Platform:
    """A root key, two departments and their keys."""

    def __init__(self) -> None:
        self.root = TestSigner.generate()
        self.transport = TestSigner.generate()
        self.transport_eddsa = TestSigner.generate("EdDSA")
        self.transport_sm2 = TestSigner.generate("SM2")
        self.retired = TestSigner.generate()
        self.compromised = TestSigner.generate()
        self.market = TestSigner.generate()

    def payload(self) -> dict[str, Any]:
        return {
            "iat": NOW,
            "exp": NOW + 7 * 86400,
            "ttl": 3600,
            "departments": [
                {
                    "code": "110000-JTJ",
                    "name": "北京市公安局公安交通管理局",
                    "licence_types": [{"code": "DL", "name": "机动车驾驶证"}],
                    "status_lists": ["12", "13"],
                    "keys": [
                        key_entry(self.transport),
                        key_entry(self.transport_eddsa),
                        key_entry(self.transport_sm2),
                        key_entry(
                            self.retired,
                            state="retired",
                            not_before=NOW - 3 * YEAR,
                            not_after=NOW - YEAR,
                        ),
                        key_entry(self.compromised, state="compromised"),
                    ],
                },
                {
                    "code": "110000-SCJGJ",
                    "name": "北京市市场监督管理局",
                    "licence_types": [{"code": "BL", "name": "营业执照"}],
                    "status_lists": ["20"],
                    "keys": [key_entry(self.market, licence_types=["BL"])],
                },
            ],
        }

    def token(self) -> str:
        return sign_trust_list(self.payload(), self.root)


@pytest.fixture(scope="module")
def platform() -> Platform:
    return Platform()


def test_round_trip(platform: Platform) -> None:
    token = platform.token()
    assert read_jws(token, typ=TRUST_LIST_TYP).header["typ"] == "trustlist+jwt"
    trust = read_trust_list(token, platform.root.public_key)
    assert (trust.issued_at, trust.expires_at, trust.ttl) == (NOW, NOW + 7 * 86400, 3600)
    assert [d.code for d in trust.departments] == ["110000-JTJ", "110000-SCJGJ"]
    assert trust.department("110000-JTJ").status_lists == ("12", "13")  # type: ignore[union-attr]
    assert trust.department("nobody") is None
    assert trust.licence_type_name("110000-JTJ", "DL") == "机动车驾驶证"
    assert trust.licence_type_name("110000-JTJ", "BL") is None
    assert len(trust.keys) == 6
    key = trust.keys[platform.transport.kid]
    assert public_key_to_jwk(key.public_key) == public_key_to_jwk(platform.transport.public_key)
    assert (key.department, key.state, key.licence_types) == ("110000-JTJ", "active", {"DL"})


@pytest.mark.parametrize("signer", ["transport", "transport_eddsa", "transport_sm2"])
def test_authorise_returns_the_key(platform: Platform, signer: str) -> None:
    trust = read_trust_list(platform.token(), platform.root.public_key)
    kid = getattr(platform, signer).kid
    key = trust.authorise(kid=kid, issuer="110000-JTJ", type_code="DL", issued_at=NOW)
    assert key.kid == kid


def test_retired_key_still_verifies_what_it_signed_in_its_window(platform: Platform) -> None:
    trust = read_trust_list(platform.token(), platform.root.public_key)
    kid = platform.retired.kid
    key = trust.authorise(kid=kid, issuer="110000-JTJ", type_code="DL", issued_at=NOW - 2 * YEAR)
    assert key.state == "retired"
    with pytest.raises(errors.KeyNotValidAtIssuance):
        trust.authorise(kid=kid, issuer="110000-JTJ", type_code="DL", issued_at=NOW)
    with pytest.raises(errors.KeyNotValidAtIssuance):
        trust.authorise(kid=kid, issuer="110000-JTJ", type_code="DL", issued_at=NOW - 4 * YEAR)


def test_authorise_refusals(platform: Platform) -> None:
    trust = read_trust_list(platform.token(), platform.root.public_key)
    dl = {"issuer": "110000-JTJ", "type_code": "DL", "issued_at": NOW}
    with pytest.raises(errors.UnknownKey):
        trust.authorise(kid=TestSigner.generate().kid, **dl)  # type: ignore[arg-type]
    with pytest.raises(errors.KeyCompromised):
        trust.authorise(kid=platform.compromised.kid, **dl)  # type: ignore[arg-type]
    with pytest.raises(errors.KeyNotValidAtIssuance):
        trust.authorise(kid=platform.transport.kid, issuer="110000-JTJ", type_code="DL",
                        issued_at=NOW - 2 * YEAR)  # fmt: skip
    with pytest.raises(errors.KeyNotAllowed):  # market key, transport licence type
        trust.authorise(kid=platform.market.kid, issuer="110000-SCJGJ", type_code="DL",
                        issued_at=NOW)  # fmt: skip
    with pytest.raises(errors.KeyNotAllowed):  # transport key claiming another department
        trust.authorise(kid=platform.transport.kid, issuer="110000-SCJGJ", type_code="BL",
                        issued_at=NOW)  # fmt: skip


def test_token_signed_by_another_root(platform: Platform) -> None:
    impostor = sign_trust_list(platform.payload(), TestSigner.generate())
    with pytest.raises(errors.BadSignature):
        read_trust_list(impostor, platform.root.public_key)


def test_tampered_token(platform: Platform) -> None:
    header, payload, signature = platform.token().split(".")
    body = json.loads(b64url_decode(payload))
    body["departments"][1]["keys"][0]["licence_types"] = ["BL", "DL"]
    forged = ".".join([header, b64url(json.dumps(body).encode()), signature])
    with pytest.raises(errors.BadSignature):
        read_trust_list(forged, platform.root.public_key)


def _with_first_key(platform: Platform, **overrides: Any) -> str:
    payload = platform.payload()
    payload["departments"][0]["keys"][0].update(overrides)
    return sign_trust_list(payload, platform.root)


def test_kid_not_matching_the_jwk(platform: Platform) -> None:
    token = _with_first_key(platform, kid=kid_text(platform.market.kid))
    with pytest.raises(errors.MalformedToken):
        read_trust_list(token, platform.root.public_key)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"state": "lost"}, id="unknown-state"),
        pytest.param({"not_before": "2026-01-01"}, id="not-before-as-text"),
        pytest.param({"not_before": True}, id="not-before-as-bool"),
        pytest.param({"not_after": 1.5}, id="not-after-as-float"),
        pytest.param({"licence_types": "DL"}, id="types-as-text"),
        pytest.param({"licence_types": [1]}, id="types-as-numbers"),
        pytest.param({"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}, id="rsa-jwk"),
        pytest.param({"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}, id="bad-point"),
        pytest.param({"kid": "*"}, id="kid-not-base64url"),
        pytest.param({"jwk": None}, id="no-jwk"),
    ],
)
def test_malformed_key_entries(platform: Platform, overrides: dict[str, Any]) -> None:
    with pytest.raises(errors.MalformedToken):
        read_trust_list(_with_first_key(platform, **overrides), platform.root.public_key)


def test_malformed_documents(platform: Platform) -> None:
    for change in ({"departments": None}, {"iat": "now"}, {"departments": [{"code": "X"}]}):
        payload = {**platform.payload(), **change}
        with pytest.raises(errors.MalformedToken):
            read_trust_list(sign_trust_list(payload, platform.root), platform.root.public_key)
    with pytest.raises(errors.MalformedToken):  # a status-list token is not a trust list
        status_typ = platform.token().split(".")
        header = b64url(json.dumps({"alg": "ES256", "typ": "statuslist+jwt"}).encode())
        read_trust_list(f"{header}.{status_typ[1]}.{status_typ[2]}", platform.root.public_key)


def test_look_ups_find_the_first_entry_as_a_scan_would() -> None:
    from credential import DepartmentEntry, LicenceTypeEntry, TrustList

    def department(name: str, types: list[tuple[str, str]]) -> DepartmentEntry:
        entries = tuple(LicenceTypeEntry(code, label) for code, label in types)
        return DepartmentEntry("D", name, entries, ("1",), ())

    trust = TrustList(
        issued_at=NOW,
        expires_at=None,
        ttl=None,
        departments=(
            department("first", [("DL", "first DL"), ("DL", "second DL"), ("TP", "")]),
            department("second", [("BL", "business")]),
        ),
    )
    entry = trust.department("D")
    assert entry is not None and entry.name == "first"
    assert trust.licence_type_name("D", "DL") == "first DL"
    assert trust.licence_type_name("D", "TP") == ""
    assert trust.licence_type_name("D", "BL") is None  # only in the second, shadowed entry
    assert trust.department("E") is None and trust.licence_type_name("E", "DL") is None
    same = TrustList(issued_at=NOW, expires_at=None, ttl=None, departments=trust.departments)
    assert same == trust and "_by_code" not in repr(trust)
