"""What an import reports: the summary printed by ``elicence import --json``."""

from __future__ import annotations

from pydantic import BaseModel


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
