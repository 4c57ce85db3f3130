"""Bulk import over HTTP (department API key): upload a file, follow the job, fetch its rejects.

The file is the request body itself, as ``curl --data-binary @licences.csv -H 'Content-Type:
text/csv'`` or ``requests.post(url, data=open(path, "rb"))`` send it: streamed to disk as it
arrives (see ``jobs``), where a form upload would be parsed and spooled first.
"""

from __future__ import annotations

import functools
import uuid
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import Conflict, ErrorBody, NotFound, ServiceError, error_responses
from registry.models import LicenceType, UploadedImport

from ..auth import DepartmentCaller, DepartmentDep, authenticate_department, presented_api_key
from ..errors import InvalidRequest
from ..licences.service import issuing_key
from ..runtime import IssuerRuntime, ReadSessionDep, RuntimeDep
from .jobs import UNFINISHED, ImportRunnerDep, JobLock, UploadTooLarge, create_job, receive_upload
from .schemas import ImportCounts, ImportJobList, ImportJobRead, ImportProgress
from .service import ImportTarget, columns_of, find_target
from .source import SourceFormat, open_source, parse_mapping

router = APIRouter(prefix="/imports", tags=["imports"], responses=error_responses(401, 422))

# Content types of the upload: what each says of the format (None: look at the content).
CONTENT_TYPES: dict[str, SourceFormat | None] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "text/plain": None,
    "application/octet-stream": None,
}
_BINARY = {"type": "string", "format": "binary"}
_CSV_EXAMPLE = (
    "record_key,id_number,holder_name,licence_class,first_issued,categories,valid_from,"
    "valid_until\nJ-2019-000123,11010519491231002X,张三,B,2019-03-01,B1,2019-03-01,2029-03-01\n"
)
_JSONL_EXAMPLE = (
    '{"record_key": "J-2019-000123", "id_number": "11010519491231002X", "holder_name": "张三", '
    '"licence_class": "B", "first_issued": "2019-03-01", "categories": ["B1"], '
    '"valid_from": "2019-03-01", "valid_until": "2029-03-01"}\n'
)
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file itself as the body (not a form): CSV (UTF-8, with or without "
        "BOM, a header row) or JSON Lines, with the columns of `elicence import` (record_key, "
        "id_number, holder_name, valid_from, optional valid_until, issued_at, categories, "
        "status, status_reason, identifier (the licence's existing 电子证照标识, kept), and the "
        "type's fields). `text/plain` or "
        "`application/octet-stream`: the format is taken from `format`, else from the content. "
        "E.g. `curl --data-binary @licences.csv -H 'Content-Type: text/csv' ...`",
        "content": {
            "text/csv": {"schema": _BINARY, "example": _CSV_EXAMPLE},
            "application/x-ndjson": {"schema": _BINARY, "example": _JSONL_EXAMPLE},
            "application/octet-stream": {"schema": _BINARY, "example": _CSV_EXAMPLE},
        },
    }
}


class UnsupportedUpload(ServiceError):
    """The upload's content type is neither CSV nor JSON Lines."""

    status_code = 415
    code = "unsupported_media_type"


def upload_format(content_type: str | None, fmt: SourceFormat | None) -> SourceFormat | None:
    """The upload's format from its ``Content-Type`` and the ``format`` parameter (``None``:
    decided by the content). Raises ``UnsupportedUpload`` or ``InvalidRequest``."""
    media = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        hint = " (send the file itself as the body, not a form)" if "form" in media else ""
        raise UnsupportedUpload(
            f"Content-Type {media} is not an import file{hint}: use text/csv, "
            "application/x-ndjson (JSON Lines) or application/octet-stream"
        )
    declared = CONTENT_TYPES[media]
    if declared is not None and fmt is not None and declared != fmt:
        raise InvalidRequest(
            f"Content-Type {media} and format={fmt} disagree", code="invalid_format"
        )
    return fmt or declared


def import_read(job: UploadedImport, licence_type: str) -> ImportJobRead:
    """The answer for one uploaded import."""
    rate = None
    if job.started_at is not None and job.rows_done > job.run_rows:
        end = job.finished_at or job.updated_at
        seconds = (end - job.started_at).total_seconds()
        if seconds > 0:
            rate = round((job.rows_done - job.run_rows) / seconds, 1)
    ended = job.state not in UNFINISHED
    return ImportJobRead(
        id=job.id,
        state=job.state,
        licence_type=licence_type,
        format=job.format,
        file_sha256=job.file_sha256,
        file_bytes=job.file_bytes,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        progress=ImportProgress(
            rows_done=job.rows_done, rows_total=job.rows_total, rows_per_second=rate
        ),
        counts=ImportCounts(
            imported=job.imported,
            already_present=job.already_present,
            rejected=job.rejected,
            reject_reasons=dict(job.reject_reasons),
        ),
        error=(
            ErrorBody(error=job.error, detail=job.error_detail or "")
            if job.error is not None
            else None
        ),
        rejects=f"/issuer/imports/{job.id}/rejects" if ended and job.rejects_bytes else None,
    )


def _caller_and_target(
    runtime: IssuerRuntime, authorization: str | None, licence_type: str
) -> tuple[DepartmentCaller, ImportTarget]:
    with runtime.database.reading() as session:
        caller = authenticate_department(session=session, authorization=authorization)
        target = find_target(
            session=session, department_code=caller.code, licence_type_code=licence_type
        )
        # As the CLI: a department that cannot sign this type is told before the upload.
        issuing_key(
            session=session,
            runtime=runtime,
            department_id=caller.department_id,
            licence_type=target.licence_type,
        )
    return caller, target


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=UPLOAD_BODY,
    responses=error_responses(
        described={
            400: "The department has no key that may sign this type",
            404: "The department has no licence type with this code",
            413: "The file is larger than the service takes (ELICENCE_IMPORT_MAX_BYTES)",
            415: "The Content-Type is not CSV, JSON Lines or a plain byte stream",
            422: "The file cannot be imported as a whole (not UTF-8, neither CSV nor JSON "
            "Lines, unknown or missing columns), or a parameter is wrong; nothing is stored",
        }
    ),
)
async def start_import(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    runner: ImportRunnerDep,
    licence_type: Annotated[
        str,
        Query(max_length=64, description="The licence type to import into", examples=["DRIVING"]),
    ],
    mapping: Annotated[
        list[str] | None,
        Query(
            alias="map",
            description="COLUMN=FIELD: read the file's COLUMN as FIELD (COLUMN=- ignores it); "
            "repeatable, as `elicence import --map`",
        ),
    ] = None,
    fmt: Annotated[
        SourceFormat | None,
        Query(
            alias="format", description="csv or jsonl (default: the Content-Type, else the content)"
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        Query(
            ge=1,
            le=5000,
            description="Rows per transaction (and audit entry), as the CLI's (default: 1000 on "
            "SQLite, 2000 on PostgreSQL)",
        ),
    ] = None,
    authorization: Annotated[
        str | None, Header(description="The department's API key: `Bearer elk_...`")
    ] = None,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ImportJobRead:
    """Upload a file of licences the department already issued (存量证照) and import it in the
    background, each row as issuance does it (as `elicence import` does).

    Answers 202 with the job once the file is stored and checked as a whole; follow it at
    `GET /issuer/imports/{id}` (the `Location` header). Rows whose record key is stored already
    count as already present, so uploading the same file again creates nothing. The job
    survives a restart of the service: it resumes where its last batch ended.
    """
    presented_api_key(authorization)  # no key, no work
    source_format = upload_format(content_type, fmt)
    columns = parse_mapping(mapping or [])
    limit = runtime.settings.import_max_bytes
    declared = _content_length(request)
    if declared is not None and declared > limit:
        raise UploadTooLarge(f"the file is larger than the limit of {limit} bytes")
    caller, target = await anyio.to_thread.run_sync(
        _caller_and_target, runtime, authorization, licence_type
    )
    job_id = str(uuid.uuid4())
    files = runner.files(job_id)
    lock = JobLock.take(files.lock)
    assert lock is not None  # a new id: nobody else has its lock
    try:
        size = await receive_upload(request.stream(), files.upload, limit)
        known, required = columns_of(target.licence_type)
        source = await anyio.to_thread.run_sync(
            functools.partial(
                open_source,
                files.upload,
                mapping=columns,
                known=known,
                required=required,
                fmt=source_format,
            )
        )

        def store(session: Session) -> ImportJobRead:
            job = create_job(
                session=session,
                job_id=job_id,
                department_id=caller.department_id,
                licence_type_id=target.licence_type.id,
                actor=caller.actor,
                source=source,
                file_bytes=size,
                batch_size=batch_size,
            )
            return import_read(job, target.licence_type.code)

        answer = await runtime.database.write(store)
    except BaseException:
        files.upload.unlink(missing_ok=True)
        lock.release(remove=True)
        raise
    runner.submit(job_id, lock)
    response.headers["Location"] = f"/issuer/imports/{job_id}"
    return answer


_JOB = select(UploadedImport, LicenceType.code).join(
    LicenceType, LicenceType.id == UploadedImport.licence_type_id
)
JobId = Annotated[uuid.UUID, Path(description="The import's id")]


def _own_job(session: Session, caller: DepartmentCaller, job_id: uuid.UUID) -> ImportJobRead:
    found = session.execute(
        _JOB.where(
            UploadedImport.id == str(job_id),
            UploadedImport.department_id == caller.department_id,
        )
    ).one_or_none()
    if found is None:
        raise NotFound("no such import")
    return import_read(found[0], found[1])


@router.get("")
def list_imports(session: ReadSessionDep, caller: DepartmentDep) -> ImportJobList:
    """The caller's uploaded imports, newest first (the last 100)."""
    found = session.execute(
        _JOB.where(UploadedImport.department_id == caller.department_id)
        .order_by(UploadedImport.created_at.desc())
        .limit(100)
    ).all()
    return ImportJobList(imports=[import_read(job, code) for job, code in found])


@router.get(
    "/{job_id:uuid}",
    responses=error_responses(described={404: "No such import among the caller's"}),
)
def read_import(job_id: JobId, session: ReadSessionDep, caller: DepartmentDep) -> ImportJobRead:
    """One of the caller's imports: its state, progress (rows done of the total, rows per
    second) and counts (imported, already present, rejected)."""
    return _own_job(session, caller, job_id)


@router.get(
    "/{job_id:uuid}/rejects",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The rejects CSV: line, reason, message, then the row as uploaded",
        },
        **error_responses(
            described={
                404: "No such import among the caller's, or it ended before reading a row",
                409: "The import has not ended yet",
            }
        ),
    },
)
def download_rejects(
    job_id: JobId, session: ReadSessionDep, caller: DepartmentDep, runner: ImportRunnerDep
) -> FileResponse:
    """The rejects of one of the caller's imports, once it has ended: one CSV row per rejected
    row with its line number, reason code and message, then the row as uploaded."""
    job = _own_job(session, caller, job_id)
    if job.state in UNFINISHED:
        raise Conflict(f"the import is {job.state}: its rejects are ready when it has ended")
    path = runner.files(job.id).rejects
    if job.rejects is None or not path.is_file():
        raise NotFound("the import has no rejects file (it ended before reading a row)")
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename=f"import-{job.id}.rejects.csv",
        headers={"Cache-Control": "no-store"},
    )
