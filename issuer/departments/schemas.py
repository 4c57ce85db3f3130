"""Request and response bodies of the platform admin API (departments, licence types)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..auth import API_KEY_PREFIX

CODE_PATTERN = r"^[A-Z][A-Z0-9_]{1,23}$"
# The public part of an API key ``elk_<prefix>_<secret>`` (see ``issuer.auth``).
API_KEY_PREFIX_PATTERN = f"^{API_KEY_PREFIX}$"
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
FieldKind = Literal["text", "int", "date", "choice"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DepartmentCreate(_Strict):
    code: str = Field(pattern=CODE_PATTERN, description="Short upper-case code, e.g. TRANSPORT")
    name: str = Field(min_length=1, max_length=200)


class DepartmentRead(BaseModel):
    code: str
    name: str
    active_kid: str | None


class ApiKeyRead(BaseModel):
    """A new API key, shown once: it cannot be read again."""

    department: str
    prefix: str
    api_key: str


class ApiKeySummary(BaseModel):
    """An existing API key as an operator sees it: never its secret or hash."""

    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class FieldSpec(_Strict):
    """One field of a licence type: ``date`` values are ISO dates, ``choice`` one of ``choices``."""

    name: str = Field(pattern=FIELD_NAME_PATTERN)
    label: str | None = Field(default=None, max_length=100)
    type: FieldKind = "text"
    required: bool = True
    choices: list[str] | None = Field(default=None, max_length=64)


class LicenceTypeCreate(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    fields: list[FieldSpec] = Field(default_factory=list, max_length=32)
    validity_days: int = Field(gt=0, le=36600)
    categories: list[str] = Field(default_factory=list, max_length=64)
    single_valid: bool = Field(
        default=False, description="A holder may hold one valid licence of this type at most"
    )


class LicenceTypeRead(BaseModel):
    department: str
    code: str
    name: str
    fields: list[FieldSpec]
    validity_days: int
    categories: list[str]


class KeyRead(BaseModel):
    kid: str
    state: str
