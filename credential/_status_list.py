"""Token Status List (draft-ietf-oauth-status-list): the bit array, its ``lst`` encoding and the
signed status-list token (JWT form, ``typ`` ``statuslist+jwt``)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ._jws import UnverifiedJws, read_jws, sign_jws
from ._keyformat import Signer, b64url, b64url_decode
from .errors import MalformedPayload, MalformedToken

# Status values of the draft's registry (section 7.1): 0x00 VALID, 0x01 INVALID, 0x02 SUSPENDED.
STATUS_VALID = 0
STATUS_REVOKED = 1
STATUS_SUSPENDED = 2


class LicenceStatus(StrEnum):
    """A licence's status: the one vocabulary of the models (with a CHECK constraint), the API
    schemas, this codec and the pages. ``code`` is its value in a status list."""

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"

    @property
    def code(self) -> int:
        return _STATUS_CODES[self]


_STATUS_CODES = {
    LicenceStatus.VALID: STATUS_VALID,
    LicenceStatus.REVOKED: STATUS_REVOKED,
    LicenceStatus.SUSPENDED: STATUS_SUSPENDED,
}
STATUS_LIST_TYP = "statuslist+jwt"
ALLOWED_BITS = (1, 2, 4, 8)
MAX_LIST_BYTES = 16 * 1024 * 1024


class StatusList:
    """A fixed-size array of ``bits``-wide statuses, LSB-first within each byte (as the draft)."""

    __slots__ = ("_data", "bits", "size")

    def __init__(self, bits: int, size: int, data: bytes | bytearray | None = None) -> None:
        if bits not in ALLOWED_BITS:
            raise ValueError(f"bits must be one of {ALLOWED_BITS}")
        if size <= 0 or size * bits % 8:
            raise ValueError("size must be positive and fill whole bytes")
        self.bits = bits
        self.size = size
        length = size * bits // 8
        if data is None:
            self._data = bytearray(length)
        elif len(data) != length:
            raise ValueError("data length does not match size and bits")
        else:
            self._data = bytearray(data)

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.size:
            raise IndexError(f"status index {index} outside 0..{self.size - 1}")
        per_byte = 8 // self.bits
        return index // per_byte, (index % per_byte) * self.bits

    def get(self, index: int) -> int:
        byte, shift = self._locate(index)
        return (self._data[byte] >> shift) & ((1 << self.bits) - 1)

    def set(self, index: int, status: int) -> None:
        if not 0 <= status < (1 << self.bits):
            raise ValueError(f"status {status} does not fit in {self.bits} bits")
        byte, shift = self._locate(index)
        mask = ((1 << self.bits) - 1) << shift
        self._data[byte] = (self._data[byte] & ~mask) | (status << shift)

    def to_bytes(self) -> bytes:
        return bytes(self._data)

    def encode_lst(self) -> str:
        """The ``lst`` member: base64url of the zlib-compressed bytes."""
        return b64url(zlib.compress(bytes(self._data), 9))

    @classmethod
    def decode_lst(cls, bits: int, lst: str) -> StatusList:
        """Decode an ``lst`` member. Raises ``MalformedToken``."""
        if bits not in ALLOWED_BITS:
            raise MalformedToken(f"bits must be one of {ALLOWED_BITS}")
        try:
            inflater = zlib.decompressobj()
            data = inflater.decompress(b64url_decode(lst), MAX_LIST_BYTES)
        except (zlib.error, MalformedPayload) as exc:
            raise MalformedToken("lst is not base64url zlib data") from exc
        if inflater.unconsumed_tail or not inflater.eof or not data:
            raise MalformedToken("lst is truncated or too large")
        return cls(bits, len(data) * 8 // bits, data)


@dataclass(frozen=True, slots=True)
class StatusListToken:
    """A parsed status-list token (signature not yet checked)."""

    jws: UnverifiedJws
    uri: str
    issued_at: int
    expires_at: int | None
    ttl: int | None
    status_list: StatusList


def sign_status_list_token(
    status_list: StatusList,
    signer: Signer,
    *,
    uri: str,
    issued_at: int,
    expires_at: int,
    ttl: int,
) -> str:
    """Sign a status list as a ``statuslist+jwt`` token."""
    payload = {
        "sub": uri,
        "iat": issued_at,
        "exp": expires_at,
        "ttl": ttl,
        "status_list": {"bits": status_list.bits, "lst": status_list.encode_lst()},
    }
    return sign_jws(payload, signer, typ=STATUS_LIST_TYP)


def _opt_int(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise MalformedToken(f"{name} must be a non-negative integer")
    return value


def read_status_list_token(token: str) -> StatusListToken:
    """Parse a status-list token. Raises ``MalformedToken`` or ``UnsupportedAlgorithm``."""
    jws = read_jws(token, typ=STATUS_LIST_TYP)
    payload = jws.payload
    body = payload.get("status_list")
    if not isinstance(body, dict) or not isinstance(body.get("lst"), str):
        raise MalformedToken("status_list with bits and lst required")
    uri, issued_at = payload.get("sub"), payload.get("iat")
    if not isinstance(uri, str) or type(issued_at) is not int:
        raise MalformedToken("sub and iat required")
    bits = body.get("bits")
    if type(bits) is not int:
        raise MalformedToken("bits must be an integer")
    return StatusListToken(
        jws=jws,
        uri=uri,
        issued_at=issued_at,
        expires_at=_opt_int(payload, "exp"),
        ttl=_opt_int(payload, "ttl"),
        status_list=StatusList.decode_lst(bits, body["lst"]),
    )
