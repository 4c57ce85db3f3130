"""verify_payload: every check, each outcome code made by a real credential failing that way."""

from __future__ import annotations

import zlib
from dataclasses import replace

import base45
import cbor2
import pytest

from credential import (
    STATUS_REVOKED,
    STATUS_SUSPENDED,
    encode_static_qr,
    sign_holder_proof,
)
from tests.verifier._world import (
    DAY,
    MARKET,
    NOW,
    STATUS_URI,
    World,
    signer,
)
from verifier import FixedTrust, Policy, StatusSnapshot, verify_payload


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def _names(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.name for c in result.checks]


# --- valid -----------------------------------------------------------------------------------
def test_fresh_presentation_is_valid_and_shows_the_licence(world: World) -> None:
    result = world.verify(world.presentation_qr(presented_at=NOW - 20))
    assert result.valid and result.outcome == "valid"
    assert result.kind == "presentation"
    assert result.presented_at == NOW - 20
    assert result.status_age == 600
    assert all(c.passed and c.code == "ok" for c in result.checks)
    assert _names(result) == ORDER[: ORDER.index("challenge")]  # no challenge was given
    lic = result.licence
    assert lic is not None
    assert (lic.holder_name, lic.masked_id, lic.number) == (
        "王小明",
        "110105********002X",
        "DL-2026-000123",
    )
    assert (lic.type_code, lic.type_name) == ("DL", "Driving licence")
    assert (lic.department_code, lic.department_name) == ("transport", "Transport Bureau")
    assert lic.categories == ("C1",) and lic.fields == {"vehicle": "car"}
    assert lic.expires_at == NOW + 365 * DAY
    as_json = result.to_json()
    assert as_json["licence"]["categories"] == ["C1"]
    assert as_json["checks"][0] == {"name": "decode", "passed": True, "code": "ok"}


def test_static_copy_is_valid_and_flagged(world: World) -> None:
    result = world.verify(world.static_qr())
    assert result.valid and result.kind == "static"
    assert result.checks[-1].name == "presentation"
    assert result.checks[-1].code == "static_copy"
    assert "static copy" in result.detail


def test_static_copy_refused_when_policy_requires_presentation(world: World) -> None:
    result = world.verify(world.static_qr(), policy=Policy(require_presentation=True))
    assert not result.valid and result.outcome == "presentation_required"
    assert result.checks[-1].passed is False


def test_eddsa_signed_credential_is_valid(world: World) -> None:
    assert world.verify(world.presentation_qr(world.credential(signer=world.eddsa))).valid


def test_retired_key_still_verifies_what_it_signed_while_valid(world: World) -> None:
    cred = world.credential(signer=world.retired, issued_at=NOW - 500 * DAY)
    result = world.verify(world.presentation_qr(cred))
    assert result.valid, result.outcome


def test_challenge_that_matches_is_checked(world: World) -> None:
    result = world.verify(world.presentation_qr(challenge="counter-7f3a"), challenge="counter-7f3a")
    assert result.valid and _names(result)[-1] == "challenge"


# --- decode ----------------------------------------------------------------------------------
def _packed(data: bytes, prefix: str = "EL1:") -> str:
    return prefix + base45.b45encode(zlib.compress(data)).decode()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC", "bad_prefix"),
        ("", "bad_prefix"),
        ("EL1:abc", "bad_base45"),
        ("EL1:", "bad_base45"),
        ("EL1:GGW", "bad_base45"),  # value above 65535
        ("EL1:" + base45.b45encode(b"not zlib at all").decode(), "bad_compression"),
        (_packed(b"\0" * 40_000), "compression_bomb"),
        ("EL1:" + "A" * 5000, "payload_too_large"),
        (_packed(b"\xff\xfe"), "bad_cbor"),
        (_packed(cbor2.dumps({"a": 1}), "EP1:"), "bad_cbor"),
        (_packed(cbor2.dumps({"a": 1})), "malformed_credential"),
    ],
)
def test_undecodable_payloads_fail_with_their_code(world: World, payload: str, code: str) -> None:
    result = world.verify(payload)
    assert not result.valid and result.outcome == code
    assert result.checks[-1].passed is False and result.checks[-1].code == code
    assert result.licence is None


def test_truncated_zlib_stream(world: World) -> None:
    compressed = zlib.compress(world.credential())
    payload = "EL1:" + base45.b45encode(compressed[:-6]).decode()
    assert world.verify(payload).outcome == "bad_compression"


def test_unsupported_algorithm(world: World) -> None:
    original = cbor2.loads(world.credential())
    protected = cbor2.dumps({1: -35, 4: world.active.kid})  # ES384
    forged = cbor2.CBORTag(18, [protected, {}, original.value[2], original.value[3]])
    result = world.verify(encode_static_qr(cbor2.dumps(forged)))
    assert result.outcome == "unsupported_alg"
    assert _names(result) == ["decode", "credential"]


@pytest.mark.parametrize(
    ("proof", "code"),
    [(b"\x01\x02", "bad_cbor"), (cbor2.dumps([1, 2, 3]), "malformed_credential")],
)
def test_malformed_holder_proof(world: World, proof: bytes, code: str) -> None:
    payload = _packed(cbor2.dumps([world.credential(), proof]), "EP1:")
    result = world.verify(payload)
    assert result.outcome == code and result.checks[-1].name == "credential"


# --- trust ------------------------------------------------------------------------------------
def test_unknown_kid(world: World) -> None:
    result = world.verify(world.static_qr(signer=signer()))
    assert result.outcome == "unknown_kid"
    assert result.checks[-1].name == "trusted_key"
    assert result.licence is None  # claims of an untrusted signer are never shown


def test_no_trust_list_at_all(world: World) -> None:
    _, status = world.sources()
    result = verify_payload(
        world.static_qr(), trust=FixedTrust(None), status=status, now=lambda: NOW, policy=Policy()
    )
    assert result.outcome == "unknown_kid"


def test_compromised_key_verifies_nothing(world: World) -> None:
    cred = world.credential(signer=world.compromised, issued_at=NOW - 100 * DAY)
    assert world.verify(world.presentation_qr(cred)).outcome == "key_compromised"


def test_retired_key_after_its_window(world: World) -> None:
    cred = world.credential(signer=world.retired, issued_at=NOW - 10 * DAY)
    assert world.verify(encode_static_qr(cred)).outcome == "key_not_valid"


def test_key_not_yet_valid_at_issuance(world: World) -> None:
    cred = world.credential(issued_at=NOW - 400 * DAY, not_before=NOW - 400 * DAY)
    assert world.verify(encode_static_qr(cred)).outcome == "key_not_valid"


def test_key_not_allowed_for_this_licence_type(world: World) -> None:
    result = world.verify(world.static_qr(signer=world.permits_only))
    assert result.outcome == "key_not_allowed"


def test_key_of_another_department(world: World) -> None:
    assert world.verify(world.static_qr(signer=world.market_key)).outcome == "key_not_allowed"


def test_bad_issuer_signature_after_claims_changed(world: World) -> None:
    parts = list(cbor2.loads(world.credential()).value)
    claims = cbor2.loads(parts[2])
    claims["lic"][2] = "DL-2026-999999"  # a changed licence number, signature kept
    parts[2] = cbor2.dumps(claims, canonical=True)
    result = world.verify(encode_static_qr(cbor2.dumps(cbor2.CBORTag(18, parts))))
    assert result.outcome == "bad_signature"
    assert result.checks[-1].name == "issuer_signature"
    assert result.licence is None


def test_bad_issuer_signature_with_flipped_signature_bit(world: World) -> None:
    parts = list(cbor2.loads(world.credential()).value)
    sig = bytearray(parts[3])
    sig[10] ^= 0x01
    parts[3] = bytes(sig)
    tampered = cbor2.dumps(cbor2.CBORTag(18, parts))
    assert world.verify(encode_static_qr(tampered)).outcome == "bad_signature"


# --- validity ---------------------------------------------------------------------------------
def test_expired(world: World) -> None:
    result = world.verify(world.static_qr(expires_at=NOW - 61))
    assert result.outcome == "expired"
    assert result.licence is not None  # the counter sees whose licence expired


def test_expiry_within_clock_skew_is_accepted(world: World) -> None:
    assert world.verify(world.static_qr(expires_at=NOW - 59)).valid


def test_not_yet_valid(world: World) -> None:
    assert world.verify(world.static_qr(not_before=NOW + 61)).outcome == "not_yet_valid"
    assert world.verify(world.static_qr(not_before=NOW + 59)).valid


def test_issued_in_the_future(world: World) -> None:
    cred = world.credential(issued_at=NOW + 3600, not_before=NOW + 3600)
    result = world.verify(encode_static_qr(cred))
    assert result.outcome == "not_yet_valid"
    assert result.checks[-1].name == "validity"


# --- status -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "code"), [(STATUS_REVOKED, "revoked"), (STATUS_SUSPENDED, "suspended")]
)
def test_revoked_and_suspended(value: int, code: str) -> None:
    world = World()
    world.statuses[STATUS_URI].set(7, value)
    result = world.verify(world.presentation_qr())
    assert result.outcome == code
    assert result.checks[-1].name == "status"
    assert result.licence is not None and result.status_age == 600
    # another index in the same list stays valid
    assert world.verify(
        world.presentation_qr(world.credential(status=replace(world.claims().status, index=8)))
    ).valid


def test_status_stale(world: World) -> None:
    old = world.status_token(issued_at=NOW - 2 * DAY, expires_at=NOW + DAY)
    result = world.verify(world.presentation_qr(), s12=old)
    assert result.outcome == "status_stale" and result.status_age == 2 * DAY
    assert world.verify(
        world.presentation_qr(), s12=old, policy=Policy(max_status_age=3 * DAY)
    ).valid


def test_status_list_past_its_expiry_is_stale(world: World) -> None:
    expired = world.status_token(issued_at=NOW - 3600, expires_at=NOW - 120)
    assert world.verify(world.presentation_qr(), s12=expired).outcome == "status_stale"


def test_status_list_not_named_for_the_issuer(world: World) -> None:
    cred = world.credential(status=replace(world.claims().status, uri="40"))
    assert world.verify(encode_static_qr(cred)).outcome == "status_unavailable"


def test_status_list_missing_from_cache(world: World) -> None:
    trust, _ = world.sources()
    result = verify_payload(
        world.static_qr(),
        trust=trust,
        status=type("Empty", (), {"status_list": lambda self, uri: None})(),
        now=lambda: NOW,
        policy=Policy(),
    )
    assert result.outcome == "status_unavailable"


def test_status_list_signed_by_another_department_is_not_used(world: World) -> None:
    forged = world.status_token(signer=world.market_key)
    assert world.verify(world.static_qr(), s12=forged).outcome == "status_unavailable"


def test_status_list_signed_by_unknown_key_is_not_used(world: World) -> None:
    forged = world.status_token(signer=signer())
    assert world.verify(world.static_qr(), s12=forged).outcome == "status_unavailable"


def test_status_snapshot_from_a_key_now_compromised_is_not_used(world: World) -> None:
    trust = world.trust()
    snapshot = StatusSnapshot(
        uri=STATUS_URI,
        department="transport",
        kid=world.compromised.kid,
        issued_at=NOW - 60,
        expires_at=None,
        ttl=None,
        status_list=world.statuses[STATUS_URI],
    )
    result = verify_payload(
        world.static_qr(),
        trust=trust,
        status=type("One", (), {"status_list": lambda self, uri: snapshot})(),
        now=lambda: NOW,
        policy=Policy(),
    )
    assert result.outcome == "status_unavailable"


def test_status_index_outside_the_list(world: World) -> None:
    cred = world.credential(status=replace(world.claims().status, index=10_000_000))
    assert world.verify(encode_static_qr(cred)).outcome == "status_unavailable"


def test_market_credential_uses_market_status(world: World) -> None:
    cred = world.credential(
        signer=world.market_key,
        issuer=MARKET,
        type_code="BL",
        status=replace(world.claims().status, uri="40"),
    )
    result = world.verify(encode_static_qr(cred))
    assert result.valid, result.outcome
    assert result.licence is not None and result.licence.type_name == "Business licence"


# --- presentation ---------------------------------------------------------------------------
def test_holder_signature_by_another_key(world: World) -> None:
    result = world.verify(world.presentation_qr(holder=signer()))
    assert result.outcome == "holder_signature"
    assert result.checks[-1].name == "holder_proof"


def test_holder_proof_for_another_credential(world: World) -> None:
    other = world.credential(number="DL-2026-000999")
    proof = sign_holder_proof(other, world.holder, presented_at=NOW)
    cbor = cbor2.dumps([world.credential(), proof])
    assert world.verify(_packed(cbor, "EP1:")).outcome == "holder_signature"


def test_stale_presentation(world: World) -> None:
    assert world.verify(world.presentation_qr(presented_at=NOW - 91)).outcome == (
        "stale_presentation"
    )
    assert world.verify(world.presentation_qr(presented_at=NOW - 90)).valid


def test_presentation_from_the_future(world: World) -> None:
    result = world.verify(world.presentation_qr(presented_at=NOW + 11))
    assert result.outcome == "presentation_from_future"
    assert world.verify(world.presentation_qr(presented_at=NOW + 10)).valid


def test_challenge_mismatch(world: World) -> None:
    wrong = world.presentation_qr(challenge="other-counter")
    assert world.verify(wrong, challenge="counter-7f3a").outcome == "challenge_mismatch"
    missing = world.presentation_qr()
    assert world.verify(missing, challenge="counter-7f3a").outcome == "challenge_mismatch"


# --- the checks list of a failure: every check before it passed, in order -----------------------
ORDER = [
    "decode",
    "credential",
    "trusted_key",
    "issuer_signature",
    "validity",
    "status",
    "holder_proof",
    "presentation_time",
    "challenge",
]


@pytest.mark.parametrize(
    ("make", "failed", "code"),
    [
        (lambda w: "EL1:abc", "decode", "bad_base45"),
        (lambda w: _packed(cbor2.dumps({"a": 1})), "credential", "malformed_credential"),
        (lambda w: w.static_qr(signer=signer()), "trusted_key", "unknown_kid"),
        (lambda w: w.static_qr(expires_at=NOW - 61), "validity", "expired"),
        (
            lambda w: encode_static_qr(
                w.credential(status=replace(w.claims().status, index=10_000_000))
            ),
            "status",
            "status_unavailable",
        ),
        (lambda w: w.presentation_qr(holder=signer()), "holder_proof", "holder_signature"),
        (
            lambda w: w.presentation_qr(presented_at=NOW - 91),
            "presentation_time",
            "stale_presentation",
        ),
        (lambda w: w.presentation_qr(challenge="other"), "challenge", "challenge_mismatch"),
    ],
)
def test_a_failure_lists_the_checks_before_it_as_passed(
    world: World,
    make,
    failed: str,
    code: str,  # type: ignore[no-untyped-def]
) -> None:
    result = world.verify(make(world), challenge="counter-7f3a" if failed == "challenge" else None)
    assert result.outcome == code and not result.valid
    assert _names(result) == ORDER[: ORDER.index(failed) + 1]
    assert all(c.passed and c.code == "ok" for c in result.checks[:-1])
    assert (result.checks[-1].passed, result.checks[-1].code) == (False, code)


def test_checks_of_a_static_copy_refused_and_accepted(world: World) -> None:
    refused = world.verify(world.static_qr(), policy=Policy(require_presentation=True))
    accepted = world.verify(world.static_qr())
    assert _names(refused) == _names(accepted) == [*ORDER[:6], "presentation"]
    assert [c.code for c in refused.checks] == ["ok"] * 6 + ["presentation_required"]
    assert [c.code for c in accepted.checks] == ["ok"] * 6 + ["static_copy"]
    assert accepted.detail == "static copy: not presented by its holder"
    challenged = world.verify(world.presentation_qr(challenge="c-1"), challenge="c-1")
    assert _names(challenged) == ORDER and challenged.detail == "valid"
