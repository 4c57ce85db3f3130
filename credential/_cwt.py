"""The licence credential: a CWT (RFC 8392) claim set signed as COSE_Sign1.

Claim keys (see docs/wire-format.md): 1 iss, 4 exp, 5 nbf, 6 iat, 7 cti, 8 cnf (RFC 8747),
65535 status (draft-ietf-oauth-status-list), "lic" the licence claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import _cbor
from ._cose import Sign1, parse_sign1, sign1
from ._keyformat import PublicKey, Signer, cose_key_to_public_key, public_key_to_cose_key
from .errors import CredentialError, MalformedCredential

CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI, CLAIM_CNF = 1, 4, 5, 6, 7, 8
CLAIM_STATUS = 65535
CLAIM_LICENCE = "lic"
CNF_COSE_KEY = 1

LIC_TYPE, LIC_NUMBER, LIC_HOLDER, LIC_MASKED_ID, LIC_CATEGORIES, LIC_FIELDS = 1, 2, 3, 4, 5, 6

_MAX_TEXT = 256
_MAX_TIME = 2**40
_NO_CATEGORIES: tuple[str, ...] = ()
_NO_FIELDS: dict[str, str | int] = {}  # marks an absent "fields" claim; never handed out


@dataclass(frozen=True, slots=True)
class StatusReference:
    """Where a credential's status lives: a status list URI and an index in it."""

    uri: str
    index: int


@dataclass(frozen=True, slots=True)
class LicenceClaims:
    """What the licence says about its holder, as carried in the credential."""

    type_code: str
    number: str
    holder_name: str
    masked_id: str
    categories: tuple[str, ...] = ()
    fields: dict[str, str | int] = field(default_factory=dict)


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


def _claims_to_map(claims: CredentialClaims) -> dict[Any, Any]:
    lic: dict[int, Any] = {
        LIC_TYPE: claims.licence.type_code,
        LIC_NUMBER: claims.licence.number,
        LIC_HOLDER: claims.licence.holder_name,
        LIC_MASKED_ID: claims.licence.masked_id,
    }
    if claims.licence.categories:
        lic[LIC_CATEGORIES] = list(claims.licence.categories)
    if claims.licence.fields:
        lic[LIC_FIELDS] = dict(claims.licence.fields)
    claim_set = {
        CLAIM_ISS: claims.issuer,
        CLAIM_EXP: claims.expires_at,
        CLAIM_IAT: claims.issued_at,
        CLAIM_CTI: claims.credential_id,
        CLAIM_CNF: {CNF_COSE_KEY: public_key_to_cose_key(claims.holder_key)},
        CLAIM_STATUS: {"status_list": {"idx": claims.status.index, "uri": claims.status.uri}},
        CLAIM_LICENCE: lic,
    }
    if claims.not_before != claims.issued_at:  # omitted when equal, to keep the QR small
        claim_set[CLAIM_NBF] = claims.not_before
    return claim_set


def sign_credential(claims: CredentialClaims, signer: Signer) -> bytes:
    """Sign a licence credential; returns the tagged COSE_Sign1 bytes."""
    return sign1(_cbor.dumps(_claims_to_map(claims)), signer)


def _text(value: Any, what: str, *, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise MalformedCredential(f"{what} must be a non-empty text string")
    return value


def _time(value: Any, what: str) -> int:
    if type(value) is not int or value < 0 or value > _MAX_TIME:
        raise MalformedCredential(f"{what} must be a NumericDate (integer seconds)")
    return value


def _map_to_claims(claims: Any) -> CredentialClaims:
    plain = _plain_claims(claims)
    return plain if plain is not None else _checked_claims(claims)


def _plain_claims(claims: Any) -> CredentialClaims | None:
    """The claims when every one has exactly the type and range the wire format says, checked in
    one pass; ``None`` for anything else, which ``_checked_claims`` then judges claim by claim
    (with its own messages). Only the holder key can still fail here, with the same error."""
    if type(claims) is not dict:
        return None
    lic, cnf, status = claims.get(CLAIM_LICENCE), claims.get(CLAIM_CNF), claims.get(CLAIM_STATUS)
    if type(lic) is not dict or type(cnf) is not dict or type(status) is not dict:
        return None
    status_list = status.get("status_list")
    if type(status_list) is not dict:
        return None
    iss, cti = claims.get(CLAIM_ISS), claims.get(CLAIM_CTI)
    index, uri = status_list.get("idx"), status_list.get("uri")
    iat, exp = claims.get(CLAIM_IAT), claims.get(CLAIM_EXP)
    nbf = claims.get(CLAIM_NBF, iat)
    type_code, number = lic.get(LIC_TYPE), lic.get(LIC_NUMBER)
    holder_name, masked_id = lic.get(LIC_HOLDER), lic.get(LIC_MASKED_ID)
    categories, fields = lic.get(LIC_CATEGORIES, _NO_CATEGORIES), lic.get(LIC_FIELDS, _NO_FIELDS)
    if not (
        type(iss) is str
        and 0 < len(iss) <= _MAX_TEXT
        and type(uri) is str
        and 0 < len(uri) <= _MAX_TEXT
        and type(type_code) is str
        and 0 < len(type_code) <= _MAX_TEXT
        and type(number) is str
        and 0 < len(number) <= _MAX_TEXT
        and type(holder_name) is str
        and 0 < len(holder_name) <= _MAX_TEXT
        and type(masked_id) is str
        and 0 < len(masked_id) <= _MAX_TEXT
        and type(iat) is int
        and 0 <= iat <= _MAX_TIME
        and type(nbf) is int
        and 0 <= nbf <= _MAX_TIME
        and type(exp) is int
        and 0 <= exp <= _MAX_TIME
        and type(index) is int
        and index >= 0
        and type(cti) is bytes
        and 1 <= len(cti) <= 32
        and CNF_COSE_KEY in cnf
        and (categories is _NO_CATEGORIES or type(categories) is list)
        and (fields is _NO_FIELDS or type(fields) is dict)
    ):
        return None
    for category in categories:
        if type(category) is not str:
            return None
    if fields is _NO_FIELDS:
        fields = {}
    else:
        for name, value in fields.items():
            if type(name) is not str or (type(value) is not str and type(value) is not int):
                return None
    try:
        holder_key = cose_key_to_public_key(cnf[CNF_COSE_KEY])
    except CredentialError as exc:
        raise MalformedCredential(f"holder key: {exc.detail}") from exc
    return CredentialClaims(
        iss,
        iat,
        nbf,
        exp,
        cti,
        holder_key,
        StatusReference(uri, index),
        LicenceClaims(type_code, number, holder_name, masked_id, tuple(categories), fields),
    )


def _checked_claims(claims: Any) -> CredentialClaims:
    if not isinstance(claims, dict):
        raise MalformedCredential("the claim set must be a map")
    lic = claims.get(CLAIM_LICENCE)
    if not isinstance(lic, dict):
        raise MalformedCredential("licence claims missing")
    cnf = claims.get(CLAIM_CNF)
    if not isinstance(cnf, dict) or CNF_COSE_KEY not in cnf:
        raise MalformedCredential("holder key (cnf) missing")
    status = claims.get(CLAIM_STATUS)
    status_list = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(status_list, dict):
        raise MalformedCredential("status reference missing")
    index = status_list.get("idx")
    if type(index) is not int or index < 0:
        raise MalformedCredential("status index must be a non-negative integer")
    categories = lic.get(LIC_CATEGORIES, [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise MalformedCredential("categories must be a list of text strings")
    fields = lic.get(LIC_FIELDS, {})
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and (isinstance(v, str) or type(v) is int) for k, v in fields.items()
    ):
        raise MalformedCredential("licence fields must map text to text or integers")
    credential_id = claims.get(CLAIM_CTI)
    if not isinstance(credential_id, bytes) or not 1 <= len(credential_id) <= 32:
        raise MalformedCredential("cti must be a byte string")
    try:
        holder_key = cose_key_to_public_key(cnf[CNF_COSE_KEY])
    except CredentialError as exc:
        raise MalformedCredential(f"holder key: {exc.detail}") from exc
    return CredentialClaims(
        issuer=_text(claims.get(CLAIM_ISS), "iss"),
        issued_at=_time(claims.get(CLAIM_IAT), "iat"),
        not_before=_time(claims.get(CLAIM_NBF, claims.get(CLAIM_IAT)), "nbf"),
        expires_at=_time(claims.get(CLAIM_EXP), "exp"),
        credential_id=credential_id,
        holder_key=holder_key,
        status=StatusReference(_text(status_list.get("uri"), "status uri"), index),
        licence=LicenceClaims(
            type_code=_text(lic.get(LIC_TYPE), "licence type"),
            number=_text(lic.get(LIC_NUMBER), "licence number"),
            holder_name=_text(lic.get(LIC_HOLDER), "holder name"),
            masked_id=_text(lic.get(LIC_MASKED_ID), "masked ID number"),
            categories=tuple(categories),
            fields=dict(fields),
        ),
    )


def read_credential(data: bytes) -> UnverifiedCredential:
    """Parse a credential without trusting it.

    Raises ``BadCbor``, ``MalformedCredential`` or ``UnsupportedAlgorithm``.
    """
    envelope = parse_sign1(data)
    if envelope.kid is None:
        raise MalformedCredential("kid missing from the protected header")
    claims = _map_to_claims(_cbor.loads(envelope.payload, "claim set"))
    return UnverifiedCredential(bytes(data), envelope, claims)
