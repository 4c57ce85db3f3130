"""Request bodies of revoke, suspend, reinstate and correct."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

RevokeReason = Literal[
    "holder_request", "fraud", "issued_in_error", "superseded", "deceased", "court_order", "other"
]
SuspendReason = Literal["investigation", "unpaid_fee", "holder_request", "court_order", "other"]
ReinstateReason = Literal["investigation_closed", "fee_paid", "issued_in_error", "other"]
CorrectReason = Literal["data_error", "name_change", "category_change", "extension", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


_NOTE = "Free text for the audit log (never an ID number)"


class RevokeRequest(_Strict):
    """Why the licence is revoked (for good)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "holder_request", "note": "licence returned"}]}
    )

    reason: RevokeReason = Field(description="Why it is revoked", examples=["holder_request"])
    note: StrictStr | None = Field(
        default=None, max_length=500, description=_NOTE, examples=["licence returned"]
    )


class SuspendRequest(_Strict):
    """Why the licence is suspended (until reinstated)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "investigation", "note": "case 2026-114"}]}
    )

    reason: SuspendReason = Field(description="Why it is suspended", examples=["investigation"])
    note: StrictStr | None = Field(
        default=None, max_length=500, description=_NOTE, examples=["case 2026-114"]
    )


class ReinstateRequest(_Strict):
    """Why a suspension ends."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "investigation_closed"}]})

    reason: ReinstateReason = Field(
        description="Why it is reinstated", examples=["investigation_closed"]
    )
    note: StrictStr | None = Field(default=None, max_length=500, description=_NOTE)


class CorrectRequest(_Strict):
    """What changes; anything omitted is carried over from the licence being corrected."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "name_change", "holder_name": "张三丰"}]}
    )

    reason: CorrectReason = Field(description="Why it is corrected", examples=["name_change"])
    note: StrictStr | None = Field(default=None, max_length=500, description=_NOTE)
    holder_name: StrictStr | None = Field(
        default=None, min_length=1, max_length=100, description="The new holder name"
    )
    fields: dict[str, StrictStr | StrictInt] | None = Field(
        default=None, max_length=32, description="The new field values (all of them)"
    )
    categories: list[StrictStr] | None = Field(
        default=None, max_length=64, description="The new categories (all of them)"
    )
    valid_until: dt.datetime | None = Field(default=None, description="The new end of validity")
