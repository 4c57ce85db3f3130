"""Bulk import of existing licences (存量证照, issue 13 items 1-5): ``elicence import``."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from credential import StatusList as StatusBits
from credential import jwk_to_public_key, read_credential
from elicence.cli import app as cli
from issuer.imports.service import BATCH_SIZES, default_batch_size, licence_ids_hash
from registry.database import Database
from registry.models import AuditEntry, HolderKey, Licence, SigningKey, StatusList
from registry.settings import Settings, load_master_key
from registry.vault import CitizenIdVault
from tests.issuer._import_files import (
    COLUMNS,
    citizen_id,
    licence_row,
    rows,
    write_csv,
    write_jsonl,
)

DRIVING = [
    "licence-type",
    "add",
    "TRANSPORT",
    "DRIVING",
    "--name",
    "Driving licence",
    "--validity-days",
    "3650",
    "--field",
    "licence_class:choice=A|B|C",
    "--field",
    "first_issued:date",
    "--field",
    "points:int:optional",
    "--categories",
    "A1,B1,C1",
]


@dataclass
class World:
    """A deployment made with the CLI: TRANSPORT with licence type DRIVING."""

    url: str
    data_dir: Path
    tmp: Path

    def run(self, *args: str) -> Any:
        return CliRunner().invoke(cli, list(args))

    def imports(self, file: Path, *args: str) -> Any:
        return self.run("import", "TRANSPORT", "DRIVING", str(file), *args)

    def database(self) -> Database:
        return Database(self.url)

    def count(self, model: type, *where: Any) -> int:
        database = self.database()
        try:
            with database.reading() as session:
                return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        finally:
            database.close()

    def vault(self) -> CitizenIdVault:
        settings = Settings(data_dir=self.data_dir, database_url=self.url)
        return CitizenIdVault(load_master_key(settings, create=False))


def make_world(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    for name in list(os.environ):
        if name.startswith("ELICENCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ELICENCE_DATABASE_URL", url)
    world = World(url, tmp_path / "data", tmp_path)
    for args in (["init"], ["department", "add", "TRANSPORT", "--name", "T"], DRIVING):
        result = world.run(*args)
        assert result.exit_code == 0, result.output
    return world


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(sqlite_url, tmp_path, monkeypatch)


@pytest.fixture
def world_any(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(database_url, tmp_path, monkeypatch)


def _summary(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def _licences(world: World) -> Iterator[Licence]:
    database = world.database()
    try:
        with database.reading() as session:
            yield from session.scalars(select(Licence).order_by(Licence.record_key)).all()
    finally:
        database.close()


def _department_keys(world: World) -> dict[str, Any]:
    database = world.database()
    try:
        with database.reading() as session:
            keys = session.scalars(select(SigningKey).where(SigningKey.department_id.is_not(None)))
            return {k.kid: jwk_to_public_key(k.public_jwk) for k in keys}
    finally:
        database.close()


def test_import_issues_each_row_as_issuance_does_keeping_dates_and_status(
    world_any: World,
) -> None:
    world = world_any
    records = list(rows(24))
    records[3] = licence_row(3, status="suspended", status_reason="points exceeded")
    records[4] = licence_row(4, status="revoked", status_reason="court order")
    first_generation = "110105491231002"  # 15 digits: upgraded to 11010519491231002X
    records[5] = licence_row(5, id_number=first_generation, points="")
    records[6] = licence_row(6, id_number=citizen_id(0))  # a second licence of citizen 0
    records[7] = licence_row(7, valid_from="2021-05-06T09:30:00+08:00", issued_at="2021-05-01")
    source = write_csv(world.tmp / "licences.csv", records)
    started = int(dt.datetime.now(dt.UTC).timestamp())
    summary = _summary(world.imports(source, "--batch-size", "10", "--json"))
    assert summary["rows"] == 24 and summary["imported"] == 24
    assert summary["already_present"] == 0 and summary["rejected"] == 0
    assert summary["batches"] == 3 and summary["file_sha256"] == _sha256(source)

    keys = _department_keys(world)
    vault = world.vault()
    licences = list(_licences(world))
    assert [lic.record_key for lic in licences] == [f"D{n:08d}" for n in range(24)]
    assert len({(lic.status_list_id, lic.status_index) for lic in licences}) == 24
    for lic in licences:
        credential = read_credential(lic.credential)
        credential.verify_signature(keys[lic.kid])
        claims = credential.claims
        n = int(lic.record_key[1:])
        expected_id = "11010519491231002X" if n == 5 else citizen_id(0 if n == 6 else n)
        assert vault.decrypt(lic.id_ciphertext) == expected_id
        assert lic.id_index == vault.blind_index(expected_id)
        assert claims.licence.masked_id == expected_id[:6] + "********" + expected_id[-4:]
        assert claims.licence.number == lic.number.removeprefix("") and lic.number.startswith(
            "TRANSPORT-DRIVING-"
        )
        assert claims.licence.holder_name == f"持证人{n}"
        assert claims.licence.categories == ("B1",)
        china = dt.timezone(dt.timedelta(hours=8))
        if n == 7:
            assert lic.valid_from == dt.datetime(2021, 5, 6, 1, 30, tzinfo=dt.UTC)
            assert lic.issued_at == dt.datetime(2021, 5, 1, tzinfo=china)
        else:  # the original dates: a date is a day in China Standard Time
            assert lic.valid_from == dt.datetime(2019, 3, 1, tzinfo=china)
            assert lic.issued_at == lic.valid_from
        assert lic.valid_until == dt.datetime(2029, 7, 1, tzinfo=china)  # end of 2029-06-30
        assert claims.not_before == int(lic.valid_from.timestamp())
        # the credential is issued now (its iat in the key's window); the register keeps the
        # original issue date
        assert started - 1 <= claims.issued_at <= int(dt.datetime.now(dt.UTC).timestamp()) + 1
        assert claims.expires_at == int(lic.valid_until.timestamp())
        assert claims.licence.fields.get("points") == (None if n == 5 else n % 12)
    by_key = {lic.record_key: lic for lic in licences}
    assert by_key["D00000003"].status == "suspended"
    assert by_key["D00000003"].status_reason == "points exceeded"
    assert by_key["D00000004"].status == "revoked"
    database = world.database()
    try:
        with database.reading() as session:
            for lic in licences:
                row = session.get(StatusList, lic.status_list_id)
                assert row is not None
                bits = StatusBits(row.bits, row.size, row.data)
                assert (
                    bits.get(lic.status_index)
                    == {"valid": 0, "revoked": 1, "suspended": 2}[lic.status]
                )
            holders = session.scalars(select(HolderKey.id_index)).all()
            audits = session.scalars(
                select(AuditEntry).where(AuditEntry.act == "licence.import").order_by(AuditEntry.id)
            ).all()
    finally:
        database.close()
    # one holder key per citizen: citizen 0 holds two licences
    assert sorted(holders) == sorted({lic.id_index for lic in licences})
    assert len(holders) == 23
    assert [a.detail["lines"] for a in audits if a.detail] == [[2, 11], [12, 21], [22, 25]]
    for audit, batch in zip(audits, (range(10), range(10, 20), range(20, 24)), strict=True):
        assert audit.object_id == summary["file_sha256"]
        assert audit.detail is not None and audit.detail["created"] == len(batch)
        ids = [by_key[f"D{n:08d}"].id for n in batch]
        assert audit.detail["licence_ids_sha256"] == licence_ids_hash(ids)
        assert "11010519" not in json.dumps(audit.detail)
    verified = world.run("audit", "verify")
    assert verified.exit_code == 0 and verified.output.startswith("OK: ")


def test_batches_are_the_databases_size_unless_chosen(world_any: World) -> None:
    """1,000 rows a batch on SQLite (its one write lock), 2,000 on PostgreSQL; 1,001 rows."""
    source = write_csv(world_any.tmp / "licences.csv", list(rows(1001)))
    summary = _summary(world_any.imports(source, "--workers", "0", "--json"))
    assert summary["imported"] == 1001
    default = BATCH_SIZES["postgresql" if world_any.url.startswith("postgresql") else "sqlite"]
    assert summary["batches"] == -(-1001 // default)
    assert default_batch_size("sqlite") == 1000 and default_batch_size("postgresql") == 2000


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_running_the_same_file_again_creates_nothing_and_says_so(world: World) -> None:
    source = write_csv(world.tmp / "licences.csv", list(rows(12)))
    first = _summary(world.imports(source, "--json"))
    assert first["imported"] == 12
    audits = world.count(AuditEntry)
    again = world.imports(source)
    assert again.exit_code == 0
    assert "imported 0, already present 12, rejected 0" in again.output
    assert world.count(Licence) == 12 and world.count(AuditEntry) == audits
    # a longer version of the file: only the new rows land
    longer = write_csv(world.tmp / "longer.csv", list(rows(15)))
    third = _summary(world.imports(longer, "--json"))
    assert (third["imported"], third["already_present"]) == (3, 12)
    assert world.count(Licence) == 15


def test_bom_csv_with_mapped_columns_and_json_lines(world: World) -> None:
    chinese = {
        "record_key": "证照编号",
        "id_number": "身份证号",
        "holder_name": "姓名",
        "valid_from": "有效期起",
        "licence_class": "准驾车型",
    }
    header = [chinese.get(c, c) for c in COLUMNS] + ["备注"]
    renamed = [{chinese.get(k, k): v for k, v in licence_row(n).items()} for n in range(5)]
    for record in renamed:
        record["备注"] = "旧系统导出"
    source = write_csv(world.tmp / "导出.csv", renamed, bom=True, columns=header)
    assert source.read_bytes().startswith(b"\xef\xbb\xbf")
    unmapped = world.imports(source)
    assert unmapped.exit_code == 1 and "unknown column(s) 证照编号" in unmapped.output
    maps = [arg for c, name in chinese.items() for arg in ("--map", f"{name}={c}")]
    summary = _summary(world.imports(source, *maps, "--map", "备注=-", "--json"))
    assert summary["imported"] == 5 and summary["format"] == "csv"
    lines = write_jsonl(world.tmp / "more.jsonl", list(rows(4, start=100)))
    summary = _summary(world.imports(lines, "--json"))
    assert summary["imported"] == 4 and summary["format"] == "jsonl"
    no_suffix = write_jsonl(world.tmp / "export.txt", list(rows(2, start=200)))
    assert _summary(world.imports(no_suffix, "--json"))["format"] == "jsonl"
    licence = next(lic for lic in _licences(world) if lic.record_key == "D00000100")
    assert licence.fields == {"licence_class": "B", "first_issued": "2019-03-01", "points": 4}
    assert world.count(Licence) == 11


def test_bad_rows_go_to_the_rejects_file_and_good_rows_land(world: World) -> None:
    bad_id = citizen_id(9)[:-1] + ("0" if citizen_id(9)[-1] != "0" else "1")
    records = [
        licence_row(0),
        licence_row(1, id_number=bad_id),
        licence_row(2, licence_class="Z"),
        licence_row(3, first_issued=""),
        licence_row(4, valid_until="2020-01-01"),
        licence_row(5, status="revoked"),
        licence_row(6, valid_from="01/03/2019"),
        licence_row(7, record_key="D00000000", id_number=citizen_id(77)),  # another holder
        licence_row(8, record_key="D00000000", id_number=citizen_id(0)),  # a repeat of row 0
        licence_row(9, categories="B1 Q9"),
        licence_row(10, status="lost", status_reason="x"),
        licence_row(11, points="many"),
        licence_row(12),
    ]
    source = write_csv(world.tmp / "mixed.csv", records)
    with source.open("a", encoding="utf-8") as handle:
        handle.write("D00000013,only,three\n")
    summary = _summary(world.imports(source, "--json"))
    assert (summary["imported"], summary["already_present"], summary["rejected"]) == (2, 1, 11)
    assert summary["reject_reasons"] == {
        "invalid_category": 1,
        "invalid_date": 1,
        "invalid_field": 2,
        "invalid_id_number": 1,
        "invalid_status": 1,
        "malformed_row": 1,
        "missing_field": 1,
        "missing_reason": 1,
        "record_key_taken": 1,
        "valid_until_in_past": 1,
    }
    rejects = world.tmp / "mixed.csv.rejects.csv"
    assert summary["rejects_file"] == str(rejects)
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    with rejects.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["line", "reason", "message", *COLUMNS]
    by_line = {int(r[0]): r for r in table[1:]}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15]
    assert by_line[3][1] == "invalid_id_number" and by_line[3][4] == bad_id  # its own row
    assert by_line[4][1:3] == [
        "invalid_field",
        "field 'licence_class' must be one of ['A', 'B', 'C']",
    ]
    assert by_line[9][1] == "record_key_taken" and "D00000000" in by_line[9][2]
    assert by_line[15][1] == "malformed_row" and by_line[15][3:] == ["D00000013", "only", "three"]
    for row in table[1:]:  # messages never repeat an ID number; the row is the department's
        assert not any(citizen_id(n) in row[2] for n in (1, 7, 77)) and bad_id not in row[2]
    assert world.count(Licence) == 2
    # rerun: nothing more lands, the same rows are rejected again (the file is that run's)
    again = _summary(world.imports(source, "--json"))
    assert (again["imported"], again["already_present"], again["rejected"]) == (0, 3, 11)
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == 12


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("证照编号,身份证号\n".encode("gbk"), "gbk.csv", "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.csv", "not UTF-8"),
        (b"", "empty.csv", "the file is empty"),
        (b'[{"record_key": "A"}]\n', "array.jsonl", "not JSON Lines"),
        (b'{"record_key": "A", "id_number": "x"}\n', "short.jsonl", "missing required column"),
        (b"record_key,id_number,holder_name\nA,B,C\n", "short.csv", "missing required column(s)"),
        (b"record_key;id_number;holder_name\n", "semicolons.csv", "unknown column"),
        (
            ",".join(COLUMNS).encode() + b",record_key\n",
            "twice.csv",
            "columns repeat in the header",
        ),
    ],
)
def test_a_bad_file_fails_at_once_and_writes_nothing(
    world: World, content: bytes, name: str, message: str
) -> None:
    source = world.tmp / name
    source.write_bytes(content)
    audits = world.count(AuditEntry)
    result = world.imports(source)
    assert result.exit_code == 1
    assert result.output.startswith("error: invalid_file: ") and message in result.output
    assert "Traceback" not in result.output
    assert world.count(Licence) == 0 and world.count(AuditEntry) == audits
    assert not (world.tmp / f"{name}.rejects.csv").exists()


def test_a_data_row_read_as_the_header_never_shows_its_id_number(world: World) -> None:
    headerless = world.tmp / "headerless.csv"
    dates = {"first_issued": "2019-03-02", "issued_at": "2019-03-03"}
    cells = licence_row(0, **dates).values()
    headerless.write_text(",".join(cells) + "\n", encoding="utf-8")
    as_csv = world.tmp / "lines.csv"  # JSON Lines named .csv: its first line is the header
    write_jsonl(as_csv, [licence_row(1)])
    for source, number in ((headerless, citizen_id(0)), (as_csv, citizen_id(1))):
        result = world.imports(source)
        assert result.exit_code == 1 and "unknown column(s)" in result.output
        assert number not in result.output and "[number]" in result.output
        assert "D0000000" in result.output  # the rest of the cell still says what it read
    assert world.count(Licence) == 0


def test_a_file_half_good_then_not_utf8_writes_nothing(world: World) -> None:
    source = write_csv(world.tmp / "late.csv", list(rows(700)))
    with source.open("ab") as handle:
        handle.write("D99999999,坏,行\n".encode("gbk"))
    result = world.imports(source)
    assert result.exit_code == 1 and "not UTF-8" in result.output
    assert world.count(Licence) == 0


def test_unknown_department_type_or_format_is_a_clear_error(world: World) -> None:
    source = write_csv(world.tmp / "l.csv", list(rows(2)))
    for args, message in (
        (["import", "NOPE", "DRIVING", str(source)], "no department 'NOPE'"),
        (["import", "TRANSPORT", "FISHING", str(source)], "no licence type 'FISHING'"),
        (["import", "TRANSPORT", "DRIVING", str(world.tmp / "none.csv")], "no such file"),
        (["import", "TRANSPORT", "DRIVING", str(source), "--format", "xlsx"], "--format"),
        (["import", "TRANSPORT", "DRIVING", str(source), "--map", "nothing"], "COLUMN=FIELD"),
    ):
        result = world.run(*args)
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output
    assert world.count(Licence) == 0


def test_dry_run_checks_every_row_and_writes_nothing(world: World) -> None:
    records = [*rows(6), licence_row(6, licence_class="Z")]
    source = write_csv(world.tmp / "l.csv", records)
    _summary(world.imports(write_csv(world.tmp / "first.csv", list(rows(2))), "--json"))
    audits = world.count(AuditEntry)
    summary = _summary(world.imports(source, "--dry-run", "--json"))
    assert summary["dry_run"] is True
    assert (summary["imported"], summary["already_present"], summary["rejected"]) == (4, 2, 1)
    assert world.count(Licence) == 2 and world.count(AuditEntry) == audits
    assert world.count(HolderKey) == 2
    human = world.imports(source, "--dry-run")
    assert "would import 4" in human.output and "nothing written" in human.output


def test_rejects_path_option_and_human_summary(world: World) -> None:
    source = write_csv(world.tmp / "l.csv", [licence_row(0), licence_row(1, licence_class="Z")])
    target = world.tmp / "out" / "bad.csv"
    target.parent.mkdir()
    result = world.imports(source, "--rejects", str(target))
    assert result.exit_code == 0
    assert "imported 1, already present 0, rejected 1" in result.output
    assert f"invalid_field 1) are in {target}" in result.output
    assert "\x1b[" not in result.output and "rows/s" not in result.output  # not a terminal
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2
    assert not (world.tmp / "l.csv.rejects.csv").exists()


def test_progress_bar_on_a_terminal(world: World) -> None:
    import pty
    import subprocess
    import sys

    source = write_csv(world.tmp / "l.csv", list(rows(30)))
    leader, follower = pty.openpty()
    elicence = Path(sys.executable).parent / "elicence"
    done = subprocess.run(
        [str(elicence), "import", "TRANSPORT", "DRIVING", str(source), "--batch-size", "10"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "COLUMNS": "120"},
        timeout=120,
        check=False,
    )
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    assert done.returncode == 0, terminal.decode(errors="replace")
    shown = terminal.decode(errors="replace")
    assert "rows/s" in shown and "ETA" in shown and "30/30" in shown
    assert b"imported 30" in done.stdout


def test_issuance_upgrades_a_15_digit_id_number_as_import_does(issuer: Any) -> None:
    from tests.issuer.conftest import bearer, licence_body

    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    issued = issuer.client.post(
        "/issuer/licences", json=licence_body(id_number="110105491231002"), headers=bearer(key)
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["masked_id"] == "110105********002X"
    for bad in ("11010549123100", "110105491331002", "11010549123100X"):
        refused = issuer.client.post(
            "/issuer/licences", json=licence_body(id_number=bad), headers=bearer(key)
        )
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_id_number"
        assert bad not in refused.text
