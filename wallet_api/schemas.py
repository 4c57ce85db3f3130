"""Response bodies of the wallet API. Only ``LicenceDetail`` carries the full ID number."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

# What the citizen is shown: the licence's status (credential.LicenceStatus), or, for a valid
# one, whether it is outside its validity window.
ShownStatus = Literal["valid", "revoked", "suspended", "expired", "not_yet_valid"]
QrMode = Literal["presentation", "static"]


class LicenceSummary(BaseModel):
    id: str
    type_code: str
    type_name: str
    department_code: str
    department_name: str
    number: str
    identifier: str | None = None  # GB/T 36904 licence identifier; null for older licences
    valid_from: dt.datetime
    valid_until: dt.datetime
    status: ShownStatus
    status_reason: str | None = None


class LicenceList(BaseModel):
    licences: list[LicenceSummary]


class LicenceDetail(LicenceSummary):
    holder_name: str
    id_number: str
    masked_id: str
    categories: list[str]
    fields: dict[str, str | int]
    field_labels: dict[str, str] = Field(default_factory=dict)  # the type's labels, by field
    issued_at: dt.datetime
    issuer: str
    credential_id: str


class Presentation(BaseModel):
    licence_id: str
    mode: QrMode
    payload: str
    qr_version: int
    presented_at: int | None = None
    expires_at: int | None = None
    challenge: str | None = None


class VerificationCheckRead(BaseModel):
    verifier: str
    purpose: str | None
    checked_at: dt.datetime
    outcome: str


class VerificationCheckList(BaseModel):
    checks: list[VerificationCheckRead]
