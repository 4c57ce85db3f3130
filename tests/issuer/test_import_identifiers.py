"""Issue 14 item 2: imported licences may bring their existing identifiers (电子证照标识), which
are validated and kept. The ``identifier`` column (``--map`` renames it) over HTTP and in the CLI
(the same engine): a kept identifier is found by ``by-identifier`` and shown whole by the
verifier; a malformed, foreign or repeated one is a rejected row with its own reason while the
good rows land; an empty one gets a fresh identifier; the same file again creates nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from credential import make_licence_identifier, parse_licence_identifier, read_credential
from elicence.cli import app as cli
from issuer.licences.gbt import CHINA_STANDARD_TIME
from registry.database import Database
from registry.models import Licence
from tests.issuer._import_files import COLUMNS, licence_row, write_csv, write_jsonl
from tests.issuer.conftest import Issuer, bearer
from tests.issuer.test_import_jobs import _finished, _upload

CREDIT = "11430000006122244L"
OTHER_CREDIT = "11220000013544541J"
CATALOGUE = "11100000000013338W011"
OTHER_CATALOGUE = "11100000000013338W012"
WITH_IDENTIFIER = [*COLUMNS, "identifier"]


def identifier(serial: str, version: int = 1, **codes: str) -> str:
    segments = {"type_code": CATALOGUE, "issuer_code": CREDIT} | codes
    return str(make_licence_identifier(serial=serial, version=version, **segments))


def _catalogued(issuer: Issuer) -> str:
    key = issuer.department("TRANSPORT", credit_code=CREDIT, jurisdiction_code="430000")
    issuer.licence_type("TRANSPORT", catalogue_code=CATALOGUE, defining_body_name="公安部")
    return key


def _by_record_key(issuer: Issuer) -> dict[str, Licence]:
    with issuer.session() as session:
        return {lic.record_key or "": lic for lic in session.scalars(select(Licence)).all()}


def _import(issuer: Issuer, key: str, body: bytes, **params: Any) -> dict[str, Any]:
    answer = _upload(issuer, key, body, **params)
    assert answer.status_code == 202, answer.text
    job = _finished(issuer, key, answer.json()["id"])
    assert job["state"] == "done", job
    return job


def test_kept_identifiers_are_found_and_verified_whole_and_a_rerun_creates_nothing(
    issuer_any: Issuer, tmp_path: Path
) -> None:
    issuer = issuer_any
    key = _catalogued(issuer)
    long_serial = identifier("2019A00001234", version=2)  # an older system's serial, version 2
    short_serial = identifier("0000ABCD", version=3)  # one the 7-byte cti can carry
    records = [  # issued in 2019, years before the department's key existed
        licence_row(0, identifier=long_serial),
        licence_row(1, identifier=f"  {short_serial} "),
        licence_row(2, identifier=""),  # a fresh one, as issuance gives
    ]
    body = write_csv(tmp_path / "l.csv", records, columns=WITH_IDENTIFIER).read_bytes()
    job = _import(issuer, key, body)
    assert job["counts"]["imported"] == 3 and job["counts"]["rejected"] == 0, job
    stored = _by_record_key(issuer)
    assert stored["D00000000"].identifier == long_serial
    assert stored["D00000001"].identifier == short_serial
    fresh = parse_licence_identifier(stored["D00000002"].identifier or "")
    assert (fresh.type_code, fresh.issuer_code, fresh.version) == (CATALOGUE, CREDIT, 1)
    assert fresh.serial not in ("2019A00001234", "0000ABCD")
    # the credential carries the kept serial and version (lic/7 for the long one, the cti else)
    claims = read_credential(stored["D00000000"].credential).claims
    assert claims.identifier_reference == ("2019A00001234", 2)
    assert claims.licence.identifier == ("2019A00001234", 2)
    claims = read_credential(stored["D00000001"].credential).claims
    assert claims.identifier_reference == ("0000ABCD", 3) and claims.licence.identifier is None
    for kept in (long_serial, short_serial):
        found = issuer.client.get(f"/issuer/licences/by-identifier/{kept}", headers=bearer(key))
        assert found.status_code == 200, found.text
        licence = found.json()
        assert licence["identifier"] == kept
        verified = issuer.client.post("/verify", json={"payload": licence["static_qr"]})
        assert verified.status_code == 200, verified.text
        assert verified.json()["valid"] is True, verified.json()
        assert verified.json()["licence"]["identifier"] == kept
        # the credential was issued now (iat, in the key's window); the licence is valid since
        # its original date, which the register keeps
        assert verified.json()["licence"]["not_before"] == int(
            dt.datetime(2019, 3, 1, tzinfo=CHINA_STANDARD_TIME).timestamp()
        )
        assert licence["issued_at"].startswith("2019-0")
    # the same file again: nothing new (not even a rejection for its own identifiers)
    again = _import(issuer, key, body)
    assert again["counts"]["imported"] == 0 and again["counts"]["already_present"] == 3
    assert again["counts"]["rejected"] == 0
    assert _by_record_key(issuer).keys() == stored.keys()
    # a correction is the next version of the kept identifier, shown whole by the verifier
    corrected = correct_holder_name(issuer, stored["D00000000"].id, key)
    assert corrected["identifier"] == identifier("2019A00001234", version=3)
    verified = issuer.client.post("/verify", json={"payload": corrected["static_qr"]}).json()
    assert verified["licence"]["identifier"] == corrected["identifier"]


def _wrong_check(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def test_each_bad_identifier_is_a_rejected_row_with_its_reason_and_good_rows_land(
    issuer: Issuer, tmp_path: Path
) -> None:
    key = _catalogued(issuer)
    issued = issuer.issue(key)["identifier"]  # already in the registry
    good = identifier("IMPORTED1")
    twice = identifier("IMPORTED2")
    cases = [
        ("invalid_identifier_check", _wrong_check(identifier("BADCHECK"))),
        ("invalid_identifier_root", identifier("X").replace("1.2.156.3005.2", "1.2.156.3005.3")),
        ("invalid_identifier_segments", identifier("X").rsplit(".", 1)[0]),
        ("invalid_identifier_serial", identifier("SERIAL").replace(".SERIAL.", ".seri-al.")),
        ("invalid_identifier_version", identifier("V").replace(".001.", ".01.")),
        ("invalid_identifier_issuer_code", identifier("I").replace(CREDIT, CREDIT[:-1] + "X")),
        ("invalid_identifier_type_code", identifier("T").replace(CATALOGUE, CATALOGUE[:-1])),
        ("identifier_type_mismatch", identifier("OTHERTYPE", type_code=OTHER_CATALOGUE)),
        ("identifier_issuer_mismatch", identifier("OTHERDEPT", issuer_code=OTHER_CREDIT)),
        # a division code, but not the department's jurisdiction code (430000)
        ("identifier_issuer_mismatch", identifier("OLDDATA", issuer_code="110000")),
        ("identifier_taken", issued),
        ("identifier_taken", twice),  # the second of two rows with it
    ]
    records = [licence_row(0, identifier=good), licence_row(1, identifier=twice)]
    records += [licence_row(n, identifier=text) for n, (_, text) in enumerate(cases, start=2)]
    records.append(licence_row(99, identifier=""))
    body = write_csv(tmp_path / "mixed.csv", records, columns=WITH_IDENTIFIER).read_bytes()
    job = _import(issuer, key, body)
    assert (job["counts"]["imported"], job["counts"]["rejected"]) == (3, len(cases)), job
    reasons: dict[str, int] = {}
    for reason, _ in cases:
        reasons[reason] = reasons.get(reason, 0) + 1
    assert job["counts"]["reject_reasons"] == reasons
    download = issuer.client.get(job["rejects"], headers=bearer(key))
    table = list(csv.reader(io.StringIO(download.text)))
    assert table[0] == ["line", "reason", "message", *WITH_IDENTIFIER]
    by_line = {int(row[0]): row for row in table[1:]}
    for line, (reason, text) in enumerate(cases, start=4):  # header is line 1, case 0 line 4
        assert by_line[line][1] == reason, by_line[line]
        assert by_line[line][-1] == text  # the row as it was
    # the message names the wrong segment
    assert by_line[4][2].endswith("(check)") and by_line[9][2].endswith("(issuer_code)")
    assert "110000" in by_line[13][2] and "430000" in by_line[13][2]
    assert OTHER_CATALOGUE in by_line[11][2]
    stored = _by_record_key(issuer)
    assert sorted(k for k in stored if k) == ["D00000000", "D00000001", "D00000099"]
    assert stored["D00000000"].identifier == good and stored["D00000001"].identifier == twice
    assert parse_licence_identifier(stored["D00000099"].identifier or "").version == 1
    # nothing stored under any rejected identifier
    with issuer.session() as session:
        kept = set(session.scalars(select(Licence.identifier)).all())
    assert kept.isdisjoint(text for reason, text in cases if reason != "identifier_taken")


def test_json_lines_and_a_type_without_catalogue_code(issuer: Issuer, tmp_path: Path) -> None:
    key = issuer.department("TRANSPORT")  # no credit code: its licences have no identifiers
    issuer.licence_type("TRANSPORT")
    records = [licence_row(0, identifier=identifier("A1")), licence_row(1), licence_row(2)]
    records[2]["identifier"] = 12  # not text
    body = write_jsonl(tmp_path / "l.jsonl", records).read_bytes()
    job = _import(issuer, key, body, headers={"Content-Type": "application/x-ndjson"})
    assert job["counts"]["imported"] == 1
    assert job["counts"]["reject_reasons"] == {
        "identifier_not_catalogued": 1,
        "invalid_identifier_root": 1,
    }
    assert _by_record_key(issuer)["D00000001"].identifier is None


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
    "--catalogue-code",
    CATALOGUE,
    "--defining-body",
    "公安部",
]


def test_the_cli_maps_a_chinese_identifier_column_and_reruns_create_nothing(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("ELICENCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ELICENCE_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    department = ["department", "add", "TRANSPORT", "--name", "T", "--credit-code", CREDIT]
    for args in (["init"], department, DRIVING):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    kept = identifier("2019000777", version=1)
    header = [*COLUMNS, "电子证照标识"]
    records = [
        {**licence_row(0), "电子证照标识": kept},
        {**licence_row(1), "电子证照标识": _wrong_check(identifier("B"))},
        {**licence_row(2), "电子证照标识": ""},
    ]
    source = write_csv(tmp_path / "导出.csv", records, bom=True, columns=header)
    command = ["import", "TRANSPORT", "DRIVING", str(source), "--json"]
    unmapped = runner.invoke(cli, command)
    assert unmapped.exit_code == 1 and "unknown column(s) 电子证照标识" in unmapped.output
    mapped = [*command, "--map", "电子证照标识=identifier"]
    dry = json.loads(runner.invoke(cli, [*mapped, "--dry-run"]).stdout.strip().splitlines()[-1])
    assert dry["reject_reasons"] == {"invalid_identifier_check": 1} and dry["imported"] == 2
    assert _stored_identifiers(sqlite_url) == []
    result = runner.invoke(cli, mapped)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["imported"], summary["rejected"]) == (2, 1)
    assert summary["reject_reasons"] == {"invalid_identifier_check": 1}
    again = json.loads(runner.invoke(cli, mapped).stdout.strip().splitlines()[-1])
    assert (again["imported"], again["already_present"]) == (0, 2)
    identifiers = _stored_identifiers(sqlite_url)
    assert kept in identifiers and len(identifiers) == 2
    fresh = parse_licence_identifier(next(i for i in identifiers if i != kept))
    assert (fresh.issuer_code, fresh.version) == (CREDIT, 1)


def _stored_identifiers(url: str) -> list[str]:
    database = Database(url)
    try:
        with database.reading() as session:
            return [i or "" for i in session.scalars(select(Licence.identifier)).all()]
    finally:
        database.close()


def correct_holder_name(issuer: Issuer, licence_id: str, key: str) -> dict[str, Any]:
    """Correct a licence's holder name over HTTP; the corrected licence's body."""
    r = issuer.client.post(
        f"/issuer/licences/{licence_id}/correct",
        json={"reason": "name_change", "holder_name": "张三丰"},
        headers=bearer(key),
    )
    assert r.status_code in (200, 201), r.text
    corrected: dict[str, Any] = r.json().get("licence", r.json())
    return corrected
