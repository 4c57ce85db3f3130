"""SD-JWT VC presentations through the verifier (``verify_payload``): the same checks and result as
a QR presentation, plus the disclosures; the issuer key from the trust list, the status from the
same Token Status List by the list id of the full URI; every way a presentation is refused, each
with its check and code; presentations made by the reference implementation (PyPI ``sd-jwt``)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer

from credential import (
    KB_JWT_TYP,
    SD_JWT_VC_TYP,
    STATUS_REVOKED,
    STATUS_SUSPENDED,
    StatusReference,
    kid_text,
    present_sd_jwt,
    read_sd_jwt,
    sd_jwt_vc_of_licence,
    sign_jws,
)
from keys import LocalSigner, generate_signing_key
from tests.verifier._world import DAY, NOW, STATUS_URI, World, signer
from verifier import Policy, VerificationResult, verify_payload

BASE = "https://licences.example.gov.cn"
AUDIENCE = "https://bank.example.cn/verifier"
NONCE = "counter-nonce-7f3a"
SD_JWT_ORDER = [
    "decode",
    "credential",
    "trusted_key",
    "issuer_signature",
    "disclosures",
    "validity",
    "status",
    "holder_proof",
    "presentation_time",
    "challenge",
]


@pytest.fixture(scope="module")
def world() -> World:
    # ES256 keys whose private halves the reference library can use too
    world = World(active=LocalSigner(generate_signing_key("ES256")))
    world.statuses[STATUS_URI].set(8, STATUS_REVOKED)
    world.statuses[STATUS_URI].set(9, STATUS_SUSPENDED)
    return world


def issue(world: World, *, key: LocalSigner | None = None, base: str = BASE, **claims: Any) -> str:
    return sd_jwt_vc_of_licence(
        world.claims(**claims), key or world.active, public_base_url=base, decoys=2
    )


def present(
    issued: str,
    holder: LocalSigner,
    disclose: Any = ("holder_name", ("fields", "vehicle")),
    **options: Any,
) -> str:
    kb: dict[str, Any] = {"audience": AUDIENCE, "nonce": NONCE, "presented_at": NOW - 5}
    kb.update(options)
    return present_sd_jwt(issued, holder, disclose=disclose, **kb)


def verify(
    world: World,
    text: str,
    *,
    nonce: str | None = NONCE,
    audience: str | None = AUDIENCE,
    credential_issuer: str | None = BASE,
    now: int = NOW,
    policy: Policy | None = None,
) -> VerificationResult:
    trust, status = world.sources()
    return verify_payload(
        text,
        trust=trust,
        status=status,
        now=lambda: now,
        policy=policy or Policy(),
        challenge=nonce,
        audience=audience,
        credential_issuer=credential_issuer,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(issued: str) -> dict[str, Any]:
    return dict(read_sd_jwt(issued).issuer_jwt.payload)


def _resigned(world: World, issued: str, change: Callable[[dict[str, Any]], None]) -> str:
    """``issued`` with its issuer JWT's payload changed and signed again by the department."""
    _, *disclosures = issued.split("~")
    payload = _payload(issued)
    change(payload)
    return "~".join([sign_jws(payload, world.active, typ=SD_JWT_VC_TYP), *disclosures])


def _rebind(world: World, jwt: str, disclosures: list[str], **kb: Any) -> str:
    """A presentation of these parts with a KB-JWT the holder signs over exactly them."""
    presented = "~".join([jwt, *disclosures, ""])
    sd_hash = _b64(hashlib.sha256(presented.encode()).digest())
    typ = kb.pop("typ", KB_JWT_TYP)
    payload = {"iat": NOW - 5, "aud": AUDIENCE, "nonce": NONCE, "sd_hash": sd_hash, **kb}
    return presented + sign_jws(payload, world.holder, typ=typ)


# --- accepted -----------------------------------------------------------------------------------
def test_valid_presentation_shows_what_the_holder_disclosed(world: World) -> None:
    result = verify(world, present(issue(world), world.holder))
    assert result.valid and result.outcome == "valid", result.detail
    assert [c.name for c in result.checks] == SD_JWT_ORDER
    assert all(c.passed and c.code == "ok" for c in result.checks)
    assert result.kind == "presentation" and result.credential_id is None
    assert (result.presented_at, result.status_age, result.checked_at) == (NOW - 5, 600, NOW)
    licence = result.licence
    assert licence is not None
    assert licence.holder_name == "王小明"
    assert licence.masked_id is None  # not disclosed
    assert licence.categories == () and licence.fields == {"vehicle": "car"}
    assert (licence.type_code, licence.type_name) == ("DL", "Driving licence")
    assert (licence.department_code, licence.department_name) == ("transport", "Transport Bureau")
    assert licence.number == "DL-2026-000123" and licence.identifier is None
    assert (licence.issued_at, licence.not_before) == (NOW - 30 * DAY, NOW - 30 * DAY)
    assert licence.expires_at == NOW + 365 * DAY
    data = result.to_json()
    assert data["licence"]["masked_id"] is None and data["licence"]["categories"] == []


def test_everything_and_nothing_disclosed(world: World) -> None:
    everything = ["holder_name", "masked_id_number", "categories", ("fields", "vehicle")]
    shown = verify(world, present(issue(world), world.holder, everything)).licence
    assert shown is not None and shown.masked_id == "110105********002X"
    assert shown.categories == ("C1",)
    nothing = verify(world, present(issue(world), world.holder, ())).licence
    assert nothing is not None and nothing.holder_name is None and nothing.fields == {}
    assert nothing.number == "DL-2026-000123"  # the licence's identity is always in the clear


def test_nonce_and_audience_are_checked_only_when_given(world: World) -> None:
    text = present(issue(world), world.holder)
    unchallenged = verify(world, text, nonce=None, audience=None)
    assert unchallenged.valid and [c.name for c in unchallenged.checks] == SD_JWT_ORDER[:-1]
    assert verify(world, text, nonce=None).valid
    assert verify(world, text, audience=None).valid


def test_an_eddsa_department_key_and_a_separate_nbf(world: World) -> None:
    issued = issue(world, key=world.eddsa, not_before=NOW - DAY)
    result = verify(world, present(issued, world.holder))
    assert result.valid, result.detail
    assert result.licence is not None and result.licence.not_before == NOW - DAY


def test_a_base_url_with_a_trailing_slash_is_the_same_issuer(world: World) -> None:
    assert verify(world, present(issue(world), world.holder), credential_issuer=BASE + "/").valid


# --- refused: each with its check and code -------------------------------------------------------
def _tampered_disclosure(world: World) -> str:
    jwt, disclosures, _ = _split(present(issue(world), world.holder, ["holder_name"]))
    salt, name, _value = json.loads(base64.urlsafe_b64decode(disclosures[0] + "=="))
    forged = _b64(json.dumps([salt, name, "李四"], ensure_ascii=False).encode())
    return _rebind(world, jwt, [forged])


def _split(presentation: str) -> tuple[str, list[str], str]:
    jwt, *disclosures, kb = presentation.split("~")
    return jwt, disclosures, kb


def _dropped_kb_jwt(world: World) -> str:
    jwt, disclosures, _ = _split(present(issue(world), world.holder))
    return "~".join([jwt, *disclosures, ""])


def _other_disclosures(world: World) -> str:
    jwt, disclosures, kb = _split(present(issue(world), world.holder))
    return "~".join([jwt, disclosures[0], kb])  # one dropped after the holder signed


def _wrong_issuer_typ(world: World) -> str:
    issued = issue(world)
    jwt = sign_jws(_payload(issued), world.active, typ="vc+sd-jwt")
    return _rebind(world, jwt, [])


def _forged_signature(world: World) -> str:
    """The active key's kid in the header, another key's signature."""
    payload = _payload(issue(world))
    forger = signer()
    header = {"alg": "ES256", "kid": kid_text(world.active.kid), "typ": SD_JWT_VC_TYP}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    jwt = f"{signing_input}.{_b64(forger.sign(signing_input.encode()))}"
    return _rebind(world, jwt, [])


def _status(uri: str) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        payload["status"]["status_list"]["uri"] = uri

    return change


CASES: list[tuple[str, Callable[[World], str], str, str]] = [
    ("garbage", lambda w: "not~an~sd-jwt", "decode", "malformed_sd_jwt"),
    ("wrong typ", _wrong_issuer_typ, "decode", "wrong_typ"),
    (
        "no status claim",
        lambda w: _rebind(w, _resigned(w, issue(w), lambda p: p.pop("status"))[:-1], []),
        "credential",
        "malformed_sd_jwt",
    ),
    (
        "no licence number",
        lambda w: _rebind(w, _resigned(w, issue(w), lambda p: p.pop("licence_number"))[:-1], []),
        "credential",
        "malformed_sd_jwt",
    ),
    (
        "another credential issuer",
        lambda w: present(issue(w, base="https://licences.example.com"), w.holder),
        "trusted_key",
        "unknown_issuer",
    ),
    (
        "unknown key",
        lambda w: present(issue(w, key=signer()), w.holder),
        "trusted_key",
        "unknown_kid",
    ),
    (
        "compromised key",
        lambda w: present(issue(w, key=w.compromised), w.holder),
        "trusted_key",
        "key_compromised",
    ),
    (
        "key not allowed for the type",
        lambda w: present(issue(w, key=w.permits_only), w.holder),
        "trusted_key",
        "key_not_allowed",
    ),
    (
        "another department's key",
        lambda w: present(issue(w, key=w.market_key), w.holder),
        "trusted_key",
        "key_not_allowed",
    ),
    ("forged signature", _forged_signature, "issuer_signature", "bad_signature"),
    ("tampered disclosure", _tampered_disclosure, "disclosures", "disclosure_mismatch"),
    (
        "expired",
        lambda w: present(issue(w, expires_at=NOW - 61), w.holder),
        "validity",
        "expired",
    ),
    (
        "not yet valid",
        lambda w: present(issue(w, not_before=NOW + 61), w.holder),
        "validity",
        "not_yet_valid",
    ),
    (
        "revoked",
        lambda w: present(issue(w, status=StatusReference(STATUS_URI, 8)), w.holder),
        "status",
        "revoked",
    ),
    (
        "suspended",
        lambda w: present(issue(w, status=StatusReference(STATUS_URI, 9)), w.holder),
        "status",
        "suspended",
    ),
    (
        "status list of a foreign origin",
        lambda w: present(
            _resigned(w, issue(w), _status("https://evil.example/status-lists/12")), w.holder
        ),
        "status",
        "unknown_status_list",
    ),
    (
        "status list on a look-alike host",
        lambda w: present(
            _resigned(w, issue(w), _status(f"{BASE}.evil.example/status-lists/12")), w.holder
        ),
        "status",
        "unknown_status_list",
    ),
    (
        "status list of another department",
        lambda w: present(_resigned(w, issue(w), _status(f"{BASE}/status-lists/40")), w.holder),
        "status",
        "unknown_status_list",
    ),
    (
        "status list the trust list does not name",
        lambda w: present(_resigned(w, issue(w), _status(f"{BASE}/status-lists/99")), w.holder),
        "status",
        "unknown_status_list",
    ),
    (
        "status list URI with a query",
        lambda w: present(_resigned(w, issue(w), _status(f"{BASE}/status-lists/12?x")), w.holder),
        "status",
        "unknown_status_list",
    ),
    (
        "status index outside the list",
        lambda w: present(issue(w, status=StatusReference(STATUS_URI, 10**6)), w.holder),
        "status",
        "status_unavailable",
    ),
    ("dropped KB-JWT", _dropped_kb_jwt, "holder_proof", "missing_key_binding"),
    (
        "KB-JWT signed by another key",
        lambda w: present(issue(w), signer()),
        "holder_proof",
        "holder_signature",
    ),
    (
        "KB-JWT with the wrong typ",
        lambda w: _rebind(w, issue(w).split("~")[0], [], typ="JWT"),
        "holder_proof",
        "wrong_typ",
    ),
    (
        "KB-JWT without a nonce",
        lambda w: _rebind(w, issue(w).split("~")[0], [], nonce=None),
        "holder_proof",
        "malformed_sd_jwt",
    ),
    ("KB-JWT over other disclosures", _other_disclosures, "holder_proof", "sd_hash_mismatch"),
    (
        "stale KB-JWT",
        lambda w: present(issue(w), w.holder, presented_at=NOW - 91),
        "presentation_time",
        "stale_presentation",
    ),
    (
        "KB-JWT from the future",
        lambda w: present(issue(w), w.holder, presented_at=NOW + 11),
        "presentation_time",
        "presentation_from_future",
    ),
    (
        "KB-JWT for another nonce",
        lambda w: present(issue(w), w.holder, nonce="an-older-nonce"),
        "challenge",
        "challenge_mismatch",
    ),
    (
        "KB-JWT for another verifier",
        lambda w: present(issue(w), w.holder, audience="https://other.example"),
        "challenge",
        "wrong_audience",
    ),
]


@pytest.mark.parametrize(("name", "make", "failed", "code"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_its_check_and_code(
    world: World, name: str, make: Callable[[World], str], failed: str, code: str
) -> None:
    result = verify(world, make(world))
    assert (result.valid, result.outcome) == (False, code), (name, result.detail)
    assert [c.name for c in result.checks] == SD_JWT_ORDER[: SD_JWT_ORDER.index(failed) + 1]
    assert all(c.passed and c.code == "ok" for c in result.checks[:-1])
    assert (result.checks[-1].passed, result.checks[-1].code) == (False, code)
    # the licence is shown once the issuer signature and the disclosures verified, never before
    shown = SD_JWT_ORDER.index(failed) > SD_JWT_ORDER.index("disclosures")
    assert (result.licence is not None) is shown, name


def test_a_status_uri_answers_the_same_every_time(world: World) -> None:
    """The verifier remembers each status URI's list id (per credential issuer): a URI seen
    before, refused or accepted, gets the answer it got the first time, in any order."""
    valid = present(issue(world), world.holder)
    foreign = [
        present(_resigned(world, issue(world), _status(uri)), world.holder)
        for uri in (
            "https://evil.example/status-lists/12",
            f"{BASE}.evil.example/status-lists/12",
            f"{BASE}/status-lists/12?x",
        )
    ]
    for _ in range(2):
        for text in [valid, *foreign, valid]:
            result = verify(world, text)
            expected = (True, "valid") if text is valid else (False, "unknown_status_list")
            assert (result.valid, result.outcome) == expected


def test_no_credential_issuer_or_no_trust_list_trusts_nothing(world: World) -> None:
    text = present(issue(world), world.holder)
    result = verify(world, text, credential_issuer=None)
    assert (result.outcome, result.checks[-1].name) == ("unknown_issuer", "trusted_key")
    result = verify_payload(
        text,
        trust=World().trust(),  # another platform's trust list: the department key is not in it
        status=world.sources()[1],
        now=lambda: NOW,
        policy=Policy(),
        credential_issuer=BASE,
    )
    assert result.outcome == "unknown_kid"


def test_stale_status_and_a_longer_presentation_age(world: World) -> None:
    later = NOW + 2 * DAY
    text = present(issue(world), world.holder, presented_at=later)
    assert verify(world, text, now=later).outcome == "status_stale"
    stale_kb = present(issue(world), world.holder, presented_at=NOW - 120)
    assert verify(world, stale_kb).outcome == "stale_presentation"
    patient = Policy(max_presentation_age=300)
    assert verify(world, stale_kb, policy=patient).valid


def test_qr_payloads_are_unaffected(world: World) -> None:
    result = verify(world, world.presentation_qr(challenge=NONCE))
    assert result.valid and "disclosures" not in [c.name for c in result.checks]
    assert result.credential_id is not None


# --- presentations made by the reference implementation (PyPI sd-jwt) ----------------------------
@pytest.fixture(scope="module")
def reference_keys() -> tuple[LocalSigner, JWK, LocalSigner, JWK]:
    department, holder = generate_signing_key("ES256"), generate_signing_key("ES256")
    return (
        LocalSigner(department),
        JWK.from_pyca(department),
        LocalSigner(holder),
        JWK.from_pyca(holder),
    )


def test_the_reference_holder_presents_our_issuance(
    reference_keys: tuple[LocalSigner, JWK, LocalSigner, JWK],
) -> None:
    department, _, holder, holder_jwk = reference_keys
    # the reference library signs its KB-JWT at the real time: a world of the real time
    real = int(time.time())
    world = World(active=department, holder=holder, status_issued_at=real - 600)
    wallet = SDJWTHolder(issue(world, issued_at=real - DAY, not_before=real - DAY))
    wallet.create_presentation(
        {"masked_id_number": True, "fields": {"vehicle": True}},
        nonce=NONCE,
        aud=AUDIENCE,
        holder_key=holder_jwk,
        sign_alg="ES256",
    )
    presented_at = read_sd_jwt(wallet.sd_jwt_presentation).key_binding().presented_at
    result = verify(world, wallet.sd_jwt_presentation, now=presented_at + 1)
    assert result.valid, result.detail
    assert result.licence is not None and result.licence.masked_id == "110105********002X"
    assert result.licence.holder_name is None and result.licence.fields == {"vehicle": "car"}
    assert verify(world, wallet.sd_jwt_presentation, now=presented_at + 1, nonce="x").outcome == (
        "challenge_mismatch"
    )


def test_a_reference_issuance_and_presentation_with_the_licence_claims(
    reference_keys: tuple[LocalSigner, JWK, LocalSigner, JWK],
) -> None:
    department, department_jwk, holder, holder_jwk = reference_keys
    real = int(time.time())  # the reference library signs its KB-JWT at the real time
    world = World(active=department, holder=holder, status_issued_at=real - 600)
    world.statuses[STATUS_URI].set(11, STATUS_REVOKED)
    claims: dict[Any, Any] = {
        "iss": BASE,
        "iat": real - DAY,
        "exp": real + 365 * DAY,
        "vct": f"{BASE}/vct/transport/DL",
        "status": {"status_list": {"idx": 10, "uri": f"{BASE}/status-lists/{STATUS_URI}"}},
        "licence_type": "DL",
        "licence_number": "DL-2026-000777",
        "issuing_department": "transport",
        SDObj("holder_name"): "王小明",
        "fields": {SDObj("vehicle"): "car"},
    }

    def reference_presentation(claims: dict[Any, Any]) -> str:
        issuer = SDJWTIssuer(
            claims,
            department_jwk,
            holder_key=holder_jwk,
            add_decoy_claims=True,
            extra_header_parameters={"typ": SD_JWT_VC_TYP, "kid": kid_text(department.kid)},
        )
        wallet = SDJWTHolder(issuer.sd_jwt_issuance)
        wallet.create_presentation(
            {"holder_name": True},
            nonce=NONCE,
            aud=AUDIENCE,
            holder_key=holder_jwk,
            sign_alg="ES256",
        )
        return str(wallet.sd_jwt_presentation)

    text = reference_presentation(claims)
    at = read_sd_jwt(text).key_binding().presented_at + 1
    result = verify(world, text, now=at)
    assert result.valid, result.detail
    assert result.licence is not None and result.licence.holder_name == "王小明"
    assert result.licence.number == "DL-2026-000777" and result.licence.fields == {}
    claims["status"] = {"status_list": {"idx": 11, "uri": f"{BASE}/status-lists/{STATUS_URI}"}}
    revoked = reference_presentation(claims)
    assert verify(world, revoked, now=at).outcome == "revoked"


def test_result_json_of_a_refusal_keeps_the_shape(world: World) -> None:
    result = verify(world, _tampered_disclosure(world))
    data = result.to_json()
    assert set(data) == {
        "valid",
        "outcome",
        "detail",
        "checks",
        "kind",
        "licence",
        "credential_id",
        "status_age",
        "presented_at",
        "checked_at",
    }
    assert data["licence"] is None and data["checks"][-1]["name"] == "disclosures"
    assert replace(result, checks=()).outcome == "disclosure_mismatch"


def test_any_damage_is_a_result_never_an_exception(world: World) -> None:
    """Every single-character change, cut and splice of a valid presentation gives a refusal with
    a code of the error hierarchy (``verify_payload`` never raises)."""
    import random

    from credential import errors

    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type)} - {"error"}
    text = present(issue(world), world.holder, ["holder_name", "categories"])
    rng = random.Random(16)
    damaged = {text[:cut] for cut in range(0, len(text), 37)}
    damaged |= {text.replace("~", "~~", 1), text + "~", "~" + text, text.replace(".", "~", 1)}
    alphabet = 'A_-.~=+/{}"\\é\x00'
    for _ in range(300):
        at = rng.randrange(len(text))
        damaged.add(text[:at] + rng.choice(alphabet) + text[at + 1 :])
    for payload in damaged - {text}:
        result = verify(world, payload)
        assert not result.valid and result.outcome in codes, (payload, result.outcome)
