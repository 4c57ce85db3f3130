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
    if type(data) is not bytes and not isinstance(data, bytes | bytearray):
        raise BadCbor(f"{what} must be a byte string")
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except _DECODE_ERRORS as exc:
        raise BadCbor(f"{what} is not well-formed CBOR") from exc
    if stream.tell() != len(data):
        raise BadCbor(f"{what} has trailing bytes")
    return item
