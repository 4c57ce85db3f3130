"""The issuer's routers: ``router`` mounts at ``/issuer``, ``public_router`` at the root."""

from __future__ import annotations

from fastapi import APIRouter

from .catalogue.routes import router as catalogue_router
from .departments.routes import admin_router, department_router
from .imports.routes import router as imports_router
from .licences.routes import router as licences_router
from .openid4vci.routes import router as openid4vci_router
from .revocation.routes import router as revocation_router
from .status_lists.routes import router as status_lists_router
from .trust_list.routes import router as trust_list_router

# Matched in order (see elicence.app): licences and their status changes first.
router = APIRouter()
router.include_router(licences_router)
router.include_router(revocation_router)
router.include_router(department_router)
router.include_router(imports_router)
router.include_router(admin_router)

public_router = APIRouter()
public_router.include_router(status_lists_router)
public_router.include_router(trust_list_router)
public_router.include_router(catalogue_router)
public_router.include_router(openid4vci_router)
