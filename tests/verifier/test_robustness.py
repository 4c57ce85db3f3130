"""Property test: random and mutated payloads are valid only when untouched, and every rejection
carries a defined outcome code; nothing ever raises."""

from __future__ import annotations

import zlib
from functools import cache
from typing import Any

import base45
import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credential import (
    STATIC_PREFIX,
    DecodedPayload,
    decode_qr,
    encode_presentation_qr,
    encode_static_qr,
    errors,
)
from tests.verifier._world import NOW, World
from verifier import Policy, VerificationResult, verify_payload

DEFINED = {getattr(errors, name).code for name in errors.__all__} | {"valid"}
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@cache
def _world() -> tuple[World, Any, Any, str]:
    world = World()
    trust, status = world.sources()
    return world, trust, status, world.presentation_qr(presented_at=NOW - 3)


def _verify(text: str) -> VerificationResult:
    _, trust, status, _ = _world()
    return verify_payload(text, trust=trust, status=status, now=lambda: NOW, policy=Policy())


def _assert_defined(text: str) -> None:
    original = _world()[3]
    result = _verify(text)
    assert result.outcome in DEFINED
    assert result.valid == (result.outcome == "valid")
    if result.valid:  # only the untouched credential, as presented or as its static copy
        untouched = decode_qr(original)
        static = DecodedPayload("static", untouched.credential)
        assert decode_qr(text) in (untouched, static), "a changed payload verified as valid"
    else:
        assert result.checks and not result.checks[-1].passed
        assert result.checks[-1].code == result.outcome


def test_the_untouched_original_is_valid() -> None:
    assert _verify(_world()[3]).valid


@SETTINGS
@given(st.text(max_size=600))
def test_random_text(text: str) -> None:
    _assert_defined(text)


@SETTINGS
@given(st.sampled_from(["EL1:", "EP1:"]), st.text(alphabet=B45, max_size=800))
def test_random_base45_after_a_valid_prefix(prefix: str, body: str) -> None:
    _assert_defined(prefix + body)


@SETTINGS
@given(st.data())
def test_bit_flips_in_the_compressed_payload(data: st.DataObject) -> None:
    original = _world()[3]
    compressed = bytearray(base45.b45decode(original[len(STATIC_PREFIX) :]))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(compressed) - 1))
        compressed[position] ^= 1 << data.draw(st.integers(0, 7))
    _assert_defined(original[:4] + base45.b45encode(bytes(compressed)).decode())


@SETTINGS
@given(st.data())
def test_truncation_and_extension(data: st.DataObject) -> None:
    original = _world()[3]
    cut = data.draw(st.integers(0, len(original) - 1))
    tail = data.draw(st.text(alphabet=B45, max_size=8))
    _assert_defined(original[:cut] + tail)


@SETTINGS
@given(st.data())
def test_bit_flips_in_credential_or_proof_bytes(data: st.DataObject) -> None:
    decoded = decode_qr(_world()[3])
    assert decoded.proof is not None
    parts = [bytearray(decoded.credential), bytearray(decoded.proof)]
    target = parts[data.draw(st.integers(0, 1))]
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(target) - 1))
        target[position] ^= 1 << data.draw(st.integers(0, 7))
    _assert_defined(encode_presentation_qr(bytes(parts[0]), bytes(parts[1])))
    _assert_defined(encode_static_qr(bytes(parts[0])))


CBOR_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.integers(-5, 8), inner, max_size=4)
    ),
    max_leaves=8,
)


@SETTINGS
@given(st.data())
def test_reencoded_cbor_with_changed_claims(data: st.DataObject) -> None:
    decoded = decode_qr(_world()[3])
    assert decoded.proof is not None
    envelope = list(cbor2.loads(decoded.credential).value)
    claims = cbor2.loads(envelope[2])
    where = data.draw(st.sampled_from(["claim", "licence", "status", "protected"]))
    value = data.draw(CBOR_VALUES)
    if where == "claim":
        claims[data.draw(st.sampled_from([1, 4, 5, 6, 7, 8, 65535, "lic", 99]))] = value
    elif where == "licence":
        claims["lic"][data.draw(st.integers(1, 7))] = value
    elif where == "status":
        claims[65535]["status_list"][data.draw(st.sampled_from(["idx", "uri"]))] = value
    else:
        envelope[0] = cbor2.dumps({1: -7, 4: value})
    if where != "protected":
        envelope[2] = cbor2.dumps(claims, canonical=True)
    changed = cbor2.dumps(cbor2.CBORTag(18, envelope))
    _assert_defined(encode_presentation_qr(changed, decoded.proof))
    # and the same bytes compressed without the preset dictionary, as another encoder might
    raw = STATIC_PREFIX + base45.b45encode(zlib.compress(changed)).decode()
    _assert_defined(raw)
