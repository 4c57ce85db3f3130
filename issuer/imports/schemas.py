"""What an import reports: the summary printed by ``elicence import --json``, and an import
uploaded over HTTP as ``GET /issuer/imports/{id}`` shows it."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from registry.errors import ErrorBody
from registry.models import ImportJobState


class ImportSummary(BaseModel):
    """Counts of one run over a file. ``imported``: licences created by this run (with
    ``dry_run``: that would be); ``already_present``: rows whose record key was stored before
    (an earlier or interrupted run); ``rejected``: rows in the rejects file."""

    file: str
    file_sha256: str
    format: str
    department: str
    licence_type: str
    dry_run: bool
    rows: int
    imported: int
    already_present: int
    rejected: int
    reject_reasons: dict[str, int]
    batches: int
    rejects_file: str
    seconds: float


class ImportProgress(BaseModel):
    """How far an uploaded import got."""

    rows_done: int = Field(description="Rows read and settled (committed batches)")
    rows_total: int = Field(
        description="Rows in the file: counted from its lines until the import ends (a CSV "
        "record may span lines), then exact"
    )
    rows_per_second: float | None = Field(
        description="Rows settled per second in the current (or last) run; null before the "
        "first batch"
    )


class ImportCounts(BaseModel):
    """What became of the rows settled so far."""

    imported: int = Field(description="Licences this import created")
    already_present: int = Field(
        description="Rows whose record key was stored before this import (an earlier import "
        "of the same records)"
    )
    rejected: int = Field(description="Rows in the rejects file")
    reject_reasons: dict[str, int] = Field(
        description="Rejected rows per reason code", examples=[{"invalid_id_number": 2}]
    )


class ImportJobRead(BaseModel):
    """An import uploaded over HTTP: where it stands, its progress and counts."""

    id: str = Field(
        description="The import's id", examples=["4f7c1d2e-9a0b-4c3d-8e5f-6a7b8c9d0e1f"]
    )
    state: ImportJobState = Field(
        description="queued (accepted, waiting for its turn), running (also while the service "
        "restarts: it resumes), done or failed"
    )
    licence_type: str = Field(description="The licence type imported into", examples=["DRIVING"])
    format: str = Field(description="csv or jsonl", examples=["csv"])
    file_sha256: str = Field(description="SHA-256 of the uploaded file (named in the audit log)")
    file_bytes: int = Field(description="Size of the uploaded file")
    created_at: dt.datetime = Field(description="When the file was accepted")
    started_at: dt.datetime | None = Field(description="When the current (or last) run started")
    finished_at: dt.datetime | None = Field(description="When the import ended (done or failed)")
    progress: ImportProgress = Field(description="Rows done of the total, and rows per second")
    counts: ImportCounts = Field(description="Imported, already present and rejected rows")
    error: ErrorBody | None = Field(description="Why a failed import stopped")
    rejects: str | None = Field(
        description="Where the rejects CSV is downloaded once the import has ended (line, "
        "reason, message, then the row as uploaded)",
        examples=["/issuer/imports/4f7c1d2e-9a0b-4c3d-8e5f-6a7b8c9d0e1f/rejects"],
    )


class ImportJobList(BaseModel):
    """The caller's uploaded imports, newest first."""

    imports: list[ImportJobRead] = Field(description="At most the last 100")
