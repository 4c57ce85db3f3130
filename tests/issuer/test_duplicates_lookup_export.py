"""Issue 13 items 7 and 8: one valid licence per holder where the type says so (issuance and
bulk import), look-up by printed number, ``elicence export``."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from issuer.imports.pool import WorkerPool
from issuer.imports.rejects import RejectsFile
from issuer.imports.service import (
    ImportCrypto,
    ImportJob,
    columns_of,
    find_target,
    import_licences,
    sign_batch,
)
from issuer.imports.source import open_source
from registry.models import AuditEntry, Licence
from tests.issuer._import_files import citizen_id, licence_row, rows, write_csv
from tests.issuer.conftest import VALID_IDS, Issuer, bearer, licence_body
from tests.issuer.test_imports import World, make_world


def _single_valid_type(issuer: Issuer) -> str:
    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT", single_valid=True)
    issuer.licence_type("TRANSPORT", code="PERMIT", name="Permit")  # many per holder
    return key


def test_issuance_refuses_a_second_valid_licence_of_a_single_valid_type(
    issuer_any: Issuer,
) -> None:
    issuer = issuer_any
    key = _single_valid_type(issuer)
    first = issuer.issue(key)
    second = issuer.client.post("/issuer/licences", json=licence_body(), headers=bearer(key))
    assert second.status_code == 409
    assert second.json()["error"] == "already_holds_valid"
    assert first["number"] in second.json()["detail"]
    assert VALID_IDS[0] not in second.text
    # another holder, and another type that allows many, are not affected
    issuer.issue(key, id_number=VALID_IDS[1])
    issuer.issue(key, licence_type="PERMIT")
    issuer.issue(key, licence_type="PERMIT")
    # a correction replaces the valid one: allowed, and the old one is revoked
    corrected = issuer.client.post(
        f"/issuer/licences/{first['id']}/correct",
        json={"reason": "data_error", "holder_name": "张三丰"},
        headers=bearer(key),
    )
    assert corrected.status_code == 201, corrected.text
    again = issuer.client.post("/issuer/licences", json=licence_body(), headers=bearer(key))
    assert again.status_code == 409 and corrected.json()["number"] in again.json()["detail"]
    # once revoked, a new one may be issued
    revoked = issuer.client.post(
        f"/issuer/licences/{corrected.json()['id']}/revoke",
        json={"reason": "holder_request"},
        headers=bearer(key),
    )
    assert revoked.status_code == 200, revoked.text
    issuer.issue(key)


def _import(issuer: Issuer, source: Path, workers: int = 0) -> dict[str, object]:
    runtime = issuer.client.app.state.issuer  # type: ignore[attr-defined]
    with runtime.database.reading() as session:
        target = find_target(
            session=session, department_code="TRANSPORT", licence_type_code="DRIVING"
        )
    known, required = columns_of(target.licence_type)
    job = ImportJob(
        target=target,
        source=open_source(source, mapping={}, known=known, required=required),
        actor="test",
        batch_size=3,
    )
    with contextlib.ExitStack() as stack:
        # (forked after the test's database opened: the workers never touch it)
        pool = (
            stack.enter_context(
                WorkerPool(
                    workers,
                    ImportCrypto(vault=runtime.vault, key_secret=runtime.key_secret),
                    sign_batch,
                )
            )
            if workers
            else None
        )
        rejects = stack.enter_context(RejectsFile(source.with_suffix(".rejects.csv"), ["x"]))
        summary = import_licences(
            database=runtime.database, runtime=runtime, job=job, rejects=rejects, pool=pool
        )
    return summary.model_dump()


def test_the_duplicates_policy_is_in_the_licence_type_read(issuer: Issuer) -> None:
    key = issuer.department("TRANSPORT")
    created = issuer.client.post(
        "/issuer/admin/departments/TRANSPORT/licence-types",
        json={"code": "DRIVING", "name": "Driving", "validity_days": 5, "single_valid": True},
        headers=issuer.admin,
    )
    assert created.status_code == 201 and created.json()["single_valid"] is True
    issuer.licence_type("TRANSPORT", code="PERMIT", name="Permit")  # the default: many
    listed = issuer.client.get("/issuer/licence-types", headers=bearer(key))
    assert listed.status_code == 200
    assert {t["code"]: t["single_valid"] for t in listed.json()} == {
        "DRIVING": True,
        "PERMIT": False,
    }
    schema = issuer.client.get("/openapi.json").json()["components"]["schemas"]
    assert "single_valid" in schema["LicenceTypeRead"]["required"]


@pytest.mark.parametrize(
    ("flag", "second_lands"), [("--single-valid", False), ("--many-valid", True)]
)
def test_the_cli_sets_the_duplicates_policy(
    flag: str, second_lands: bool, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(sqlite_url, tmp_path, monkeypatch)
    added = world.run(
        "licence-type", "add", "TRANSPORT", "CERT", "--name", "Certificate",
        "--validity-days", "365", "--field", "licence_class:choice=A|B|C",
        "--field", "first_issued:date", "--field", "points:int:optional",
        "--categories", "B1", flag,
    )  # fmt: skip
    policy = "many valid per holder" if second_lands else "one valid per holder"
    assert added.exit_code == 0 and policy in added.stdout, added.output
    # the same citizen twice: the policy decides whether the second valid licence lands
    source = write_csv(
        tmp_path / "l.csv", [licence_row(0), licence_row(1, id_number=citizen_id(0))]
    )
    result = world.run("import", "TRANSPORT", "CERT", str(source), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["imported"] == (2 if second_lands else 1)
    assert summary["reject_reasons"] == ({} if second_lands else {"already_holds_valid": 1})
    default = world.run("licence-type", "add", "TRANSPORT", "OTHER", "--name", "O",
                        "--validity-days", "5")  # fmt: skip
    assert default.exit_code == 0 and "many valid per holder" in default.stdout


@pytest.mark.parametrize("workers", [0, 2])
def test_bulk_import_refuses_a_second_valid_licence_too(
    issuer_any: Issuer, tmp_path: Path, workers: int
) -> None:
    """Also with worker processes signing (``--workers``): the rows they signed are checked
    one at a time in the write transaction, as the one-process path checks them."""
    issuer = issuer_any
    key = _single_valid_type(issuer)
    held = issuer.issue(key, id_number=citizen_id(4))  # issued one at a time before
    records = [
        licence_row(0),
        licence_row(1, id_number=citizen_id(0)),  # citizen 0 again, in the same batch
        licence_row(2, id_number=citizen_id(0), status="revoked", status_reason="old"),
        licence_row(3),
        licence_row(4),  # holds one from issuance
        licence_row(5, id_number=citizen_id(3)),  # citizen 3 again, in the next batch
    ]
    source = write_csv(tmp_path / "l.csv", records)
    summary = _import(issuer, source, workers)
    assert (summary["imported"], summary["rejected"]) == (3, 3)
    assert summary["reject_reasons"] == {"already_holds_valid": 3}
    with (tmp_path / "l.rejects.csv").open(encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert [r[0] for r in table[1:]] == ["3", "6", "7"]
    assert held["number"] in table[2][2]
    with issuer.session() as session:
        first = session.scalars(select(Licence).where(Licence.record_key == "D00000000")).one()
    assert first.number in table[1][2]


def test_look_up_by_the_registry_number_or_the_departments_own(
    issuer_any: Issuer, tmp_path: Path
) -> None:
    issuer = issuer_any
    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    issuer.licence_type("TRANSPORT", code="PERMIT", name="Permit")
    other = issuer.department("MARKET")
    issued = issuer.issue(key)
    found = issuer.client.get(f"/issuer/licences/by-number/{issued['number']}", headers=bearer(key))
    assert found.status_code == 200 and found.json()["id"] == issued["id"]
    assert found.json()["record_key"] is None
    _import(issuer, write_csv(tmp_path / "l.csv", list(rows(2))))
    imported = issuer.client.get("/issuer/licences/by-number/D00000001", headers=bearer(key))
    assert imported.status_code == 200
    body = imported.json()
    assert body["record_key"] == "D00000001" and body["number"].startswith("TRANSPORT-DRIVING-")
    assert body["masked_id"] == citizen_id(1)[:6] + "********" + citizen_id(1)[-4:]
    by_registry_number = issuer.client.get(
        f"/issuer/licences/by-number/{body['number']}", headers=bearer(key)
    )
    assert by_registry_number.json()["id"] == body["id"]
    for number, headers, code in (
        ("D00000009", bearer(key), 404),
        (issued["number"], bearer(other), 404),  # another department's licence
        ("D00000001", {}, 401),
        ("x" * 65, bearer(key), 404),
    ):
        r = issuer.client.get(f"/issuer/licences/by-number/{number}", headers=headers)
        assert r.status_code == code and set(r.json()) == {"error", "detail"}


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(sqlite_url, tmp_path, monkeypatch)


def test_export_masks_id_numbers_unless_asked_and_audits_that(world: World) -> None:
    records = [*rows(3), licence_row(3, status="revoked", status_reason="court order")]
    source = write_csv(world.tmp / "l.csv", records)
    assert world.imports(source).exit_code == 0
    result = world.run("export", "TRANSPORT", "--type", "DRIVING")
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["record_key"] for r in sorted(table, key=lambda r: r["record_key"])] == [
        f"D{n:08d}" for n in range(4)
    ]
    for record in table:
        n = int(record["record_key"][1:])
        assert record["id_number"] == citizen_id(n)[:6] + "********" + citizen_id(n)[-4:]
        assert record["licence_class"] == "ABC"[n % 3] and record["categories"] == "B1"
    assert not any(citizen_id(n) in result.stdout for n in range(4))
    audits = world.count(AuditEntry)
    revoked = world.run("export", "TRANSPORT", "--status", "revoked", "--format", "jsonl")
    lines = [json.loads(line) for line in revoked.stdout.splitlines()]
    assert [r["record_key"] for r in lines] == ["D00000003"]
    assert lines[0]["fields"]["licence_class"] == "A" and lines[0]["status_reason"] == "court order"
    assert world.count(AuditEntry) == audits  # masked exports are not audited

    out = world.tmp / "full.csv"
    full = world.run(
        "export", "TRANSPORT", "--type", "DRIVING", "--with-id-numbers", "--output", str(out)
    )
    assert full.exit_code == 0 and "exported 4 licences" in full.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    exported = {r["record_key"]: r["id_number"] for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert exported == {f"D{n:08d}": citizen_id(n) for n in range(4)}
    assert world.count(AuditEntry) == audits + 1
    database = world.database()
    try:
        with database.reading() as session:
            entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    finally:
        database.close()
    assert entry is not None and entry.act == "licence.export"
    assert entry.detail is not None and entry.detail["with_id_numbers"] is True
    # an export with ID numbers imports again (into another type's key space: nothing new here)
    again = world.imports(out, "--map", "number=-", "--map", "licence_type=-", "--json")
    assert json.loads(again.stdout)["already_present"] == 4

    for args, message in (
        (["export", "NOPE"], "no department"),
        (["export", "TRANSPORT", "--type", "FISHING"], "no licence type"),
        (["export", "TRANSPORT", "--status", "lost"], "status must be one of"),
        (["export", "TRANSPORT", "--format", "xml"], "format must be one of"),
    ):
        bad = world.run(*args)
        assert bad.exit_code == 1 and message in bad.output and "Traceback" not in bad.output
