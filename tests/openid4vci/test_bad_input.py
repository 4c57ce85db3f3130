"""Bad input at every OpenID4VCI endpoint: malformed JSON or forms, wrong content types, oversized
bodies (declared or chunked), unknown or repeated parameters. Each is a 4xx in the OAuth shape
``{"error", "error_description"}`` that repeats nothing of what was sent, and nothing is issued
or spent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import func, select

from issuer.openid4vci.body import MAX_BODY_BYTES
from registry.models import AuditEntry, CredentialOffer, IssuanceToken
from tests.openid4vci.conftest import CREDENTIAL, NONCE, PRE_AUTHORIZED_GRANT, TOKEN, Issuance

SECRETISH = "ZZ-submitted-value-ZZ"


def _refused(answer: Any, status: int, error: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error, body
    assert SECRETISH not in answer.text


def _nothing_changed(issuance: Issuance) -> None:
    with issuance.world.database.reading() as session:
        assert session.scalar(select(func.count()).select_from(IssuanceToken)) == 0
        assert session.scalars(select(CredentialOffer.redeemed_at)).all() == [None]
        assert (
            session.scalar(select(func.count()).where(AuditEntry.act == "licence.sd_jwt_vc_issue"))
            == 0
        )


def _chunks(size: int) -> Iterator[bytes]:
    for _ in range(size // 4096 + 1):
        yield b"a" * 4096


def test_token_endpoint_bad_input(issuance: Issuance) -> None:
    offer = issuance.offer()
    good = {
        "grant_type": PRE_AUTHORIZED_GRANT,
        "pre-authorized_code": offer.code,
        "tx_code": offer.tx_code,
    }
    post = issuance.client.post
    _refused(post(TOKEN, json=good), 415, "invalid_request")
    _refused(post(TOKEN, content=b"grant_type=\xff\xfe", headers=_form()), 400, "invalid_request")
    _refused(post(TOKEN, data={**good, SECRETISH[:5]: "1"}), 400, "invalid_request")
    _refused(post(TOKEN, data={**good, "unknown": SECRETISH}), 400, "invalid_request")
    repeated = "&".join(f"{k}={v}" for k, v in good.items()) + "&tx_code=000000"
    _refused(post(TOKEN, content=repeated, headers=_form()), 400, "invalid_request")
    oversized = "grant_type=" + "a" * (MAX_BODY_BYTES + 1)
    _refused(post(TOKEN, content=oversized, headers=_form()), 413, "invalid_request")
    chunked = post(TOKEN, content=_chunks(MAX_BODY_BYTES + 1), headers=_form())
    _refused(chunked, 413, "invalid_request")
    _refused(post(TOKEN, data=good, params={"x": "1"}), 400, "invalid_request")
    _refused(post(TOKEN, content=b"", headers=_form()), 400, "invalid_request")
    _nothing_changed(issuance)
    assert post(TOKEN, data=good).status_code == 200  # the offer survived all of it


def _form() -> dict[str, str]:
    return {"content-type": "application/x-www-form-urlencoded"}


def test_nonce_endpoint_bad_input(issuance: Issuance) -> None:
    post = issuance.client.post
    _refused(post(NONCE, json={"a": SECRETISH}), 400, "invalid_request")
    _refused(post(NONCE, content=b"x" * (MAX_BODY_BYTES + 1)), 413, "invalid_request")
    _refused(post(NONCE, params={"access_token": SECRETISH}), 400, "invalid_request")
    assert issuance.client.get(NONCE).status_code == 405
    assert post(NONCE).status_code == 200


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"credential_configuration_id": ', "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 413),
        (b"[" * 30_000 + b"]" * 30_000, "application/json", 400),
        (b"credential_configuration_id=x", "application/x-www-form-urlencoded", 415),
        (b"{}", "text/plain", 415),
        (b"{}", "", 415),
    ],
    ids=[
        "truncated",
        "not-utf8",
        "array",
        "string",
        "oversized",
        "deep",
        "form",
        "text",
        "no-type",
    ],
)
def test_credential_endpoint_malformed_bodies(
    issuance: Issuance, content: bytes, content_type: str, status: int
) -> None:
    offer = issuance.offer()
    token = issuance.access_token(offer)
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["content-type"] = content_type
    answer = issuance.client.post(CREDENTIAL, content=content, headers=headers)
    _refused(answer, status, "invalid_credential_request")
    with issuance.world.database.reading() as session:
        assert session.scalars(select(IssuanceToken.used_at)).one() is None


def test_credential_endpoint_unknown_parameters(issuance: Issuance) -> None:
    offer = issuance.offer()
    token = issuance.access_token(offer)
    key = ECKey.generate_key("P-256")
    for extra in (
        {"format": "dc+sd-jwt"},
        {SECRETISH: 1},
        {"credential_response_encryption": {"alg": "ECDH-ES"}},
    ):
        body = {**issuance.request_body(offer, key), **extra}
        _refused(issuance.credential_answer(token, body), 400, "invalid_credential_request")
    legacy = issuance.request_body(offer, key)
    legacy["proof"] = {"proof_type": "jwt", "jwt": legacy.pop("proofs")["jwt"][0]}
    _refused(issuance.credential_answer(token, legacy), 400, "invalid_credential_request")
    batch = issuance.request_body(offer, key)
    batch["proofs"]["jwt"] *= 2
    _refused(issuance.credential_answer(token, batch), 400, "invalid_credential_request")
    for configuration_id in (None, 7, ""):
        body = {
            **issuance.request_body(offer, key),
            "credential_configuration_id": configuration_id,
        }
        _refused(issuance.credential_answer(token, body), 400, "invalid_credential_request")
    with issuance.world.database.reading() as session:
        assert session.scalars(select(IssuanceToken.used_at)).one() is None


def test_credential_offer_route_bad_input(issuance: Issuance) -> None:
    auth = issuance.world.auth
    from tests.wallet_api.conftest import ZHANG

    post = issuance.client.post
    assert (
        post("/wallet/licences/no-such-licence/credential-offer", headers=auth(ZHANG)).json()[
            "error"
        ]
        == "licence_not_found"
    )
    assert (
        post(f"/wallet/licences/{'x' * 5000}/credential-offer", headers=auth(ZHANG)).status_code
        < 500
    )
    answer = post(
        f"/wallet/licences/{issuance.licence_id}/credential-offer",
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert answer.status_code == 401
