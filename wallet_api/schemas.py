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
    """One of the citizen's licences, as the wallet lists it."""

    id: str = Field(description="The licence's id in the registry")
    type_code: str = Field(description="The licence type's code", examples=["DRIVING"])
    type_name: str = Field(description="The licence type's name", examples=["机动车驾驶证"])
    department_code: str = Field(description="The issuing department's code")
    department_name: str = Field(description="The issuing department's name")
    number: str = Field(description="The licence number printed on it")
    identifier: str | None = Field(
        default=None,
        description="Its GB/T 36904 licence identifier (电子证照标识); null for older licences",
    )
    valid_from: dt.datetime = Field(description="Start of validity")
    valid_until: dt.datetime = Field(description="End of validity")
    status: ShownStatus = Field(
        description="What a counter would find now: valid, revoked, suspended, expired or "
        "not_yet_valid",
        examples=["valid"],
    )
    status_reason: str | None = Field(
        default=None, description="The department's reason for a revocation or suspension"
    )


class LicenceList(BaseModel):
    """Every licence issued to the signed-in citizen."""

    licences: list[LicenceSummary] = Field(description="The licences, by any department")


class LicenceDetail(LicenceSummary):
    """One licence in full, for its holder only."""

    holder_name: str = Field(description="The holder's name", examples=["张三"])
    id_number: str = Field(description="The holder's full ID number (only in this answer)")
    masked_id: str = Field(
        description="The ID number with its middle masked, as QR codes carry it",
        examples=["110105********002X"],
    )
    categories: list[str] = Field(description="Categories held", examples=[["B1"]])
    fields: dict[str, str | int] = Field(description="Values of the type's fields")
    field_labels: dict[str, str] = Field(
        default_factory=dict, description="The type's labels for its fields, by field name"
    )
    issued_at: dt.datetime = Field(description="When it was signed")
    issuer: str = Field(description="The issuing department's code in the credential")
    credential_id: str = Field(description="The credential's id (hex)")


class Presentation(BaseModel):
    """A QR payload to show: a presentation (rotating) or the static copy."""

    licence_id: str = Field(description="The licence's id")
    mode: QrMode = Field(
        description="presentation (credential + fresh holder proof) or static (printable)"
    )
    payload: str = Field(
        description="The QR text: `EP1:` + Base45 (presentation) or `EL1:` + Base45 (static)"
    )
    qr_version: int = Field(description="The QR version the payload needs (error correction M)")
    presented_at: int | None = Field(
        default=None, description="When the holder proof was signed (Unix seconds)"
    )
    expires_at: int | None = Field(
        default=None, description="When to show a fresh one (Unix seconds)"
    )
    challenge: str | None = Field(default=None, description="The verifier's challenge it binds")


class VerificationCheckRead(BaseModel):
    """One online check of the licence by a named verifier."""

    verifier: str = Field(description="Who checked: the verifier's name", examples=["Counter 3"])
    purpose: str | None = Field(description="Why, as the verifier stated it")
    checked_at: dt.datetime = Field(description="When")
    outcome: str = Field(
        description="valid, or the code of the failing check (e.g. revoked)", examples=["valid"]
    )


class VerificationCheckList(BaseModel):
    """Who checked the licence online."""

    checks: list[VerificationCheckRead] = Field(description="The checks, newest first")


class CredentialOfferRead(BaseModel):
    """An OpenID4VCI credential offer of one licence, for another wallet app to scan: the offer
    URI (and its QR code) holds a one-time pre-authorized code; the transaction code is shown
    only here, to the citizen, who types it into the other app."""

    licence_id: str = Field(description="The licence offered")
    credential_configuration_id: str = Field(
        description="Its credential configuration in the issuer metadata", examples=["TRANSPORT.DL"]
    )
    credential_offer_uri: str = Field(
        description="`openid-credential-offer://?credential_offer=...` (no ID number in it)"
    )
    qr_png: str = Field(description="The offer URI as a QR code: a `data:image/png;base64,` URL")
    tx_code: str = Field(
        description="The transaction code to type into the other wallet (never in the URI)",
        examples=["493817"],
    )
    expires_at: dt.datetime = Field(description="When the offer can no longer be redeemed")
