"""Revoke, suspend, reinstate and correct a licence (department API key, own licences only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from ..auth import DepartmentDep
from ..licences.schemas import LicenceRead
from ..licences.service import licence_read
from ..runtime import IssuerRuntime, IssuerSessionDep, get_runtime
from . import service
from .schemas import CorrectRequest, ReinstateRequest, RevokeRequest, SuspendRequest

router = APIRouter(prefix="/licences", tags=["revocation"])
RuntimeDep = Annotated[IssuerRuntime, Depends(get_runtime)]


@router.post("/{licence_id}/revoke")
def revoke(
    licence_id: str, body: RevokeRequest, session: IssuerSessionDep, caller: DepartmentDep
) -> LicenceRead:
    """Revoke a licence for good (409 if already revoked)."""
    licence = service.revoke(
        session=session, caller=caller, licence_id=licence_id, reason=body.reason, note=body.note
    )
    return licence_read(session=session, licence=licence)


@router.post("/{licence_id}/suspend")
def suspend(
    licence_id: str, body: SuspendRequest, session: IssuerSessionDep, caller: DepartmentDep
) -> LicenceRead:
    """Suspend a valid licence (409 otherwise)."""
    licence = service.suspend(
        session=session, caller=caller, licence_id=licence_id, reason=body.reason, note=body.note
    )
    return licence_read(session=session, licence=licence)


@router.post("/{licence_id}/reinstate")
def reinstate(
    licence_id: str, body: ReinstateRequest, session: IssuerSessionDep, caller: DepartmentDep
) -> LicenceRead:
    """Lift a suspension (409 for a licence that is not suspended, e.g. revoked)."""
    licence = service.reinstate(
        session=session, caller=caller, licence_id=licence_id, reason=body.reason, note=body.note
    )
    return licence_read(session=session, licence=licence)


@router.post("/{licence_id}/correct", status_code=status.HTTP_201_CREATED)
def correct(
    licence_id: str,
    body: CorrectRequest,
    session: IssuerSessionDep,
    caller: DepartmentDep,
    runtime: RuntimeDep,
) -> LicenceRead:
    """Issue a corrected licence replacing this one, which is revoked (``superseded``)."""
    new, _ = service.correct(
        session=session, runtime=runtime, caller=caller, licence_id=licence_id, correction=body
    )
    return licence_read(session=session, licence=new)
