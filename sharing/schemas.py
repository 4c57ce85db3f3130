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

    code: str
    name: str
    kind: RelyingPartyKind
    contact: str
    created_at: dt.datetime


class ApiKeyRead(BaseModel):
    """A new API key, shown once: only its prefix and a hash of its secret are kept."""

    relying_party: str
    prefix: str
    api_key: str = Field(description="`erp_<prefix>_<secret>`; store it now")


class ApiKeySummary(BaseModel):
    """One API key of a relying party (never its secret)."""

    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


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

    code: str
    relying_party: str
    text_zh: str
    text_en: str
    licence_types: list[str]
    fields: list[str]
    max_days: int


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


class PurposeShown(BaseModel):
    """A purpose as shown with a request, consent or access."""

    code: str
    text_zh: str
    text_en: str


class PartyShown(BaseModel):
    """A relying party by its registered name."""

    code: str
    name: str
    kind: RelyingPartyKind


class UseRequestRead(BaseModel):
    """A use request as its relying party sees it (never the ID number)."""

    id: str
    purpose: PurposeShown
    licence_types: list[str]
    fields: list[str]
    kind: ConsentKind
    until: dt.datetime
    state: RequestState
    created_at: dt.datetime
    expires_at: dt.datetime = Field(description="The citizen must answer before this")
    answered_at: dt.datetime | None
    consent_id: str | None = Field(description="The consent, once approved")


class ConsentRead(BaseModel):
    """A consent as its relying party sees it."""

    id: str
    request_id: str
    purpose: PurposeShown
    licence_types: list[str]
    fields: list[str]
    kind: ConsentKind
    state: ConsentState
    granted_at: dt.datetime
    valid_until: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class DataPackageRead(BaseModel):
    """The signed data package and, for convenience, its payload (the same JSON the token
    carries; check the token, not this copy: docs/wire-format.md section 17)."""

    package: str = Field(description="The `licence-data+jwt` token signed by the platform root")
    content: dict[str, Any]


# --- the citizen ---------------------------------------------------------------------------------


class FieldShown(BaseModel):
    name: str
    label: str | None


class RequestedLicenceType(BaseModel):
    """A licence type asked for and the fields of it that would be shared."""

    licence_type: str
    name: str | None
    department_name: str | None
    fields: list[FieldShown]


class HeldLicence(BaseModel):
    """One of the citizen's licences a consent covers."""

    id: str
    number: str
    identifier: str | None
    licence_type: str
    status: str


class CitizenUseRequest(BaseModel):
    """A use request as the citizen sees it: who asks, why, exactly what, for how long."""

    id: str
    relying_party: PartyShown
    purpose: PurposeShown
    licence_types: list[RequestedLicenceType]
    licences: list[HeldLicence] = Field(description="The citizen's licences it would cover")
    kind: ConsentKind
    until: dt.datetime
    state: RequestState
    created_at: dt.datetime
    expires_at: dt.datetime
    answered_at: dt.datetime | None
    consent_id: str | None


class CitizenConsent(BaseModel):
    """A consent as the citizen sees it."""

    id: str
    relying_party: PartyShown
    purpose: PurposeShown
    licence_types: list[str]
    fields: list[str]
    kind: ConsentKind
    state: ConsentState
    granted_at: dt.datetime
    valid_until: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class AccessShown(BaseModel):
    """One use of the citizen's data: a fetch under a consent, or an authenticated QR check."""

    kind: Literal["fetch", "check"]
    at: dt.datetime
    relying_party: PartyShown
    purpose: PurposeShown
    fields: list[str] | None = Field(
        description="The fields shared (a fetch); null for a check, which shows the QR's licence"
    )
    licences: list[str] = Field(description="Numbers of the licences concerned")
    consent_id: str | None
    outcome: str | None = Field(description="A check's verdict (valid, revoked, ...)")


class CitizenRequestList(BaseModel):
    requests: list[CitizenUseRequest]


class CitizenConsentList(BaseModel):
    consents: list[CitizenConsent]


class AccessLog(BaseModel):
    accesses: list[AccessShown]
