"""Strict CBOR decoding: one item, nothing trailing, every failure a ``BadCbor``."""

from __future__ import annotations

import io
from typing import Any

import cbor2

from .errors import BadCbor

_DECODE_ERRORS = (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError)


def dumps(obj: Any) -> bytes:
    """Deterministic (RFC 8949 core deterministic) encoding."""
    return cbor2.dumps(obj, canonical=True)


def loads(data: bytes, what: str = "CBOR item") -> Any:
    """Decode exactly one CBOR item. Raises ``BadCbor``."""
    if not isinstance(data, bytes | bytearray):
        raise BadCbor(f"{what} must be a byte string")
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except _DECODE_ERRORS as exc:
        raise BadCbor(f"{what} is not well-formed CBOR") from exc
    if stream.tell() != len(data):
        raise BadCbor(f"{what} has trailing bytes")
    return item


def bstr_span(data: bytes, offset: int) -> tuple[int, int]:
    """``(start, end)`` of the content of the definite-length byte string whose head is at
    ``offset`` in ``data`` (heads up to 2 length bytes: enough for anything inside a QR code), or
    ``(0, -1)`` when there is none: another item, an indefinite length, or past the end.

    For callers that slice a known, simple layout (an array of byte strings) out of ``data``
    instead of decoding it: the slices are what a decoder would return for those items.
    """
    size = len(data)
    if offset >= size:
        return _NO_SPAN
    head = data[offset]
    if 0x40 <= head < 0x58:
        start = offset + 1
        end = start + head - 0x40
    elif head == 0x58 and offset + 2 <= size:
        start = offset + 2
        end = start + data[offset + 1]
    elif head == 0x59 and offset + 3 <= size:
        start = offset + 3
        end = start + (data[offset + 1] << 8 | data[offset + 2])
    else:
        return _NO_SPAN
    return (start, end) if end <= size else _NO_SPAN


_NO_SPAN = (0, -1)
