"""The shared-data package (授权用证): what a relying party fetches under a citizen's consent,
signed by the platform root key as a ``licence-data+jwt`` compact JWS (docs/wire-format.md
section 17). Anyone holding the pinned root key (the key that signs the trust list) checks it
offline: ``read_data_package``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._jws import read_jws, sign_jws
from ._keyformat import PublicKey, Signer, kid_for, kid_text
from ._status_list import LicenceStatus
from .errors import MalformedToken, UnknownKey

DATA_PACKAGE_TYP = "licence-data+jwt"
DATA_PACKAGE_ISSUER = "elicence-platform"
# What a licence in a package may be: its stored status, or expired / not yet valid by date.
PACKAGE_STATUSES = frozenset({*(s.value for s in LicenceStatus), "expired", "not_yet_valid"})
_CONSENT_KINDS = frozenset({"one_time", "standing"})


@dataclass(frozen=True, slots=True)
class SharedLicence:
    """One licence in a package: always its identity and status, then only consented fields."""

    identifier: str | None
    licence_type: str
    licence_type_name: str
    department: str
    department_name: str
    status: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DataPackage:
    """A verified package. ``fields``: the consented field names; each licence carries at most
    those (a field the licence does not have is absent)."""

    issued_at: int
    package_id: str
    consent_id: str
    consent_kind: str
    consent_until: int
    relying_party: str
    relying_party_name: str
    purpose: str
    purpose_zh: str
    purpose_en: str
    fields: tuple[str, ...]
    licences: tuple[SharedLicence, ...]


def sign_data_package(payload: dict[str, Any], root: Signer) -> str:
    """Sign ``payload`` (the shape of section 17) with the platform root key."""
    return sign_jws(payload, root, typ=DATA_PACKAGE_TYP)


def _req(obj: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, dict):
        raise MalformedToken("data package: expected an object")
    value = obj.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise MalformedToken(f"data package: '{name}' missing or of the wrong type")
    return value


def _licence(raw: Any, allowed: frozenset[str]) -> SharedLicence:
    identifier = raw.get("identifier") if isinstance(raw, dict) else None
    if identifier is not None and not isinstance(identifier, str):
        raise MalformedToken("data package: 'identifier' must be text or null")
    status = _req(raw, "status", str)
    if status not in PACKAGE_STATUSES:
        raise MalformedToken(f"data package: unknown licence status {status!r}")
    fields = _req(raw, "fields", dict)
    extra = set(fields) - allowed
    if extra:
        raise MalformedToken(f"data package: fields outside the consent: {sorted(extra)}")
    return SharedLicence(
        identifier=identifier,
        licence_type=_req(raw, "licence_type", str),
        licence_type_name=_req(raw, "licence_type_name", str),
        department=_req(raw, "department", str),
        department_name=_req(raw, "department_name", str),
        status=status,
        fields=dict(fields),
    )


def read_data_package(token: str, root_key: PublicKey) -> DataPackage:
    """Check a package against the pinned platform root key and parse it.

    Raises ``MalformedToken`` (shape, or a licence carrying a field the consent does not name),
    ``UnsupportedAlgorithm``, ``UnknownKey`` (signed by another key: its ``kid`` is not the
    root's) or ``BadSignature``.
    """
    jws = read_jws(token, typ=DATA_PACKAGE_TYP)
    if jws.kid != kid_text(kid_for(root_key)):
        raise UnknownKey("the data package is not signed by the platform root key")
    jws.verify(root_key)
    payload = jws.payload
    if payload.get("iss") != DATA_PACKAGE_ISSUER:
        raise MalformedToken(f"data package: 'iss' must be {DATA_PACKAGE_ISSUER}")
    consent = _req(payload, "consent", dict)
    kind = _req(consent, "kind", str)
    if kind not in _CONSENT_KINDS:
        raise MalformedToken(f"data package: unknown consent kind {kind!r}")
    party = _req(payload, "relying_party", dict)
    purpose = _req(payload, "purpose", dict)
    fields = _req(payload, "fields", list)
    if not all(isinstance(f, str) for f in fields):
        raise MalformedToken("data package: 'fields' must be a list of names")
    allowed = frozenset(fields)
    return DataPackage(
        issued_at=_req(payload, "iat", int),
        package_id=_req(payload, "jti", str),
        consent_id=_req(consent, "id", str),
        consent_kind=kind,
        consent_until=_req(consent, "until", int),
        relying_party=_req(party, "code", str),
        relying_party_name=_req(party, "name", str),
        purpose=_req(purpose, "code", str),
        purpose_zh=_req(purpose, "zh", str),
        purpose_en=_req(purpose, "en", str),
        fields=tuple(fields),
        licences=tuple(_licence(raw, allowed) for raw in _req(payload, "licences", list)),
    )
