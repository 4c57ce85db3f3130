"""The citizen's side of sharing (授权用证), mounted at ``/wallet/sharing``: the use requests
relying parties made (who asks, why, exactly which fields of which licences, how long), the
answers, the consents, the access log, and one-time authorisations to show at a counter (亮证).

Everything is by the signed-in citizen's blind index: another citizen's request or consent is
indistinguishable from one that does not exist (404).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from registry.errors import error_responses
from sharing import schemas, service
from sharing.routes import ID_PATTERN

from .runtime import CitizenDep, ReadSessionDep, RuntimeDep

router = APIRouter(prefix="/sharing", tags=["wallet sharing"], responses=error_responses(401, 503))
_NO_STORE = {"Cache-Control": "no-store"}
RequestIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="The request's id")]
ConsentIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="The consent's id")]
_ANSWER = error_responses(
    422,
    described={
        404: "No such request for the signed-in citizen",
        409: "The request is answered already or has expired (`request_closed`)",
    },
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _index(runtime: RuntimeDep, citizen: CitizenDep) -> str:
    return runtime.vault.blind_index(citizen.id_number.value)


@router.get("/requests")
def my_requests(
    citizen: CitizenDep, session: ReadSessionDep, runtime: RuntimeDep, response: Response
) -> schemas.CitizenRequestList:
    """Requests to use the citizen's data, newest first: pending ones to answer, and the rest."""
    response.headers.update(_NO_STORE)
    now = _now()
    rows = service.citizen_requests(session=session, id_index=_index(runtime, citizen))
    return schemas.CitizenRequestList(
        requests=[service.citizen_request_read(session, r, now=now) for r in rows]
    )


@router.get(
    "/requests/{request_id}",
    responses=error_responses(422, described={404: "No such request for the signed-in citizen"}),
)
def my_request(
    request_id: RequestIdPath,
    citizen: CitizenDep,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> schemas.CitizenUseRequest:
    """One request: who asks, the purpose's text, which fields of which licences (and which of
    the citizen's licences that covers), one-time or until when, and by when to answer."""
    response.headers.update(_NO_STORE)
    request = service.citizen_request(
        session=session, id_index=_index(runtime, citizen), request_id=request_id
    )
    return service.citizen_request_read(session, request, now=_now())


async def _answer(
    request_id: str, approve: bool, citizen: CitizenDep, runtime: RuntimeDep
) -> schemas.CitizenUseRequest:
    id_index = _index(runtime, citizen)
    actor = service.citizen_actor(citizen.id_number.value)
    now = _now()

    def work(session: Session) -> schemas.CitizenUseRequest:
        request = service.answer_request(
            session=session,
            id_index=id_index,
            request_id=request_id,
            approve=approve,
            actor=actor,
            now=now,
        )
        return service.citizen_request_read(session, request, now=now)

    return await runtime.database.write(work)


@router.post("/requests/{request_id}/approve", responses=_ANSWER)
async def approve_request(
    request_id: RequestIdPath, citizen: CitizenDep, runtime: RuntimeDep
) -> schemas.CitizenUseRequest:
    """Approve: a consent is made for exactly what the request names (its `consent_id`)."""
    return await _answer(request_id, True, citizen, runtime)


@router.post("/requests/{request_id}/refuse", responses=_ANSWER)
async def refuse_request(
    request_id: RequestIdPath, citizen: CitizenDep, runtime: RuntimeDep
) -> schemas.CitizenUseRequest:
    """Refuse: nothing is shared."""
    return await _answer(request_id, False, citizen, runtime)


@router.get("/consents")
def my_consents(
    citizen: CitizenDep, session: ReadSessionDep, runtime: RuntimeDep, response: Response
) -> schemas.CitizenConsentList:
    """The citizen's consents, newest first: active, used, expired or revoked."""
    response.headers.update(_NO_STORE)
    now = _now()
    rows = service.citizen_consents(session=session, id_index=_index(runtime, citizen))
    return schemas.CitizenConsentList(
        consents=[service.citizen_consent_read(c, now=now) for c in rows]
    )


@router.post(
    "/consents/{consent_id}/revoke",
    responses=error_responses(
        422,
        described={
            404: "No such consent of the signed-in citizen",
            409: "The consent is not active (used, expired or revoked already)",
        },
    ),
)
async def revoke_consent(
    consent_id: ConsentIdPath, citizen: CitizenDep, runtime: RuntimeDep
) -> schemas.CitizenConsent:
    """Revoke a consent: the relying party's next fetch is refused (403) at once."""
    id_index = _index(runtime, citizen)
    actor = service.citizen_actor(citizen.id_number.value)
    now = _now()

    def work(session: Session) -> schemas.CitizenConsent:
        consent = service.revoke_consent(
            session=session, id_index=id_index, consent_id=consent_id, actor=actor, now=now
        )
        session.refresh(consent)
        return service.citizen_consent_read(consent, now=now)

    return await runtime.database.write(work)


@router.get("/access-log")
def my_access_log(
    citizen: CitizenDep, session: ReadSessionDep, runtime: RuntimeDep, response: Response
) -> schemas.AccessLog:
    """Every use of the citizen's data, newest first: each fetch under a consent (the fields
    shared) and each check of a licence by an authenticated relying party, with the party's
    registered name, the purpose and the time."""
    response.headers.update(_NO_STORE)
    return schemas.AccessLog(
        accesses=service.access_log(session=session, id_index=_index(runtime, citizen))
    )


class ShowTokenCreate(BaseModel):
    """What to authorise: one licence, and the party and purpose (or neither: any authenticated
    party that scans it within 5 minutes claims it with one of its purposes)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "licence_id": "0b7e4c1e-3f5d-4a59-9a3e-2f1d7f0c9a11",
                    "relying_party": "CITY_BANK",
                    "purpose": "ACCOUNT_OPENING",
                }
            ]
        },
    )

    licence_id: str = Field(pattern=ID_PATTERN, description="One of the citizen's licences")
    relying_party: str | None = Field(
        default=None, pattern=schemas.CODE_PATTERN, description="The party's code"
    )
    purpose: str | None = Field(
        default=None, pattern=schemas.PURPOSE_PATTERN, description="One of its purposes"
    )


class ShowTokenRead(BaseModel):
    """A one-time authorisation to show as a QR; redeemable once before `expires_at`."""

    token: str = Field(description="The QR's text; the relying party redeems it")
    expires_at: dt.datetime = Field(description="Redeem before this (5 minutes)")


@router.post(
    "/show-tokens",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        400,
        403,
        422,
        described={404: "No such licence of the citizen, or no such relying party"},
    ),
)
async def create_show_token(
    body: ShowTokenCreate, citizen: CitizenDep, runtime: RuntimeDep, response: Response
) -> ShowTokenRead:
    """A one-time authorisation (亮证) for one licence, to show at a counter: the scanning
    party redeems it for a one-time consent within 5 minutes."""
    response.headers.update(_NO_STORE)
    id_index = _index(runtime, citizen)
    now = _now()

    def work(session: Session) -> ShowTokenRead:
        token, row = service.create_show_token(
            session=session,
            id_index=id_index,
            licence_id=body.licence_id,
            party_code=body.relying_party,
            purpose_code=body.purpose,
            now=now,
        )
        return ShowTokenRead(token=token, expires_at=row.expires_at)

    return await runtime.database.write(work)
