"""The shared-data package (``licence-data+jwt``): checked offline against the pinned platform
root key; tampered, foreign-key and malformed packages each refused with their error."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from credential import DATA_PACKAGE_TYP, read_data_package, sign_data_package, sign_jws
from credential.errors import BadSignature, MalformedToken, UnknownKey, UnsupportedAlgorithm
from keys import LocalSigner, generate_signing_key

ROOT = LocalSigner(generate_signing_key())
OTHER = LocalSigner(generate_signing_key())


def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "iss": "elicence-platform",
        "iat": 1_790_000_000,
        "jti": "0b7e4c1e-3f5d-4a59-9a3e-2f1d7f0c9a11",
        "consent": {"id": "c-1", "kind": "one_time", "until": 1_790_086_400},
        "relying_party": {"code": "CITY_BANK", "name": "城市商业银行"},
        "purpose": {"code": "ACCOUNT_OPENING", "zh": "开户", "en": "Account opening"},
        "fields": ["holder_name", "valid_until"],
        "licences": [
            {
                "identifier": "1.2.156.3005.2.11100000000013338W001.11100000000013338W.ABC.001.Q",
                "licence_type": "TRANSPORT/DL",
                "licence_type_name": "Driving licence",
                "department": "TRANSPORT",
                "department_name": "Transport Bureau",
                "status": "revoked",
                "fields": {"holder_name": "张秀英", "valid_until": "2031-01-01T00:00:00Z"},
            }
        ],
    }
    body.update(overrides)
    return body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_package_signed_by_the_root_reads_back() -> None:
    package = read_data_package(sign_data_package(payload(), ROOT), ROOT.public_key)
    assert (package.consent_id, package.consent_kind) == ("c-1", "one_time")
    assert (package.relying_party_name, package.purpose_zh) == ("城市商业银行", "开户")
    assert package.fields == ("holder_name", "valid_until")
    (licence,) = package.licences
    assert licence.status == "revoked" and licence.fields["holder_name"] == "张秀英"


def test_a_tampered_package_is_refused() -> None:
    header, body, signature = sign_data_package(payload(), ROOT).split(".")
    changed = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    changed["licences"][0]["status"] = "valid"
    forged = f"{header}.{_b64(json.dumps(changed).encode())}.{signature}"
    with pytest.raises(BadSignature):
        read_data_package(forged, ROOT.public_key)


def test_a_package_signed_by_another_key_is_refused() -> None:
    with pytest.raises(UnknownKey):
        read_data_package(sign_data_package(payload(), OTHER), ROOT.public_key)
    # another key that claims the root's kid fails on the signature
    _, body, signature = sign_data_package(payload(), OTHER).split(".")
    claimed = {"alg": "ES256", "kid": _kid(ROOT), "typ": DATA_PACKAGE_TYP}
    claimed_header = _b64(json.dumps(claimed).encode())
    with pytest.raises(BadSignature):
        read_data_package(f"{claimed_header}.{body}.{signature}", ROOT.public_key)


def _kid(signer: LocalSigner) -> str:
    return _b64(signer.kid)


@pytest.mark.parametrize(
    "bad",
    [
        {"iss": "someone"},
        {"consent": {"id": "c-1", "kind": "forever", "until": 1}},
        {"fields": "holder_name"},
        {"licences": [{**payload()["licences"][0], "status": "fine"}]},
        # a licence carrying a field the consent does not name
        {"licences": [{**payload()["licences"][0], "fields": {"number": "DL-1"}}]},
        {"iat": "yesterday"},
    ],
)
def test_malformed_packages_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(MalformedToken):
        read_data_package(sign_data_package(payload(**bad), ROOT), ROOT.public_key)


def test_another_document_type_is_not_a_package() -> None:
    trust_list_like = sign_jws(payload(), ROOT, typ="trustlist+jwt")
    with pytest.raises(MalformedToken):
        read_data_package(trust_list_like, ROOT.public_key)
    _, body, signature = sign_data_package(payload(), ROOT).split(".")
    none_alg = _b64(
        json.dumps({"alg": "none", "kid": _kid(ROOT), "typ": DATA_PACKAGE_TYP}).encode()
    )
    with pytest.raises(UnsupportedAlgorithm):
        read_data_package(f"{none_alg}.{body}.{signature}", ROOT.public_key)
