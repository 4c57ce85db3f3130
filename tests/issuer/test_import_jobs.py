"""Issue 13 item 6: bulk import over HTTP. ``POST /issuer/imports`` takes the file as the body,
answers 202 with a job that runs in the background through the CLI's engine; ``GET`` reports
state, progress and counts; the rejects download; a department sees only its own jobs; bad
uploads are refused at once with nothing stored. (The restart of a running job, with a real
``elicence serve`` killed with SIGKILL, is in ``test_import_jobs_restart.py``.)"""

from __future__ import annotations

import csv
import io
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from credential import KeyState
from issuer.imports.jobs import create_job
from issuer.imports.service import columns_of, default_batch_size, find_target, licence_ids_hash
from issuer.imports.source import open_source
from registry.models import AuditEntry, ImportJobState, Licence, SigningKey, UploadedImport
from tests.issuer._import_files import citizen_id, licence_row, rows, write_csv, write_jsonl
from tests.issuer.conftest import Issuer, _running, bearer

CSV = {"Content-Type": "text/csv"}
LIMIT = 64 * 1024


@pytest.fixture
def small_limit(sqlite_migrated_url: str, tmp_path: Path) -> Iterator[Issuer]:
    """The issuer on SQLite taking uploads of ``LIMIT`` bytes at most."""
    yield from _running(sqlite_migrated_url, tmp_path, import_max_bytes=LIMIT)


def _transport(issuer: Issuer) -> str:
    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    return key


def _upload(issuer: Issuer, key: str, body: bytes, **params: Any) -> Any:
    headers = {**bearer(key), **params.pop("headers", CSV)}
    return issuer.client.post(
        "/issuer/imports",
        params={"licence_type": "DRIVING", **params},
        content=body,
        headers=headers,
    )


def _finished(issuer: Issuer, key: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        answer = issuer.client.get(f"/issuer/imports/{job_id}", headers=bearer(key))
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _imports_dir(issuer: Issuer) -> Path:
    return issuer.settings.data_dir / "imports"


def test_an_upload_imports_in_the_background_with_progress_counts_and_rejects(
    issuer_any: Issuer, tmp_path: Path
) -> None:
    issuer = issuer_any
    key = _transport(issuer)
    records = [
        *rows(5),
        licence_row(5, id_number="110105194912310021"),  # wrong check character
        licence_row(6, valid_from="yesterday"),
        licence_row(7, status="revoked", status_reason="court order"),
    ]
    body = write_csv(tmp_path / "l.csv", records).read_bytes()
    audits = issuer.audit_count()

    answer = _upload(issuer, key, body, batch_size=3)
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert answer.headers["Location"] == f"/issuer/imports/{accepted['id']}"
    assert accepted["state"] == "queued" and accepted["licence_type"] == "DRIVING"
    assert accepted["progress"]["rows_total"] == 8 and accepted["format"] == "csv"
    job = _finished(issuer, key, accepted["id"])

    assert job["state"] == "done" and job["error"] is None
    assert job["counts"] == {
        "imported": 6,
        "already_present": 0,
        "rejected": 2,
        "reject_reasons": {"invalid_date": 1, "invalid_id_number": 1},
    }
    assert job["progress"]["rows_done"] == job["progress"]["rows_total"] == 8
    assert job["progress"]["rows_per_second"] > 0
    assert job["finished_at"] is not None and job["started_at"] is not None
    with issuer.session() as session:
        stored = session.scalars(select(Licence).order_by(Licence.record_key)).all()
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.id > audits).order_by(AuditEntry.id)
        ).all()
    assert [lic.record_key for lic in stored] == [f"D{n:08d}" for n in (0, 1, 2, 3, 4, 7)]
    assert stored[-1].status == "revoked"
    # audited as the CLI import does: one entry per batch, by the department's key
    assert [e.act for e in entries] == ["licence.import"] * 3
    assert {e.actor for e in entries} == {f"department:TRANSPORT/key:{key.split('_')[1]}"}
    assert entries[0].detail is not None and entries[0].detail["lines"] == [2, 4]
    assert entries[0].detail["file_sha256"] == job["file_sha256"]
    first_batch = [lic.id for lic in stored[:3]]
    assert entries[0].detail["licence_ids_sha256"] == licence_ids_hash(first_batch)

    download = issuer.client.get(job["rejects"], headers=bearer(key))
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.text)))
    assert table[0][:3] == ["line", "reason", "message"]
    assert [(r[0], r[1], r[3]) for r in table[1:]] == [
        ("7", "invalid_id_number", "D00000005"),
        ("8", "invalid_date", "D00000006"),
    ]
    files = _imports_dir(issuer)
    assert stat.S_IMODE(files.stat().st_mode) == 0o700
    assert [p.name for p in files.iterdir()] == [f"{job['id']}.rejects.csv"]  # upload deleted
    assert stat.S_IMODE((files / f"{job['id']}.rejects.csv").stat().st_mode) == 0o600

    # the same file again: nothing new, and it says so
    again = _finished(issuer, key, _upload(issuer, key, body).json()["id"])
    assert again["counts"]["imported"] == 0 and again["counts"]["already_present"] == 6
    with issuer.database.reading() as session:  # no batch_size asked: the database's own
        job_row = session.get(UploadedImport, again["id"])
        assert job_row is not None
        assert job_row.batch_size == default_batch_size(issuer.database.dialect)
    assert again["counts"]["rejected"] == 2
    listed = issuer.client.get("/issuer/imports", headers=bearer(key)).json()["imports"]
    assert [j["id"] for j in listed] == [again["id"], job["id"]]


def test_json_lines_mapped_columns_and_a_generic_content_type(
    issuer: Issuer, tmp_path: Path
) -> None:
    key = _transport(issuer)
    records = [{**licence_row(n), "legacy_no": f"L{n}"} for n in range(3)]
    body = write_jsonl(tmp_path / "l.jsonl", records).read_bytes()
    answer = _upload(
        issuer,
        key,
        body,
        map=["record_key=-", "legacy_no=record_key"],
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 202, answer.text
    job = _finished(issuer, key, answer.json()["id"])
    assert job["format"] == "jsonl" and job["counts"]["imported"] == 3
    with issuer.session() as session:
        keys = session.scalars(select(Licence.record_key).order_by(Licence.record_key)).all()
    assert keys == ["L0", "L1", "L2"]
    ndjson = _upload(issuer, key, body, headers={"Content-Type": "application/x-ndjson"})
    assert ndjson.status_code == 202  # record_key column used as is: new keys D0000000n
    assert _finished(issuer, key, ndjson.json()["id"])["counts"]["imported"] == 3


def test_a_department_sees_only_its_own_imports(issuer: Issuer, tmp_path: Path) -> None:
    key = _transport(issuer)
    other = issuer.department("MARKET")
    job = _upload(issuer, key, write_csv(tmp_path / "l.csv", list(rows(2))).read_bytes()).json()
    _finished(issuer, key, job["id"])
    for path in (f"/issuer/imports/{job['id']}", f"/issuer/imports/{job['id']}/rejects"):
        foreign = issuer.client.get(path, headers=bearer(other))
        assert foreign.status_code == 404 and set(foreign.json()) == {"error", "detail"}
        assert issuer.client.get(path).status_code == 401
    assert issuer.client.get("/issuer/imports", headers=bearer(other)).json() == {"imports": []}
    unknown = issuer.client.get(f"/issuer/imports/{uuid.uuid4()}", headers=bearer(key))
    assert unknown.status_code == 404
    assert issuer.client.get("/issuer/imports/not-a-uuid", headers=bearer(key)).status_code == 404
    # and it cannot import into another department's type
    market_type = _upload(issuer, other, b"record_key\n")
    assert market_type.status_code == 404 and market_type.json()["error"] == "not_found"


def test_rejects_wait_for_the_end_of_the_import(issuer: Issuer) -> None:
    key = _transport(issuer)
    job_id = str(uuid.uuid4())
    # A job another process is running (its row, no upload here): no rejects yet.
    with issuer.database.writing() as session:
        session.add(
            UploadedImport(
                id=job_id,
                department_id=1,
                licence_type_id=1,
                actor="department:TRANSPORT/key:x",
                state=ImportJobState.RUNNING,
                format="csv",
                file_sha256="0" * 64,
                file_bytes=10,
                mapping={},
                batch_size=500,
                rows_total=1000,
                rows_done=500,
                lines_done=501,
                run_rows=0,
                imported=500,
                already_present=0,
                rejected=0,
                reject_reasons={},
                rejects_bytes=40,
            )
        )
    answer = issuer.client.get(f"/issuer/imports/{job_id}", headers=bearer(key))
    assert answer.status_code == 200 and answer.json()["rejects"] is None
    assert answer.json()["progress"]["rows_done"] == 500
    rejects = issuer.client.get(f"/issuer/imports/{job_id}/rejects", headers=bearer(key))
    assert rejects.status_code == 409 and "running" in rejects.json()["detail"]


def _nothing_stored(issuer: Issuer) -> None:
    with issuer.session() as session:
        assert session.scalar(select(func.count()).select_from(UploadedImport)) == 0
        assert session.scalar(select(func.count()).select_from(Licence)) == 0
    directory = _imports_dir(issuer)
    assert not directory.exists() or list(directory.iterdir()) == []


def test_bad_uploads_are_refused_at_once_and_nothing_is_stored(
    small_limit: Issuer, tmp_path: Path
) -> None:
    issuer = small_limit
    key = _transport(issuer)
    good = write_csv(tmp_path / "l.csv", list(rows(2))).read_bytes()
    missing_column = write_csv(
        tmp_path / "m.csv", list(rows(2)), columns=["record_key", "id_number", "holder_name"]
    ).read_bytes()
    too_large = write_csv(tmp_path / "big.csv", list(rows(800))).read_bytes()
    assert len(too_large) > LIMIT

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while streaming
        for start in range(0, len(too_large), 8192):
            yield too_large[start : start + 8192]

    cases: list[tuple[dict[str, Any], Any, int, str]] = [
        ({}, "record_key,id_number\n\xff\xfe".encode("latin-1"), 422, "invalid_file"),
        ({}, b"", 422, "invalid_file"),
        ({}, "名字,号码\n张三,1\n".encode("gb18030"), 422, "invalid_file"),
        ({}, missing_column, 422, "invalid_file"),
        ({"headers": {"Content-Type": "application/x-ndjson"}}, b"[1, 2]\n", 422, "invalid_file"),
        ({"headers": {"Content-Type": "application/json"}}, good, 415, "unsupported_media_type"),
        (
            {"headers": {"Content-Type": "multipart/form-data; boundary=x"}},
            good,
            415,
            "unsupported_media_type",
        ),
        ({"format": "jsonl"}, good, 422, "invalid_format"),
        ({"format": "xml"}, good, 422, "invalid_request"),
        ({"map": ["nonsense"]}, good, 422, "invalid_file"),
        ({"batch_size": 0}, good, 422, "invalid_request"),
        ({"licence_type": "FISHING"}, good, 404, "not_found"),
        ({}, too_large, 413, "body_too_large"),
        ({}, chunks(), 413, "body_too_large"),
        ({"headers": {"Authorization": "Bearer elk_nope"}}, good, 401, "unauthorized"),
    ]
    for params, body, status, code in cases:
        answer = _upload(issuer, key, body, **params)
        assert (answer.status_code, answer.json()["error"]) == (status, code), (params, answer.text)
        assert "Traceback" not in answer.text
        assert citizen_id(0) not in answer.text
    _nothing_stored(issuer)
    # the limit is the import's own: a file above the 1 MiB of other requests is fine
    assert _upload(issuer, key, good).status_code == 202


def test_start_up_resumes_stored_jobs_and_deletes_uploads_nobody_stored(
    issuer: Issuer, tmp_path: Path
) -> None:
    key = _transport(issuer)
    runner = issuer.client.app.state.imports  # type: ignore[attr-defined]
    # an upload whose request died before its job was stored
    orphan = runner.files(str(uuid.uuid4()))
    orphan.upload.write_bytes(b"record_key\n")
    # a queued job whose process died before running it: its row and its upload
    job_id = str(uuid.uuid4())
    files = runner.files(job_id)
    files.upload.write_bytes(write_csv(tmp_path / "l.csv", list(rows(3))).read_bytes())
    with issuer.database.writing() as session:
        target = find_target(
            session=session, department_code="TRANSPORT", licence_type_code="DRIVING"
        )
        known, required = columns_of(target.licence_type)
        create_job(
            session=session,
            job_id=job_id,
            department_id=target.department_id,
            licence_type_id=target.licence_type.id,
            actor="department:TRANSPORT/key:test",
            source=open_source(files.upload, mapping={}, known=known, required=required),
            file_bytes=files.upload.stat().st_size,
        )
    assert runner.resume_unfinished() == [job_id]
    job = _finished(issuer, key, job_id)
    assert job["state"] == "done" and job["counts"]["imported"] == 3
    assert not orphan.upload.exists() and not orphan.lock.exists()
    assert not files.upload.exists() and not files.lock.exists()
    assert runner.resume_unfinished() == []  # nothing left to resume


def test_a_department_that_cannot_sign_is_told_before_the_upload(
    issuer: Issuer, tmp_path: Path
) -> None:
    key = _transport(issuer)
    with issuer.database.writing() as session:  # every key of the department retired
        session.execute(
            update(SigningKey)
            .where(SigningKey.department_id.is_not(None))
            .values(state=KeyState.RETIRED)
        )
    good = write_csv(tmp_path / "l.csv", list(rows(2))).read_bytes()
    answer = _upload(issuer, key, good)
    assert answer.status_code == 400 and "signing key" in answer.json()["detail"]
    _nothing_stored(issuer)


def test_the_upload_is_documented_in_openapi(issuer: Issuer) -> None:
    spec = issuer.client.get("/openapi.json").json()
    post = spec["paths"]["/issuer/imports"]["post"]
    assert set(post["requestBody"]["content"]) >= {"text/csv", "application/x-ndjson"}
    assert {"202", "413", "415", "422"} <= set(post["responses"])
    assert {p["name"] for p in post["parameters"]} >= {"licence_type", "map", "format"}
    got = spec["paths"]["/issuer/imports/{job_id}"]["get"]["responses"]["200"]
    assert got["content"]["application/json"]["schema"]["$ref"].endswith("/ImportJobRead")
    rejects = spec["paths"]["/issuer/imports/{job_id}/rejects"]["get"]["responses"]
    assert "text/csv" in rejects["200"]["content"] and "409" in rejects
