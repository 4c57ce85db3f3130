"""The licence credential: a CWT (RFC 8392) claim set signed as COSE_Sign1.

Claim keys (see docs/wire-format.md): 1 iss, 4 exp, 5 nbf, 6 iat, 7 cti, 8 cnf (RFC 8747),
65535 status (draft-ietf-oauth-status-list), "lic" the licence claims.

The licence identifier (GB/T 36904) travels as little as a verifier cannot derive: its type and
issuer codes are in the trust list, so only the serial and the version travel, in the ``cti``:
a 7-byte cti is the serial (5 bytes, in base 36 the 8-character serial) and the version (2 bytes)
(wire format section 15). That is one byte less than the 8 random bytes a cti had before, so
the presentation stays in QR version 13-M; a cti of any other length carries no identifier.
A serial of another form (an imported licence's) travels in ``lic/7`` as ``[serial, version]``.

An imported identifier from older data may have the department's 6-digit administrative
division code as its issuer segment instead of its credit code; the trust list carries that code
too (``division_code``), and the credential says which one to use: the top bit of the cti's
version bytes (a version is at most 999, so the bit is free), or a third element ``1`` in
``lic/7``. No byte is added in the cti form and one in the ``lic/7`` form.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from mypy_extensions import mypyc_attr

from . import _cbor
from ._cose import Sign1, parse_sign1, sign1
from ._frozen import frozen_builder
from ._keyformat import PublicKey, Signer, cose_key_to_public_key, public_key_to_cose_key
from .errors import CredentialError, MalformedCredential

CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI, CLAIM_CNF = 1, 4, 5, 6, 7, 8
CLAIM_STATUS = 65535
CLAIM_LICENCE = "lic"
CNF_COSE_KEY = 1

LIC_TYPE, LIC_NUMBER, LIC_HOLDER, LIC_MASKED_ID, LIC_CATEGORIES, LIC_FIELDS = 1, 2, 3, 4, 5, 6
LIC_IDENTIFIER = 7
# A cti of IDENTIFIER_CTI_LENGTH bytes: the identifier's serial (SERIAL_BYTES, base 36) and
# version (2 bytes, big-endian).
SERIAL_BYTES = 5
SERIAL_LENGTH = 8  # 36**8 > 2**40
IDENTIFIER_CTI_LENGTH = SERIAL_BYTES + 2
MAX_IDENTIFIER_VERSION = 999
# the cti's version bytes with this bit set: the issuer segment is the division code
CTI_DIVISION_FLAG = 0x8000
# ``lic/7``'s third element when the issuer segment is the division code
LIC_IDENTIFIER_DIVISION = 1
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MAX_SERIAL = 64  # longer than any serial this registry makes or imports

_MAX_TEXT = 256
_MAX_TIME = 2**40
_NO_CATEGORIES: tuple[str, ...] = ()
_NO_FIELDS: dict[str, str | int] = {}  # marks an absent "fields" claim; never handed out
# Exact types a list's items or a map's keys and values may have, checked with
# ``issuperset(map(type, ...))``: a loop in C, where ``any(... for ...)`` made a function and a
# generator frame per check on every scan.
TEXT_TYPE = frozenset({str})
FIELD_VALUE_TYPES = frozenset({str, int})


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class StatusReference:
    """Where a credential's status lives: a status list URI and an index in it."""

    uri: str
    index: int


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class LicenceClaims:
    """What the licence says about its holder, as carried in the credential."""

    type_code: str
    number: str
    holder_name: str
    masked_id: str
    categories: tuple[str, ...] = ()
    fields: dict[str, str | int] = field(default_factory=dict)
    # ``lic/7``: the licence identifier's (serial, version) when the cti cannot carry them
    identifier: tuple[str, int] | None = None
    # ``lic/7``'s third element: the identifier's issuer segment is the division code
    identifier_division: bool = False


def identifier_credential_id(serial: str, version: int, *, division: bool = False) -> bytes | None:
    """The 7-byte ``cti`` that carries an identifier's serial and version (and, with
    ``division``, that its issuer segment is the division code), or ``None`` when the serial is
    not 8 base-36 characters below 2^40 (then ``lic/7`` carries them)."""
    if len(serial) != SERIAL_LENGTH or any(c not in _BASE36 for c in serial):
        return None
    value = int(serial, 36)
    if value >= 1 << (8 * SERIAL_BYTES) or not 0 <= version <= MAX_IDENTIFIER_VERSION:
        return None
    flag = CTI_DIVISION_FLAG if division else 0
    return value.to_bytes(SERIAL_BYTES, "big") + (version | flag).to_bytes(2, "big")


def new_licence_serial() -> str:
    """A random identifier serial a 7-byte ``cti`` can carry (8 characters of ``0-9A-Z``)."""
    return _serial_text(secrets.randbits(8 * SERIAL_BYTES))


def _serial_text(value: int) -> str:
    digits = []
    for _ in range(SERIAL_LENGTH):
        value, digit = divmod(value, 36)
        digits.append(_BASE36[digit])
    return "".join(reversed(digits))


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class CredentialClaims:
    """The whole claim set of a licence credential."""

    issuer: str
    issued_at: int
    not_before: int
    expires_at: int
    credential_id: bytes
    holder_key: PublicKey
    status: StatusReference
    licence: LicenceClaims

    @property
    def identifier_reference(self) -> tuple[str, int] | None:
        """The licence identifier's (serial, version), ``None`` when it carries none."""
        if self.licence.identifier is not None:
            return self.licence.identifier
        if len(self.credential_id) != IDENTIFIER_CTI_LENGTH:
            return None
        serial = int.from_bytes(self.credential_id[:SERIAL_BYTES], "big")
        version = int.from_bytes(self.credential_id[SERIAL_BYTES:], "big") & ~CTI_DIVISION_FLAG
        return _serial_text(serial), version

    @property
    def identifier_issuer_is_division(self) -> bool:
        """Whether the licence identifier's issuer segment is the issuing department's division
        code (the trust list's ``division_code``) rather than its credit code."""
        if self.licence.identifier is not None:
            return self.licence.identifier_division
        return (
            len(self.credential_id) == IDENTIFIER_CTI_LENGTH
            and self.credential_id[SERIAL_BYTES] & (CTI_DIVISION_FLAG >> 8) != 0
        )


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class UnverifiedCredential:
    """A parsed credential whose issuer signature has not been checked yet."""

    raw: bytes
    envelope: Sign1
    claims: CredentialClaims

    @property
    def kid(self) -> bytes:
        assert self.envelope.kid is not None
        return self.envelope.kid

    @property
    def alg(self) -> str:
        return self.envelope.alg

    def verify_signature(self, public_key: PublicKey) -> None:
        """Raises ``BadSignature`` or ``UnsupportedAlgorithm`` unless the issuer signed it."""
        self.envelope.verify(public_key)


# Built for every scanned credential (31 fields with the envelope's): _frozen.py
_new_claims = frozen_builder(CredentialClaims)
new_status_reference = frozen_builder(StatusReference)  # also for SD-JWT VCs
_new_licence = frozen_builder(LicenceClaims)
_new_credential = frozen_builder(UnverifiedCredential)


def _claims_to_map(claims: CredentialClaims) -> dict[Any, Any]:
    """The claim set, every map's keys in deterministic order (``_cbor.dumps_in_key_order``):
    integer keys ascending before text keys, the fields' names by ``text_key_order``."""
    lic: dict[Any, Any] = {
        LIC_TYPE: claims.licence.type_code,
        LIC_NUMBER: claims.licence.number,
        LIC_HOLDER: claims.licence.holder_name,
        LIC_MASKED_ID: claims.licence.masked_id,
    }
    if claims.licence.categories:
        lic[LIC_CATEGORIES] = list(claims.licence.categories)
    fields = claims.licence.fields
    if fields:
        lic[LIC_FIELDS] = {name: fields[name] for name in sorted(fields, key=_cbor.text_key_order)}
    if claims.licence.identifier is not None:
        lic[LIC_IDENTIFIER] = list(claims.licence.identifier)
        if claims.licence.identifier_division:
            lic[LIC_IDENTIFIER].append(LIC_IDENTIFIER_DIVISION)
    claim_set: dict[Any, Any] = {
        CLAIM_ISS: claims.issuer,
        CLAIM_EXP: claims.expires_at,
    }
    if claims.not_before != claims.issued_at:  # omitted when equal, to keep the QR small
        claim_set[CLAIM_NBF] = claims.not_before
    claim_set[CLAIM_IAT] = claims.issued_at
    claim_set[CLAIM_CTI] = claims.credential_id
    claim_set[CLAIM_CNF] = {CNF_COSE_KEY: public_key_to_cose_key(claims.holder_key)}
    claim_set[CLAIM_STATUS] = {
        "status_list": {"idx": claims.status.index, "uri": claims.status.uri}
    }
    claim_set[CLAIM_LICENCE] = lic
    return claim_set


def sign_credential(claims: CredentialClaims, signer: Signer) -> bytes:
    """Sign a licence credential; returns the tagged COSE_Sign1 bytes."""
    return sign1(_cbor.dumps_in_key_order(_claims_to_map(claims)), signer)


def _text(value: Any, what: str) -> str:
    if type(value) is not str or not 0 < len(value) <= _MAX_TEXT:
        raise MalformedCredential(f"{what} must be a non-empty text string")
    return value


def _time(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= _MAX_TIME:
        raise MalformedCredential(f"{what} must be a NumericDate (integer seconds)")
    return value


def _map_to_claims(claims: Any) -> CredentialClaims:
    """The claim set checked against the wire format's types and ranges. Exact ``type()``
    checks: a CBOR decoder only makes these built-in types, and they are cheap on the path every
    scanned QR code takes. Raises ``MalformedCredential``."""
    if type(claims) is not dict:
        raise MalformedCredential("the claim set must be a map")
    lic = claims.get(CLAIM_LICENCE)
    if type(lic) is not dict:
        raise MalformedCredential("licence claims missing")
    cnf = claims.get(CLAIM_CNF)
    if type(cnf) is not dict or CNF_COSE_KEY not in cnf:
        raise MalformedCredential("holder key (cnf) missing")
    status = claims.get(CLAIM_STATUS)
    status_list = status.get("status_list") if type(status) is dict else None
    if type(status_list) is not dict:
        raise MalformedCredential("status reference missing")
    index = status_list.get("idx")
    if type(index) is not int or index < 0:
        raise MalformedCredential("status index must be a non-negative integer")
    categories = lic.get(LIC_CATEGORIES, _NO_CATEGORIES)
    if categories is not _NO_CATEGORIES and (
        type(categories) is not list or not TEXT_TYPE.issuperset(map(type, categories))
    ):
        raise MalformedCredential("categories must be a list of text strings")
    fields = lic.get(LIC_FIELDS, _NO_FIELDS)
    if fields is not _NO_FIELDS and (
        type(fields) is not dict
        or not TEXT_TYPE.issuperset(map(type, fields))
        or not FIELD_VALUE_TYPES.issuperset(map(type, fields.values()))
    ):
        raise MalformedCredential("licence fields must map text to text or integers")
    credential_id = claims.get(CLAIM_CTI)
    if type(credential_id) is not bytes or not 1 <= len(credential_id) <= 32:
        raise MalformedCredential("cti must be a byte string")
    identifier, identifier_division = _identifier(lic.get(LIC_IDENTIFIER))
    if (
        len(credential_id) == IDENTIFIER_CTI_LENGTH
        and int.from_bytes(credential_id[SERIAL_BYTES:], "big") & ~CTI_DIVISION_FLAG
        > MAX_IDENTIFIER_VERSION
    ):
        raise MalformedCredential("the cti's licence identifier version must be 0 to 999")
    try:
        holder_key = cose_key_to_public_key(cnf[CNF_COSE_KEY])
    except CredentialError as exc:
        raise MalformedCredential(f"holder key: {exc.detail}") from exc
    issued_at = _time(claims.get(CLAIM_IAT), "iat")
    return _new_claims(
        _text(claims.get(CLAIM_ISS), "iss"),
        issued_at,
        _time(claims.get(CLAIM_NBF, issued_at), "nbf"),
        _time(claims.get(CLAIM_EXP), "exp"),
        credential_id,
        holder_key,
        new_status_reference(_text(status_list.get("uri"), "status uri"), index),
        _new_licence(
            _text(lic.get(LIC_TYPE), "licence type"),
            _text(lic.get(LIC_NUMBER), "licence number"),
            _text(lic.get(LIC_HOLDER), "holder name"),
            _text(lic.get(LIC_MASKED_ID), "masked ID number"),
            tuple(categories),
            dict(fields),
            identifier,
            identifier_division,
        ),
    )


def _identifier(value: Any) -> tuple[tuple[str, int] | None, bool]:
    """``lic/7``: ``[serial, version]``, ``[serial, version, 1]`` (the issuer segment is the
    division code) or absent, as (reference, division). Raises ``MalformedCredential``."""
    if value is None:
        return None, False
    if type(value) is not list or len(value) not in (2, 3):
        raise MalformedCredential(
            "the licence identifier claim is [serial, version] or [serial, version, 1]"
        )
    if len(value) == 3 and (type(value[2]) is not int or value[2] != LIC_IDENTIFIER_DIVISION):
        raise MalformedCredential(
            f"the licence identifier claim's third element is {LIC_IDENTIFIER_DIVISION} or absent"
        )
    serial, version = value[:2]
    if (
        type(serial) is not str
        or not 0 < len(serial) <= _MAX_SERIAL
        or any(c not in _BASE36 for c in serial)
    ):
        raise MalformedCredential("the licence identifier's serial must be 0-9A-Z")
    if type(version) is not int or not 0 <= version <= MAX_IDENTIFIER_VERSION:
        raise MalformedCredential("the licence identifier's version must be 0 to 999")
    return (serial, version), len(value) == 3


def read_credential(data: bytes) -> UnverifiedCredential:
    """Parse a credential without trusting it.

    Raises ``BadCbor``, ``MalformedCredential`` or ``UnsupportedAlgorithm``.
    """
    envelope = parse_sign1(data)
    if envelope.kid is None:
        raise MalformedCredential("kid missing from the protected header")
    claims = _map_to_claims(_cbor.loads(envelope.payload, "claim set"))
    return _new_credential(bytes(data), envelope, claims)
