"""Request and response bodies of the sharing API (relying parties, the admin, the wallet)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from registry.api_keys import API_KEY_PREFIX
from registry.models import ConsentKind, RelyingPartyKind

CODE_PATTERN = r"^[A-Z][A-Z0-9_]{1,23}$"
PURPOSE_PATTERN = r"^[A-Z][A-Z0-9_-]{1,63}$"
# A licence type across departments: the department's code, "/", the type's code.
LICENCE_TYPE_PATTERN = r"^[A-Z][A-Z0-9_]{1,23}/[A-Z][A-Z0-9_]{1,23}$"
FIELD_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
API_KEY_PREFIX_PATTERN = f"^{API_KEY_PREFIX}$"
MAX_LIST = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

RequestState = Literal["pending", "approved", "refused", "expired"]
ConsentState = Literal["active", "used", "expired", "revoked"]


def _printable(text: str) -> str:
    if _CONTROL.search(text):
        raise PydanticCustomError("invalid_text", "holds a control character")
    return text


Text200 = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
Text500 = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_printable)]
LicenceTypeRef = Annotated[
    str,
    Field(
        pattern=LICENCE_TYPE_PATTERN,
        description="DEPARTMENT/TYPE: the issuing department's code and the type's code",
        examples=["TRANSPORT/DL"],
    ),
]
FieldName = Annotated[str, Field(pattern=FIELD_PATTERN, examples=["holder_name"])]


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise PydanticCustomError("duplicate", "names a value twice")
    return values


LicenceTypeList = Annotated[
    list[LicenceTypeRef], Field(min_length=1, max_length=MAX_LIST), AfterValidator(_distinct)
]
FieldList = Annotated[
    list[FieldName], Field(min_length=1, max_length=MAX_LIST), AfterValidator(_distinct)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- the administrator ---------------------------------------------------------------------------


class RelyingPartyCreate(_Strict):
    """A new relying party (授权用证的用证方)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "CITY_BANK",
                    "name": "城市商业银行 City Commercial Bank",
                    "kind": "bank",
                    "contact": "compliance@citybank.example",
                }
            ]
        }
    )

    code: str = Field(pattern=CODE_PATTERN, description="Short upper-case code", examples=["BANK"])
    name: Text200 = Field(description="Its registered name: what citizens see")
    kind: RelyingPartyKind = Field(description="department, bank, employer or other")
    contact: Text200 = Field(description="Who answers for it (a mailbox or a phone)")


class RelyingPartyRead(BaseModel):
    """A relying party."""

    code: str = Field(description="Its short code")
    name: str = Field(description="Its registered name: what citizens see")
    kind: RelyingPartyKind = Field(description="department, bank, employer or other")
    contact: str = Field(description="Who answers for it")
    created_at: dt.datetime = Field(description="When it was registered")


class PartyApiKeyRead(BaseModel):
    """A new API key, shown once: only its prefix and a hash of its secret are kept."""

    relying_party: str = Field(description="The party's code")
    prefix: str = Field(description="The key's public part, to list and revoke it by")
    api_key: str = Field(description="`erp_<prefix>_<secret>`; store it now")


class PartyApiKeySummary(BaseModel):
    """One API key of a relying party (never its secret)."""

    prefix: str = Field(description="The key's public part")
    created_at: dt.datetime = Field(description="When it was made")
    revoked_at: dt.datetime | None = Field(description="When it was revoked; null while active")


class PurposeCreate(_Strict):
    """A registered purpose (用证事由): what the party may ask for under it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "ACCOUNT_OPENING",
                    "text_zh": "开立个人账户核验驾驶证",
                    "text_en": "Opening a personal account: driving licence check",
                    "licence_types": ["TRANSPORT/DL"],
                    "fields": ["holder_name", "valid_until"],
                    "max_days": 30,
                }
            ]
        }
    )

    code: str = Field(pattern=PURPOSE_PATTERN, description="The purpose id, unique per party")
    text_zh: Text500 = Field(description="What it is for, in Chinese")
    text_en: Text500 = Field(description="What it is for, in English")
    licence_types: LicenceTypeList = Field(description="The licence types it may ask for")
    fields: FieldList = Field(
        description="The fields it may ask for: holder_name, number, categories, valid_from, "
        "valid_until, issued_at, or a field of one of its licence types"
    )
    max_days: int = Field(ge=1, le=3650, description="The longest consent it may ask for, in days")


class PurposeRead(BaseModel):
    """A registered purpose."""

    code: str = Field(description="The purpose id")
    relying_party: str = Field(description="The code of the party it belongs to")
    text_zh: str = Field(description="What it is for, in Chinese")
    text_en: str = Field(description="What it is for, in English")
    licence_types: list[str] = Field(description="DEPARTMENT/TYPE codes it may ask for")
    fields: list[str] = Field(description="The fields it may ask for")
    max_days: int = Field(description="The longest consent it may ask for, in days")


# --- the relying party ---------------------------------------------------------------------------


class UseRequestCreate(_Strict):
    """A request to use a citizen's licence data. The ID number travels in this body only."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id_number": "11010519491231002X",
                    "purpose": "ACCOUNT_OPENING",
                    "licence_types": ["TRANSPORT/DL"],
                    "fields": ["holder_name", "valid_until"],
                    "kind": "one_time",
                }
            ]
        }
    )

    id_number: str = Field(
        min_length=1, max_length=32, description="The citizen's resident identity number"
    )
    purpose: str = Field(pattern=PURPOSE_PATTERN, description="One of the party's purposes")
    licence_types: LicenceTypeList = Field(description="Allowed by the purpose")
    fields: FieldList = Field(description="A subset of the purpose's fields")
    kind: ConsentKind = Field(description="one_time (one fetch) or standing (until `until`)")
    until: dt.datetime | None = Field(
        default=None,
        description="When the consent ends (timezone-aware); required for standing, at most the "
        "purpose's max_days ahead. One-time: default one day, capped by max_days",
    )


_ID = "Its id (a UUID)"
_KIND = "one_time (one fetch) or standing (until valid_until)"
_TYPES = "The licence types, DEPARTMENT/TYPE"
_FIELDS = "The fields shared of each licence (beside identifier, type and status, always)"


class PurposeShown(BaseModel):
    """A purpose as shown with a request, consent or access."""

    code: str = Field(description="The purpose id")
    text_zh: str = Field(description="What it is for, in Chinese")
    text_en: str = Field(description="What it is for, in English")


class PartyShown(BaseModel):
    """A relying party by its registered name."""

    code: str = Field(description="Its short code")
    name: str = Field(description="Its registered name")
    kind: RelyingPartyKind = Field(description="department, bank, employer or other")


class UseRequestRead(BaseModel):
    """A use request as its relying party sees it (never the ID number)."""

    id: str = Field(description=_ID)
    purpose: PurposeShown = Field(description="The purpose it names")
    licence_types: list[str] = Field(description=_TYPES)
    fields: list[str] = Field(description=_FIELDS)
    kind: ConsentKind = Field(description=_KIND)
    until: dt.datetime = Field(description="When the consent would end")
    state: RequestState = Field(description="pending, approved, refused or expired (unanswered)")
    created_at: dt.datetime = Field(description="When it was made")
    expires_at: dt.datetime = Field(description="The citizen must answer before this")
    answered_at: dt.datetime | None = Field(description="When the citizen answered")
    consent_id: str | None = Field(description="The consent, once approved")


class ConsentRead(BaseModel):
    """A consent as its relying party sees it."""

    id: str = Field(description=_ID)
    request_id: str = Field(description="The request it answers")
    purpose: PurposeShown = Field(description="The purpose it is for")
    licence_types: list[str] = Field(description=_TYPES)
    fields: list[str] = Field(description=_FIELDS)
    kind: ConsentKind = Field(description=_KIND)
    state: ConsentState = Field(description="active, used (one-time, fetched), expired, revoked")
    granted_at: dt.datetime = Field(description="When the citizen approved")
    valid_until: dt.datetime = Field(description="When it ends")
    used_at: dt.datetime | None = Field(description="When a one-time consent was fetched")
    revoked_at: dt.datetime | None = Field(description="When the citizen revoked it")


class DataPackageRead(BaseModel):
    """The signed data package and, for convenience, its payload (the same JSON the token
    carries; check the token, not this copy: docs/wire-format.md section 17)."""

    package: str = Field(description="The `licence-data+jwt` token signed by the platform root")
    content: dict[str, Any] = Field(description="The token's payload, unverified")


# --- the citizen ---------------------------------------------------------------------------------


class FieldShown(BaseModel):
    """A field a request asks for."""

    name: str = Field(description="The field's key")
    label: str | None = Field(description="Its label from the licence type, when it has one")


class RequestedLicenceType(BaseModel):
    """A licence type asked for and the fields of it that would be shared."""

    licence_type: str = Field(description="DEPARTMENT/TYPE")
    name: str | None = Field(description="The type's name")
    department_name: str | None = Field(description="The issuing department's name")
    fields: list[FieldShown] = Field(description="The fields of it that would be shared")


class HeldLicence(BaseModel):
    """One of the citizen's licences a consent covers."""

    id: str = Field(description="The licence's id in the wallet")
    number: str = Field(description="The licence number")
    identifier: str | None = Field(description="Its licence identifier (GB/T 36904)")
    licence_type: str = Field(description="DEPARTMENT/TYPE")
    status: str = Field(description="valid, revoked, suspended, expired or not_yet_valid")


class CitizenUseRequest(BaseModel):
    """A use request as the citizen sees it: who asks, why, exactly what, for how long."""

    id: str = Field(description=_ID)
    relying_party: PartyShown = Field(description="Who asks")
    purpose: PurposeShown = Field(description="Why")
    licence_types: list[RequestedLicenceType] = Field(description="Which fields of which types")
    licences: list[HeldLicence] = Field(description="The citizen's licences it would cover")
    kind: ConsentKind = Field(description=_KIND)
    until: dt.datetime = Field(description="When the consent would end")
    state: RequestState = Field(description="pending, approved, refused or expired")
    created_at: dt.datetime = Field(description="When it was made")
    expires_at: dt.datetime = Field(description="Answer before this")
    answered_at: dt.datetime | None = Field(description="When the citizen answered")
    consent_id: str | None = Field(description="The consent, once approved")


class CitizenConsent(BaseModel):
    """A consent as the citizen sees it."""

    id: str = Field(description=_ID)
    relying_party: PartyShown = Field(description="Who may fetch")
    purpose: PurposeShown = Field(description="For what")
    licence_types: list[str] = Field(description=_TYPES)
    fields: list[str] = Field(description=_FIELDS)
    kind: ConsentKind = Field(description=_KIND)
    state: ConsentState = Field(description="active, used, expired or revoked")
    granted_at: dt.datetime = Field(description="When the citizen approved")
    valid_until: dt.datetime = Field(description="When it ends")
    used_at: dt.datetime | None = Field(description="When a one-time consent was fetched")
    revoked_at: dt.datetime | None = Field(description="When the citizen revoked it")


class AccessShown(BaseModel):
    """One use of the citizen's data: a fetch under a consent, or an authenticated QR check."""

    kind: Literal["fetch", "check"] = Field(description="fetch (a data package) or check (QR)")
    at: dt.datetime = Field(description="When")
    relying_party: PartyShown = Field(description="Who, by registered name")
    purpose: PurposeShown = Field(description="For what")
    fields: list[str] | None = Field(
        description="The fields shared (a fetch); null for a check, which shows the QR's licence"
    )
    licences: list[str] = Field(description="Numbers of the licences concerned")
    consent_id: str | None = Field(description="The consent of a fetch")
    outcome: str | None = Field(description="A check's verdict (valid, revoked, ...)")


class CitizenRequestList(BaseModel):
    """The requests for the citizen, newest first."""

    requests: list[CitizenUseRequest] = Field(description="Newest first")


class CitizenConsentList(BaseModel):
    """The citizen's consents, newest first."""

    consents: list[CitizenConsent] = Field(description="Newest first")


class AccessLog(BaseModel):
    """Every use of the citizen's data."""

    accesses: list[AccessShown] = Field(description="Newest first")
