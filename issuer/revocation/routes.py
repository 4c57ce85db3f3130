"""Revoke, suspend, reinstate and correct a licence (department API key, own licences only).

Each change is one write through the database's writer; the answer is built after its commit,
from what the write read (``licence_links``), so the writer holds the lock only for the change."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from registry.errors import error_responses
from registry.models import Licence

from ..auth import ApiKeyHeader, DepartmentCaller, as_department
from ..licences.schemas import LicenceRead
from ..licences.service import LicenceLinks, licence_links, licence_read
from ..runtime import RuntimeDep
from . import service
from .schemas import CorrectRequest, ReinstateRequest, RevokeRequest, SuspendRequest

router = APIRouter(
    prefix="/licences",
    tags=["revocation"],
    responses=error_responses(
        400, 401, 413, 422, described={404: "No such licence among the caller's"}
    ),
)


async def _change(
    runtime: RuntimeDep,
    authorization: str | None,
    licence_id: str,
    verb: service.Verb,
    body: RevokeRequest | SuspendRequest | ReinstateRequest,
) -> LicenceRead:
    def work(session: Session, caller: DepartmentCaller) -> tuple[Licence, LicenceLinks]:
        licence = service.change_status(
            session=session,
            caller=caller,
            licence_id=licence_id,
            verb=verb,
            reason=body.reason,
            note=body.note,
        )
        return licence, licence_links(session=session, licence=licence)

    # The body (its QR) is built after the commit, not while the writer holds the lock.
    licence, links = await runtime.database.write(as_department(authorization, work))
    return licence_read(session=None, licence=licence, links=links)


@router.post("/{licence_id}/revoke", responses=error_responses(described={409: "Already revoked"}))
async def revoke(
    licence_id: str, body: RevokeRequest, runtime: RuntimeDep, authorization: ApiKeyHeader = None
) -> LicenceRead:
    """Revoke a licence for good (409 if already revoked)."""
    return await _change(runtime, authorization, licence_id, "revoke", body)


@router.post(
    "/{licence_id}/suspend",
    responses=error_responses(described={409: "The licence is not valid (revoked or suspended)"}),
)
async def suspend(
    licence_id: str, body: SuspendRequest, runtime: RuntimeDep, authorization: ApiKeyHeader = None
) -> LicenceRead:
    """Suspend a valid licence (409 otherwise)."""
    return await _change(runtime, authorization, licence_id, "suspend", body)


@router.post(
    "/{licence_id}/reinstate",
    responses=error_responses(described={409: "The licence is not suspended"}),
)
async def reinstate(
    licence_id: str, body: ReinstateRequest, runtime: RuntimeDep, authorization: ApiKeyHeader = None
) -> LicenceRead:
    """Lift a suspension (409 for a licence that is not suspended, e.g. revoked)."""
    return await _change(runtime, authorization, licence_id, "reinstate", body)


@router.post(
    "/{licence_id}/correct",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(described={409: "A revoked licence cannot be corrected"}),
)
async def correct(
    licence_id: str, body: CorrectRequest, runtime: RuntimeDep, authorization: ApiKeyHeader = None
) -> LicenceRead:
    """Issue a corrected licence replacing this one, which is revoked (``superseded``)."""

    def work(session: Session, caller: DepartmentCaller) -> tuple[Licence, LicenceLinks]:
        new, _ = service.correct(
            session=session, runtime=runtime, caller=caller, licence_id=licence_id, correction=body
        )
        return new, licence_links(session=session, licence=new)

    new, links = await runtime.database.write(as_department(authorization, work))
    return licence_read(session=None, licence=new, links=links)
