"""QR payload codec: version prefix + Base45 (RFC 9285) of zlib-compressed CBOR.

Every character is in the QR alphanumeric set, so a QR code holds it in alphanumeric mode.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import base45

from . import _cbor
from .errors import BadBase45, BadCbor, BadCompression, BadPrefix, CompressionBomb, PayloadTooLarge

STATIC_PREFIX = "EL1:"
PRESENTATION_PREFIX = "EP1:"
MAX_PAYLOAD_CHARS = 4296  # the most a QR code (version 40-L, alphanumeric) can hold
MAX_INFLATED_BYTES = 16 * 1024
_BASE45_ALPHABET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
# zlib preset dictionary (RFC 1950 FDICT): the fixed CBOR skeleton of a presentation, so that
# headers, claim keys and the status-list structure cost a few bits instead of ~35 bytes.
# Part of the wire format: see docs/wire-format.md. Changing it needs a new prefix version.
PRESET_DICTIONARY = bytes.fromhex(
    "8258dcd2844da201260448a05887a70160041a061a074808a101a40102200121"
    "582022f419ffffa16b7374617475735f6c697374a2636964781a637572696063"
    "6c6963a501600260036004723030303030302a2a2a2a2a2a2a2a303030300581"
    "605840584f8443a10126a046811a5840"
)


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    """What a QR code carried: a static credential, or a credential with a holder proof."""

    kind: Literal["static", "presentation"]
    credential: bytes
    proof: bytes | None = None


def _pack(prefix: str, cbor_bytes: bytes) -> str:
    deflater = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, PRESET_DICTIONARY)
    compressed = deflater.compress(cbor_bytes) + deflater.flush()
    return prefix + base45.b45encode(compressed).decode("ascii")


def encode_static_qr(credential: bytes) -> str:
    """QR text for a printable static copy of ``credential`` (COSE_Sign1 bytes)."""
    return _pack(STATIC_PREFIX, credential)


def encode_presentation_qr(credential: bytes, proof: bytes) -> str:
    """QR text for a holder presentation: ``[credential, proof]``."""
    return _pack(PRESENTATION_PREFIX, _cbor.dumps([credential, proof]))


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj(zdict=PRESET_DICTIONARY)
    try:
        out = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise BadCompression() from exc
    if inflater.unconsumed_tail:
        raise CompressionBomb(f"inflates beyond {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise BadCompression("zlib stream truncated or followed by extra data")
    return out


def decode_qr(text: str) -> DecodedPayload:
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
    if not body or not set(body) <= _BASE45_ALPHABET:
        raise BadBase45("payload has characters outside the Base45 alphabet")
    try:
        compressed = base45.b45decode(body)
    except (ValueError, KeyError, IndexError) as exc:
        raise BadBase45() from exc
    inflated = _inflate(compressed)
    if kind == "static":
        return DecodedPayload("static", inflated)
    item = _cbor.loads(inflated, "presentation")
    if (
        not isinstance(item, list)
        or len(item) != 2
        or not all(isinstance(part, bytes) for part in item)
    ):
        raise BadCbor("presentation must be [credential, proof]")
    return DecodedPayload("presentation", item[0], item[1])
