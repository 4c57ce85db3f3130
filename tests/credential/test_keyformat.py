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


def test_b64url_is_the_base64_modules_urlsafe_text_unpadded() -> None:
    for data in [bytes(range(n, 2 * n)) for n in range(40)] + [b"\xfb\xff\xbf" * 7]:
        assert b64url(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


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


# --- the hand-written pieces of a verification (credential/_signature.py, _keyformat, _jws) ---
def test_raw_to_der_is_what_cryptography_encodes() -> None:
    import os

    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from credential._signature import _raw_to_der

    edges = [
        bytes(64),
        b"\x80" * 64,
        b"\x7f" + bytes(63),
        b"\x00\x80" + bytes(30) + b"\x00\x00\x01" + bytes(29),
        bytes(31) + b"\x01" + b"\xff" * 32,
    ]
    for raw in edges + [os.urandom(64) for _ in range(2000)]:
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        assert _raw_to_der(raw) == encode_dss_signature(r, s), raw.hex()


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 5])
def test_sha256_is_hashlibs(data: bytes) -> None:
    """The credential digest and the SD-JWT digests hash with cryptography's SHA-256."""
    from credential._signature import sha256

    assert sha256(data) == hashlib.sha256(data).digest()
    # each digest starts afresh: none carries the bytes of the one before
    assert sha256(data) == sha256(data) == hashlib.sha256(data).digest()


def test_alg_of_still_looks_at_the_curve_once_the_class_is_known() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from credential import alg_of, errors

    assert alg_of(ec.generate_private_key(ec.SECP256R1()).public_key()) == "ES256"
    with pytest.raises(errors.UnsupportedAlgorithm):  # same Python class, another curve
        alg_of(ec.generate_private_key(ec.SECP384R1()).public_key())
    with pytest.raises(errors.UnsupportedAlgorithm):
        alg_of("not a key")  # type: ignore[arg-type]


def test_a_cached_jws_header_is_checked_as_a_new_one() -> None:
    from credential import errors, read_jws, sign_jws
    from credential._jws import parse_jws

    signer = TestSigner.from_seed("ES256", 0x5EED_00AA)
    token = sign_jws({"a": 1}, signer, typ="one+jwt")
    assert read_jws(token, typ="one+jwt").payload == {"a": 1}
    with pytest.raises(errors.MalformedToken, match="typ must be two"):
        read_jws(token, typ="two+jwt")  # the header is cached now: its typ still counts
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"one+jwt"}').rstrip(b"=").decode()
    for _ in range(2):
        with pytest.raises(errors.UnsupportedAlgorithm):
            parse_jws(f"{header}.{token.split('.', 1)[1]}")
    crit = base64.urlsafe_b64encode(b'{"alg":"ES256","crit":["x"],"x":1}').rstrip(b"=").decode()
    for _ in range(2):
        with pytest.raises(errors.MalformedToken, match="critical"):
            parse_jws(f"{crit}.{token.split('.', 1)[1]}")
