"""The public licence-type catalogue (no authentication: it names no person)."""

from __future__ import annotations

from fastapi import APIRouter

from ..runtime import ReadSessionDep
from . import service
from .schemas import CatalogueEntry

router = APIRouter(prefix="/catalogue", tags=["catalogue"])


@router.get("/licence-types")
def licence_types(session: ReadSessionDep) -> list[CatalogueEntry]:
    """Every licence type: catalogue code, name, defining body, holder-code type and the
    departments that issue it."""
    return service.licence_catalogue(session=session)
