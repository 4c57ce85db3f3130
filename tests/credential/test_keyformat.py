"""Key formats: base64url, JWK, COSE_Key (compressed EC2 points), RFC 7638 thumbprints and kids."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from credential import (
    StatusList,
    b64url,
    b64url_decode,
    cose_key_to_public_key,
    errors,
    jwk_thumbprint,
    jwk_to_public_key,
    kid_for,
    kid_text,
    public_key_to_cose_key,
    public_key_to_jwk,
    read_status_list_token,
    sign_status_list_token,
)
from tests.credential._support import NOW, TestSigner


def test_b64url_round_trip() -> None:
    for data in (b"", b"\x00", b"\xfb\xff", bytes(range(256))):
        text = b64url(data)
        assert "=" not in text and "+" not in text and "/" not in text
        assert b64url_decode(text) == data


_NOT_BASE64URL: list[object] = ["AAAA!!", "AA*AA", "AA AA", "AA=", "A+/A", "A", "AAAAA", "Ａ"]
_NOT_BASE64URL += ["AAAA\n", "AA\tAA", "QQ==", "AA\x00", None, b"AAAA"]


@pytest.mark.parametrize("text", _NOT_BASE64URL)
def test_b64url_rejects_bad_input(text: object) -> None:
    with pytest.raises(errors.MalformedPayload):
        b64url_decode(text)  # type: ignore[arg-type]


def test_junk_in_a_token_signature_is_not_ignored() -> None:
    department = TestSigner.generate()
    token = sign_status_list_token(
        StatusList(2, 16), department, uri="12", issued_at=NOW, expires_at=NOW + 60, ttl=60
    )
    read_status_list_token(token).jws.verify(department.public_key)
    with pytest.raises(errors.MalformedToken):
        read_status_list_token(token + "!!!!")


def test_rfc7638_thumbprint_example() -> None:
    """RFC 8037 appendix A.3: the thumbprint of the Ed25519 example key."""
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    public_key = jwk_to_public_key(jwk)
    expected = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert b64url(jwk_thumbprint(public_key)) == expected
    assert kid_for(public_key) == base64.urlsafe_b64decode(expected + "=")[:8]
    assert len(kid_text(kid_for(public_key))) == 11


def test_p256_thumbprint_from_its_definition() -> None:
    signer = TestSigner.from_seed("ES256", 7)
    jwk = public_key_to_jwk(signer.public_key)
    canonical = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (jwk["x"], jwk["y"])  # noqa: UP031
    assert jwk_thumbprint(signer.public_key) == hashlib.sha256(canonical.encode()).digest()
    assert signer.kid == hashlib.sha256(canonical.encode()).digest()[:8]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "SM2"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_cose_key_round_trip(alg: str, seed: int) -> None:
    """EC2 keys travel compressed (y as a sign bit); both parities come back to the same key."""
    public_key = TestSigner.from_seed(alg, seed).public_key
    cose_key = public_key_to_cose_key(public_key)
    if alg in ("ES256", "SM2"):
        assert isinstance(cose_key[-3], bool)
        y = base64.urlsafe_b64decode(public_key_to_jwk(public_key)["y"] + "=")
        assert cose_key[-3] is bool(y[-1] & 1)
    back = cose_key_to_public_key(cose_key)
    assert public_key_to_jwk(back) == public_key_to_jwk(public_key)
    assert jwk_to_public_key(json.loads(json.dumps(public_key_to_jwk(public_key)))) is not None


def test_uncompressed_cose_key_is_accepted() -> None:
    public_key = TestSigner.from_seed("ES256", 5).public_key
    jwk = public_key_to_jwk(public_key)
    cose_key = {1: 2, -1: 1, -2: b64url_decode(jwk["x"]), -3: b64url_decode(jwk["y"])}
    assert public_key_to_jwk(cose_key_to_public_key(cose_key)) == jwk


@pytest.mark.parametrize(
    "cose_key, error",
    [
        pytest.param([], errors.MalformedPayload, id="not-a-map"),
        pytest.param({1: 2, -1: 1, -2: b"\x00" * 31, -3: True}, errors.MalformedPayload, id="x-31"),
        pytest.param(
            {1: 2, -1: 1, -2: b"\xff" * 32, -3: True}, errors.MalformedPayload, id="off-curve"
        ),
        pytest.param(
            {1: 2, -1: 1, -2: b"\x01" * 32, -3: b"\x01"}, errors.MalformedPayload, id="short-y"
        ),
        pytest.param(
            {1: 2, -1: 2, -2: b"\x01" * 32, -3: True}, errors.UnsupportedAlgorithm, id="p384"
        ),
        pytest.param({1: 3, -2: b"\x01" * 32}, errors.UnsupportedAlgorithm, id="rsa"),
    ],
)
def test_bad_cose_keys(cose_key: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        cose_key_to_public_key(cose_key)


@pytest.mark.parametrize(
    "jwk, error",
    [
        pytest.param("not a dict", errors.MalformedPayload, id="not-a-dict"),
        pytest.param({"kty": "EC", "crv": "P-256", "x": "AA"}, errors.MalformedPayload, id="no-y"),
        pytest.param(
            {"kty": "OKP", "crv": "Ed25519", "x": "AA"}, errors.MalformedPayload, id="short"
        ),
        pytest.param(
            {"kty": "OKP", "crv": "X25519", "x": "AA"}, errors.UnsupportedAlgorithm, id="x25519"
        ),
        pytest.param(
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, errors.UnsupportedAlgorithm, id="rsa"
        ),
    ],
)
def test_bad_jwks(jwk: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        jwk_to_public_key(jwk)
