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
    """A new department: the platform makes its first signing key with it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "TRANSPORT", "name": "市交通运输局"}]}
    )

    code: str = Field(
        pattern=CODE_PATTERN,
        description="Short upper-case code, e.g. TRANSPORT",
        examples=["TRANSPORT"],
    )
    name: str = Field(
        min_length=1,
        max_length=200,
        description="The department's name as citizens know it",
        examples=["市交通运输局 Municipal Transport Bureau"],
    )


class DepartmentRead(BaseModel):
    """A department and the key it signs with now."""

    code: str = Field(description="The department's code", examples=["TRANSPORT"])
    name: str = Field(description="The department's name", examples=["市交通运输局"])
    active_kid: str | None = Field(
        description="Id of its active signing key (none after a compromise until a rotation)",
        examples=["q0kIr9eTV3c"],
    )


class ApiKeyRead(BaseModel):
    """A new API key, shown once: it cannot be read again."""

    department: str = Field(description="The department's code", examples=["TRANSPORT"])
    prefix: str = Field(
        description="The key's public part, by which it is listed and revoked",
        examples=["Ab12Cd34"],
    )
    api_key: str = Field(
        description="The whole key, `elk_<prefix>_<secret>`: send it as `Bearer`; shown once",
        examples=["elk_Ab12Cd34_" + "x" * 43],
    )


class ApiKeySummary(BaseModel):
    """An existing API key as an operator sees it: never its secret or hash."""

    prefix: str = Field(description="The key's public part", examples=["Ab12Cd34"])
    created_at: dt.datetime = Field(description="When the key was made (UTC)")
    revoked_at: dt.datetime | None = Field(description="When it was revoked; null while usable")


class FieldSpec(_Strict):
    """One field of a licence type: ``date`` values are ISO dates, ``choice`` one of ``choices``."""

    name: str = Field(
        pattern=FIELD_NAME_PATTERN,
        description="The field's key in a licence's `fields`",
        examples=["licence_class"],
    )
    label: str | None = Field(
        default=None,
        max_length=100,
        description="What pages show for the field",
        examples=["准驾车型 Class"],
    )
    type: FieldKind = Field(
        default="text",
        description="text, int, date (ISO 8601) or choice (one of `choices`)",
        examples=["choice"],
    )
    required: bool = Field(default=True, description="Whether every licence must carry it")
    choices: list[str] | None = Field(
        default=None,
        max_length=64,
        description="The allowed values of a `choice` field",
        examples=[["A", "B", "C"]],
    )


class LicenceTypeCreate(_Strict):
    """A licence type of a department: its fields, categories and default validity."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "DRIVING",
                    "name": "机动车驾驶证 Driving licence",
                    "fields": [
                        {"name": "licence_class", "type": "choice", "choices": ["A", "B", "C"]},
                        {"name": "first_issued", "label": "初次领证日期", "type": "date"},
                    ],
                    "validity_days": 3650,
                    "categories": ["A1", "B1", "C1"],
                }
            ]
        }
    )

    code: str = Field(
        pattern=CODE_PATTERN,
        description="The type's code within the department",
        examples=["DRIVING"],
    )
    name: str = Field(
        min_length=1,
        max_length=200,
        description="The type's name",
        examples=["机动车驾驶证 Driving licence"],
    )
    fields: list[FieldSpec] = Field(
        default_factory=list, max_length=32, description="The fields each licence carries"
    )
    validity_days: int = Field(
        gt=0, le=36600, description="Default validity of a new licence, in days", examples=[3650]
    )
    categories: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="The categories a licence of this type may hold",
        examples=[["A1", "B1", "C1"]],
    )


class LicenceTypeRead(BaseModel):
    """A licence type as its department defined it."""

    department: str = Field(description="The department's code", examples=["TRANSPORT"])
    code: str = Field(description="The type's code", examples=["DRIVING"])
    name: str = Field(description="The type's name", examples=["机动车驾驶证 Driving licence"])
    fields: list[FieldSpec] = Field(description="The fields each licence carries")
    validity_days: int = Field(description="Default validity, in days", examples=[3650])
    categories: list[str] = Field(
        description="The categories a licence may hold", examples=[["A1", "B1", "C1"]]
    )


class KeyRead(BaseModel):
    """A department signing key."""

    kid: str = Field(description="The key's id: base64url of 8 bytes", examples=["q0kIr9eTV3c"])
    state: str = Field(
        description="active (signs), retired (still verifies) or compromised (rejected)",
        examples=["active"],
    )
