"""Issue 13 item 6: an import uploaded over HTTP survives the death of the service. A real
``elicence serve --workers 2`` is killed with SIGKILL (server and workers at once) while the job
runs, started again (the job resumes on start-up, in whichever worker takes its lock), stopped
with SIGTERM mid-job (the job stops after its batch), and started again: the job finishes with
every row stored exactly once, exact counts, one audit entry per batch, and the chain intact. On
SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

from issuer.imports.service import licence_ids_hash
from registry.database import Database, WriterLock
from registry.db import sqlite_path
from registry.models import AuditEntry, HolderKey, ImportJobState, Licence, UploadedImport
from tests._postgres import free_port
from tests._served import ELICENCE, ELICENCE_INLINE, ROOT, Served, run_cli, service_env
from tests.issuer._import_files import rows, write_csv

ROWS = 4000
BATCH = 100
WORKERS = 2


def _job(served: Served, api_key: str, job_id: str) -> dict[str, Any] | None:
    try:
        answer = httpx.get(
            f"{served.url}/issuer/imports/{job_id}",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        )
    except httpx.TransportError:
        return None
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()
    return job


def _wait(served: Served, api_key: str, job_id: str, until: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while True:
        job = _job(served, api_key, job_id)
        if job is not None and until(job):
            return job
        assert job is None or job["state"] != "failed", job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _stored(database: Database, job_id: str) -> tuple[UploadedImport, int]:
    with database.reading() as session:
        job = session.get(UploadedImport, job_id)
        landed = session.scalar(select(func.count()).select_from(Licence)) or 0
    assert job is not None
    return job, landed


@contextlib.contextmanager
def _writes_held(database_url: str) -> Iterator[None]:
    """No write to the licences lands while the block runs: on SQLite the test holds the writer
    lock every process of the file takes (``registry.database.WriterLock``), on PostgreSQL a
    SHARE lock on ``licences`` (reads go on, inserts wait)."""
    path = sqlite_path(database_url)
    if path is not None:
        lock = WriterLock(path)
        try:
            with lock:
                yield
        finally:
            lock.close()
        return
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("LOCK TABLE licences IN SHARE MODE"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


def _wait_for_lines(served: Served, line: str, count: int) -> None:
    """Until ``line`` is in the server's output ``count`` times (one per worker)."""
    deadline = time.monotonic() + 60
    while served.output().count(line) < count:
        assert time.monotonic() < deadline, served.output()[-3000:]
        time.sleep(0.02)


def _check_interrupted(database: Database, job_id: str) -> int:
    """The job as the interruption left it: running, its checkpoint exactly what landed."""
    job, landed = _stored(database, job_id)
    assert job.state == ImportJobState.RUNNING
    assert job.rows_done == job.imported == landed and landed % BATCH == 0
    assert landed < ROWS
    return landed


def test_an_upload_resumes_after_sigkill_and_after_a_stop(
    database_url: str, tmp_path: Path
) -> None:
    env = service_env(tmp_path / "data", ELICENCE_DATABASE_URL=database_url)
    log = tmp_path / "server.log"
    run_cli(env, "init")
    source = write_csv(tmp_path / "licences.csv", rows(ROWS))
    database = Database(database_url)
    served = Served(env, free_port(), WORKERS, log, ELICENCE_INLINE)
    try:
        served.wait_ready()
        api_key = served.prepare_department()
        answer = httpx.post(
            f"{served.url}/issuer/imports",
            params={"licence_type": "DRIVING", "map": "points=-", "batch_size": BATCH},
            content=source.read_bytes(),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "text/csv"},
            timeout=60,
        )
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
        _wait(served, api_key, job_id, lambda j: j["progress"]["rows_done"] >= 3 * BATCH)
        with _writes_held(database_url):  # the job cannot run to its end before the kill
            served.kill()
        killed_at = _check_interrupted(database, job_id)

        served = Served(env, free_port(), WORKERS, log, ELICENCE_INLINE)
        served.wait_ready()  # resumed on start-up: it moves on without being asked
        _wait(
            served,
            api_key,
            job_id,
            lambda j: j["progress"]["rows_done"] >= killed_at + 3 * BATCH,
        )
        # Stopped while the job's writes wait: it cannot run to its end before the stop reaches
        # it (on a fast machine it once did, between the last look and the stop).
        with _writes_held(database_url):
            served.request_stop()
            _wait_for_lines(served, "Waiting for application shutdown.", WORKERS)
        served.wait_stopped()
        stopped_at = _check_interrupted(database, job_id)
        assert stopped_at > killed_at

        served = Served(env, free_port(), WORKERS, log, ELICENCE_INLINE)
        served.wait_ready()
        job = _wait(served, api_key, job_id, lambda j: j["state"] == "done")
    except AssertionError as failure:
        failure.add_note(f"server log, last lines:\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        served.stop()
    try:
        with database.reading() as session:
            stored = session.execute(
                select(Licence.id, Licence.record_key).order_by(Licence.record_key)
            ).all()
            holders = session.scalar(select(func.count()).select_from(HolderKey))
            audits = session.scalars(
                select(AuditEntry).where(AuditEntry.act == "licence.import").order_by(AuditEntry.id)
            ).all()
    finally:
        database.close()
    assert job["counts"] == {
        "imported": ROWS,
        "already_present": 0,  # no batch was run twice
        "rejected": 0,
        "reject_reasons": {},
    }
    assert job["progress"]["rows_done"] == job["progress"]["rows_total"] == ROWS
    assert [r.record_key for r in stored] == [f"D{n:08d}" for n in range(ROWS)]
    assert holders == ROWS
    ids = [r.id for r in stored]
    ranges = []
    for audit in audits:
        assert audit.detail is not None
        first, last = audit.detail["lines"]
        ranges.append((first, last))
        assert audit.detail["licence_ids_sha256"] == licence_ids_hash(ids[first - 2 : last - 1])
        assert audit.actor.startswith("department:TRANSPORT/key:")
    assert sorted(ranges) == [(2 + b * BATCH, 1 + (b + 1) * BATCH) for b in range(ROWS // BATCH)]
    verified = subprocess.run(
        [ELICENCE, "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert verified.returncode == 0 and verified.stdout.startswith("OK: "), verified.stderr
    left = sorted(p.name for p in (tmp_path / "data" / "imports").iterdir())
    assert left == [f"{job_id}.rejects.csv"]  # the upload and its lock are gone
    assert "Traceback" not in log.read_text(errors="replace")
