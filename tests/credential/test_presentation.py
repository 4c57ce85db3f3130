"""Holder proofs: the credential plus a fresh proof signed with the holder key."""

from __future__ import annotations

import hashlib

import cbor2
import pytest

from credential import (
    credential_digest,
    errors,
    read_credential,
    read_holder_proof,
    sign1,
    sign_credential,
    sign_holder_proof,
)
from tests.credential._support import NOW, TestSigner, driving_licence


@pytest.fixture(scope="module", params=["ES256", "EdDSA", "SM2"])
def holder(request: pytest.FixtureRequest) -> TestSigner:
    return TestSigner.generate(request.param)


@pytest.fixture(scope="module")
def issuer() -> TestSigner:
    return TestSigner.generate()


@pytest.fixture(scope="module")
def credential(issuer: TestSigner, holder: TestSigner) -> bytes:
    return sign_credential(driving_licence(holder.public_key), issuer)


@pytest.mark.parametrize("challenge", [None, "K7Q2M9XA"])
def test_round_trip(credential: bytes, holder: TestSigner, challenge: str | None) -> None:
    raw = sign_holder_proof(credential, holder, presented_at=NOW + 5, challenge=challenge)
    proof = read_holder_proof(raw)
    assert (proof.presented_at, proof.challenge) == (NOW + 5, challenge)
    holder_key = read_credential(credential).claims.holder_key
    proof.verify(holder_key, credential)
    # the wire form: untagged COSE_Sign1, alg only, payload [time] or [time, challenge]
    protected, unprotected, payload, _ = cbor2.loads(raw)
    assert cbor2.loads(protected) == {1: {"ES256": -7, "EdDSA": -8, "SM2": -65537}[holder.alg]}
    assert unprotected == {}
    assert cbor2.loads(payload) == ([NOW + 5] if challenge is None else [NOW + 5, challenge])


def test_external_aad_is_sha256_of_the_credential(credential: bytes, holder: TestSigner) -> None:
    assert credential_digest(credential) == hashlib.sha256(credential).digest()
    proof = read_holder_proof(sign_holder_proof(credential, holder, presented_at=NOW))
    proof.envelope.verify(holder.public_key, external_aad=hashlib.sha256(credential).digest())


def test_proof_for_another_credential_fails(
    issuer: TestSigner, holder: TestSigner, credential: bytes
) -> None:
    other = sign_credential(driving_licence(holder.public_key, credential_id=b"\x01" * 8), issuer)
    proof = read_holder_proof(sign_holder_proof(other, holder, presented_at=NOW))
    proof.verify(holder.public_key, other)
    with pytest.raises(errors.HolderSignatureInvalid):
        proof.verify(holder.public_key, credential)


def test_proof_by_another_key_fails(credential: bytes, holder: TestSigner) -> None:
    thief = TestSigner.generate(holder.alg)
    proof = read_holder_proof(sign_holder_proof(credential, thief, presented_at=NOW))
    with pytest.raises(errors.HolderSignatureInvalid):
        proof.verify(holder.public_key, credential)


def test_changed_time_or_challenge_fails(credential: bytes, holder: TestSigner) -> None:
    raw = sign_holder_proof(credential, holder, presented_at=NOW, challenge="AAAA")
    protected, unprotected, _, signature = cbor2.loads(raw)
    for body in ([NOW + 600, "AAAA"], [NOW, "BBBB"], [NOW]):
        forged = cbor2.dumps([protected, unprotected, cbor2.dumps(body), signature])
        with pytest.raises(errors.HolderSignatureInvalid):
            read_holder_proof(forged).verify(holder.public_key, credential)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="empty"),
        pytest.param([NOW, "c", "extra"], id="three-items"),
        pytest.param(["now"], id="time-as-text"),
        pytest.param([-1], id="negative-time"),
        pytest.param([NOW, 7], id="challenge-as-int"),
        pytest.param([NOW, ""], id="empty-challenge"),
        pytest.param([NOW, "x" * 65], id="long-challenge"),
        pytest.param({"t": NOW}, id="a-map"),
    ],
)
def test_malformed_proof_bodies(holder: TestSigner, body: object) -> None:
    raw = sign1(cbor2.dumps(body), holder, include_kid=False, tagged=False)
    with pytest.raises(errors.MalformedCredential):
        read_holder_proof(raw)


def test_proof_with_another_alg_is_refused(holder: TestSigner) -> None:
    raw = cbor2.dumps([cbor2.dumps({1: -35}), {}, cbor2.dumps([NOW]), b"\x00" * 96])
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_holder_proof(raw)


def test_challenge_length_is_bounded_when_signing(credential: bytes, holder: TestSigner) -> None:
    for challenge in ("", "x" * 65):
        with pytest.raises(ValueError):
            sign_holder_proof(credential, holder, presented_at=NOW, challenge=challenge)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([NOW], id="4-byte-time"),
        pytest.param([5], id="small-time"),
        pytest.param([300], id="2-byte-time"),
        pytest.param([2**32], id="8-byte-time"),
        pytest.param([NOW, "K7Q2M9XA"], id="with-challenge"),
    ],
)
def test_every_time_encoding_reads_back(holder: TestSigner, body: list) -> None:  # type: ignore[type-arg]
    proof = read_holder_proof(sign1(cbor2.dumps(body), holder, include_kid=False, tagged=False))
    assert proof.presented_at == body[0]
    assert proof.challenge == (body[1] if len(body) == 2 else None)


def test_time_followed_by_a_byte_is_bad_cbor(holder: TestSigner) -> None:
    raw = sign1(cbor2.dumps([NOW]) + b"\x00", holder, include_kid=False, tagged=False)
    with pytest.raises(errors.BadCbor):
        read_holder_proof(raw)
