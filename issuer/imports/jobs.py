"""Imports uploaded over HTTP (``POST /issuer/imports``), run in the background of the service.

- **The upload** is streamed to ``<data dir>/imports/<id>.upload`` (directory 0700, file 0600: it
  holds ID numbers) a mebibyte at a time, never whole in memory, up to
  ``ELICENCE_IMPORT_MAX_BYTES`` (413 beyond). Then ``open_source`` checks it as a whole, as the
  CLI does (UTF-8, CSV or JSON Lines, the required columns): a file that fails is deleted and
  answered with a 4xx; nothing is stored.
- **The job** is a row of ``import_jobs`` (``UploadedImport``). It runs in the process that took
  the upload, in one thread per process that runs its imports one after another (they are
  CPU-bound: signing and key generation), through the CLI's engine (``import_licences``): the
  same checks, batches, ``licence.import`` audit entries, and writes through the one writer
  (``Database.write_now``: on SQLite the group commit, never the event loop).
- **One process.** A job does not fork import workers (``elicence import --workers``): a server
  process has threads (the event loop, the SQLite writer, this runner) and open connections
  and ``flock``s, which a fork would copy into the children (a job lock held on by a child
  would outlive a crashed server and keep its job from resuming), and its cores serve the
  requests; a department that needs the speed runs ``elicence import``.
- **Checkpoints.** Each batch's transaction also moves the job's row: the file's last line in
  the batch, the counts and the rejects file's length. After a crash the job goes on after that
  line with those counts (the rejects file is cut back to that length), so nothing is lost or
  counted twice; a row of a batch that did commit is found by its record key anyway.
- **One runner per job.** A process runs a job only while it holds ``flock`` of ``<id>.lock``,
  which the kernel releases when the process dies. At start-up every worker looks for jobs that
  are queued or running and whose upload is in its data directory, takes the lock of each it
  can, reads the state again under the lock, and resumes the job. So a job survives a crash
  (SIGKILL, power loss) and a restart, and a worker that uvicorn respawns takes over the jobs of
  the one that died. (Uploads are files of one machine: with several machines on one
  PostgreSQL, each resumes the uploads it holds.)
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import fcntl
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, cast

import anyio
from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.errors import ServiceError
from registry.models import Department, ImportJobState, LicenceType, UploadedImport, utcnow

from ..runtime import IssuerRuntime
from .rejects import RejectsFile
from .schemas import ImportSummary
from .service import (
    ImportCheckpoint,
    ImportCounts,
    ImportJob,
    ImportStopped,
    columns_of,
    default_batch_size,
    find_target,
    import_licences,
)
from .source import BadSourceFile, SourceFile, SourceFormat, open_source

logger = logging.getLogger(__name__)

UNFINISHED = (ImportJobState.QUEUED, ImportJobState.RUNNING)
_UPLOAD_CHUNK = 1 << 20  # bytes written to disk at a time (in a worker thread)


class UploadTooLarge(ServiceError):
    """The upload is larger than ``ELICENCE_IMPORT_MAX_BYTES``."""

    status_code = 413
    code = "body_too_large"


def imports_directory(data_dir: Path) -> Path:
    """Where uploads, their locks and rejects files live (made mode 0700)."""
    directory = data_dir / "imports"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


@dataclasses.dataclass(frozen=True, slots=True)
class JobFiles:
    """The files of one uploaded import."""

    directory: Path
    job_id: str

    @property
    def upload(self) -> Path:
        return self.directory / f"{self.job_id}.upload"

    @property
    def lock(self) -> Path:
        return self.directory / f"{self.job_id}.lock"

    @property
    def rejects(self) -> Path:
        return self.directory / f"{self.job_id}.rejects.csv"


class JobLock:
    """The right to run one import: ``flock`` of its lock file, held while the job is received
    or runs in this process; the kernel releases it when the process dies."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def take(cls, path: Path) -> JobLock | None:
        """The lock, or ``None`` when another process (or open file) holds it."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(fd, path)

    def release(self, *, remove: bool = False) -> None:
        """Let go of the lock; ``remove``: delete its file first (the job needs no lock any
        more: whoever locks a removed file reads a finished state and goes)."""
        if self._fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


async def receive_upload(chunks: AsyncIterator[bytes], path: Path, max_bytes: int) -> int:
    """Write the request body to ``path`` (created mode 0600), a mebibyte at a time in a worker
    thread; its size. Raises ``UploadTooLarge`` past ``max_bytes`` (the caller deletes the
    file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        size = 0
        pending: list[bytes] = []
        pending_size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= _UPLOAD_CHUNK:
                await anyio.to_thread.run_sync(handle.write, b"".join(pending))
                pending, pending_size = [], 0
        if pending:
            await anyio.to_thread.run_sync(handle.write, b"".join(pending))
        await anyio.to_thread.run_sync(_sync, handle.fileno())
    return size


def _sync(fd: int) -> None:
    os.fsync(fd)


def create_job(
    *,
    session: Session,
    job_id: str,
    department_id: int,
    licence_type_id: int,
    actor: str,
    source: SourceFile,
    file_bytes: int,
    batch_size: int | None = None,
) -> UploadedImport:
    """The row of a new uploaded import (queued); ``batch_size`` by default the database's
    (``default_batch_size``)."""
    now = utcnow()
    job = UploadedImport(
        id=job_id,
        department_id=department_id,
        licence_type_id=licence_type_id,
        actor=actor,
        state=ImportJobState.QUEUED,
        format=source.format,
        file_sha256=source.sha256,
        file_bytes=file_bytes,
        mapping=dict(source.mapping),
        batch_size=batch_size or default_batch_size(session.get_bind().dialect.name),
        rows_total=source.lines,
        rows_done=0,
        lines_done=0,
        run_rows=0,
        imported=0,
        already_present=0,
        rejected=0,
        reject_reasons={},
        rejects_bytes=0,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    return job


def _set(job_id: str, session: Session, **values: Any) -> None:
    session.execute(
        update(UploadedImport).where(UploadedImport.id == job_id).values(**values),
        execution_options={"synchronize_session": False},
    )


def _save_checkpoint(job_id: str, session: Session, point: ImportCheckpoint) -> None:
    counts = point.counts
    _set(
        job_id,
        session,
        lines_done=point.line,
        rows_done=counts.rows,
        imported=counts.imported,
        already_present=counts.already_present,
        rejected=counts.rejected,
        reject_reasons=dict(sorted(counts.reasons.items())),
        rejects_bytes=point.rejects_bytes,
        updated_at=utcnow(),
    )


_JOB_AND_CODES = (
    select(UploadedImport, Department.code, LicenceType.code)
    .join(Department, Department.id == UploadedImport.department_id)
    .join(LicenceType, LicenceType.id == UploadedImport.licence_type_id)
)


class ImportRunner:
    """Runs this process's uploaded imports, one after another, in a thread of its own."""

    def __init__(self, *, runtime: IssuerRuntime) -> None:
        self.runtime = runtime
        self.database = runtime.database
        self.directory = imports_directory(runtime.settings.data_dir)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="import"
        )
        self._stopping = threading.Event()
        self._locks: dict[str, JobLock] = {}  # jobs submitted here and not yet ended
        self._locks_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"ImportRunner({len(self._locks)} jobs)"

    def files(self, job_id: str) -> JobFiles:
        return JobFiles(self.directory, job_id)

    def submit(self, job_id: str, lock: JobLock) -> None:
        """Run job ``job_id`` (its lock held by the caller, now the runner's) after the jobs
        before it."""
        with self._locks_guard:
            self._locks[job_id] = lock
        self._executor.submit(self._run, job_id)

    def resume_unfinished(self) -> list[str]:
        """Start-up: take every queued or running job whose upload is here and whose lock is
        free (its runner died); delete uploads left by a request that died before its job was
        stored. The ids of the jobs taken."""
        with self.database.reading() as session:
            unfinished = session.scalars(
                select(UploadedImport.id)
                .where(UploadedImport.state.in_(UNFINISHED))
                .order_by(UploadedImport.created_at)
            ).all()
            uploads = {
                path.name.removesuffix(".upload") for path in self.directory.glob("*.upload")
            }
            known = set(
                session.scalars(select(UploadedImport.id).where(UploadedImport.id.in_(uploads)))
            )
        taken = []
        # The unfinished jobs in the order they came, then the uploads nobody stored.
        ordered = [job_id for job_id in unfinished if job_id in uploads]
        for job_id in [*ordered, *sorted(uploads - set(ordered))]:
            files = self.files(job_id)
            lock = JobLock.take(files.lock)
            if lock is None:
                continue  # received or run by a live process
            if job_id in unfinished:
                taken.append(job_id)
                self.submit(job_id, lock)
            elif job_id not in known:  # its request died before the job was stored
                files.upload.unlink(missing_ok=True)
                lock.release(remove=True)
            else:
                lock.release()
        if taken:
            logger.info("resuming %d import(s)", len(taken))
        return taken

    def close(self) -> None:
        """Stop: the running job ends after its current batch (and resumes at the next
        start), queued ones stay queued."""
        self._stopping.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._locks_guard:
            for lock in self._locks.values():
                lock.release()
            self._locks.clear()

    def _run(self, job_id: str) -> None:
        remove_lock = False
        try:
            remove_lock = self._run_locked(job_id)
        except Exception:  # never lose the thread: the job is marked failed where possible
            logger.exception("import %s: unexpected error", job_id)
        finally:
            with self._locks_guard:
                lock = self._locks.pop(job_id, None)
            if lock is not None:
                lock.release(remove=remove_lock)

    def _run_locked(self, job_id: str) -> bool:
        """Run (or resume) the job; whether it has ended."""
        with self.database.reading() as session:
            found = session.execute(_JOB_AND_CODES.where(UploadedImport.id == job_id)).one_or_none()
        if found is None or found[0].state not in UNFINISHED:
            return True
        if self._stopping.is_set():
            return False
        job, department_code, licence_type_code = found
        files = self.files(job_id)
        try:
            summary = self._import(job, department_code, licence_type_code, files)
        except ImportStopped:
            return False  # stays running: the next start-up resumes it
        except ServiceError as exc:
            self._end(job_id, ImportJobState.FAILED, error=exc.code, error_detail=exc.detail)
        except Exception:
            logger.exception("import %s failed", job_id)
            self._end(
                job_id,
                ImportJobState.FAILED,
                error="internal_error",
                error_detail="the import stopped on an unexpected error; upload the file again "
                "to finish it (rows already stored count as already present)",
            )
        else:
            self._end(job_id, ImportJobState.DONE, rows_total=summary.rows)
        files.upload.unlink(missing_ok=True)
        return True

    def _import(
        self, job: UploadedImport, department_code: str, licence_type_code: str, files: JobFiles
    ) -> ImportSummary:
        with self.database.reading() as session:
            target = find_target(
                session=session,
                department_code=department_code,
                licence_type_code=licence_type_code,
            )
        known, required = columns_of(target.licence_type)
        source = open_source(
            files.upload,
            mapping=job.mapping,
            known=known,
            required=required,
            fmt=cast(SourceFormat, job.format),
        )
        if source.sha256 != job.file_sha256:
            raise BadSourceFile("the uploaded file changed on disk since it was accepted")
        resume = None
        if job.lines_done:
            counts = ImportCounts(
                rows=job.rows_done,
                imported=job.imported,
                already_present=job.already_present,
                rejected=job.rejected,
                reasons=dict(job.reject_reasons),
            )
            resume = ImportCheckpoint(job.lines_done, counts, job.rejects_bytes)
        now = utcnow()
        self.database.write_now(
            functools.partial(
                _set_running, job.id, started_at=now, run_rows=job.rows_done, updated_at=now
            )
        )
        work = ImportJob(
            target=target, source=source, actor=job.actor, batch_size=job.batch_size, resume=resume
        )
        keep = resume.rejects_bytes if resume is not None else 0
        with RejectsFile(files.rejects, source.header, keep=keep) as rejects:
            return import_licences(
                database=self.database,
                runtime=self.runtime,
                job=work,
                rejects=rejects,
                checkpoint=functools.partial(_save_checkpoint, job.id),
                stop=self._stopping.is_set,
            )

    def _end(self, job_id: str, state: ImportJobState, **values: Any) -> None:
        now = utcnow()
        try:
            self.database.write_now(
                functools.partial(
                    _set, job_id, state=state, finished_at=now, updated_at=now, **values
                )
            )
        except Exception:  # the job stays unfinished: the next start-up runs it again
            logger.exception("import %s: could not record its end (%s)", job_id, state)


def _set_running(job_id: str, session: Session, **values: Any) -> None:
    _set(job_id, session, state=ImportJobState.RUNNING, **values)


async def get_import_runner(request: Request) -> ImportRunner:
    """FastAPI dependency: the ``ImportRunner`` made at start-up (``app.state.imports``)."""
    runner: ImportRunner = request.app.state.imports
    return runner


ImportRunnerDep = Annotated[ImportRunner, Depends(get_import_runner)]
