"""QR payload codec: version prefix + Base45 (RFC 9285) of zlib-compressed CBOR.

Every character is in the QR alphanumeric set, so a QR code holds it in alphanumeric mode.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import base45
from mypy_extensions import mypyc_attr

from . import _cbor
from ._frozen import frozen_builder
from .errors import BadBase45, BadCbor, BadCompression, BadPrefix, CompressionBomb, PayloadTooLarge

STATIC_PREFIX = "EL1:"
PRESENTATION_PREFIX = "EP1:"
MAX_PAYLOAD_CHARS = 4296  # the most a QR code (version 40-L, alphanumeric) can hold
MAX_INFLATED_BYTES = 16 * 1024
_BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_BAD = 0xFF
# character code -> Base45 digit value; every other byte (and so every other character) -> 0xFF
_DIGITS = bytes(
    _BASE45_ALPHABET.index(chr(c)) if chr(c) in _BASE45_ALPHABET else _BAD for c in range(256)
)
# Each full triplet "c d e" is one 24-bit big-endian lane of int.from_bytes(digits); the masks
# pick one digit out of every lane (long enough for the largest payload).
_MAX_LANES = MAX_PAYLOAD_CHARS // 3 + 1


def _masks(lanes: int) -> tuple[int, int, int]:
    return (
        int.from_bytes(b"\xff\x00\x00" * lanes, "big"),
        int.from_bytes(b"\x00\xff\x00" * lanes, "big"),
        int.from_bytes(b"\x00\x00\xff" * lanes, "big"),
    )


_MASKS = _masks(_MAX_LANES)

# zlib preset dictionaries (RFC 1950 FDICT): the fixed CBOR skeleton of a presentation, so that
# headers, claim keys and the status-list structure cost a few bits instead of ~35 bytes.
# Part of the wire format (section 3 of docs/wire-format.md): the stream names its dictionary by
# DICTID (its Adler-32), so a decoder knows which one to use; changing one needs a new prefix.
PRESET_DICTIONARY = bytes.fromhex(
    "8258dcd2844da201260448a05887a70160041a061a074808a101a40102200121"
    "582022f419ffffa16b7374617475735f6c697374a2636964781a637572696063"
    "6c6963a501600260036004723030303030302a2a2a2a2a2a2a2a303030300581"
    "605840584f8443a10126a046811a5840"
)
# The same skeleton for a credential signed with SM2 (alg -65537 takes 5 bytes where -7 takes 1,
# which breaks the ES256 dictionary's matches): measured on the vectors' driving licence with an
# identifier and an 8-character challenge, 457-465 characters with a P-256 holder key and 469-477
# with an SM2 one (13-M) instead of 487-495 and 499-507 (14-M) with the ES256 dictionary.
SM2_PRESET_DICTIONARY = bytes.fromhex(
    "a401023a00010000215820585c8447a1013a00010000a04f821a584082590107"
    "d28451a2013a000100000448a058aea70160041a061a074708a101a401022001"
    "21582022f419ffffa16b7374617475735f6c697374a2636964781a6375726960"
    "636c6963a501600260036004723030303030302a2a2a2a2a2a2a2a3030303005"
    "8160584058588443a10126a04f821a5840"
)
_DICTIONARIES = {
    zlib.adler32(dictionary).to_bytes(4, "big"): dictionary
    for dictionary in (PRESET_DICTIONARY, SM2_PRESET_DICTIONARY)
}
# How an SM2 credential begins: tag 18, array of 4, a 17-byte protected header {1: -65537, 4: ...}
_SM2_CREDENTIAL_HEAD = bytes.fromhex("d28451a2013a00010000")
_FDICT = 0x20


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class DecodedPayload:
    """What a QR code carried: a static credential, or a credential with a holder proof."""

    kind: Literal["static", "presentation"]
    credential: bytes
    proof: bytes | None = None


_new_payload = frozen_builder(DecodedPayload)  # one per scan: _frozen.py


def _pack(prefix: str, cbor_bytes: bytes, credential: bytes) -> str:
    dictionary = (
        SM2_PRESET_DICTIONARY if credential.startswith(_SM2_CREDENTIAL_HEAD) else PRESET_DICTIONARY
    )
    deflater = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
    compressed = deflater.compress(cbor_bytes) + deflater.flush()
    return prefix + base45.b45encode(compressed).decode("ascii")


def encode_static_qr(credential: bytes) -> str:
    """QR text for a printable static copy of ``credential`` (COSE_Sign1 bytes)."""
    return _pack(STATIC_PREFIX, credential, credential)


def encode_presentation_qr(credential: bytes, proof: bytes) -> str:
    """QR text for a holder presentation: ``[credential, proof]``."""
    return _pack(PRESENTATION_PREFIX, _cbor.dumps([credential, proof]), credential)


def _inflate(data: bytes) -> bytes:
    # The dictionary the stream names (RFC 1950: FDICT, then DICTID); an unknown DICTID is a
    # zlib error below, as is a stream asking for a dictionary with none given.
    dictionary = PRESET_DICTIONARY
    if len(data) >= 6 and data[1] & _FDICT:
        dictionary = _DICTIONARIES.get(data[2:6], PRESET_DICTIONARY)
    inflater = zlib.decompressobj(zdict=dictionary)
    try:
        out = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise BadCompression() from exc
    if inflater.unconsumed_tail:
        raise CompressionBomb(f"inflates beyond {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise BadCompression("zlib stream truncated or followed by extra data")
    return out


def b45decode_strict(text: str) -> bytes:
    """Decode Base45 (RFC 9285) text, refusing everything the RFC forbids.

    Raises ``BadBase45`` on an empty string, a character outside the alphabet, a length of 1 mod 3,
    a triplet above 65535 or a final pair above 255. Same result as ``base45.b45decode`` on
    valid input, but all arithmetic is done on whole big integers instead of per character.
    """
    try:
        digits = text.encode("ascii").translate(_DIGITS)
    except UnicodeEncodeError:
        raise BadBase45("payload has characters outside the Base45 alphabet") from None
    if not digits or _BAD in digits:
        raise BadBase45("payload has characters outside the Base45 alphabet")
    lanes, tail = divmod(len(digits), 3)
    if tail == 1:
        raise BadBase45("Base45 length must not be 1 mod 3")
    full = lanes * 3
    packed = int.from_bytes(digits[:full], "big")
    mask_c, mask_d, mask_e = _MASKS if lanes <= _MAX_LANES else _masks(lanes)
    # each lane c,d,e becomes c + 45 d + 2025 e (at most 91124: no carry into the next lane)
    values = (packed & mask_c) >> 16
    values += 45 * ((packed & mask_d) >> 8)
    values += 2025 * (packed & mask_e)
    # a lane above 65535 has bits in its first byte, where mask_c looks: one AND of the whole
    # integer (0.04 us) instead of counting the zero bytes of a slice of the output (0.2 us)
    if values & mask_c:
        raise BadBase45("Base45 triplet above 65535")
    out = bytearray(values.to_bytes(full, "big"))
    del out[0::3]
    if tail == 2:
        last = digits[full] + 45 * digits[full + 1]
        if last > 0xFF:
            raise BadBase45("Base45 final pair above 255")
        out.append(last)
    return bytes(out)


def decode_qr(text: object) -> DecodedPayload:
    """Decode QR text.

    Raises ``PayloadTooLarge``, ``BadPrefix``, ``BadBase45``, ``BadCompression``,
    ``CompressionBomb`` or ``BadCbor``; the credential inside is not checked here.
    """
    if not isinstance(text, str):
        raise BadPrefix("payload must be text")
    text = text.strip()
    if len(text) > MAX_PAYLOAD_CHARS:
        raise PayloadTooLarge(f"payload longer than {MAX_PAYLOAD_CHARS} characters")
    if text.startswith(STATIC_PREFIX):
        kind: Literal["static", "presentation"] = "static"
    elif text.startswith(PRESENTATION_PREFIX):
        kind = "presentation"
    else:
        raise BadPrefix(f"payload must start with {STATIC_PREFIX} or {PRESENTATION_PREFIX}")
    body = text[len(STATIC_PREFIX) :]
    compressed = b45decode_strict(body)
    inflated = _inflate(compressed)
    if kind == "static":
        return _new_payload("static", inflated, None)
    item = _cbor.loads(inflated, "presentation")
    if (
        not isinstance(item, list)
        or len(item) != 2
        or not isinstance(item[0], bytes)
        or not isinstance(item[1], bytes)
    ):
        raise BadCbor("presentation must be [credential, proof]")
    return _new_payload("presentation", item[0], item[1])
