"""What the relying-party pages (the desk at ``/desk`` and the signed-in counter) need to know
about the signed-in party in one call: ``GET /sharing/me``, its registered name and its purposes
with the names of their licence types and the labels of their fields, so a page can offer
exactly what a purpose allows without a second look-up per purpose.

And the public directory of relying parties the citizen's wallet picks from when it binds a
one-time authorisation (亮证) to a party and purpose: ``directory`` (served by ``wallet_api``).

Reads only; the rules stay in ``sharing.service``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import error_responses
from registry.models import RelyingParty, RelyingPartyKind, SharingPurpose

from . import service
from .auth import RelyingPartyDep
from .runtime import ReadSessionDep

router = APIRouter(tags=["sharing"], responses=error_responses(401, 422, 429))


class FieldOffered(BaseModel):
    """A field a purpose allows, with the label of the licence type that defines it (null for
    the fields every licence has: holder_name, number, categories, valid_from, valid_until,
    issued_at)."""

    name: str = Field(description="The field's name", examples=["first_issued"])
    label: str | None = Field(description="The licence type's label for it; null for core fields")


class LicenceTypeOffered(BaseModel):
    """A licence type a purpose allows: ``DEPARTMENT/TYPE``, its name, and which of the
    purpose's fields it has."""

    licence_type: str = Field(description="DEPARTMENT/TYPE", examples=["TRANSPORT/DL"])
    name: str | None = Field(description="The licence type's name; null if it no longer exists")
    department_name: str | None = Field(description="The issuing department's name")
    fields: list[FieldOffered] = Field(description="The purpose's fields this type has")


class PurposeProfile(BaseModel):
    """A purpose as a page offers it."""

    code: str = Field(description="The purpose id", examples=["ACCOUNT_OPENING"])
    text_zh: str = Field(description="What it is for, in Chinese")
    text_en: str = Field(description="What it is for, in English")
    licence_types: list[LicenceTypeOffered] = Field(description="The licence types it allows")
    fields: list[str] = Field(description="The fields it allows, in the registered order")
    max_days: int = Field(description="The longest consent it may ask for, in days")


class PartyProfile(BaseModel):
    """The signed-in relying party: its registered name (what citizens see) and purposes."""

    code: str = Field(description="The party's code", examples=["CITY_BANK"])
    name: str = Field(description="Its registered name: what citizens see")
    kind: RelyingPartyKind = Field(description="department, bank, employer or other")
    purposes: list[PurposeProfile] = Field(description="Its registered purposes, by code")


def purpose_profiles(session: Session, purposes: Sequence[SharingPurpose]) -> list[PurposeProfile]:
    """Each purpose with its licence types' names and its fields' labels (one query for all)."""
    types = service._licence_types(session, {ref for p in purposes for ref in p.licence_types})
    profiles = []
    for purpose in purposes:
        offered = []
        for ref in purpose.licence_types:
            licence_type = types.get(ref)
            labels = {
                spec["name"]: spec.get("label")
                for spec in (licence_type.fields if licence_type else [])
            }
            offered.append(
                LicenceTypeOffered(
                    licence_type=ref,
                    name=licence_type.name if licence_type else None,
                    department_name=licence_type.department.name if licence_type else None,
                    fields=[
                        FieldOffered(name=name, label=labels.get(name))
                        for name in purpose.fields
                        if name in service.CORE_FIELDS or name in labels
                    ],
                )
            )
        profiles.append(
            PurposeProfile(
                code=purpose.code,
                text_zh=purpose.text_zh,
                text_en=purpose.text_en,
                licence_types=offered,
                fields=list(purpose.fields),
                max_days=purpose.max_days,
            )
        )
    return profiles


@router.get("/me")
def who_am_i(session: ReadSessionDep, caller: RelyingPartyDep, response: Response) -> PartyProfile:
    """The signed-in party's registered name and its purposes: for each, the licence types
    (with names) and fields (with labels) it allows and its longest consent in days."""
    response.headers["Cache-Control"] = "no-store"
    party = session.get(RelyingParty, caller.relying_party_id)
    assert party is not None  # its key just authenticated
    purposes = service.list_purposes(session=session, relying_party_id=party.id)
    return PartyProfile(
        code=party.code,
        name=party.name,
        kind=party.kind,
        purposes=purpose_profiles(session, purposes),
    )


class DirectoryPurpose(BaseModel):
    """A purpose in the public directory: what a citizen binds an authorisation to."""

    code: str = Field(description="The purpose id", examples=["ACCOUNT_OPENING"])
    text_zh: str = Field(description="What it is for, in Chinese")
    text_en: str = Field(description="What it is for, in English")
    licence_types: list[str] = Field(description="The licence types (DEPARTMENT/TYPE) it allows")
    fields: list[str] = Field(description="The fields it allows")


class DirectoryParty(BaseModel):
    """A relying party in the public directory, by its registered name."""

    code: str = Field(description="The party's code", examples=["CITY_BANK"])
    name: str = Field(description="Its registered name")
    kind: RelyingPartyKind = Field(description="department, bank, employer or other")
    purposes: list[DirectoryPurpose] = Field(description="Its registered purposes, by code")


def directory(*, session: Session) -> list[DirectoryParty]:
    """Every relying party that has a purpose, with its purposes, by code: the register a
    citizen picks from (registered names and purposes are public; keys and contacts are not)."""
    parties = {p.id: p for p in service.list_relying_parties(session=session)}
    by_party: dict[int, list[DirectoryPurpose]] = {}
    for purpose in session.scalars(
        select(SharingPurpose).order_by(SharingPurpose.relying_party_id, SharingPurpose.code)
    ):
        by_party.setdefault(purpose.relying_party_id, []).append(
            DirectoryPurpose(
                code=purpose.code,
                text_zh=purpose.text_zh,
                text_en=purpose.text_en,
                licence_types=list(purpose.licence_types),
                fields=list(purpose.fields),
            )
        )
    return [
        DirectoryParty(code=p.code, name=p.name, kind=p.kind, purposes=by_party[p.id])
        for p in parties.values()
        if p.id in by_party
    ]
