"""The licence as an SD-JWT VC (RFC 9901, draft-ietf-oauth-sd-jwt-vc): the specification's own
vectors, issue -> present -> verify, the negative cases a verifier must refuse, and interop with
the Python reference implementation (PyPI ``sd-jwt``) in both directions."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import replace
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from credential import (
    KB_JWT_TYP,
    SD_JWT_VC_TYP,
    LicenceClaims,
    LicenceIdentity,
    PublicKey,
    StatusReference,
    disclosed_licence,
    errors,
    jwk_to_public_key,
    kid_text,
    present_sd_jwt,
    public_key_to_jwk,
    read_jws,
    read_sd_jwt,
    sd_jwt_vc_of_licence,
    sign_jws,
    status_list_id,
    status_list_url,
    verify_sd_jwt_vc,
)
from credential._sd_jwt import make_disclosure
from tests.credential._support import NOW, TestSigner, driving_licence, shared_vectors_dir

BASE = "https://licences.example.gov.cn"
AUDIENCE = "https://bank.example.cn/verifier"
NONCE = "n-0S6_WzA2Mj"
FIELDS: dict[str, str | int] = {"archive_number": "110100123456", "points": 12}


# --- the specification's vectors ------------------------------------------------------------------
@cache
def spec() -> dict[str, Any]:
    path = shared_vectors_dir() / "sd-jwt-spec-vectors.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _typ_of(jwt: str) -> str:
    return str(json.loads(_b64(jwt.split(".")[0]))["typ"])


def test_the_vectors_are_there() -> None:
    assert len(spec()["disclosure_vectors"]) >= 80
    assert len(spec()["compact_blobs"]) >= 9


@pytest.mark.parametrize("index", range(87))
def test_spec_disclosure_digest(index: int) -> None:
    vector = spec()["disclosure_vectors"][index]
    encoded = vector["disclosure"]
    expected = base64.urlsafe_b64encode(hashlib.sha256(encoded.encode()).digest()).rstrip(b"=")
    assert vector["sha256"] == expected.decode()
    issuer_jwt = spec()["section5"]["issuer_signed_jwt"]
    sd_jwt = read_sd_jwt(f"{issuer_jwt}~{encoded}~", typ="example+sd-jwt")
    disclosure = sd_jwt.disclosures[0]
    assert disclosure.digest == vector["sha256"]
    assert json.loads(_b64(encoded)) == (
        [disclosure.salt, disclosure.value]
        if disclosure.name is None
        else [disclosure.salt, disclosure.name, disclosure.value]
    )


@pytest.mark.parametrize("index", range(9))
def test_spec_compact_blob(index: int) -> None:
    blob = spec()["compact_blobs"][index]
    issuer_key = jwk_to_public_key(spec()["issuer_jwk"])
    text = blob["text"]
    assert blob["issuer_sig_valid"]
    if "~" not in text:  # the issuer-signed JWT alone
        read_jws(text, typ=_typ_of(text)).verify(issuer_key)
        return
    sd_jwt = read_sd_jwt(text, typ=_typ_of(text))
    sd_jwt.verify_issuer(issuer_key)
    claims, disclosed = sd_jwt.claims()  # every disclosure referenced exactly once
    assert "_sd" not in json.dumps(claims) and "_sd_alg" not in claims
    assert len(disclosed) <= len(sd_jwt.disclosures)
    if sd_jwt.key_binding_jwt is not None:
        kb = read_jws(sd_jwt.key_binding_jwt, typ=KB_JWT_TYP)
        binding = sd_jwt.verify_key_binding(
            sd_jwt.holder_key(),
            audience=spec()["section5"]["kb_aud"],
            nonce=spec()["section5"]["kb_nonce"],
            now=kb.payload["iat"],
            max_age=60,
            future_skew=0,
        )
        assert binding.nonce == spec()["section5"]["kb_nonce"]
    with pytest.raises(errors.BadSignature):
        signature = text.split("~")[0].split(".")[2]
        forged = replace(sd_jwt.issuer_jwt, signature=_b64(signature)[::-1])
        forged.verify(issuer_key)


def test_spec_presentation_gives_the_processed_payload() -> None:
    section = spec()["section5"]
    sd_jwt = read_sd_jwt(section["presentation_sd_jwt_kb"], typ="example+sd-jwt")
    sd_jwt.verify_issuer(jwk_to_public_key(spec()["issuer_jwk"]))
    claims, _ = sd_jwt.claims()
    assert claims == section["processed_payload"]


def test_spec_sd_jwt_vc_presentation_verifies_as_an_sd_jwt_vc() -> None:
    """Appendix A.3 is an SD-JWT VC (``dc+sd-jwt``) with a KB-JWT: the whole verifier takes it
    (it carries no status claim, which the licence profile requires)."""
    blob = next(
        b["text"]
        for b in spec()["compact_blobs"]
        if b["section"].startswith("A.3") and not b["text"].endswith("~")
    )
    issuer_key = jwk_to_public_key(spec()["issuer_jwk"])
    kb_iat = read_jws(blob.rsplit("~", 1)[1], typ=KB_JWT_TYP).payload["iat"]
    verified = verify_sd_jwt_vc(
        blob,
        resolve_key=lambda iss, kid: issuer_key,
        audience=spec()["section5"]["kb_aud"],
        nonce=spec()["section5"]["kb_nonce"],
        now=kb_iat + 5,
        require_status=False,
    )
    assert verified.vct == "urn:eudi:pid:de:1"
    assert verified.claims["nationalities"] == ["DE"]
    assert verified.claims["age_equal_or_over"] == {"18": True}
    assert verified.status is None
    with pytest.raises(errors.MalformedSdJwt, match="status"):
        verify_sd_jwt_vc(
            blob,
            resolve_key=lambda iss, kid: issuer_key,
            audience=spec()["section5"]["kb_aud"],
            nonce=spec()["section5"]["kb_nonce"],
            now=kb_iat + 5,
        )


def test_presenting_the_spec_sd_jwt_vc_chooses_nested_claims_only_with_their_parent() -> None:
    """Appendix A.3's issuance has recursive disclosures (``age_equal_or_over`` holds
    ``18``, ...) and array elements (``nationalities``)."""
    issuance = next(
        b["text"]
        for b in spec()["compact_blobs"]
        if b["section"].startswith("A.3") and b["text"].endswith("~")
    )
    wallet = TestSigner.generate()

    def shown(*disclose: Any) -> dict[str, Any]:
        presentation = present_sd_jwt(
            issuance, wallet, disclose=disclose, audience=AUDIENCE, nonce=NONCE, presented_at=NOW
        )
        claims, _ = read_sd_jwt(presentation).claims()
        return {k: v for k, v in claims.items() if k not in ("iss", "iat", "exp", "vct", "cnf")}

    assert shown() == {}
    assert shown(("age_equal_or_over", "18")) == {}  # not without its parent
    assert shown("age_equal_or_over") == {"age_equal_or_over": {}}
    assert shown("age_equal_or_over", ("age_equal_or_over", "18")) == {
        "age_equal_or_over": {"18": True}
    }
    assert shown("nationalities") == {"nationalities": ["DE"]}


# --- issue -> present -> verify ---------------------------------------------------------------
@pytest.fixture(scope="module", params=["ES256", "EdDSA"])
def issuer(request: pytest.FixtureRequest) -> TestSigner:
    return TestSigner.from_seed(request.param, 0x5EED_0001)


@pytest.fixture(scope="module", params=["ES256", "EdDSA"])
def holder(request: pytest.FixtureRequest) -> TestSigner:
    return TestSigner.from_seed(request.param, 0x5EED_0002)


def licence_claims(holder_key: PublicKey, **overrides: Any) -> Any:
    licence = LicenceClaims(
        type_code="DL",
        number="110000-JTJ-DL-4F2A9C01B7",
        holder_name="张秀英",
        masked_id="110105********002X",
        categories=("C1", "D"),
        fields=dict(FIELDS),
    )
    return driving_licence(
        holder_key, licence=licence, status=StatusReference("12", 131_071), **overrides
    )


def resolver(*signers: TestSigner) -> Any:
    keys = {kid_text(s.kid): s.public_key for s in signers}

    def resolve_key(iss: str, kid: str | None) -> PublicKey:
        if iss != BASE or kid not in keys:
            raise errors.UnknownKey(f"no key {kid!r} for {iss!r}")
        return keys[kid]

    return resolve_key


def verify(presentation: str, issuer: TestSigner, **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "resolve_key": resolver(issuer),
        "audience": AUDIENCE,
        "nonce": NONCE,
        "now": NOW + 30,
    }
    options.update(overrides)
    return verify_sd_jwt_vc(presentation, **options)


def present(sd_jwt: str, holder: TestSigner, disclose: Any = (), **overrides: Any) -> str:
    options: dict[str, Any] = {"audience": AUDIENCE, "nonce": NONCE, "presented_at": NOW + 20}
    options.update(overrides)
    return present_sd_jwt(sd_jwt, holder, disclose=disclose, **options)


@pytest.fixture(scope="module")
def issued(issuer: TestSigner, holder: TestSigner) -> str:
    return sd_jwt_vc_of_licence(licence_claims(holder.public_key), issuer, public_base_url=BASE)


def test_issued_sd_jwt_vc_has_the_profile_claims(
    issued: str, issuer: TestSigner, holder: TestSigner
) -> None:
    assert issued.endswith("~")
    jwt = issued.split("~")[0]
    header = json.loads(_b64(jwt.split(".")[0]))
    assert header == {"alg": issuer.alg, "kid": kid_text(issuer.kid), "typ": "dc+sd-jwt"}
    payload = json.loads(_b64(jwt.split(".")[1]))
    assert payload["iss"] == BASE
    assert payload["vct"] == f"{BASE}/vct/110000-JTJ/DL"
    assert payload["cnf"] == {"jwk": public_key_to_jwk(holder.public_key)}
    assert payload["status"] == {"status_list": {"idx": 131_071, "uri": f"{BASE}/status-lists/12"}}
    assert payload["_sd_alg"] == "sha-256"
    assert "nbf" not in payload  # equal to iat, omitted as in the COSE credential
    # licence identity in clear; the person and the licence's contents only as digests
    assert payload["licence_type"] == "DL"
    assert payload["issuing_department"] == "110000-JTJ"
    assert payload["licence_number"] == "110000-JTJ-DL-4F2A9C01B7"
    assert (payload["iat"], payload["exp"]) == (NOW, NOW + 6 * 365 * 24 * 3600)
    assert "张秀英" not in json.dumps(payload, ensure_ascii=False)
    assert len(payload["_sd"]) == 3 and payload["_sd"] == sorted(payload["_sd"])
    assert len(payload["fields"]["_sd"]) == len(FIELDS)
    sd_jwt = read_sd_jwt(issued)
    names = {d.name for d in sd_jwt.disclosures}
    assert names == {"holder_name", "masked_id_number", "categories", *FIELDS}
    salts = [base64.urlsafe_b64decode(d.salt + "==") for d in sd_jwt.disclosures]
    assert all(len(salt) == 16 for salt in salts) and len(set(salts)) == len(salts)


def test_nbf_and_decoys(issuer: TestSigner, holder: TestSigner) -> None:
    claims = licence_claims(holder.public_key, not_before=NOW + 100)
    issued = sd_jwt_vc_of_licence(claims, issuer, public_base_url=BASE + "/", decoys=4)
    payload = read_sd_jwt(issued).issuer_jwt.payload
    assert payload["nbf"] == NOW + 100 and payload["iss"] == BASE
    assert len(payload["_sd"]) == 3 + 4
    presentation = present(issued, holder, ["holder_name"], presented_at=NOW + 120)
    verified = verify(presentation, issuer, now=NOW + 130)
    assert verified.not_before == NOW + 100 and verified.claims["holder_name"] == "张秀英"
    with pytest.raises(errors.NotYetValid):
        verify(present(issued, holder), issuer, now=NOW + 30)  # nbf beyond the 60 s skew


def test_round_trip_discloses_only_what_the_holder_chose(
    issued: str, issuer: TestSigner, holder: TestSigner
) -> None:
    presentation = present(issued, holder, ["holder_name", ("fields", "points")])
    assert presentation.count("~") == 3  # issuer JWT, two disclosures, KB-JWT
    verified = verify(presentation, issuer)
    assert verified.claims["holder_name"] == "张秀英"
    assert verified.claims["fields"] == {"points": 12}
    assert "masked_id_number" not in verified.claims and "categories" not in verified.claims
    assert verified.claims["licence_type"] == "DL"
    assert verified.disclosed == {"holder_name"}
    assert verified.status == StatusReference(f"{BASE}/status-lists/12", 131_071)
    assert (verified.issuer, verified.vct) == (BASE, f"{BASE}/vct/110000-JTJ/DL")
    assert verified.kid == kid_text(issuer.kid)
    assert verified.key_binding.presented_at == NOW + 20
    assert public_key_to_jwk(verified.holder_key) == public_key_to_jwk(holder.public_key)


def test_round_trip_everything_and_nothing(
    issued: str, issuer: TestSigner, holder: TestSigner
) -> None:
    everything = ["holder_name", "masked_id_number", "categories"]
    everything += [("fields", name) for name in FIELDS]
    claims = verify(present(issued, holder, everything), issuer).claims
    assert claims["masked_id_number"] == "110105********002X"
    assert claims["categories"] == ["C1", "D"]
    assert claims["fields"] == FIELDS
    nothing = verify(present(issued, holder), issuer).claims
    assert nothing["fields"] == {} and "holder_name" not in nothing


# --- what a verifier refuses --------------------------------------------------------------------
def _parts(presentation: str) -> tuple[str, list[str], str]:
    jwt, *disclosures, kb = presentation.split("~")
    return jwt, disclosures, kb


def _rebind(jwt: str, disclosures: list[str], holder: TestSigner, **kb: Any) -> str:
    """A presentation of these parts with a KB-JWT the holder signs over exactly them."""
    presented = "~".join([jwt, *disclosures, ""])
    sd_hash = base64.urlsafe_b64encode(hashlib.sha256(presented.encode()).digest()).rstrip(b"=")
    typ = kb.pop("typ", KB_JWT_TYP)
    payload = {"iat": NOW + 20, "aud": AUDIENCE, "nonce": NONCE, "sd_hash": sd_hash.decode()}
    payload.update(kb)
    payload = {name: value for name, value in payload.items() if value is not None}
    return presented + sign_jws(payload, holder, typ=typ)


def _resign(issuer: TestSigner, payload: dict[str, Any], typ: str = SD_JWT_VC_TYP) -> str:
    return sign_jws(payload, issuer, typ=typ)


def test_tampered_disclosure(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    jwt, disclosures, _ = _parts(present(issued, holder, ["holder_name"]))
    salt, name, _value = json.loads(_b64(disclosures[0]))
    forged = base64.urlsafe_b64encode(json.dumps([salt, name, "李四"]).encode()).rstrip(b"=")
    with pytest.raises(errors.DisclosureMismatch, match="not referenced"):
        verify(_rebind(jwt, [forged.decode()], holder), issuer)


def test_disclosure_for_another_credential(
    issued: str, issuer: TestSigner, holder: TestSigner
) -> None:
    other = sd_jwt_vc_of_licence(licence_claims(holder.public_key), issuer, public_base_url=BASE)
    _, theirs, _ = _parts(present(other, holder, ["masked_id_number"]))
    jwt, mine, _ = _parts(present(issued, holder, ["holder_name"]))
    with pytest.raises(errors.DisclosureMismatch):
        verify(_rebind(jwt, mine + theirs, holder), issuer)


def test_duplicate_disclosure(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    jwt, disclosures, _ = _parts(present(issued, holder, ["holder_name"]))
    with pytest.raises(errors.DisclosureMismatch, match="twice"):
        verify(_rebind(jwt, disclosures * 2, holder), issuer)


def test_digest_referenced_twice(issuer: TestSigner, holder: TestSigner) -> None:
    name = make_disclosure("holder_name", "张秀英")
    payload = read_sd_jwt(
        sd_jwt_vc_of_licence(licence_claims(holder.public_key), issuer, public_base_url=BASE)
    ).issuer_jwt.payload
    payload["_sd"] = [name.digest]
    payload["fields"] = {"_sd": [name.digest]}
    with pytest.raises(errors.DisclosureMismatch, match="more than once"):
        verify(_rebind(_resign(issuer, payload), [name.encoded], holder), issuer)


def test_disclosed_name_clashing_with_a_claim(issuer: TestSigner, holder: TestSigner) -> None:
    clash = make_disclosure("licence_type", "XX")
    payload = read_sd_jwt(
        sd_jwt_vc_of_licence(licence_claims(holder.public_key), issuer, public_base_url=BASE)
    ).issuer_jwt.payload
    payload["_sd"] = [clash.digest]
    with pytest.raises(errors.DisclosureMismatch, match="already"):
        verify(_rebind(_resign(issuer, payload), [clash.encoded], holder), issuer)


def test_status_may_not_be_hidden(issuer: TestSigner, holder: TestSigner) -> None:
    payload = read_sd_jwt(
        sd_jwt_vc_of_licence(licence_claims(holder.public_key), issuer, public_base_url=BASE)
    ).issuer_jwt.payload
    hidden = make_disclosure("status", payload.pop("status"))
    payload["_sd"] = [hidden.digest]
    with pytest.raises(errors.MalformedSdJwt, match="status may not be selectively"):
        verify(_rebind(_resign(issuer, payload), [hidden.encoded], holder), issuer)


def test_dropped_kb_jwt(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    jwt, disclosures, _ = _parts(present(issued, holder, ["holder_name"]))
    with pytest.raises(errors.MissingKeyBinding):
        verify("~".join([jwt, *disclosures, ""]), issuer)
    assert issubclass(errors.MissingKeyBinding, errors.PresentationRequired)


def test_kb_jwt_for_another_nonce(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    with pytest.raises(errors.ChallengeMismatch) as caught:
        verify(present(issued, holder, nonce="an-older-nonce"), issuer)
    assert caught.value.code == "challenge_mismatch"


def test_kb_jwt_for_another_audience(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    with pytest.raises(errors.WrongAudience):
        verify(present(issued, holder, audience="https://other.example"), issuer)


def test_stale_and_future_kb_jwt(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    with pytest.raises(errors.StalePresentation):
        verify(present(issued, holder, presented_at=NOW - 61), issuer)
    with pytest.raises(errors.PresentationFromFuture):
        verify(present(issued, holder, presented_at=NOW + 41), issuer)
    verify(present(issued, holder, presented_at=NOW - 60), issuer)  # exactly 90 s old: accepted


def test_kb_jwt_signed_by_another_key(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    thief = TestSigner.generate(holder.alg)
    with pytest.raises(errors.HolderSignatureInvalid):
        verify(present(issued, thief, ["holder_name"]), issuer)


def test_kb_jwt_over_other_disclosures(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    jwt, disclosures, kb = _parts(present(issued, holder, ["holder_name", "categories"]))
    with pytest.raises(errors.SdHashMismatch):
        verify("~".join([jwt, disclosures[0], kb]), issuer)


def test_wrong_typ(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    payload = read_sd_jwt(issued).issuer_jwt.payload
    jwt = _resign(issuer, payload, typ="vc+sd-jwt")
    with pytest.raises(errors.MalformedSdJwt, match="typ must be dc\\+sd-jwt"):
        verify(_rebind(jwt, [], holder), issuer)
    jwt = issued.split("~")[0]
    with pytest.raises(errors.MalformedSdJwt, match="typ must be kb\\+jwt"):
        verify(_rebind(jwt, [], holder, typ="JWT"), issuer)


def test_unknown_issuer_key(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    stranger = TestSigner.generate(issuer.alg)
    foreign = sd_jwt_vc_of_licence(
        licence_claims(holder.public_key), stranger, public_base_url=BASE
    )
    with pytest.raises(errors.UnknownKey):
        verify(present(foreign, holder), issuer)
    # the same kid in the header, another key's signature
    payload = read_sd_jwt(foreign).issuer_jwt.payload
    header = {"alg": issuer.alg, "kid": kid_text(issuer.kid), "typ": SD_JWT_VC_TYP}
    h = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    p = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(stranger.sign(f"{h}.{p}".encode())).rstrip(b"=")
    with pytest.raises(errors.BadSignature):
        verify(_rebind(f"{h}.{p}.{signature.decode()}", [], holder), issuer)


def test_resolver_answering_none_is_unknown_key(
    issued: str, issuer: TestSigner, holder: TestSigner
) -> None:
    with pytest.raises(errors.UnknownKey):
        verify(present(issued, holder), issuer, resolve_key=lambda iss, kid: None)


def test_expired(issuer: TestSigner, holder: TestSigner) -> None:
    issued = sd_jwt_vc_of_licence(
        licence_claims(holder.public_key, expires_at=NOW - 61), issuer, public_base_url=BASE
    )
    with pytest.raises(errors.Expired):
        verify(present(issued, holder), issuer)


def test_issued_in_the_future(issuer: TestSigner, holder: TestSigner) -> None:
    issued = sd_jwt_vc_of_licence(
        licence_claims(holder.public_key, issued_at=NOW + 91, not_before=NOW + 91),
        issuer,
        public_base_url=BASE,
    )
    with pytest.raises(errors.NotYetValid, match="issued in the future"):
        verify(present(issued, holder), issuer)


def test_algorithm_is_the_keys(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    jwt = issued.split("~")[0]
    header = json.loads(_b64(jwt.split(".")[0]))
    header["alg"] = "EdDSA" if issuer.alg == "ES256" else "ES256"
    h = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    forged = h + jwt[jwt.index(".") :]
    with pytest.raises(errors.UnsupportedAlgorithm):
        verify(_rebind(forged, [], holder), issuer)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no tildes at all",
        "a.b.c~",
        "~~",
        "x" * (256 * 1024 + 1),
    ],
)
def test_malformed_presentations(text: str, issuer: TestSigner) -> None:
    with pytest.raises(errors.MalformedSdJwt):
        verify(text, issuer)


@pytest.mark.parametrize(
    "disclosure",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"{}").decode().rstrip("="),
        base64.urlsafe_b64encode(b'["salt"]').decode().rstrip("="),
        base64.urlsafe_b64encode(b'["salt", "_sd", 1]').decode().rstrip("="),
        base64.urlsafe_b64encode(b'[1, "name", 1]').decode().rstrip("="),
        base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("="),
    ],
)
def test_malformed_disclosures(
    disclosure: str, issued: str, issuer: TestSigner, holder: TestSigner
) -> None:
    jwt = issued.split("~")[0]
    with pytest.raises(errors.MalformedSdJwt):
        verify(_rebind(jwt, [disclosure], holder), issuer)


# --- interop with the reference implementation (PyPI sd-jwt) -----------------------------------
@pytest.fixture(scope="module")
def es256_holder() -> tuple[TestSigner, JWK]:
    private = ec.derive_private_key(0x5EED_0003, ec.SECP256R1())
    return TestSigner(private), JWK.from_pyca(private)


@pytest.fixture(scope="module")
def es256_issuer() -> tuple[TestSigner, JWK]:
    private = ec.derive_private_key(0x5EED_0004, ec.SECP256R1())
    return TestSigner(private), JWK.from_pyca(private)


def test_ours_verify_with_the_reference_library(
    es256_issuer: tuple[TestSigner, JWK], es256_holder: tuple[TestSigner, JWK]
) -> None:
    issuer, issuer_jwk = es256_issuer
    holder, _ = es256_holder
    issued = sd_jwt_vc_of_licence(
        licence_claims(holder.public_key), issuer, public_base_url=BASE, decoys=2
    )
    presentation = present(issued, holder, ["holder_name", "categories", ("fields", "points")])
    seen: list[tuple[str, dict[str, Any]]] = []

    def issuer_key(iss: str, header: dict[str, Any]) -> JWK:
        seen.append((iss, header))
        return issuer_jwk

    reference = SDJWTVerifier(presentation, issuer_key, expected_aud=AUDIENCE, expected_nonce=NONCE)
    claims = reference.get_verified_payload()
    assert seen[0][0] == BASE and seen[0][1]["typ"] == "dc+sd-jwt"
    assert claims == verify(presentation, issuer).claims
    assert claims["holder_name"] == "张秀英" and claims["fields"] == {"points": 12}
    # and it too refuses a presentation for another nonce
    with pytest.raises(ValueError, match="nonce"):
        SDJWTVerifier(presentation, issuer_key, expected_aud=AUDIENCE, expected_nonce="other")


def test_reference_holder_presents_ours(
    es256_issuer: tuple[TestSigner, JWK], es256_holder: tuple[TestSigner, JWK]
) -> None:
    issuer, _ = es256_issuer
    holder, holder_jwk = es256_holder
    issued = sd_jwt_vc_of_licence(licence_claims(holder.public_key), issuer, public_base_url=BASE)
    wallet = SDJWTHolder(issued)
    wallet.create_presentation(
        {"masked_id_number": True, "fields": {"archive_number": True}},
        nonce=NONCE,
        aud=AUDIENCE,
        holder_key=holder_jwk,
        sign_alg="ES256",
    )
    now = int(time.time())  # the reference library signs its KB-JWT at the real time
    verified = verify(wallet.sd_jwt_presentation, issuer, now=now)
    assert verified.claims["masked_id_number"] == "110105********002X"
    assert verified.claims["fields"] == {"archive_number": "110100123456"}
    assert "holder_name" not in verified.claims
    with pytest.raises(errors.ChallengeMismatch):
        verify(wallet.sd_jwt_presentation, issuer, now=now, nonce="other")


def test_reference_issuer_and_holder_verify_with_ours(
    es256_issuer: tuple[TestSigner, JWK], es256_holder: tuple[TestSigner, JWK]
) -> None:
    issuer, issuer_jwk = es256_issuer
    holder, holder_jwk = es256_holder
    claims = {
        "iss": BASE,
        "iat": NOW,
        "exp": NOW + 3600 * 24 * 365 * 10,
        "vct": f"{BASE}/vct/110000-JTJ/DL",
        "status": {"status_list": {"idx": 7, "uri": f"{BASE}/status-lists/12"}},
        "licence_type": "DL",
        SDObj("holder_name"): "张秀英",
        "fields": {SDObj("points"): 12, SDObj("archive_number"): "110100123456"},
    }
    reference_issuer = SDJWTIssuer(
        claims,
        issuer_jwk,
        holder_key=holder_jwk,
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": kid_text(issuer.kid)},
    )
    wallet = SDJWTHolder(reference_issuer.sd_jwt_issuance)
    wallet.create_presentation(
        {"holder_name": True, "fields": {"points": True}},
        nonce=NONCE,
        aud=AUDIENCE,
        holder_key=holder_jwk,
        sign_alg="ES256",
    )
    verified = verify(wallet.sd_jwt_presentation, issuer, now=int(time.time()))
    assert verified.claims["holder_name"] == "张秀英"
    assert verified.claims["fields"] == {"points": 12}
    assert verified.status == StatusReference(f"{BASE}/status-lists/12", 7)
    # a disclosure from another issuance of the same claims is refused by ours
    other = SDJWTIssuer(
        claims, issuer_jwk, holder_key=holder_jwk, extra_header_parameters={"typ": "dc+sd-jwt"}
    )
    jwt, disclosures, _ = _parts(wallet.sd_jwt_presentation)
    stranger = other.sd_jwt_issuance.split("~")[1]
    with pytest.raises(errors.DisclosureMismatch):
        verify(_rebind(jwt, [*disclosures, stranger], holder), issuer)


# --- the verifier's building blocks ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"{BASE}/status-lists/12", "12"),
        (f"{BASE}/status-lists/list_A-7", "list_A-7"),
        (f"{BASE}/status-lists/", None),
        (f"{BASE}/status-lists/12/", None),
        (f"{BASE}/status-lists/12?idx=1", None),
        (f"{BASE}/status-lists/12#x", None),
        (f"{BASE}/status-lists/../trust-list", None),
        (f"{BASE}/status-lists/{'1' * 65}", None),
        (f"{BASE}.evil.example/status-lists/12", None),
        (f"{BASE}:8443/status-lists/12", None),
        ("https://evil.example/status-lists/12", None),
        (f"{BASE.replace('https', 'http')}/status-lists/12", None),
        ("12", None),
    ],
)
def test_status_list_id_is_the_inverse_of_status_list_url(uri: str, expected: str | None) -> None:
    assert status_list_id(uri, BASE) == expected
    assert status_list_id(uri, BASE + "/") == expected
    if expected is not None:
        assert status_list_url(BASE, expected) == uri


def test_disclosed_licence_checks_the_types(
    issued: str, issuer: TestSigner, holder: TestSigner
) -> None:
    sd_jwt = read_sd_jwt(present(issued, holder, ["holder_name", ("fields", "points")]))
    identity = sd_jwt.licence_identity()
    assert identity == LicenceIdentity("110000-JTJ", "DL", "110000-JTJ-DL-4F2A9C01B7")
    claims, _ = sd_jwt.vc_claims()
    licence = disclosed_licence(identity, claims)
    assert (licence.holder_name, licence.masked_id) == ("张秀英", None)
    assert licence.categories == () and licence.fields == {"points": 12}
    for name, value in [
        ("holder_name", 1),
        ("masked_id_number", ["x"]),
        ("categories", "C1"),
        ("categories", [1]),
        ("categories", ["C1", None]),
        ("fields", {"points": 1.5}),
        ("fields", {"points": True}),
        ("fields", {"points": 12, "colour": ["red"]}),
        ("fields", []),
    ]:
        with pytest.raises(errors.MalformedSdJwt, match=name.split("_")[0]):
            disclosed_licence(identity, {**claims, name: value})


def test_licence_identity_is_required_in_the_clear(issuer: TestSigner, holder: TestSigner) -> None:
    payload = read_sd_jwt(
        sd_jwt_vc_of_licence(licence_claims(holder.public_key), issuer, public_base_url=BASE)
    ).issuer_jwt.payload
    hidden = make_disclosure("licence_number", payload.pop("licence_number"))
    payload["_sd"] = [hidden.digest]
    sd_jwt = read_sd_jwt(_rebind(_resign(issuer, payload), [hidden.encoded], holder))
    with pytest.raises(errors.MalformedSdJwt, match="licence_number"):
        sd_jwt.licence_identity()


def test_wrong_typ_has_its_own_code(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    jwt = _resign(issuer, read_sd_jwt(issued).issuer_jwt.payload, typ="JWT")
    with pytest.raises(errors.WrongJwtType) as caught:
        read_sd_jwt(_rebind(jwt, [], holder))
    assert caught.value.code == "wrong_typ"
    kb_as_issuer_jwt = present(issued, holder).rsplit("~", 1)[1]  # a KB-JWT is no SD-JWT
    with pytest.raises(errors.WrongJwtType):
        read_sd_jwt(kb_as_issuer_jwt + "~")
    with pytest.raises(errors.WrongJwtType):
        read_sd_jwt(_rebind(issued.split("~")[0], [], holder, typ=SD_JWT_VC_TYP)).key_binding()


@pytest.mark.parametrize("missing", ["aud", "nonce", "iat", "sd_hash"])
def test_kb_jwt_claims_are_required(
    missing: str, issued: str, issuer: TestSigner, holder: TestSigner
) -> None:
    text = _rebind(issued.split("~")[0], [], holder, **{missing: None})
    with pytest.raises(errors.MalformedSdJwt, match="KB-JWT needs"):
        read_sd_jwt(text).key_binding()


def test_key_binding_checked_in_steps(issued: str, issuer: TestSigner, holder: TestSigner) -> None:
    sd_jwt = read_sd_jwt(present(issued, holder, ["holder_name"]))
    kb = sd_jwt.key_binding()
    assert (kb.audience, kb.nonce, kb.presented_at) == (AUDIENCE, NONCE, NOW + 20)
    kb.verify(holder.public_key, sd_jwt.presented)
    with pytest.raises(errors.SdHashMismatch):
        kb.verify(holder.public_key, sd_jwt.presented.replace("~", "~~", 1))
    with pytest.raises(errors.HolderSignatureInvalid):
        kb.verify(TestSigner.generate(holder.alg).public_key, sd_jwt.presented)
