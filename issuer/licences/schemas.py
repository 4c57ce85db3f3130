"""Request and response bodies of issuance and look-up."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from credential import LicenceStatus

FieldValue = StrictStr | StrictInt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LicenceCreate(_Strict):
    licence_type: StrictStr = Field(min_length=1, max_length=32)
    id_number: StrictStr = Field(min_length=1, max_length=32, repr=False)
    holder_name: StrictStr = Field(min_length=1, max_length=100)
    fields: dict[str, FieldValue] = Field(default_factory=dict, max_length=32)
    categories: list[StrictStr] = Field(default_factory=list, max_length=64)
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None


class LicenceSearch(_Strict):
    id_number: StrictStr = Field(min_length=1, max_length=32, repr=False)
    licence_type: StrictStr | None = Field(default=None, max_length=32)
    status: LicenceStatus | None = None


class LicenceRead(BaseModel):
    id: uuid.UUID
    number: str
    identifier: str | None = None  # GB/T 36904 licence identifier; null for older licences
    record_key: str | None = Field(
        default=None, description="The department's own number of an imported licence"
    )
    department: str
    licence_type: str
    holder_name: str
    masked_id: str
    categories: list[str]
    fields: dict[str, str | int]
    valid_from: dt.datetime
    valid_until: dt.datetime
    issued_at: dt.datetime
    status: LicenceStatus
    status_list: str
    status_index: int
    kid: str
    replaces: uuid.UUID | None = None
    replaced_by: uuid.UUID | None = None
    static_qr: str


class LicenceList(BaseModel):
    licences: list[LicenceRead]
