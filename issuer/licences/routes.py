"""Issuance and look-up for departments (API key). ID numbers travel only in request bodies."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response, status
from sqlalchemy.orm import Session

from registry.errors import error_responses
from registry.models import Licence

from ..auth import (
    ApiKeyHeader,
    DepartmentCaller,
    DepartmentDep,
    as_department,
    authenticate_department,
    presented_api_key,
)
from ..errors import InvalidRequest
from ..runtime import ReadSessionDep, RuntimeDep
from . import service
from .gbt import LicenceView
from .schemas import (
    LicenceCreate,
    LicenceGbtList,
    LicenceGbtRead,
    LicenceList,
    LicenceRead,
    LicenceSearch,
)

router = APIRouter(prefix="/licences", tags=["licences"], responses=error_responses(401, 422))
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
ViewQuery = Annotated[
    LicenceView,
    Query(
        description="`default`: the registry's names; `gbt`: the names of GB/T 36903/36904 "
        "(电子证照标识, 证照颁发机构代码, 持证主体代码, ...; dates in UTC+8). "
        "Another value is a 422.",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "model": LicenceRead,
            "description": "A retry with the same Idempotency-Key: the licence issued first",
        },
        **error_responses(
            413,
            described={
                400: "The body is not JSON, or the department has no key that may sign this type",
                404: "The department has no licence type with this code",
                409: "The Idempotency-Key was used for a different licence",
            },
        ),
    },
)
async def issue_licence(
    body: LicenceCreate,
    response: Response,
    runtime: RuntimeDep,
    authorization: ApiKeyHeader = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Any 1-200 visible ASCII characters; a retry with the same key gets "
            "the first licence back (200) instead of a second one",
            # Documented only: the route checks it itself, with its own message.
            json_schema_extra={"pattern": _IDEMPOTENCY_KEY.pattern},
        ),
    ] = None,
) -> LicenceRead:
    """Issue a licence: validate, sign, allocate a status index, store and audit it at once.

    Department API key as ``Authorization: Bearer elk_...``. With an ``Idempotency-Key`` a
    retried request gets the first licence back (200).
    """
    presented_api_key(authorization)  # no key, no work: 401 before any crypto below
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise InvalidRequest("Idempotency-Key must be 1-200 visible ASCII characters")
    # Work that needs no database (ID number crypto, a holder key pair) runs before the writer
    # takes it, the response body (QR) after the commit.
    citizen = service.prepare_citizen(runtime=runtime, id_number=body.id_number)

    def issue(session: Session) -> tuple[Licence, str, service.LicenceLinks | None]:
        caller = authenticate_department(session=session, authorization=authorization)
        licence, replayed = service.issue_licence(
            session=session,
            runtime=runtime,
            caller=caller,
            licence_in=body,
            idempotency_key=idempotency_key,
            citizen=citizen,
        )
        if not replayed:
            return licence, caller.code, None
        return licence, caller.code, service.licence_links(session=session, licence=licence)

    licence, department_code, replayed = await runtime.database.write(issue)
    if replayed is not None:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
        return service.licence_read(session=None, licence=licence, links=replayed)
    return service.licence_read(
        session=None,
        licence=licence,
        department_code=department_code,
        licence_type_code=body.licence_type,
        masked_id=citizen.masked_id if citizen is not None else None,
        fresh=True,
    )


@router.get(
    "/by-identifier/{identifier}",
    responses=error_responses(described={404: "No such licence among the caller's"}),
)
def read_licence_by_identifier(
    identifier: Annotated[str, Path(max_length=256)],
    session: ReadSessionDep,
    caller: DepartmentDep,
    view: ViewQuery = LicenceView.DEFAULT,
) -> LicenceRead | LicenceGbtRead:
    """One of the caller's licences by its licence identifier (GB/T 36904; it names no person,
    so it may travel in the path). A malformed one is a 422 naming the wrong segment."""
    licence = service.find_by_identifier(session=session, caller=caller, identifier=identifier)
    return service.licence_view(session=session, licence=licence, view=view)


@router.get(
    "/by-number/{number}",
    responses=error_responses(described={404: "No such licence among the caller's"}),
)
def read_licence_by_number(
    number: str,
    session: ReadSessionDep,
    caller: DepartmentDep,
    licence_type: str | None = None,
    view: ViewQuery = LicenceView.DEFAULT,
) -> LicenceRead | LicenceGbtRead:
    """One of the caller's licences by its printed number: the registry's, or the department's
    own number of an imported licence (``licence_type`` picks one when several types use it)."""
    licence = service.find_by_number(
        session=session, caller=caller, number=number, licence_type=licence_type
    )
    return service.licence_view(session=session, licence=licence, view=view)


@router.post(
    "/search",
    responses=error_responses(400, 413),
)
async def search_licences(
    body: LicenceSearch,
    runtime: RuntimeDep,
    authorization: ApiKeyHeader = None,
    view: ViewQuery = LicenceView.DEFAULT,
) -> LicenceList | LicenceGbtList:
    """The caller's licences for an ID number (sent in the body, never in the URL)."""

    # A counter clerk's look-up: the key, the search and the answer in one read.
    def found(session: Session, caller: DepartmentCaller) -> LicenceList | LicenceGbtList:
        result = service.search_licences(
            session=session, runtime=runtime, caller=caller, query=body
        )
        if view is LicenceView.GBT:
            return LicenceGbtList(
                licences=[service.licence_gbt_read(licence=lic) for lic in result.licences]
            )
        return LicenceList(
            licences=[
                service.licence_read(session=session, licence=lic, masked_id=result.masked_id)
                for lic in result.licences
            ]
        )

    return await runtime.database.read(as_department(authorization, found))


# After ``/search`` and with the ``uuid`` convertor, so that no other method on
# ``/licences/search`` reaches this route: they get 405 with ``Allow: POST``.
@router.get(
    "/{licence_id:uuid}",
    responses=error_responses(described={404: "No such licence among the caller's"}),
)
def read_licence(
    licence_id: Annotated[uuid.UUID, Path(description="The licence's id")],
    session: ReadSessionDep,
    caller: DepartmentDep,
    view: ViewQuery = LicenceView.DEFAULT,
) -> LicenceRead | LicenceGbtRead:
    """One of the caller's licences."""
    licence = service.get_licence(session=session, caller=caller, licence_id=str(licence_id))
    return service.licence_view(session=session, licence=licence, view=view)
