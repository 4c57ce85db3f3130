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


class RevokeRequest(_Strict):
    reason: RevokeReason
    note: StrictStr | None = Field(default=None, max_length=500)


class SuspendRequest(_Strict):
    reason: SuspendReason
    note: StrictStr | None = Field(default=None, max_length=500)


class ReinstateRequest(_Strict):
    reason: ReinstateReason
    note: StrictStr | None = Field(default=None, max_length=500)


class CorrectRequest(_Strict):
    """What changes; anything omitted is carried over from the licence being corrected."""

    reason: CorrectReason
    note: StrictStr | None = Field(default=None, max_length=500)
    holder_name: StrictStr | None = Field(default=None, min_length=1, max_length=100)
    fields: dict[str, StrictStr | StrictInt] | None = Field(default=None, max_length=32)
    categories: list[StrictStr] | None = Field(default=None, max_length=64)
    valid_until: dt.datetime | None = None
