"""Revoke, suspend, reinstate and correct a licence (department API key, own licences only).

Each change is one write through the database's writer; the answer is built inside it."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from registry.errors import error_responses

from ..auth import DepartmentDep
from ..licences.schemas import LicenceRead
from ..licences.service import licence_read
from ..runtime import RuntimeDep
from . import service
from .schemas import CorrectRequest, ReinstateRequest, RevokeRequest, SuspendRequest

# Each change reads a JSON body (400 when it is not JSON, 413 when too large) and names a
# licence of the caller's (404 otherwise).
router = APIRouter(
    prefix="/licences",
    tags=["revocation"],
    responses=error_responses(
        400, 401, 413, 422, described={404: "No such licence among the caller's"}
    ),
)


@router.post("/{licence_id}/revoke", responses=error_responses(described={409: "Already revoked"}))
async def revoke(
    licence_id: str, body: RevokeRequest, caller: DepartmentDep, runtime: RuntimeDep
) -> LicenceRead:
    """Revoke a licence for good (409 if already revoked)."""

    def work(session: Session) -> LicenceRead:
        licence = service.revoke(
            session=session,
            caller=caller,
            licence_id=licence_id,
            reason=body.reason,
            note=body.note,
        )
        return licence_read(session=session, licence=licence)

    return await runtime.database.write(work)


@router.post(
    "/{licence_id}/suspend",
    responses=error_responses(described={409: "The licence is not valid (revoked or suspended)"}),
)
async def suspend(
    licence_id: str, body: SuspendRequest, caller: DepartmentDep, runtime: RuntimeDep
) -> LicenceRead:
    """Suspend a valid licence (409 otherwise)."""

    def work(session: Session) -> LicenceRead:
        licence = service.suspend(
            session=session,
            caller=caller,
            licence_id=licence_id,
            reason=body.reason,
            note=body.note,
        )
        return licence_read(session=session, licence=licence)

    return await runtime.database.write(work)


@router.post(
    "/{licence_id}/reinstate",
    responses=error_responses(described={409: "The licence is not suspended"}),
)
async def reinstate(
    licence_id: str, body: ReinstateRequest, caller: DepartmentDep, runtime: RuntimeDep
) -> LicenceRead:
    """Lift a suspension (409 for a licence that is not suspended, e.g. revoked)."""

    def work(session: Session) -> LicenceRead:
        licence = service.reinstate(
            session=session,
            caller=caller,
            licence_id=licence_id,
            reason=body.reason,
            note=body.note,
        )
        return licence_read(session=session, licence=licence)

    return await runtime.database.write(work)


@router.post(
    "/{licence_id}/correct",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(described={409: "A revoked licence cannot be corrected"}),
)
async def correct(
    licence_id: str, body: CorrectRequest, caller: DepartmentDep, runtime: RuntimeDep
) -> LicenceRead:
    """Issue a corrected licence replacing this one, which is revoked (``superseded``)."""

    def work(session: Session) -> LicenceRead:
        new, _ = service.correct(
            session=session, runtime=runtime, caller=caller, licence_id=licence_id, correction=body
        )
        return licence_read(session=session, licence=new)

    return await runtime.database.write(work)
