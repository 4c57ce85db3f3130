"""SM2 with SM3 as the third signature algorithm: wire identifiers, key formats, credentials,
holder proofs, status-list tokens and trust lists; checked both ways against gmssl, an
independent pure-Python SM2 (default signer ID ``1234567812345678``); a key of one algorithm never
verifies a signature labelled with another."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cbor2
import pytest

from credential import (
    ALG_SM2,
    COSE_ALG_SM2,
    STATUS_LIST_TYP,
    StatusList,
    b64url,
    b64url_decode,
    cose_key_to_public_key,
    errors,
    jwk_thumbprint,
    jwk_to_public_key,
    kid_for,
    public_key_to_cose_key,
    public_key_to_jwk,
    read_credential,
    read_holder_proof,
    read_jws,
    read_status_list_token,
    read_trust_list,
    sign_credential,
    sign_holder_proof,
    sign_status_list_token,
    sign_trust_list,
    verify_raw,
)
from tests.credential._gmssl import (
    DEFAULT_ID,
    OTHER_ID,
    GmsslSigner,
    gmssl_public,
    gmssl_verifies,
)
from tests.credential._support import NOW, TestSigner, driving_licence

WIRE_FORMAT = Path(__file__).resolve().parents[2] / "docs" / "wire-format.md"


@pytest.fixture(scope="module")
def sm2() -> TestSigner:
    return TestSigner.generate("SM2")


@pytest.fixture(scope="module")
def es256() -> TestSigner:
    return TestSigner.generate("ES256")


# --- identifiers and key formats ----------------------------------------------------------------
def test_private_use_identifiers_are_written_in_the_wire_format() -> None:
    assert COSE_ALG_SM2 < -65536 and COSE_ALG_SM2 != -48
    spec = WIRE_FORMAT.read_text(encoding="utf-8")
    assert f"`{COSE_ALG_SM2}`" in spec and f'`"{ALG_SM2}"`' in spec and '`"crv": "SM2"`' in spec


def test_jwk_and_thumbprint(sm2: TestSigner) -> None:
    jwk = public_key_to_jwk(sm2.public_key)
    assert list(jwk) == ["crv", "kty", "x", "y"] and jwk["crv"] == "SM2" and jwk["kty"] == "EC"
    canonical = '{"crv":"SM2","kty":"EC","x":"%s","y":"%s"}' % (jwk["x"], jwk["y"])  # noqa: UP031
    assert jwk_thumbprint(sm2.public_key) == hashlib.sha256(canonical.encode()).digest()
    assert sm2.kid == kid_for(sm2.public_key) == hashlib.sha256(canonical.encode()).digest()[:8]
    assert public_key_to_jwk(jwk_to_public_key(json.loads(json.dumps(jwk)))) == jwk


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_cose_key_is_compressed_and_comes_back(seed: int) -> None:
    public_key = TestSigner.from_seed("SM2", seed).public_key
    cose_key = public_key_to_cose_key(public_key)
    y = b64url_decode(public_key_to_jwk(public_key)["y"])
    assert cose_key == {1: 2, -1: -65537, -2: cose_key[-2], -3: bool(y[-1] & 1)}
    assert public_key_to_jwk(cose_key_to_public_key(cose_key)) == public_key_to_jwk(public_key)
    uncompressed = {**cose_key, -3: y}
    assert public_key_to_jwk(cose_key_to_public_key(uncompressed)) == public_key_to_jwk(public_key)


def test_a_p256_point_is_not_an_sm2_key(es256: TestSigner) -> None:
    """The curves differ: P-256 coordinates labelled SM2 are refused, and back."""
    p256_jwk = public_key_to_jwk(es256.public_key)
    with pytest.raises(errors.MalformedPayload):
        jwk_to_public_key({**p256_jwk, "crv": "SM2"})
    sm2_jwk = public_key_to_jwk(TestSigner.generate("SM2").public_key)
    with pytest.raises(errors.MalformedPayload):
        jwk_to_public_key({**sm2_jwk, "crv": "P-256"})
    x, y = b64url_decode(p256_jwk["x"]), b64url_decode(p256_jwk["y"])
    with pytest.raises(errors.MalformedPayload):
        cose_key_to_public_key({1: 2, -1: -65537, -2: x, -3: y})


# --- the independent implementation, both ways --------------------------------------------------
def test_gmssl_verifies_our_credential_signature(sm2: TestSigner, es256: TestSigner) -> None:
    credential = read_credential(sign_credential(driving_licence(es256.public_key), sm2))
    assert credential.alg == "SM2"
    signed = credential.envelope.to_be_signed()
    signature = credential.envelope.signature
    assert len(signature) == 64
    assert gmssl_verifies(sm2.public_key, signature, signed, DEFAULT_ID)
    # gmssl's own entry point hard-codes the default ID: it agrees
    crypt = gmssl_public(sm2.public_key)
    assert crypt.verify_with_sm3(signature.hex(), signed)
    # ... and refuses another signer ID, a tampered signature or message, another key
    assert not gmssl_verifies(sm2.public_key, signature, signed, OTHER_ID)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert not gmssl_verifies(sm2.public_key, tampered, signed, DEFAULT_ID)
    assert not gmssl_verifies(sm2.public_key, signature, signed + b"\x00", DEFAULT_ID)
    other = TestSigner.generate("SM2").public_key
    assert not gmssl_verifies(other, signature, signed, DEFAULT_ID)


def test_gmssl_refuses_our_signature_with_a_p256_point_as_key(
    sm2: TestSigner, es256: TestSigner
) -> None:
    signature = sm2.sign(b"data")
    assert gmssl_verifies(sm2.public_key, signature, b"data", DEFAULT_ID)
    assert not gmssl_verifies(es256.public_key, signature, b"data", DEFAULT_ID)


def test_our_verifier_accepts_gmssl_credentials_and_proofs(es256: TestSigner) -> None:
    issuer, holder = GmsslSigner(), GmsslSigner()
    raw = sign_credential(driving_licence(holder.public_key), issuer)
    credential = read_credential(raw)
    assert (credential.alg, credential.kid) == ("SM2", issuer.kid)
    credential.verify_signature(issuer.public_key)
    with pytest.raises(errors.BadSignature):
        credential.verify_signature(TestSigner.generate("SM2").public_key)
    proof = read_holder_proof(sign_holder_proof(raw, holder, presented_at=NOW, challenge="K7Q2"))
    proof.verify(credential.claims.holder_key, raw)
    with pytest.raises(errors.HolderSignatureInvalid):
        proof.verify(credential.claims.holder_key, raw + b"\x00")


def test_our_verifier_accepts_a_gmssl_status_list_token() -> None:
    department = GmsslSigner()
    status_list = StatusList(2, 16)
    status_list.set(3, 1)
    token = sign_status_list_token(
        status_list, department, uri="12", issued_at=NOW, expires_at=NOW + 60, ttl=60
    )
    assert read_jws(token, typ=STATUS_LIST_TYP).header["alg"] == "SM2"
    read = read_status_list_token(token)
    read.jws.verify(department.public_key)
    assert read.status_list.get(3) == 1


def test_a_signature_under_another_signer_id_is_refused() -> None:
    for signer_id, verifies in ((DEFAULT_ID, True), (OTHER_ID, False), (b"", False)):
        signer = GmsslSigner(signer_id)
        signature = signer.sign(b"licence")
        assert verify_raw(signer.public_key, "SM2", signature, b"licence") is verifies


def test_tampered_and_out_of_range_signatures_are_refused(sm2: TestSigner) -> None:
    signature = sm2.sign(b"licence")
    assert verify_raw(sm2.public_key, "SM2", signature, b"licence")
    order = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
    r = int.from_bytes(signature[:32], "big")
    bad = [
        bytes([signature[0] ^ 0x80]) + signature[1:],
        signature[:-1] + bytes([signature[-1] ^ 1]),
        signature[32:] + signature[:32],
        signature[:-1],
        signature + b"\x00",
        b"\x00" * 64,
        r.to_bytes(32, "big") + order.to_bytes(32, "big"),
        (r + order).to_bytes(33, "big")[1:] + signature[32:],  # r + n wraps to 256 bits
        b"\xff" * 64,
    ]
    for signature_bad in bad:
        assert not verify_raw(sm2.public_key, "SM2", signature_bad, b"licence")
    assert not verify_raw(sm2.public_key, "SM2", signature, b"licencE")


# --- one algorithm's key never verifies another's label ---------------------------------------
def _relabel(cose: bytes, alg_value: int) -> bytes:
    """The same COSE_Sign1 with its protected alg replaced (so the signature no longer covers
    it: the point is that the mismatch is refused before any signature is checked)."""
    item = cbor2.loads(cose)
    header = cbor2.loads(item.value[0])
    header[1] = alg_value
    return cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps(header), *item.value[1:]]))


def test_es256_key_never_verifies_an_sm2_label(es256: TestSigner, sm2: TestSigner) -> None:
    raw = sign_credential(driving_licence(sm2.public_key), es256)
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_credential(_relabel(raw, COSE_ALG_SM2)).verify_signature(es256.public_key)
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_credential(raw).verify_signature(sm2.public_key)  # -7 with an SM2 key
    with pytest.raises(errors.UnsupportedAlgorithm):
        verify_raw(es256.public_key, "SM2", es256.sign(b"x"), b"x")


def test_sm2_key_never_verifies_an_es256_label(es256: TestSigner, sm2: TestSigner) -> None:
    raw = sign_credential(driving_licence(es256.public_key), sm2)
    for alg_value in (-7, -8):
        with pytest.raises(errors.UnsupportedAlgorithm):
            read_credential(_relabel(raw, alg_value)).verify_signature(sm2.public_key)
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_credential(raw).verify_signature(es256.public_key)  # -65537 with a P-256 key
    with pytest.raises(errors.UnsupportedAlgorithm):
        verify_raw(sm2.public_key, "ES256", sm2.sign(b"x"), b"x")


def _relabel_jws(token: str, alg: str) -> str:
    header, payload, signature = token.split(".")
    fields: dict[str, Any] = json.loads(b64url_decode(header))
    fields["alg"] = alg
    return ".".join([b64url(json.dumps(fields).encode()), payload, signature])


@pytest.mark.parametrize("signed_by, label", [("ES256", "SM2"), ("SM2", "ES256")])
def test_status_list_token_alg_must_fit_the_key(signed_by: str, label: str) -> None:
    department = TestSigner.generate(signed_by)
    token = sign_status_list_token(
        StatusList(2, 16), department, uri="12", issued_at=NOW, expires_at=NOW + 60, ttl=60
    )
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_status_list_token(_relabel_jws(token, label)).jws.verify(department.public_key)


def test_unknown_sm2_spellings_are_refused(sm2: TestSigner) -> None:
    token = sign_status_list_token(
        StatusList(2, 16), sm2, uri="12", issued_at=NOW, expires_at=NOW + 60, ttl=60
    )
    for label in ("SM2SM3", "sm2", "SM3withSM2"):
        with pytest.raises(errors.UnsupportedAlgorithm, match="ES256, EdDSA, SM2"):
            read_status_list_token(_relabel_jws(token, label))
    raw = sign_credential(driving_licence(sm2.public_key), sm2)
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_credential(_relabel(raw, -48))  # draft-dang-webauthn-sm2's value, now ML-DSA-44


# --- trust list and presentation with SM2 ------------------------------------------------------
def test_trust_list_signed_by_an_sm2_root(sm2: TestSigner, es256: TestSigner) -> None:
    root = TestSigner.generate("SM2")
    payload = {
        "iat": NOW,
        "departments": [
            {
                "code": "110000-JTJ",
                "name": "北京市公安局公安交通管理局",
                "licence_types": [{"code": "DL", "name": "机动车驾驶证"}],
                "status_lists": ["12"],
                "keys": [
                    {
                        "kid": b64url(signer.kid),
                        "jwk": public_key_to_jwk(signer.public_key),
                        "alg": signer.alg,
                        "state": "active",
                        "not_before": NOW - 86400,
                        "not_after": None,
                        "licence_types": ["DL"],
                    }
                    for signer in (sm2, es256)
                ],
            }
        ],
    }
    token = sign_trust_list(payload, root)
    trust = read_trust_list(token, root.public_key)
    for signer in (sm2, es256):  # SM2 and ES256 keys side by side, each its own algorithm
        key = trust.authorise(kid=signer.kid, issuer="110000-JTJ", type_code="DL", issued_at=NOW)
        assert key.alg == signer.alg
        credential = read_credential(sign_credential(driving_licence(es256.public_key), signer))
        credential.verify_signature(key.public_key)
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_trust_list(token, es256.public_key)
    with pytest.raises(errors.BadSignature):
        read_trust_list(token, TestSigner.generate("SM2").public_key)


@pytest.mark.parametrize("named", ["ES256", "EdDSA", "SM2SM3", 7])
def test_trust_list_alg_must_be_the_keys_own(sm2: TestSigner, named: object) -> None:
    root = TestSigner.generate("SM2")
    entry = {
        "kid": b64url(sm2.kid),
        "jwk": public_key_to_jwk(sm2.public_key),
        "alg": named,
        "state": "active",
        "not_before": NOW,
        "not_after": None,
        "licence_types": ["DL"],
    }
    department = {
        "code": "X",
        "name": "X",
        "licence_types": [],
        "status_lists": [],
        "keys": [entry],
    }
    token = sign_trust_list({"iat": NOW, "departments": [department]}, root)
    with pytest.raises(errors.MalformedToken, match="alg"):
        read_trust_list(token, root.public_key)
