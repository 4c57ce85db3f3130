"""The OpenID4VCI issuer end to end in process: metadata, the wallet's offer (URI, QR, tx_code),
token, nonce and credential, the SD-JWT VC's claims and binding, revocation through the shared
status entry, and the audit entries."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import select

from credential import (
    jwk_to_public_key,
    kid_text,
    read_credential,
    read_jws,
    read_sd_jwt,
    read_trust_list,
)
from issuer.trust_list.service import root_public_key, trust_list_token
from registry.models import AuditEntry, CredentialOffer, IssuanceToken, Licence
from tests._qr import qr_texts
from tests.openid4vci.conftest import PRE_AUTHORIZED_GRANT, Issuance
from tests.wallet_api.conftest import ZHANG

CONFIGURATION = "TRANSPORT.DL"


def _b64json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return value


def test_issuer_metadata_lists_one_sd_jwt_vc_configuration_per_licence_type(
    issuance: Issuance,
) -> None:
    issuance.world.department("MARKET", "市场监督管理局", [])
    answer = issuance.client.get("/.well-known/openid-credential-issuer")
    assert answer.status_code == 200
    document = answer.json()
    base = issuance.base
    assert document["credential_issuer"] == base
    assert document["credential_endpoint"] == f"{base}/openid4vci/credential"
    assert document["nonce_endpoint"] == f"{base}/openid4vci/nonce"
    assert {d["locale"] for d in document["display"]} == {"zh-CN", "en"}
    configurations = document["credential_configurations_supported"]
    assert list(configurations) == [CONFIGURATION]
    dl = configurations[CONFIGURATION]
    assert dl["format"] == "dc+sd-jwt"
    assert dl["vct"] == f"{base}/vct/TRANSPORT/DL"
    assert dl["cryptographic_binding_methods_supported"] == ["jwk"]
    assert dl["credential_signing_alg_values_supported"] == ["ES256"]
    assert dl["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["ES256", "EdDSA"]}
    }
    display = {d["locale"]: d["name"] for d in dl["credential_metadata"]["display"]}
    assert display == {
        "zh-CN": "Motor vehicle driving licence",
        "en": "Motor vehicle driving licence",
    }
    claims = {tuple(c["path"]): c for c in dl["credential_metadata"]["claims"]}
    assert set(claims) == {
        ("licence_type",),
        ("licence_number",),
        ("issuing_department",),
        ("holder_name",),
        ("masked_id_number",),
        ("categories",),
        ("fields", "licence_class"),
        ("fields", "first_issued"),
    }
    first_issued = {d["locale"]: d["name"] for d in claims[("fields", "first_issued")]["display"]}
    assert first_issued == {"zh-CN": "初次领证日期", "en": "First issued"}

    server = issuance.client.get("/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == base
    assert server["token_endpoint"] == f"{base}/openid4vci/token"
    assert server["grant_types_supported"] == [PRE_AUTHORIZED_GRANT]
    assert server["pre-authorized_grant_anonymous_access_supported"] is True

    vct = issuance.client.get("/vct/TRANSPORT/DL").json()
    assert vct["vct"] == dl["vct"]
    sd = {tuple(c["path"]): c["sd"] for c in vct["claims"]}
    assert sd[("licence_type",)] == "always" and sd[("holder_name",)] == "allowed"
    assert issuance.client.get("/vct/TRANSPORT/NOPE").status_code == 404


def test_jwt_vc_issuer_keys_are_the_trust_lists_department_keys(issuance: Issuance) -> None:
    world = issuance.world
    document = issuance.client.get("/.well-known/jwt-vc-issuer").json()
    assert document["issuer"] == issuance.base
    with world.database.reading() as session:
        root = jwk_to_public_key(root_public_key(session=session)["jwk"])
        trust = read_trust_list(trust_list_token(session=session, runtime=world.issuer).token, root)
    published = {key["kid"]: key for key in document["jwks"]["keys"]}
    (department,) = trust.departments
    trusted = {
        kid_text(key.kid) if isinstance(key.kid, bytes) else key.kid: key for key in department.keys
    }
    assert set(published) == set(trusted) and published
    for kid, jwk in published.items():
        assert jwk["use"] == "sig" and "d" not in jwk
        public = jwk_to_public_key({k: v for k, v in jwk.items() if k not in ("kid", "alg", "use")})
        assert public.public_numbers() == trusted[kid].public_key.public_numbers()


def test_offer_uri_qr_and_tx_code(issuance: Issuance) -> None:
    made = issuance.offer()
    answer = made.answer
    assert made.uri.startswith("openid-credential-offer://?credential_offer=")
    offer = made.offer
    assert offer["credential_issuer"] == issuance.base
    assert offer["credential_configuration_ids"] == [CONFIGURATION]
    grant = offer["grants"][PRE_AUTHORIZED_GRANT]
    assert len(grant["pre-authorized_code"]) >= 43
    assert grant["tx_code"]["input_mode"] == "numeric" and grant["tx_code"]["length"] == 6
    assert made.tx_code.isdigit() and len(made.tx_code) == 6
    assert made.tx_code not in made.uri
    # no ID number, not even masked, and no holder name in what the other app scans
    assert ZHANG not in made.uri and ZHANG[-4:] not in made.uri and "张" not in made.uri
    assert ZHANG not in json.dumps(answer)
    png = base64.b64decode(answer["qr_png"].removeprefix("data:image/png;base64,"))
    assert qr_texts(png) == [made.uri]
    # only digests are stored
    with issuance.world.database.reading() as session:
        row = session.scalars(select(CredentialOffer)).one()
        assert made.code not in (row.code_digest, row.tx_code_digest)
        assert row.licence_id == made.licence_id and row.tries == 0 and row.redeemed_at is None


def test_another_citizen_cannot_offer_my_licence(issuance: Issuance) -> None:
    from tests.wallet_api.conftest import LI

    answer = issuance.client.post(
        f"/wallet/licences/{issuance.licence_id}/credential-offer",
        headers=issuance.world.auth(LI),
    )
    assert answer.status_code == 404
    assert (
        issuance.client.post(f"/wallet/licences/{issuance.licence_id}/credential-offer").status_code
        == 401
    )


def test_the_whole_flow_gives_an_sd_jwt_vc_of_the_licence_bound_to_the_wallet_key(
    issuance: Issuance,
) -> None:
    issued, key = issuance.sd_jwt_vc()
    world = issuance.world
    licence = world.licence_row(issuance.licence_id)
    cose = read_credential(licence.credential).claims
    sd_jwt = read_sd_jwt(issued)
    header = sd_jwt.issuer_jwt.header
    assert header["typ"] == "dc+sd-jwt" and header["kid"] == licence.kid
    payload = sd_jwt.issuer_jwt.payload
    base = issuance.base
    assert payload["iss"] == base
    assert payload["vct"] == f"{base}/vct/TRANSPORT/DL"
    assert payload["iat"] == cose.issued_at and payload["exp"] == cose.expires_at
    assert payload["status"] == {
        "status_list": {
            "idx": licence.status_index,
            "uri": f"{base}/status-lists/{licence.status_list_id}",
        }
    }
    assert payload["cnf"]["jwk"] == {
        k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")
    }
    assert payload["licence_type"] == "DL" and payload["licence_number"] == licence.number
    assert payload["issuing_department"] == "TRANSPORT"
    for hidden in ("holder_name", "masked_id_number", "categories"):
        assert hidden not in payload
    claims, disclosed = sd_jwt.claims()
    assert disclosed == {"holder_name", "masked_id_number", "categories"}
    assert claims["holder_name"] == "张秀英"
    assert claims["masked_id_number"] == cose.licence.masked_id != ZHANG
    assert claims["categories"] == ["C1"]
    assert claims["fields"] == {"licence_class": "B", "first_issued": "2020-05-01"}
    assert ZHANG not in issued
    # signed by the department key the trust list names
    with world.database.reading() as session:
        root = jwk_to_public_key(root_public_key(session=session)["jwk"])
        trust = read_trust_list(trust_list_token(session=session, runtime=world.issuer).token, root)
    (department,) = trust.departments
    (trusted,) = [k for k in department.keys if kid_text(k.kid) == header["kid"]]
    sd_jwt.verify_issuer(trusted.public_key)
    # state: the offer redeemed, the token spent, one audit entry each
    with world.database.reading() as session:
        assert session.scalars(select(CredentialOffer)).one().redeemed_at is not None
        assert session.scalars(select(IssuanceToken)).one().used_at is not None
        acts = session.scalars(
            select(AuditEntry.act).where(AuditEntry.object_id == licence.id)
        ).all()
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.act == "licence.sd_jwt_vc_issue")
        ).one()
    assert "licence.credential_offer" in acts and "licence.sd_jwt_vc_issue" in acts
    assert entry.detail is not None and entry.detail["status_index"] == licence.status_index
    assert ZHANG not in json.dumps(entry.detail)


def test_an_eddsa_wallet_key_is_bound_too(issuance: Issuance) -> None:
    issued, key = issuance.sd_jwt_vc(OKPKey.generate_key("Ed25519"))
    cnf = read_sd_jwt(issued).issuer_jwt.payload["cnf"]["jwk"]
    assert cnf["kty"] == "OKP" and cnf["x"] == key.as_dict(private=False)["x"]


def test_revoking_the_licence_revokes_the_sd_jwt_vc_through_the_same_status_entry(
    issuance: Issuance,
) -> None:
    issued, _ = issuance.sd_jwt_vc()
    reference = read_sd_jwt(issued).issuer_jwt.payload["status"]["status_list"]
    path = reference["uri"].removeprefix(issuance.base)

    def status() -> int:
        token = issuance.client.get(path).text
        payload = read_jws(token, typ="statuslist+jwt").payload
        return _status(payload["status_list"], reference["idx"])

    assert status() == 0
    issuance.world.revoke("TRANSPORT", issuance.licence_id, "court_order")
    assert status() == 1
    # and a revoked licence gets no new offer
    answer = issuance.client.post(
        f"/wallet/licences/{issuance.licence_id}/credential-offer",
        headers=issuance.world.auth(ZHANG),
    )
    assert answer.status_code == 409 and answer.json()["error"] == "revoked"


def _status(lst: dict[str, Any], index: int) -> int:
    """The entry at ``index``, decoded here with zlib (not ``credential``'s status list code):
    ``bits`` per entry, least significant first (draft-ietf-oauth-status-list section 4.1)."""
    raw = zlib.decompress(base64.urlsafe_b64decode(lst["lst"] + "=" * (-len(lst["lst"]) % 4)))
    bits = lst["bits"]
    byte = raw[index * bits // 8]
    return (byte >> ((index * bits) % 8)) & ((1 << bits) - 1)


def test_licence_rows_are_untouched_by_issuance(issuance: Issuance) -> None:
    before = issuance.world.licence_row(issuance.licence_id)
    issuance.sd_jwt_vc()
    with issuance.world.database.reading() as session:
        after = session.get(Licence, issuance.licence_id)
        assert after is not None
        assert (after.credential, after.status_index) == (before.credential, before.status_index)


def test_single_use_state_on_each_database(issuance_on_each_database: Issuance) -> None:
    """The whole flow, then each single-use value used again: on SQLite and on PostgreSQL."""
    issuance = issuance_on_each_database
    key = ECKey.generate_key("P-256")
    offer = issuance.offer()
    token = issuance.access_token(offer)
    nonce = issuance.nonce()
    body = issuance.request_body(offer, key, nonce)
    assert issuance.credential_answer(token, body).status_code == 200
    assert issuance.token_answer(offer).json()["error"] == "invalid_grant"
    assert issuance.credential_answer(token, body).json()["error"] == "invalid_token"
    second = issuance.offer()
    replay = issuance.request_body(second, key, nonce)
    answer = issuance.credential_answer(issuance.access_token(second), replay)
    assert answer.json()["error"] == "invalid_nonce"


def test_display_names_split_a_bilingual_type_name(issuance: Issuance) -> None:
    from issuer.departments.schemas import LicenceTypeCreate

    issuance.world.department(
        "MARKET",
        "市场监督管理局",
        [
            LicenceTypeCreate(code="DL2", name="机动车驾驶证 Driving licence", validity_days=10),
            LicenceTypeCreate(code="BL", name="营业执照", validity_days=10),
        ],
        alg="EdDSA",
    )
    document = issuance.client.get("/.well-known/openid-credential-issuer").json()
    configurations = document["credential_configurations_supported"]

    def names(configuration_id: str) -> dict[str, str]:
        display = configurations[configuration_id]["credential_metadata"]["display"]
        return {d["locale"]: d["name"] for d in display}

    assert names("MARKET.DL2") == {"zh-CN": "机动车驾驶证", "en": "Driving licence"}
    assert names("MARKET.BL") == {"zh-CN": "营业执照", "en": "Licence BL (MARKET)"}
    assert "categories" not in {
        c["path"][0] for c in configurations["MARKET.BL"]["credential_metadata"]["claims"]
    }
    assert configurations["MARKET.BL"]["credential_signing_alg_values_supported"] == ["EdDSA"]


def test_a_department_on_eddsa_or_sm2_signs_with_its_own_key(issuance: Issuance) -> None:
    """The SD-JWT VC is signed with the department's key whatever its algorithm; the metadata
    and ``jwt-vc-issuer`` say which."""
    from issuer.departments.schemas import LicenceTypeCreate

    world = issuance.world
    for code, alg in (("CIVIL", "EdDSA"), ("NATIONAL", "SM2")):
        world.department(
            code, code, [LicenceTypeCreate(code="MC", name="结婚证", validity_days=9)], alg=alg
        )
        licence_id = world.issue(code, licence_type="MC", id_number=ZHANG, holder_name="张秀英")
        offer = issuance.offer(licence_id)
        token = issuance.access_token(offer)
        answer = issuance.credential_answer(
            token, issuance.request_body(offer, ECKey.generate_key("P-256"))
        )
        assert answer.status_code == 200, answer.text
        header = read_sd_jwt(answer.json()["credentials"][0]["credential"]).issuer_jwt.header
        assert header["alg"] == alg
        keys = issuance.client.get("/.well-known/jwt-vc-issuer").json()["jwks"]["keys"]
        assert [k["alg"] for k in keys if k["kid"] == header["kid"]] == [alg]
        document = issuance.client.get("/.well-known/openid-credential-issuer").json()
        configuration = document["credential_configurations_supported"][f"{code}.MC"]
        assert configuration["credential_signing_alg_values_supported"] == [alg]
