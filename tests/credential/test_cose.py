"""COSE_Sign1 internals: the directly built Sig_structure and the protected-header parse."""

from __future__ import annotations

import cbor2
import pytest

from credential import _cbor, errors
from credential._cose import _sig_structure, parse_sign1


@pytest.mark.parametrize("length", [0, 1, 23, 24, 255, 256, 65535, 65536])
def test_sig_structure_is_the_deterministic_cbor_of_the_list(length: int) -> None:
    protected, aad, payload = bytes(range(3)), b"\x07" * (length // 2 + 1), b"\xa5" * length
    expected = _cbor.dumps(["Signature1", protected, aad, payload])
    assert _sig_structure(protected, aad, payload) == expected
    assert _sig_structure(b"", b"", payload) == _cbor.dumps(["Signature1", b"", b"", payload])


def _sign1(protected: bytes, unprotected: object = None) -> bytes:
    body = [protected, {} if unprotected is None else unprotected, b"payload", b"\x00" * 64]
    return cbor2.dumps(cbor2.CBORTag(18, body))


def test_protected_header_parsed_the_same_every_time() -> None:
    header = _cbor.dumps({1: -7, 4: b"kid-0001"})
    for _ in range(3):
        envelope = parse_sign1(_sign1(header))
        assert (envelope.alg, envelope.kid, envelope.payload) == ("ES256", b"kid-0001", b"payload")


@pytest.mark.parametrize(
    ("protected", "unprotected", "error"),
    [
        pytest.param(_cbor.dumps({1: -257}), None, errors.UnsupportedAlgorithm, id="rs256"),
        pytest.param(_cbor.dumps({4: b"k"}), None, errors.UnsupportedAlgorithm, id="no-alg"),
        pytest.param(_cbor.dumps({1: -7, 4: "k"}), None, errors.MalformedCredential, id="kid-text"),
        pytest.param(b"\xa1\x01", None, errors.MalformedCredential, id="not-cbor"),
        pytest.param(_cbor.dumps([1, -7]), None, errors.MalformedCredential, id="not-a-map"),
        pytest.param(_cbor.dumps({1: -7}), {1: -8}, errors.UnsupportedAlgorithm, id="alg-unprot"),
    ],
)
def test_bad_headers_are_refused_every_time(
    protected: bytes, unprotected: object, error: type[Exception]
) -> None:
    for _ in range(2):  # a refused header is never remembered as good
        with pytest.raises(error):
            parse_sign1(_sign1(protected, unprotected))


# --- every encoding of the same COSE_Sign1 reads the same; anything else is refused -----------
def _outcome(data: bytes, require_tag: bool) -> object:
    try:
        envelope = parse_sign1(data, require_tag=require_tag)
    except errors.CredentialError as exc:
        return type(exc)
    return (envelope.alg, envelope.kid, envelope.payload, envelope.signature)


_HEADER = _cbor.dumps({1: -7, 4: b"kid-0001"})
_PLAIN = _sign1(_HEADER)
_READ = ("ES256", b"kid-0001", b"payload", b"\x00" * 64)
_MALFORMED = errors.MalformedCredential


@pytest.mark.parametrize(
    ("data", "tagged", "untagged"),
    [
        pytest.param(_PLAIN, _READ, _READ, id="plain"),
        pytest.param(_PLAIN + b"\x00", errors.BadCbor, errors.BadCbor, id="trailing-byte"),
        pytest.param(_PLAIN[:-1], errors.BadCbor, errors.BadCbor, id="truncated"),
        pytest.param(_PLAIN[1:], errors.MalformedCredential, _READ, id="untagged"),
        pytest.param(b"\xd8\x12" + _PLAIN[1:], _READ, _READ, id="tag-in-long-form"),
        pytest.param(
            b"\xd3" + _PLAIN[1:],
            errors.MalformedCredential,
            errors.MalformedCredential,
            id="tag-19",
        ),
        pytest.param(b"\xd2\x9f" + _PLAIN[2:] + b"\xff", _READ, _READ, id="indefinite-array"),
        pytest.param(
            _PLAIN.replace(b"\x47payload", b"\x58\x07payload"), _READ, _READ, id="long-length-head"
        ),
        pytest.param(
            _PLAIN.replace(b"\x47payload", b"\x5f\x47payload\xff"), _READ, _READ, id="chunked"
        ),
        pytest.param(_sign1(_HEADER, {4: b"k"}), _READ, _READ, id="unprotected-kid"),
        pytest.param(
            _PLAIN.replace(b"\xa0", b"\xa1\x01\x26"),
            errors.UnsupportedAlgorithm,
            errors.UnsupportedAlgorithm,
            id="unprotected-alg",
        ),
        pytest.param(b"\xd2\x83" + _PLAIN[2:], errors.BadCbor, errors.BadCbor, id="array-of-three"),
        pytest.param(b"", errors.BadCbor, errors.BadCbor, id="empty"),
        pytest.param(b"\xd2", errors.BadCbor, errors.BadCbor, id="tag-only"),
    ],
)
def test_sign1_encodings(data: bytes, tagged: object, untagged: object) -> None:
    assert _outcome(data, require_tag=True) == tagged
    assert _outcome(data, require_tag=False) == untagged
