"""Platform admin API: departments, their API keys, licence types and signing keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, status
from sqlalchemy.orm import Session

from credential import ALG_ES256
from registry.errors import error_responses
from registry.models import Department, DepartmentApiKey, LicenceType

from ..auth import AdminDep, DepartmentDep
from ..runtime import ReadSessionDep, RuntimeDep
from . import service
from .schemas import (
    API_KEY_PREFIX_PATTERN,
    CODE_PATTERN,
    ApiKeyRead,
    ApiKeySummary,
    DepartmentCreate,
    DepartmentRead,
    FieldSpec,
    KeyRead,
    KeyRotate,
    LicenceTypeCreate,
    LicenceTypeRead,
    defining_body,
)

# Every admin route checks the admin token first (401) and its path and header values (422).
admin_router = APIRouter(prefix="/admin", tags=["admin"], responses=error_responses(401, 422))
department_router = APIRouter(tags=["licence types"], responses=error_responses(401, 422))
_NO_DEPARTMENT = {404: "No department with this code"}
CodePath = Annotated[
    str, Path(pattern=CODE_PATTERN, description="The department's code", examples=["TRANSPORT"])
]
PrefixPath = Annotated[
    str, Path(pattern=API_KEY_PREFIX_PATTERN, description="The key's prefix: elk_<prefix>_...")
]


def _department_read(session: Session, department: Department) -> DepartmentRead:
    key = service.active_signing_key(session=session, department_id=department.id)
    return DepartmentRead(
        code=department.code,
        name=department.name,
        active_kid=key.kid if key else None,
        credit_code=department.credit_code,
        jurisdiction_code=department.jurisdiction_code,
        alg=key.alg if key else None,
    )


def licence_type_read(department_code: str, licence_type: LicenceType) -> LicenceTypeRead:
    return LicenceTypeRead(
        department=department_code,
        code=licence_type.code,
        name=licence_type.name,
        fields=[FieldSpec.model_validate(f) for f in licence_type.fields],
        validity_days=licence_type.default_validity_days,
        categories=list(licence_type.categories or []),
        catalogue_code=licence_type.catalogue_code,
        defining_body=defining_body(licence_type),
        holder_code_type=licence_type.holder_code_type,
        single_valid=licence_type.single_valid,
    )


@admin_router.post(
    "/departments",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 413, described={409: "A department with this code exists"}),
)
async def create_department(
    body: DepartmentCreate, actor: AdminDep, runtime: RuntimeDep
) -> DepartmentRead:
    """Create a department (its credit and jurisdiction codes) and its first signing key
    (``alg``: ES256, EdDSA or SM2)."""

    def work(session: Session) -> DepartmentRead:
        department = service.create_department(
            session=session,
            code=body.code,
            name=body.name,
            actor=actor,
            key_secret=runtime.key_secret,
            credit_code=body.credit_code,
            jurisdiction_code=body.jurisdiction_code,
            alg=body.alg,
        )
        return _department_read(session, department)

    return await runtime.database.write(work)


@admin_router.get("/departments")
def list_departments(session: ReadSessionDep, actor: AdminDep) -> list[DepartmentRead]:
    """Every department with its current key id."""
    return [_department_read(session, d) for d in service.list_departments(session=session)]


@admin_router.post(
    "/departments/{code}/api-keys",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(413, described=_NO_DEPARTMENT),
)
async def create_api_key(code: CodePath, actor: AdminDep, runtime: RuntimeDep) -> ApiKeyRead:
    """A new API key for the department, shown only in this response."""

    def work(session: Session) -> ApiKeyRead:
        department, key = service.create_api_key(session=session, department_code=code, actor=actor)
        return ApiKeyRead(department=department.code, prefix=key.prefix, api_key=key.text)

    return await runtime.database.write(work)


def _api_key_summary(key: DepartmentApiKey) -> ApiKeySummary:
    return ApiKeySummary(prefix=key.prefix, created_at=key.created_at, revoked_at=key.revoked_at)


@admin_router.get(
    "/departments/{code}/api-keys", responses=error_responses(described=_NO_DEPARTMENT)
)
def list_api_keys(code: CodePath, session: ReadSessionDep, actor: AdminDep) -> list[ApiKeySummary]:
    """The department's API keys (prefix, created, revoked), oldest first; never a secret."""
    _, keys = service.list_api_keys(session=session, department_code=code)
    return [_api_key_summary(k) for k in keys]


@admin_router.post(
    "/departments/{code}/api-keys/{prefix}/revoke",
    responses=error_responses(
        413,
        described={
            404: "No such department, or it has no API key with this prefix",
            409: "The key is already revoked",
        },
    ),
)
async def revoke_api_key(
    code: CodePath, prefix: PrefixPath, actor: AdminDep, runtime: RuntimeDep
) -> ApiKeySummary:
    """Revoke one of the department's API keys by its prefix: refused from the next request on."""

    def work(session: Session) -> ApiKeySummary:
        key = service.revoke_api_key(
            session=session, department_code=code, prefix=prefix, actor=actor
        )
        return _api_key_summary(key)

    return await runtime.database.write(work)


@admin_router.post(
    "/departments/{code}/licence-types",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        400,
        413,
        described={**_NO_DEPARTMENT, 409: "The department has a licence type with this code"},
    ),
)
async def create_licence_type(
    code: CodePath, body: LicenceTypeCreate, actor: AdminDep, runtime: RuntimeDep
) -> LicenceTypeRead:
    """Add a licence type (its fields and default validity) to the department."""

    def work(session: Session) -> LicenceTypeRead:
        licence_type = service.create_licence_type(
            session=session, department_code=code, licence_type_in=body, actor=actor
        )
        return licence_type_read(code, licence_type)

    return await runtime.database.write(work)


@admin_router.post(
    "/departments/{code}/keys/rotate",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 413, described=_NO_DEPARTMENT),
)
async def rotate_key(
    code: CodePath,
    actor: AdminDep,
    runtime: RuntimeDep,
    body: Annotated[KeyRotate | None, Body(examples=[{"alg": "SM2"}])] = None,
) -> KeyRead:
    """A new signing key for the department (body ``{"alg": "SM2"}`` for another algorithm
    than ES256); the old one retires but still verifies."""
    alg = body.alg if body is not None else ALG_ES256

    def work(session: Session) -> KeyRead:
        key = service.rotate_key(
            session=session,
            department_code=code,
            actor=actor,
            key_secret=runtime.key_secret,
            alg=alg,
        )
        return KeyRead(kid=key.kid, state=key.state, alg=key.alg)

    return await runtime.database.write(work)


@admin_router.post(
    "/departments/{code}/keys/{kid}/compromise",
    responses=error_responses(
        413,
        described={
            404: "No such department, or it has no key with this kid",
            409: "The key is already marked compromised",
        },
    ),
)
async def compromise_key(
    code: CodePath,
    kid: Annotated[str, Path(max_length=16, description="The key's id (base64url of 8 bytes)")],
    actor: AdminDep,
    runtime: RuntimeDep,
) -> KeyRead:
    """Mark a key compromised: verifiers reject everything it signed."""

    def work(session: Session) -> KeyRead:
        key, _ = service.compromise_key(
            session=session,
            department_code=code,
            kid=kid,
            actor=actor,
            key_secret=runtime.key_secret,
        )
        return KeyRead(kid=key.kid, state=key.state, alg=key.alg)

    return await runtime.database.write(work)


@department_router.get("/licence-types")
def list_licence_types(session: ReadSessionDep, caller: DepartmentDep) -> list[LicenceTypeRead]:
    """The caller's own licence types."""
    return [
        licence_type_read(caller.code, t)
        for t in service.list_licence_types(session=session, department_id=caller.department_id)
    ]
