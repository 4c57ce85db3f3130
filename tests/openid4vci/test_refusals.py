"""What the OpenID4VCI issuer refuses, with the error code OpenID4VCI 1.0 / RFC 6749 / RFC 6750
name for it, as the OpenID conformance suite probes an issuer: replayed, expired or foreign
``c_nonce``, a key proof by another key, without a nonce, for another audience, of another
``typ``, a missing proof, an unknown credential configuration, a pre-authorized code used twice
or after expiry, wrong transaction codes, an access token in the URL. Each refusal leaves
nothing issued: no audit entry of an issuance, the access token still unspent where it was
good."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import func, select, update

from issuer.openid4vci.service import new_nonce
from registry.models import AuditEntry, CredentialOffer, IssuanceToken
from registry.openid4vci import MAX_TX_CODE_TRIES
from tests.openid4vci.conftest import CREDENTIAL, Issuance, Offer, proof_jwt


def _refused(answer: Any, status: int, error: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    assert answer.headers["cache-control"] == "no-store"
    return body


def _issued(issuance: Issuance) -> int:
    with issuance.world.database.reading() as session:
        count: int = session.scalar(
            select(func.count()).where(AuditEntry.act == "licence.sd_jwt_vc_issue")
        )
        return count


def _tokens(issuance: Issuance) -> list[IssuanceToken]:
    with issuance.world.database.reading() as session:
        return list(session.scalars(select(IssuanceToken)).all())


def _ready(issuance: Issuance) -> tuple[Offer, str]:
    offer = issuance.offer()
    return offer, issuance.access_token(offer)


# --- token endpoint -------------------------------------------------------------------------
def test_a_pre_authorized_code_is_exchanged_once(issuance: Issuance) -> None:
    offer = issuance.offer()
    assert issuance.token_answer(offer).status_code == 200
    body = _refused(issuance.token_answer(offer), 400, "invalid_grant")
    assert "used" in body["error_description"]
    assert len(_tokens(issuance)) == 1


def test_an_expired_pre_authorized_code_is_refused(issuance: Issuance) -> None:
    offer = issuance.offer()
    with issuance.world.database.writing() as session:
        session.execute(
            update(CredentialOffer).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            )
        )
    body = _refused(issuance.token_answer(offer), 400, "invalid_grant")
    assert "expired" in body["error_description"]
    assert _tokens(issuance) == []


def test_a_wrong_tx_code_is_refused_and_counted_until_the_offer_dies(issuance: Issuance) -> None:
    offer = issuance.offer()
    wrong = f"{(int(offer.tx_code) + 1) % 10**6:06d}"
    for _ in range(MAX_TX_CODE_TRIES):
        _refused(issuance.token_answer(offer, tx_code=wrong), 400, "invalid_grant")
    with issuance.world.database.reading() as session:
        assert session.scalars(select(CredentialOffer.tries)).one() == MAX_TX_CODE_TRIES
    # the right code no longer helps: the tries are spent
    body = _refused(issuance.token_answer(offer), 400, "invalid_grant")
    assert "no tries left" in body["error_description"]
    assert _tokens(issuance) == []


def test_a_missing_tx_code_is_an_invalid_request(issuance: Issuance) -> None:
    offer = issuance.offer()
    answer = issuance.client.post(
        "/openid4vci/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": offer.code,
        },
    )
    _refused(answer, 400, "invalid_request")
    assert issuance.token_answer(offer).status_code == 200  # nothing was spent


def test_unknown_codes_and_grant_types(issuance: Issuance) -> None:
    offer = issuance.offer()
    forged = Offer(offer.licence_id, offer.uri.replace(offer.code[:8], "A" * 8), "", offer.answer)
    _refused(issuance.token_answer(forged, tx_code=offer.tx_code), 400, "invalid_grant")
    answer = issuance.client.post(
        "/openid4vci/token", data={"grant_type": "authorization_code", "code": "x"}
    )
    _refused(answer, 400, "invalid_request")  # code is not a parameter served here
    answer = issuance.client.post("/openid4vci/token", data={"grant_type": "client_credentials"})
    _refused(answer, 400, "unsupported_grant_type")
    _refused(issuance.client.post("/openid4vci/token", data={"x": ""}), 400, "invalid_request")


# --- credential endpoint: the key proof -----------------------------------------------------
def test_a_replayed_c_nonce_is_refused(issuance: Issuance) -> None:
    key = ECKey.generate_key("P-256")
    offer, token = _ready(issuance)
    nonce = issuance.nonce()
    answer = issuance.credential_answer(token, issuance.request_body(offer, key, nonce))
    assert answer.status_code == 200
    second_offer, second_token = _ready(issuance)
    replay = issuance.request_body(second_offer, key, nonce)
    body = _refused(issuance.credential_answer(second_token, replay), 400, "invalid_nonce")
    assert "used" in body["error_description"]
    assert _issued(issuance) == 1
    # the refused request spent nothing: the same token works with a fresh nonce
    fresh = issuance.request_body(second_offer, key)
    assert issuance.credential_answer(second_token, fresh).status_code == 200


@pytest.mark.parametrize("which", ["expired", "foreign", "garbage"])
def test_an_expired_or_foreign_c_nonce_is_refused(issuance: Issuance, which: str) -> None:
    offer, token = _ready(issuance)
    if which == "expired":
        runtime = issuance.world.issuer
        nonce = new_nonce(runtime=runtime, now=int(time.time()) - 301)
    elif which == "foreign":  # right shape, made with another key
        nonce = new_nonce(runtime=type("R", (), {"key_secret": b"k" * 32})(), now=int(time.time()))
    else:
        nonce = "not-a-nonce"
    body = issuance.request_body(offer, ECKey.generate_key("P-256"), nonce)
    _refused(issuance.credential_answer(token, body), 400, "invalid_nonce")
    assert _issued(issuance) == 0 and _tokens(issuance)[0].used_at is None


def _proof_refused(issuance: Issuance, **proof: Any) -> dict[str, Any]:
    offer, token = _ready(issuance)
    body = issuance.request_body(offer, ECKey.generate_key("P-256"), **proof)
    answer = _refused(issuance.credential_answer(token, body), 400, "invalid_proof")
    assert _issued(issuance) == 0 and _tokens(issuance)[0].used_at is None
    return answer


def test_a_proof_signed_by_another_key_is_refused(issuance: Issuance) -> None:
    body = _proof_refused(issuance, jwk_of=ECKey.generate_key("P-256"))
    assert "not signed by the key" in body["error_description"]


def test_a_proof_for_another_audience_is_refused(issuance: Issuance) -> None:
    offer, token = _ready(issuance)
    key = ECKey.generate_key("P-256")
    proof = proof_jwt(key, aud="https://other-issuer.example", nonce=issuance.nonce())
    body = {"credential_configuration_id": offer.configuration_id, "proofs": {"jwt": [proof]}}
    answer = _refused(issuance.credential_answer(token, body), 400, "invalid_proof")
    assert "aud" in answer["error_description"]
    assert _issued(issuance) == 0


@pytest.mark.parametrize("typ", ["JWT", "kb+jwt", "openid4vci-proof+jwt+x"])
def test_a_proof_of_another_typ_is_refused(issuance: Issuance, typ: str) -> None:
    body = _proof_refused(issuance, typ=typ)
    assert "typ" in body["error_description"]


def test_a_proof_without_nonce_or_recent_iat_or_with_a_kid_is_refused(
    issuance: Issuance,
) -> None:
    offer, token = _ready(issuance)
    key = ECKey.generate_key("P-256")
    base = issuance.base
    cases = [
        proof_jwt(key, aud=base, nonce=None),
        proof_jwt(key, aud=base, nonce=issuance.nonce(), iat=int(time.time()) - 3600),
        proof_jwt(key, aud=base, nonce=issuance.nonce(), iat=int(time.time()) + 3600),
        proof_jwt(key, aud=base, nonce=issuance.nonce(), kid="wallet-key-1"),
        "not.a.jwt",
        12,
    ]
    private = proof_jwt(key, aud=base, nonce=issuance.nonce())
    for proof in cases:
        body = {"credential_configuration_id": offer.configuration_id, "proofs": {"jwt": [proof]}}
        _refused(issuance.credential_answer(token, body), 400, "invalid_proof")
    # a jwk holding the private key
    header = {"jwk": key.as_dict(private=True)}
    leaked = proof_jwt(key, aud=base, nonce=issuance.nonce(), **header)
    body = {"credential_configuration_id": offer.configuration_id, "proofs": {"jwt": [leaked]}}
    _refused(issuance.credential_answer(token, body), 400, "invalid_proof")
    assert private and _issued(issuance) == 0


@pytest.mark.parametrize(
    "proofs",
    [None, {}, {"jwt": []}, {"attestation": ["x"]}, {"jwt": "x"}],
    ids=["missing", "empty", "no-jwt", "attestation", "not-a-list"],
)
def test_a_missing_proof_is_refused(issuance: Issuance, proofs: Any) -> None:
    offer, token = _ready(issuance)
    body: dict[str, Any] = {"credential_configuration_id": offer.configuration_id}
    if proofs is not None:
        body["proofs"] = proofs
    _refused(issuance.credential_answer(token, body), 400, "invalid_proof")
    assert _issued(issuance) == 0


def test_an_unknown_credential_configuration_is_refused(issuance: Issuance) -> None:
    offer, token = _ready(issuance)
    key = ECKey.generate_key("P-256")
    for configuration_id in ("TRANSPORT.NOPE", "MARKET.BL"):
        body = issuance.request_body(offer, key)
        body["credential_configuration_id"] = configuration_id
        answer = issuance.credential_answer(token, body)
        _refused(answer, 400, "unknown_credential_configuration")
    body = issuance.request_body(offer, key)
    body["credential_identifier"] = "x"
    _refused(issuance.credential_answer(token, body), 400, "unknown_credential_identifier")
    assert _issued(issuance) == 0 and _tokens(issuance)[0].used_at is None


# --- credential endpoint: the access token --------------------------------------------------
def test_an_access_token_in_the_query_string_is_refused(issuance: Issuance) -> None:
    offer, token = _ready(issuance)
    body = issuance.request_body(offer, ECKey.generate_key("P-256"))
    answer = issuance.client.post(CREDENTIAL, params={"access_token": token}, json=body)
    refused = _refused(answer, 400, "invalid_request")
    assert "Authorization header" in refused["error_description"]
    answer = issuance.credential_answer(token, body, params={"access_token": token})
    _refused(answer, 400, "invalid_request")
    assert _issued(issuance) == 0 and _tokens(issuance)[0].used_at is None


def test_missing_unknown_used_and_expired_access_tokens(issuance: Issuance) -> None:
    offer, token = _ready(issuance)
    key = ECKey.generate_key("P-256")
    answer = issuance.client.post(CREDENTIAL, json=issuance.request_body(offer, key))
    _refused(answer, 401, "invalid_token")
    assert answer.headers["www-authenticate"] == "Bearer"
    answer = issuance.credential_answer("x" * 43, issuance.request_body(offer, key))
    _refused(answer, 401, "invalid_token")
    assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    answer = issuance.client.post(
        CREDENTIAL,
        headers={"Authorization": f"Basic {token}"},
        json=issuance.request_body(offer, key),
    )
    _refused(answer, 401, "invalid_token")
    assert issuance.credential_answer(token, issuance.request_body(offer, key)).status_code == 200
    again = issuance.credential_answer(token, issuance.request_body(offer, key))
    assert "used" in _refused(again, 401, "invalid_token")["error_description"]
    offer, token = _ready(issuance)
    with issuance.world.database.writing() as session:
        session.execute(
            update(IssuanceToken)
            .where(IssuanceToken.used_at.is_(None))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    expired = issuance.credential_answer(token, issuance.request_body(offer, key))
    assert "expired" in _refused(expired, 401, "invalid_token")["error_description"]
    assert _issued(issuance) == 1


def test_a_licence_revoked_after_the_offer_is_not_issued(issuance: Issuance) -> None:
    offer, token = _ready(issuance)
    issuance.world.revoke("TRANSPORT", issuance.licence_id, "court_order")
    body = issuance.request_body(offer, ECKey.generate_key("P-256"))
    answer = issuance.credential_answer(token, body)
    assert "revoked" in _refused(answer, 400, "credential_request_denied")["error_description"]
    assert _issued(issuance) == 0


def test_concurrent_guesses_get_no_more_tries_than_allowed(
    issuance_on_each_database: Issuance,
) -> None:
    """Twelve wrong transaction codes at once (on PostgreSQL in concurrent transactions): at
    most ``MAX_TX_CODE_TRIES`` are compared, the rest find the tries spent."""
    from concurrent.futures import ThreadPoolExecutor

    issuance = issuance_on_each_database
    offer = issuance.offer()
    wrong = f"{(int(offer.tx_code) + 1) % 10**6:06d}"
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: issuance.token_answer(offer, tx_code=wrong), range(12)))
    descriptions = [a.json()["error_description"] for a in answers]
    assert all(a.status_code == 400 for a in answers)
    assert sum(d.startswith("wrong transaction code") for d in descriptions) == MAX_TX_CODE_TRIES
    assert sum(d.startswith("no tries left") for d in descriptions) == 12 - MAX_TX_CODE_TRIES
    with issuance.world.database.reading() as session:
        assert session.scalars(select(CredentialOffer.tries)).one() == MAX_TX_CODE_TRIES
    assert _tokens(issuance) == []
