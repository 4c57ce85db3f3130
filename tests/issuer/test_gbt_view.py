"""The licence under the national standards' names (GB/T 36903/36904, issue 14 item 7):
``?view=gbt`` on the department API's licence reads and ``elicence export --view gbt``, one
record for both; the ID number masked unless an audited export asks for it; an unknown view
refused with its reason, nothing written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from elicence.cli import app as cli
from issuer.licences.gbt import GBT_NAMES
from registry.models import AuditEntry
from tests.issuer._import_files import citizen_id, rows, write_csv
from tests.issuer.test_imports import DRIVING, World

from .conftest import VALID_IDS, Issuer, bearer

CREDIT = "11430000006122244L"
MINISTRY = "11100000000013338W"
CATALOGUE = MINISTRY + "011"
MASKED = VALID_IDS[0][:6] + "********" + VALID_IDS[0][-4:]


def _catalogued(issuer: Issuer) -> str:
    key = issuer.department(
        "TRANSPORT", name="湖南省公安厅交通警察总队", credit_code=CREDIT, jurisdiction_code="430000"
    )
    issuer.licence_type(
        "TRANSPORT", name="机动车驾驶证", catalogue_code=CATALOGUE, defining_body_name="公安部"
    )
    return key


def _get(issuer: Issuer, key: str, path: str, **params: str) -> Any:
    r = issuer.client.get(f"/issuer/licences{path}", params=params, headers=bearer(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_every_licence_read_answers_the_gbt_view(issuer: Issuer) -> None:
    key = _catalogued(issuer)
    # 20:30 UTC on 1 March is 04:30 on 2 March in Beijing: the standard's dates are UTC+8 dates;
    # validity ends at midnight of 1 March 2031 in Beijing, so its last day is 28 February
    licence = issuer.issue(
        key, valid_from="2026-03-01T20:30:00Z", valid_until="2031-02-28T16:00:00Z"
    )
    record = _get(issuer, key, f"/{licence['id']}", view="gbt")
    assert list(record) == ["id", *GBT_NAMES]
    assert record == {
        "id": licence["id"],
        "电子证照标识": licence["identifier"],
        "证照类型名称": "机动车驾驶证",
        "证照类型代码": CATALOGUE,
        "证照定义机构": "公安部",
        "证照定义机构代码": MINISTRY,
        "证照编号": licence["number"],
        "证照颁发机构": "湖南省公安厅交通警察总队",
        "证照颁发机构代码": CREDIT,
        "行政区划代码": "430000",
        "持证主体": "张三",
        "持证主体代码": MASKED,
        "持证主体代码类型": "公民身份号码",
        "持证主体代码类型代码": "111",
        "证照颁发日期": record["证照颁发日期"],
        "证照有效期起始日期": "2026-03-02",
        "证照有效期截止日期": "2031-02-28",
        "证照状态": "valid",
        "照面信息": {
            "categories": ["B1"],
            "fields": {"licence_class": "B", "first_issued": "2020-05-01"},
        },
    }
    assert len(record["证照颁发日期"]) == 10 and record["证照颁发日期"].startswith("20")
    assert f".{CREDIT}." in record["电子证照标识"] and CATALOGUE in record["电子证照标识"]
    # the same record by identifier, by number and in a search; the default view is unchanged
    assert _get(issuer, key, f"/by-identifier/{licence['identifier']}", view="gbt") == record
    assert _get(issuer, key, f"/by-number/{licence['number']}", view="gbt") == record
    found = issuer.client.post(
        "/issuer/licences/search",
        params={"view": "gbt"},
        json={"id_number": VALID_IDS[0]},
        headers=bearer(key),
    )
    assert found.status_code == 200, found.text
    assert found.json() == {"licences": [record]}
    assert VALID_IDS[0] not in found.text
    default = _get(issuer, key, f"/{licence['id']}")
    assert default == _get(issuer, key, f"/{licence['id']}", view="default")
    assert default["identifier"] == licence["identifier"] and "电子证照标识" not in default
    # the status follows the licence
    revoked = issuer.client.post(
        f"/issuer/licences/{licence['id']}/revoke",
        json={"reason": "holder_request"},
        headers=bearer(key),
    )
    assert revoked.status_code == 200, revoked.text
    assert _get(issuer, key, f"/{licence['id']}", view="gbt")["证照状态"] == "revoked"


def test_a_licence_without_codes_has_nulls_in_the_gbt_view(issuer: Issuer) -> None:
    key = issuer.department("OLDDEPT", name="Old department")
    issuer.licence_type("OLDDEPT")
    licence = issuer.issue(key)
    record = _get(issuer, key, f"/{licence['id']}", view="gbt")
    assert record["电子证照标识"] is None and record["证照类型代码"] is None
    assert record["证照定义机构代码"] is None and record["证照颁发机构代码"] is None
    assert record["行政区划代码"] is None
    assert (record["证照颁发机构"], record["持证主体代码"]) == ("Old department", MASKED)


@pytest.mark.parametrize("view", ["xml", "GBT", "", "gbt2"])
def test_an_unknown_view_is_a_422_naming_the_choices(issuer: Issuer, view: str) -> None:
    key = _catalogued(issuer)
    licence = issuer.issue(key)
    answers = [
        issuer.client.get(
            f"/issuer/licences/{licence['id']}", params={"view": view}, headers=bearer(key)
        ),
        issuer.client.get(
            f"/issuer/licences/by-identifier/{licence['identifier']}",
            params={"view": view},
            headers=bearer(key),
        ),
        issuer.client.post(
            "/issuer/licences/search",
            params={"view": view},
            json={"id_number": VALID_IDS[0]},
            headers=bearer(key),
        ),
    ]
    for r in answers:
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["error"] == "invalid_request"
        assert "view" in body["detail"] and "'gbt'" in body["detail"], body
        assert VALID_IDS[0] not in r.text


def test_openapi_documents_the_view_and_its_names(issuer: Issuer) -> None:
    document = issuer.client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["LicenceView"]["enum"] == ["default", "gbt"]
    properties = schemas["LicenceGbtRead"]["properties"]
    assert set(GBT_NAMES) <= set(properties)
    assert "GB/T 36904" in properties["电子证照标识"]["description"]
    for path, method in (
        ("/issuer/licences/{licence_id}", "get"),
        ("/issuer/licences/by-identifier/{identifier}", "get"),
        ("/issuer/licences/by-number/{number}", "get"),
        ("/issuer/licences/search", "post"),
    ):
        operation = document["paths"][path][method]
        (view,) = [p for p in operation["parameters"] if p["name"] == "view"]
        assert view["in"] == "query" and "GB/T 36903" in view["description"]
        answer = json.dumps(operation["responses"]["200"]["content"]["application/json"])
        assert "LicenceGbt" in answer, path


# --- elicence export --view gbt ------------------------------------------------------------------


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    for name in [n for n in __import__("os").environ if n.startswith("ELICENCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ELICENCE_DATABASE_URL", sqlite_url)
    world = World(sqlite_url, tmp_path / "data", tmp_path)
    department = ["department", "add", "TRANSPORT", "--name", "交通警察总队"]
    department += ["--credit-code", CREDIT, "--jurisdiction", "430000"]
    driving = [*DRIVING, "--catalogue-code", CATALOGUE, "--defining-body", "公安部"]
    for args in (["init"], department, driving):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert world.imports(write_csv(tmp_path / "l.csv", list(rows(3)))).exit_code == 0
    return world


def _last_audit(world: World) -> AuditEntry | None:
    database = world.database()
    try:
        with database.reading() as session:
            return session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    finally:
        database.close()


def test_export_writes_the_gbt_record_masked_unless_audited(world: World) -> None:
    result = world.run("export", "TRANSPORT", "--view", "gbt", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    records = sorted(
        (json.loads(line) for line in result.stdout.splitlines()), key=lambda r: r["持证主体"]
    )
    assert [list(r) for r in records] == [list(GBT_NAMES)] * 3
    for n, record in enumerate(records):
        assert record["持证主体"] == f"持证人{n}"
        assert record["持证主体代码"] == citizen_id(n)[:6] + "********" + citizen_id(n)[-4:]
        assert record["证照颁发机构代码"] == CREDIT and record["证照类型代码"] == CATALOGUE
        assert record["电子证照标识"].startswith(f"1.2.156.3005.2.{CATALOGUE}.{CREDIT}.")
        assert record["证照有效期截止日期"] == "2029-06-30"
        assert record["照面信息"]["fields"]["licence_class"] == "ABC"[n]
    assert not any(citizen_id(n) in result.stdout for n in range(3))
    audits = world.count(AuditEntry)

    # the department API answers the very same record for the same licence
    database = world.database()
    try:
        from issuer.licences.service import licence_gbt_read
        from registry.models import Licence

        with database.reading() as session:
            licence = session.scalars(
                select(Licence).where(Licence.identifier == records[0]["电子证照标识"])
            ).one()
            api = licence_gbt_read(licence=licence).model_dump(mode="json", by_alias=True)
    finally:
        database.close()
    assert {name: api[name] for name in GBT_NAMES} == records[0]

    full = world.run("export", "TRANSPORT", "--view", "gbt", "--with-id-numbers")
    assert full.exit_code == 0, full.output
    table = list(csv.DictReader(io.StringIO(full.stdout)))
    assert list(table[0]) == list(GBT_NAMES)
    assert sorted(r["持证主体代码"] for r in table) == sorted(citizen_id(n) for n in range(3))
    assert json.loads(table[0]["照面信息"])["categories"] == ["B1"]
    assert world.count(AuditEntry) == audits + 1
    entry = _last_audit(world)
    assert entry is not None and entry.act == "licence.export"
    assert entry.detail is not None and entry.detail["view"] == "gbt"
    assert entry.detail["with_id_numbers"] is True


@pytest.mark.parametrize("view", ["xml", "GBT"])
def test_export_refuses_an_unknown_view_before_anything(world: World, view: str) -> None:
    audits = world.count(AuditEntry)
    bad = world.run("export", "TRANSPORT", "--view", view, "--with-id-numbers")
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert f"invalid_view: unknown view {view!r}" in bad.output
    assert "default, gbt" in bad.output
    assert world.count(AuditEntry) == audits  # nothing audited, nothing written
    assert not any(citizen_id(n) in bad.output for n in range(3))
