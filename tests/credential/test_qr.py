"""QR payload codec: prefix + Base45 of zlib-compressed CBOR, and what a real QR code holds."""

from __future__ import annotations

import random
import zlib

import base45
import cbor2
import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M

from credential import (
    PRESENTATION_PREFIX,
    STATIC_PREFIX,
    decode_qr,
    encode_presentation_qr,
    encode_static_qr,
    errors,
    sign_credential,
    sign_holder_proof,
)
from credential._qr import (
    MAX_INFLATED_BYTES,
    MAX_PAYLOAD_CHARS,
    PRESET_DICTIONARY,
    SM2_PRESET_DICTIONARY,
    b45decode_strict,
)
from tests._qr import qr_texts
from tests.credential._support import NOW, TestSigner, driving_licence

B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
QR_ALPHANUMERIC = set(B45_ALPHABET)


@pytest.fixture(scope="module")
def holder() -> TestSigner:
    return TestSigner.from_seed("ES256", 0x4F1D)


@pytest.fixture(scope="module")
def credential(holder: TestSigner) -> bytes:
    return sign_credential(driving_licence(holder.public_key), TestSigner.from_seed("ES256", 0x155))


def _wrap(prefix: str, compressed: bytes) -> str:
    return prefix + base45.b45encode(compressed).decode("ascii")


def _deflate(data: bytes) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, PRESET_DICTIONARY)
    return deflater.compress(data) + deflater.flush()


def test_static_round_trip(credential: bytes) -> None:
    text = encode_static_qr(credential)
    assert text.startswith("EL1:") and STATIC_PREFIX == "EL1:"
    assert set(text) <= QR_ALPHANUMERIC
    decoded = decode_qr(text)
    assert (decoded.kind, decoded.credential, decoded.proof) == ("static", credential, None)


@pytest.mark.parametrize("challenge", [None, "K7Q2M9XA"])
def test_presentation_round_trip(
    credential: bytes, holder: TestSigner, challenge: str | None
) -> None:
    proof = sign_holder_proof(credential, holder, presented_at=NOW, challenge=challenge)
    text = encode_presentation_qr(credential, proof)
    assert text.startswith("EP1:") and PRESENTATION_PREFIX == "EP1:"
    assert set(text) <= QR_ALPHANUMERIC
    decoded = decode_qr(text)
    assert (decoded.kind, decoded.credential, decoded.proof) == ("presentation", credential, proof)


def test_payload_is_zlib_with_the_preset_dictionary(credential: bytes) -> None:
    compressed = base45.b45decode(encode_static_qr(credential)[4:])
    assert compressed[1] & 0x20, "FDICT flag set (RFC 1950)"
    assert compressed[2:6] == zlib.adler32(PRESET_DICTIONARY).to_bytes(4, "big")
    assert zlib.decompressobj(zdict=PRESET_DICTIONARY).decompress(compressed) == credential
    # a stream compressed without the dictionary is accepted too (FDICT clear)
    assert decode_qr(_wrap("EL1:", zlib.compress(credential))).credential == credential


@pytest.mark.parametrize("holder_alg", ["ES256", "SM2"])
def test_an_sm2_credential_is_compressed_with_the_sm2_dictionary(holder_alg: str) -> None:
    """The encoder picks the dictionary by the credential's algorithm and names it by DICTID;
    the decoder follows the DICTID, whichever dictionary a stream names."""
    holder = TestSigner.from_seed(holder_alg, 0x51)
    credential = sign_credential(
        driving_licence(holder.public_key), TestSigner.from_seed("SM2", 0x52)
    )
    proof = sign_holder_proof(credential, holder, presented_at=NOW, challenge="K7Q2M9XA")
    sm2_id = zlib.adler32(SM2_PRESET_DICTIONARY).to_bytes(4, "big")
    for text, expected in (
        (encode_static_qr(credential), credential),
        (encode_presentation_qr(credential, proof), None),
    ):
        compressed = base45.b45decode(text[4:])
        assert compressed[1] & 0x20 and compressed[2:6] == sm2_id
        inflated = zlib.decompressobj(zdict=SM2_PRESET_DICTIONARY).decompress(compressed)
        decoded = decode_qr(text)
        assert decoded.credential == credential
        if expected is not None:
            assert inflated == expected
        else:
            assert decoded.proof == proof
    # either dictionary, for either algorithm: the stream says which
    assert decode_qr(_wrap("EL1:", _deflate(credential))).credential == credential
    deflater = zlib.compressobj(
        9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, SM2_PRESET_DICTIONARY
    )
    es256 = sign_credential(driving_licence(holder.public_key), TestSigner.from_seed("ES256", 7))
    named_sm2 = _wrap("EL1:", deflater.compress(es256) + deflater.flush())
    assert decode_qr(named_sm2).credential == es256


def test_an_es256_credential_keeps_the_es256_dictionary(credential: bytes) -> None:
    compressed = base45.b45decode(encode_static_qr(credential)[4:])
    assert compressed[2:6] == zlib.adler32(PRESET_DICTIONARY).to_bytes(4, "big")


def test_a_stream_naming_an_unknown_dictionary_is_bad_compression(credential: bytes) -> None:
    """A DICTID of no dictionary of the format (here: the dictionary with one byte changed) is
    refused as ``bad_compression``, never guessed."""
    other = bytes([PRESET_DICTIONARY[0] ^ 1]) + PRESET_DICTIONARY[1:]
    deflater = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, other)
    text = _wrap("EL1:", deflater.compress(credential) + deflater.flush())
    with pytest.raises(errors.BadCompression):
        decode_qr(text)


def test_surrounding_whitespace_is_ignored(credential: bytes) -> None:
    assert decode_qr(f"  {encode_static_qr(credential)}\n").credential == credential


def test_real_qr_code_carries_the_payload(credential: bytes, holder: TestSigner) -> None:
    """Render a QR image and read it back with a real decoder (zxing-cpp)."""
    proof = sign_holder_proof(credential, holder, presented_at=NOW, challenge="K7Q2M9XA")
    text = encode_presentation_qr(credential, proof)
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=4, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    image = qr.make_image().get_image().convert("L")
    assert qr_texts(image) == [text]
    assert decode_qr(text).proof == proof


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("HC1:6BFOXN", id="covid-prefix"),
        pytest.param("EL2:6BFOXN", id="future-version"),
        pytest.param("el1:6BFOXN", id="lower-case"),
        pytest.param("", id="empty"),
        pytest.param("6BFOXN", id="no-prefix"),
    ],
)
def test_wrong_prefix(text: str) -> None:
    with pytest.raises(errors.BadPrefix):
        decode_qr(text)


def test_non_text_is_bad_prefix() -> None:
    with pytest.raises(errors.BadPrefix):
        decode_qr(b"EL1:6BFOXN")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("abc", id="lower-case"),
        pytest.param("AB=", id="character-outside-alphabet"),
        pytest.param("A", id="length-1-mod-3"),
        pytest.param("6BFOXNA", id="length-7"),
        pytest.param("GGW", id="triplet-65536"),
        pytest.param(":::", id="triplet-max"),
        pytest.param("ZZ", id="pair-above-255"),
        pytest.param("", id="empty-body"),
    ],
)
def test_bad_base45(body: str) -> None:
    # the base45 library itself must refuse what RFC 9285 forbids, not only our alphabet check
    if body and set(body) <= QR_ALPHANUMERIC:
        with pytest.raises(ValueError):
            base45.b45decode(body)
    with pytest.raises(errors.BadBase45):
        decode_qr("EL1:" + body)


def test_largest_triplet_is_accepted_by_base45() -> None:
    assert base45.b45decode("FGW") == b"\xff\xff"
    assert b45decode_strict("FGW") == b"\xff\xff"
    assert b45decode_strict("FGW" + "U5") == b"\xff\xff\xff"  # largest final pair


def _library_b45(text: str) -> bytes | None:
    try:
        return base45.b45decode(text)
    except ValueError:
        return None


def _ours_b45(text: str) -> bytes | None:
    try:
        return b45decode_strict(text)
    except errors.BadBase45:
        return None


def test_strict_base45_agrees_with_the_library_on_valid_input() -> None:
    rng = random.Random(9285)
    for size in [*range(1, 40), *(rng.randrange(40, 3000) for _ in range(300))]:
        data = rng.randbytes(size)
        text = base45.b45encode(data).decode("ascii")
        assert b45decode_strict(text) == data == base45.b45decode(text)


@pytest.mark.parametrize("alphabet", ["base45", "base45-high-digits", "with-foreign-characters"])
def test_strict_base45_agrees_with_the_library_on_random_text(alphabet: str) -> None:
    # random strings hit every refusal: bad characters, length 1 mod 3, triplets > 65535
    pool = {
        "base45": B45_ALPHABET,
        "base45-high-digits": "9AZ$%*+-./: ",  # large digit values: many triplets over 65535
        "with-foreign-characters": B45_ALPHABET + "abz=_\n\t\x00\xff\u00e9\u738b\uff21",
    }[alphabet]
    rng = random.Random(alphabet)
    outcomes = set()
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randrange(1, 13)))
        expected = _library_b45(text) if "\n" not in text else None  # the library drops a final \n
        assert _ours_b45(text) == expected, repr(text)
        outcomes.add(expected is None)
    assert outcomes == {True, False}  # both accepted and refused inputs were compared


@pytest.mark.parametrize(
    "compressed",
    [
        pytest.param(b"not zlib at all", id="not-zlib"),
        pytest.param(zlib.compress(b"\xa0" * 100)[:-3], id="truncated"),
        pytest.param(zlib.compress(b"\xa0") + b"\x00", id="trailing-data"),
        pytest.param(b"\x78\xbb" + zlib.compress(b"x")[2:], id="unknown-dictionary"),
    ],
)
def test_bad_compression(compressed: bytes) -> None:
    with pytest.raises(errors.BadCompression):
        decode_qr(_wrap("EL1:", compressed))


def test_compression_bomb() -> None:
    bomb = zlib.compress(bytes(2 * 1024 * 1024), 9)  # 2 MiB of zeros, ~2 KiB deflated
    text = _wrap("EP1:", bomb)
    assert len(text) <= MAX_PAYLOAD_CHARS, "the bomb fits a QR code: only the inflate cap stops it"
    with pytest.raises(errors.CompressionBomb):
        decode_qr(text)


def test_inflated_size_cap_is_exact(credential: bytes) -> None:
    just_fits = cbor2.dumps(b"\x00" * (MAX_INFLATED_BYTES - 3))
    assert len(just_fits) == MAX_INFLATED_BYTES
    assert decode_qr(_wrap("EL1:", _deflate(just_fits))).credential == just_fits
    with pytest.raises(errors.CompressionBomb):
        decode_qr(_wrap("EL1:", _deflate(just_fits + b"\x00")))


def test_oversized_input() -> None:
    with pytest.raises(errors.PayloadTooLarge):
        decode_qr("EL1:" + "0" * MAX_PAYLOAD_CHARS)
    with pytest.raises(errors.PayloadTooLarge):
        decode_qr("XX" * 1_000_000)


@pytest.mark.parametrize(
    "item",
    [
        pytest.param([b"credential"], id="one-item"),
        pytest.param([b"credential", b"proof", b"extra"], id="three-items"),
        pytest.param([b"credential", "proof"], id="proof-as-text"),
        pytest.param({b"credential": b"proof"}, id="a-map"),
        pytest.param(b"credential", id="bytes-only"),
    ],
)
def test_presentation_of_the_wrong_shape(item: object) -> None:
    with pytest.raises(errors.BadCbor):
        decode_qr(_wrap("EP1:", _deflate(cbor2.dumps(item))))


def test_presentation_not_cbor(credential: bytes) -> None:
    for data in (b"\x82\x41", cbor2.dumps([b"a", b"b"]) + b"\x00"):
        with pytest.raises(errors.BadCbor):
            decode_qr(_wrap("EP1:", _deflate(data)))


def test_every_decoding_error_is_malformed_payload() -> None:
    for text in ("HC1:", "EL1:A", "EL1:" + base45.b45encode(b"xx").decode()):
        with pytest.raises(errors.MalformedPayload):
            decode_qr(text)


def _decoded(inflated: bytes) -> object:
    try:
        decoded = decode_qr(_wrap("EP1:", _deflate(inflated)))
    except errors.CredentialError as exc:
        return type(exc)
    return (decoded.kind, decoded.credential, decoded.proof)


@pytest.mark.parametrize(
    ("inflated", "expected"),
    [
        pytest.param(b"\x82\x41a\x41b", ("presentation", b"a", b"b"), id="short"),
        pytest.param(b"\x82\x58\x01a\x59\x00\x01b", ("presentation", b"a", b"b"), id="long-heads"),
        pytest.param(b"\x82\x5f\x41a\xff\x41b", ("presentation", b"a", b"b"), id="chunked"),
        pytest.param(b"\x9f\x41a\x41b\xff", ("presentation", b"a", b"b"), id="indefinite-array"),
        pytest.param(b"\x82\x41a\x41b\x00", errors.BadCbor, id="trailing-byte"),
        pytest.param(b"\x82\x41a\x42b", errors.BadCbor, id="proof-past-the-end"),
        pytest.param(b"\x82\x43a", errors.BadCbor, id="credential-past-the-end"),
        pytest.param(b"\x82\x41a", errors.BadCbor, id="one-part"),
        pytest.param(b"\x82\x41a\x61b", errors.BadCbor, id="proof-as-text"),
    ],
)
def test_presentation_parts_as_a_decoder_reads_them(inflated: bytes, expected: object) -> None:
    assert _decoded(inflated) == expected
