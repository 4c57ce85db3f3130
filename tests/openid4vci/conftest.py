"""A wallet world for the OpenID4VCI issuer: the whole app over a migrated SQLite file (the
wallet tests' ``Wallet``), a driving licence issued to a citizen, and a small third-party wallet
written here with joserfc (not the project's own JOSE code) that takes the offer through the
token, nonce and credential endpoints. ``tests/openid4vci/test_interop.py`` does the same with
the npm client against a served app."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey

from registry.migrate import upgrade
from tests.wallet_api.conftest import (
    DRIVING,
    ZHANG,
    Wallet,
    driving_licence,
    no_id_number_in_logs,  # noqa: F401 (the autouse fixture: no ID number in any log line)
    settings_for,
)

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
TOKEN = "/openid4vci/token"
NONCE = "/openid4vci/nonce"
CREDENTIAL = "/openid4vci/credential"
FIELDS = [
    {"name": "licence_class", "label": "准驾车型", "type": "choice", "choices": ["A", "B", "C"]},
    {"name": "first_issued", "label": "初次领证日期", "type": "date"},
]


def offer_of(uri: str) -> dict[str, Any]:
    """The credential offer object carried by value in an ``openid-credential-offer://`` URI."""
    parts = urlsplit(uri)
    assert parts.scheme == "openid-credential-offer"
    (text,) = parse_qs(parts.query)["credential_offer"]
    offer: dict[str, Any] = json.loads(text)
    return offer


def proof_jwt(
    key: ECKey | OKPKey,
    *,
    aud: str,
    nonce: str | None,
    iat: int | None = None,
    typ: str = PROOF_TYP,
    jwk_of: ECKey | OKPKey | None = None,
    **header: Any,
) -> str:
    """A jwt key proof signed by ``key``, naming ``jwk_of`` (default ``key``) in ``jwk``."""
    named = jwk_of or key
    alg = "EdDSA" if isinstance(key, OKPKey) else "ES256"
    claims: dict[str, Any] = {"aud": aud, "iat": int(time.time()) if iat is None else iat}
    if nonce is not None:
        claims["nonce"] = nonce
    protected = {"alg": alg, "typ": typ, "jwk": named.as_dict(private=False), **header}
    return jwt.encode(protected, claims, key, algorithms=[alg])


@dataclass
class Offer:
    licence_id: str
    uri: str
    tx_code: str
    answer: dict[str, Any]
    offer: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.offer = offer_of(self.uri)

    @property
    def code(self) -> str:
        code: str = self.offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
        return code

    @property
    def configuration_id(self) -> str:
        (configuration_id,) = self.offer["credential_configuration_ids"]
        return str(configuration_id)


class Issuance:
    """The wallet world plus an OpenID4VCI wallet's steps."""

    def __init__(self, world: Wallet) -> None:
        self.world = world
        self.client = world.client
        self.base = world.settings.public_base_url
        self.licence_id = world.issue(
            "TRANSPORT",
            **driving_licence(fields={"licence_class": "B", "first_issued": "2020-05-01"}),
        )

    def offer(self, licence_id: str | None = None, id_number: str = ZHANG) -> Offer:
        licence_id = licence_id or self.licence_id
        answer = self.client.post(
            f"/wallet/licences/{licence_id}/credential-offer",
            headers=self.world.auth(id_number),
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return Offer(licence_id, body["credential_offer_uri"], body["tx_code"], body)

    def token_answer(self, offer: Offer, tx_code: str | None = None, **extra: str) -> Any:
        form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.code}
        form["tx_code"] = offer.tx_code if tx_code is None else tx_code
        return self.client.post(TOKEN, data={**form, **extra})

    def access_token(self, offer: Offer) -> str:
        answer = self.token_answer(offer)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def nonce(self) -> str:
        answer = self.client.post(NONCE)
        assert answer.status_code == 200, answer.text
        nonce: str = answer.json()["c_nonce"]
        return nonce

    def credential_answer(
        self, access_token: str, body: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        return self.client.post(
            CREDENTIAL,
            headers={"Authorization": f"Bearer {access_token}"},
            json=body,
            **kwargs,
        )

    def request_body(
        self, offer: Offer, key: ECKey | OKPKey, nonce: str | None = None, **proof: Any
    ) -> dict[str, Any]:
        nonce = self.nonce() if nonce is None else nonce
        return {
            "credential_configuration_id": offer.configuration_id,
            "proofs": {"jwt": [proof_jwt(key, aud=self.base, nonce=nonce, **proof)]},
        }

    def sd_jwt_vc(self, key: ECKey | OKPKey | None = None) -> tuple[str, ECKey | OKPKey]:
        """The whole flow: offer, token, nonce, credential; the SD-JWT VC and the wallet key."""
        key = key or ECKey.generate_key("P-256")
        offer = self.offer()
        token = self.access_token(offer)
        answer = self.credential_answer(token, self.request_body(offer, key))
        assert answer.status_code == 200, answer.text
        issued: str = answer.json()["credentials"][0]["credential"]
        return issued, key


@pytest.fixture
def issuance(tmp_path: Path, sqlite_url: str) -> Iterator[Issuance]:
    """The world over SQLite."""
    yield from _issuance(tmp_path, sqlite_url)


@pytest.fixture
def issuance_on_each_database(tmp_path: Path, database_url: str) -> Iterator[Issuance]:
    """The world over SQLite, and over PostgreSQL (marked ``postgres``)."""
    yield from _issuance(tmp_path, database_url)


def _issuance(tmp_path: Path, database_url: str) -> Iterator[Issuance]:
    from fastapi.testclient import TestClient

    from elicence.app import create_app
    from issuer.departments.schemas import LicenceTypeCreate

    upgrade(database_url)
    settings = settings_for(tmp_path / "data", database_url)
    app = create_app(settings)
    with TestClient(app) as client:
        world = Wallet(app, client, settings)
        driving = LicenceTypeCreate(**{**DRIVING.model_dump(), "fields": FIELDS})
        world.department("TRANSPORT", "Municipal Transport Bureau", [driving])
        yield Issuance(world)
