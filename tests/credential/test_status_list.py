"""Token Status List codec against the draft's own vectors, and the signed status-list token."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from credential import (
    STATUS_LIST_TYP,
    StatusList,
    b64url,
    b64url_decode,
    errors,
    jwk_to_public_key,
    read_jws,
    read_status_list_token,
    sign_status_list_token,
)
from tests.credential._support import NOW, TestSigner

_REPO = Path(__file__).resolve().parents[2]
_NAME = "ietf_token_status_list_vectors.json"
# The shared copy sits beside the clone in CI; the committed copy keeps a fresh clone working.
SHARED_VECTORS = _REPO.parent / "shared" / "vectors" / _NAME
LOCAL_VECTORS = _REPO / "tests" / "vectors" / _NAME
DRAFT = json.loads(LOCAL_VECTORS.read_text(encoding="utf-8"))


def test_local_copy_matches_the_shared_vectors() -> None:
    if SHARED_VECTORS.exists():  # absent only in a bare clone; the local copy is then the source
        assert json.loads(SHARED_VECTORS.read_text(encoding="utf-8")) == DRAFT
    assert len(DRAFT["vectors"]) == 6


def _statuses(vector: dict[str, Any]) -> dict[int, int]:
    return {int(index): status for index, status in vector["statuses"].items()}


@pytest.fixture(params=DRAFT["vectors"], ids=[v["name"] for v in DRAFT["vectors"]])
def vector(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(request.param)


def test_decode_draft_vector(vector: dict[str, Any]) -> None:
    assert vector["json"]["bits"] == vector["bits"]
    decoded = StatusList.decode_lst(vector["bits"], vector["json"]["lst"])
    expected = _statuses(vector)
    assert (decoded.bits, decoded.size) == (vector["bits"], vector["size"])
    for index, status in expected.items():
        assert decoded.get(index) == status, f"index {index}"
    # every index the vector does not list is 0 (the draft builds these lists from zeros)
    nonzero = {i for i in range(decoded.size) if decoded.get(i)}
    assert nonzero == {i for i, s in expected.items() if s}
    if "uncompressed_hex" in vector:
        assert decoded.to_bytes() == bytes.fromhex(vector["uncompressed_hex"])


def test_encode_draft_vector(vector: dict[str, Any]) -> None:
    status_list = StatusList(vector["bits"], vector["size"])
    for index, status in _statuses(vector).items():
        status_list.set(index, status)
    lst = status_list.encode_lst()
    # compressed bytes may differ from the draft's; the inflated bytes may not
    draft_bytes = zlib.decompress(b64url_decode(vector["json"]["lst"]))
    assert zlib.decompress(b64url_decode(lst)) == draft_bytes
    if "uncompressed_hex" in vector:
        assert status_list.to_bytes() == bytes.fromhex(vector["uncompressed_hex"])
    again = StatusList.decode_lst(vector["bits"], lst)
    assert again.size == vector["size"]
    assert all(again.get(i) == s for i, s in _statuses(vector).items())


def test_lsb_first_bit_order() -> None:
    status_list = StatusList(2, 8)
    status_list.set(0, 1)
    status_list.set(3, 2)
    status_list.set(5, 3)
    assert status_list.to_bytes() == bytes([0b1000_0001, 0b0000_1100])


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_set_and_get_every_value(bits: int) -> None:
    status_list = StatusList(bits, 64)
    for index in range(64):
        status_list.set(index, index % (1 << bits))
    assert [status_list.get(i) for i in range(64)] == [i % (1 << bits) for i in range(64)]


def test_status_list_bounds() -> None:
    status_list = StatusList(2, 131_072)
    with pytest.raises(IndexError):
        status_list.get(131_072)
    with pytest.raises(IndexError):
        status_list.set(-1, 1)
    with pytest.raises(ValueError):
        status_list.set(0, 4)
    for bits, size in ((3, 8), (2, 3), (1, 0)):
        with pytest.raises(ValueError):
            StatusList(bits, size)


@pytest.mark.parametrize(
    "bits, lst",
    [
        pytest.param(2, "not*base64", id="not-base64url"),
        pytest.param(2, b64url(b"plain bytes"), id="not-zlib"),
        pytest.param(2, b64url(zlib.compress(b"\x00" * 100)[:-4]), id="truncated"),
        pytest.param(2, b64url(zlib.compress(b"")), id="empty-list"),
        pytest.param(3, b64url(zlib.compress(b"\x00")), id="three-bits"),
        pytest.param(1, b64url(zlib.compress(bytes(17 * 1024 * 1024), 9)), id="too-large"),
    ],
)
def test_bad_lst(bits: int, lst: str) -> None:
    with pytest.raises(errors.MalformedToken):
        StatusList.decode_lst(bits, lst)


def test_draft_status_list_token_verifies() -> None:
    """The draft's own signed example token reads and verifies with the draft's issuer key."""
    token = read_status_list_token(DRAFT["tokens"]["status_list_jwt"])
    token.jws.verify(jwk_to_public_key(DRAFT["tokens"]["issuer_jwk"]))
    assert token.uri == "https://example.com/statuslists/1"
    assert (token.ttl, token.status_list.bits, token.status_list.size) == (43200, 1, 16)
    assert [token.status_list.get(i) for i in range(4)] == [1, 0, 0, 1]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "SM2"])
def test_signed_token_round_trip(alg: str) -> None:
    department = TestSigner.generate(alg)
    status_list = StatusList(2, 131_072)
    status_list.set(131_071, 1)
    status_list.set(7, 2)
    token = sign_status_list_token(
        status_list, department, uri="12", issued_at=NOW, expires_at=NOW + 86400, ttl=3600
    )
    assert read_jws(token, typ=STATUS_LIST_TYP).header == {
        "alg": alg,
        "kid": b64url(department.kid),
        "typ": "statuslist+jwt",
    }
    read = read_status_list_token(token)
    read.jws.verify(department.public_key)
    assert (read.uri, read.issued_at, read.expires_at, read.ttl) == ("12", NOW, NOW + 86400, 3600)
    assert read.status_list.get(131_071) == 1
    assert read.status_list.get(7) == 2
    assert read.status_list.get(8) == 0
    assert read.status_list.size == 131_072


def _token(department: TestSigner) -> str:
    status_list = StatusList(2, 16)
    status_list.set(3, 1)
    return sign_status_list_token(
        status_list, department, uri="12", issued_at=NOW, expires_at=NOW + 60, ttl=60
    )


def _replace_payload(token: str, change: dict[str, Any]) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(b64url_decode(payload))
    body.update(change)
    return ".".join([header, b64url(json.dumps(body).encode()), signature])


def test_tampered_token_fails() -> None:
    department = TestSigner.generate()
    token = _token(department)
    unrevoked = StatusList(2, 16).encode_lst()
    forged = _replace_payload(token, {"status_list": {"bits": 2, "lst": unrevoked}})
    read = read_status_list_token(forged)
    assert read.status_list.get(3) == 0
    with pytest.raises(errors.BadSignature):
        read.jws.verify(department.public_key)
    with pytest.raises(errors.BadSignature):
        read_status_list_token(token).jws.verify(TestSigner.generate().public_key)
    header, payload, signature = token.split(".")
    flipped = b64url(bytes([b64url_decode(signature)[0] ^ 1]) + b64url_decode(signature)[1:])
    with pytest.raises(errors.BadSignature):
        read_status_list_token(f"{header}.{payload}.{flipped}").jws.verify(department.public_key)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"status_list": None}, id="no-status-list"),
        pytest.param({"status_list": {"bits": "2", "lst": "eNoDAAAAAAE"}}, id="bits-as-text"),
        pytest.param({"sub": 12}, id="sub-as-number"),
        pytest.param({"iat": None}, id="no-iat"),
        pytest.param({"ttl": -1}, id="negative-ttl"),
        pytest.param({"exp": "tomorrow"}, id="exp-as-text"),
    ],
)
def test_malformed_token_payloads(change: dict[str, Any]) -> None:
    with pytest.raises(errors.MalformedToken):
        read_status_list_token(_replace_payload(_token(TestSigner.generate()), change))


def test_token_header_rules() -> None:
    department = TestSigner.generate()
    token = _token(department)
    _, payload, signature = token.split(".")

    def with_header(header: dict[str, Any]) -> str:
        return f"{b64url(json.dumps(header).encode())}.{payload}.{signature}"

    with pytest.raises(errors.UnsupportedAlgorithm):
        read_status_list_token(with_header({"alg": "none", "typ": STATUS_LIST_TYP}))
    with pytest.raises(errors.UnsupportedAlgorithm):
        read_status_list_token(with_header({"alg": "HS256", "typ": STATUS_LIST_TYP}))
    with pytest.raises(errors.MalformedToken):
        read_status_list_token(with_header({"alg": "ES256", "typ": "trustlist+jwt"}))
    with pytest.raises(errors.MalformedToken):
        read_status_list_token(with_header({"alg": "ES256", "typ": STATUS_LIST_TYP, "crit": []}))
    for broken in ("a.b", "a.b.c.d", "!!.$$.%%", ""):
        with pytest.raises(errors.MalformedToken):
            read_status_list_token(broken)
