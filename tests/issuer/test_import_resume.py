"""Issue 13 item 3: an import killed with SIGKILL in the middle, then run again, finishes the file
with every row present exactly once and the audit chain intact (real subprocesses, SQLite and
PostgreSQL), in one process and with worker processes (``--workers 2``), which end with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from issuer.imports.service import licence_ids_hash
from registry.database import Database
from registry.models import AuditEntry, HolderKey, Licence
from tests.issuer._import_files import rows, write_csv
from tests.issuer.test_imports import make_world

ROWS = 3000
BATCH = 100
ELICENCE = str(Path(sys.executable).parent / "elicence")


def _landed(database: Database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count()).select_from(Licence)) or 0


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _ended(pid: int) -> bool:
    """The process is gone, or a zombie (ended, not yet reaped by init)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return any(line.startswith("State:") and "Z" in line for line in status.splitlines())


def _import_command(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> tuple[dict[str, str], list[str]]:
    """The environment and command of an ``elicence import`` of ``ROWS`` rows into a new world."""
    world = make_world(url, tmp_path, monkeypatch)
    source = write_csv(tmp_path / "licences.csv", rows(ROWS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELICENCE_")}
    env |= {"ELICENCE_DATA_DIR": str(world.data_dir), "ELICENCE_DATABASE_URL": url}
    command = [ELICENCE, "import", "TRANSPORT", "DRIVING", str(source), "--batch-size", str(BATCH),
               "--workers", str(workers)]  # fmt: skip
    return env, command


@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_in_the_middle_then_rerun_lands_every_row_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    env, command = _import_command(database_url, tmp_path, monkeypatch, workers)
    database = Database(database_url)
    try:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 300
        while _landed(database) < 3 * BATCH:  # a few batches are in: kill it mid-file
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        children = _children(process.pid)
        assert len(children) == workers
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        # the workers see their pipes' EOF and exit: none outlives the importing process
        deadline = time.monotonic() + 30
        while not all(_ended(child) for child in children):
            assert time.monotonic() < deadline, "a worker outlived the killed import"
            time.sleep(0.05)
        if process.stderr is not None:
            process.stderr.close()
        before = _landed(database)
        assert 3 * BATCH <= before < ROWS and before % BATCH == 0  # whole batches only

        rerun = subprocess.run(
            [*command, "--json"], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert rerun.returncode == 0, rerun.stderr
        summary = json.loads(rerun.stdout)
        assert summary["rows"] == ROWS and summary["rejected"] == 0
        assert (summary["imported"], summary["already_present"]) == (ROWS - before, before)

        with database.reading() as session:
            stored = session.execute(
                select(Licence.id, Licence.record_key, Licence.id_index).order_by(
                    Licence.record_key
                )
            ).all()
            holders = session.scalar(select(func.count()).select_from(HolderKey))
            audits = session.scalars(
                select(AuditEntry).where(AuditEntry.act == "licence.import").order_by(AuditEntry.id)
            ).all()
    finally:
        database.close()
    assert [r.record_key for r in stored] == [f"D{n:08d}" for n in range(ROWS)]
    assert len({r.id_index for r in stored}) == ROWS == holders
    # Each batch (its line range) was committed by exactly one of the two runs, whole, and its
    # audit entry names exactly its licences.
    ids = [r.id for r in stored]
    ranges = []
    for audit in audits:
        assert audit.detail is not None
        first, last = audit.detail["lines"]
        ranges.append((first, last))
        batch_ids = ids[first - 2 : last - 1]
        assert audit.detail["created"] == len(batch_ids) == BATCH
        assert audit.detail["licence_ids_sha256"] == licence_ids_hash(batch_ids)
    assert sorted(ranges) == [(2 + b * BATCH, 1 + (b + 1) * BATCH) for b in range(ROWS // BATCH)]
    verified = subprocess.run(
        [ELICENCE, "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0 and verified.stdout.startswith("OK: "), verified.stderr


def test_a_worker_killed_mid_import_stops_it_with_a_message_and_a_rerun_finishes(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, command = _import_command(sqlite_url, tmp_path, monkeypatch, workers=2)
    database = Database(sqlite_url)
    try:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 300
        while _landed(database) < 2 * BATCH:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(_children(process.pid)[0], signal.SIGKILL)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 1
        assert "an import worker process" in stderr and "run the same command again" in stderr
        assert "Traceback" not in stderr
        before = _landed(database)
        assert before % BATCH == 0 and before < ROWS  # whole batches only

        rerun = subprocess.run(
            [*command, "--json"], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert rerun.returncode == 0, rerun.stderr
        summary = json.loads(rerun.stdout)
        assert (summary["imported"], summary["already_present"]) == (ROWS - before, before)
        assert _landed(database) == ROWS
    finally:
        database.close()
