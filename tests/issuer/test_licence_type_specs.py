"""Licence-type specs: unsound ones are refused by the one schema, over HTTP (422 naming the
field) and from ``elicence licence-type add`` (one ``error:`` line per problem, exit 1), and
nothing is stored; sound ones at the limits are taken; types stored before still list."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from elicence.cli import app as cli
from registry.models import AuditEntry, Department, LicenceType
from tests.issuer.conftest import Issuer, bearer

LONG = "x" * 100_000
ADMIN_ROUTE = "/issuer/admin/departments/TRANSPORT/licence-types"


def _spec(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "DRIVING",
        "name": "Driving licence",
        "validity_days": 3650,
        "fields": [{"name": "licence_class", "type": "choice", "choices": ["A", "B"]}],
        "categories": ["A1", "B1"],
    }
    body.update(overrides)
    return body


def _choice(*choices: str) -> list[dict[str, Any]]:
    return [{"name": "licence_class", "type": "choice", "choices": list(choices)}]


BAD_SPECS: dict[str, tuple[dict[str, Any], str]] = {
    "duplicate field names": (
        _spec(fields=[{"name": "points", "type": "int"}, {"name": "points", "type": "text"}]),
        "fields: field 'points' is defined more than once",
    ),
    "duplicate categories": (
        _spec(categories=["A1", "B1", "A1"]),
        "categories: category 'A1' is given 2 times",
    ),
    "a category padded to a duplicate": (
        _spec(categories=["A1", " A1 "]),
        "categories: category 'A1' is given 2 times",
    ),
    "an empty category": (_spec(categories=["A1", ""]), "categories: category 2 is empty"),
    "a 100 KB category": (
        _spec(categories=[LONG]),
        "categories: category 1 is longer than 32 characters",
    ),
    "65 categories": (
        _spec(categories=[f"C{i}" for i in range(65)]),
        "categories: List should have at most 64 items",
    ),
    "an empty choice list": (
        _spec(fields=_choice()),
        "fields.0: field 'licence_class': a choice field needs at least one choice",
    ),
    "a choice field without choices": (
        _spec(fields=[{"name": "licence_class", "type": "choice"}]),
        "fields.0: field 'licence_class': a choice field needs at least one choice",
    ),
    "choices on a text field": (
        _spec(fields=[{"name": "note", "type": "text", "choices": ["A"]}]),
        "fields.0: field 'note': only a choice field takes choices, not a text field",
    ),
    "an empty choice": (
        _spec(fields=_choice("A", " ", "B")),
        "fields.0: field 'licence_class': choice 2 is empty",
    ),
    "a 100 KB choice": (
        _spec(fields=_choice("A", LONG)),
        "fields.0: field 'licence_class': choice 2 is longer than 200 characters",
    ),
    "a repeated choice": (
        _spec(fields=_choice("A", "B", "A")),
        "fields.0: field 'licence_class': choice 'A' is given 2 times",
    ),
    "a choice with a line break": (
        _spec(fields=_choice("A", "B\n  holder      someone else")),
        "fields.0: field 'licence_class': choice 2 holds a control character",
    ),
    "65 choices": (
        _spec(fields=_choice(*(str(i) for i in range(65)))),
        "fields.0: field 'licence_class': at most 64 choices (65 given)",
    ),
    "a field named like a built-in claim": (
        _spec(fields=[{"name": "holder_name", "type": "text"}]),
        "fields.0: field 'holder_name': the name is reserved for a built-in part of every licence",
    ),
    "a field named like a verifier's row": (
        _spec(fields=[{"name": "points"}, {"name": "holder"}]),
        "fields.1: field 'holder': the name is reserved",
    ),
    "a field named like an SD-JWT VC claim": (
        _spec(fields=[{"name": "status", "type": "text"}]),
        "fields.0: field 'status': the name is reserved",
    ),
    "a 33-character field name": (
        _spec(fields=[{"name": "a" * 33}]),
        "fields.0.name: String should match pattern",
    ),
    "an empty label": (
        _spec(fields=[{"name": "points", "label": " "}]),
        "fields.0: field 'points': the label is empty or holds a control character",
    ),
    "a 201-character type name": (_spec(name="n" * 201), "name: String should have at most 200"),
    "a type name with a control character": (
        _spec(name="Driving\x1b[2J licence"),
        "name: holds a control character",
    ),
    "33 fields": (
        _spec(fields=[{"name": f"f{i}"} for i in range(33)]),
        "fields: List should have at most 32 items",
    ),
}


@pytest.fixture
def transport(issuer: Issuer) -> str:
    return issuer.department("TRANSPORT")


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_unsound_specs_are_422_naming_the_field_and_store_nothing(
    issuer: Issuer, transport: str, case: str
) -> None:
    body, reason = BAD_SPECS[case]
    audit_before = issuer.count(AuditEntry)
    r = issuer.client.post(ADMIN_ROUTE, json=body, headers=issuer.admin)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"
    assert f"body.{reason}" in r.json()["detail"], r.json()["detail"]
    assert len(r.text) < 2_000  # a 100 KB value is not echoed back
    assert issuer.count(LicenceType) == 0
    assert issuer.count(AuditEntry) == audit_before


def test_a_department_name_that_could_forge_a_printed_line_is_refused(issuer: Issuer) -> None:
    """Department and type names travel in the trust list and `elicence verify` prints them."""
    r = issuer.client.post(
        "/issuer/admin/departments",
        json={"code": "TRANSPORT", "name": "Transport\n  holder      someone else"},
        headers=issuer.admin,
    )
    assert r.status_code == 422, r.text
    assert "body.name: holds a control character" in r.json()["detail"]
    assert issuer.count(Department) == 0


def test_every_problem_of_a_spec_is_named(issuer: Issuer, transport: str) -> None:
    body = _spec(
        fields=[
            {"name": "id_number"},
            {"name": "licence_class", "type": "choice", "choices": ["A", ""]},
        ],
        categories=["A1", "A1"],
        validity_days=0,
    )
    r = issuer.client.post(ADMIN_ROUTE, json=body, headers=issuer.admin)
    assert r.status_code == 422
    problems = r.json()["detail"].split("; body.")
    assert len(problems) == 4, problems
    assert issuer.count(LicenceType) == 0


def test_sound_specs_at_the_limits_are_taken_and_issued_against(
    issuer: Issuer, transport: str
) -> None:
    widest = [f"{i:03d}" + "c" * 197 for i in range(64)]  # 64 choices of 200 characters
    issuer.licence_type(
        "TRANSPORT",
        fields=[
            {"name": "licence_class", "type": "choice", "choices": widest},
            {"name": "a" * 32, "label": "档案编号 Archive number", "required": False},
            {"name": "holder_address", "type": "text", "required": False},
        ],
        categories=[f"C{i:02d}" + "x" * 29 for i in range(64)],
    )
    r = issuer.client.post(
        "/issuer/licences",
        json={
            "licence_type": "DRIVING",
            "id_number": "11010519491231002X",
            "holder_name": "张三",
            "fields": {"licence_class": widest[63], "holder_address": "北京市东城区 1 号"},
            "categories": ["C00" + "x" * 29],
        },
        headers=bearer(transport),
    )
    assert r.status_code == 201, r.text
    assert r.json()["fields"]["licence_class"] == widest[63]


def test_types_stored_before_these_rules_still_list(issuer: Issuer, transport: str) -> None:
    """The stricter checks are on new specs only: a stored spec still reads as it is."""
    with issuer.database.writing() as session:
        department = session.scalars(select(Department).filter_by(code="TRANSPORT")).one()
        session.add(
            LicenceType(
                department_id=department.id,
                code="OLD",
                name="Old type",
                fields=[{"name": "holder", "type": "choice", "choices": ["A", "A", ""]}],
                categories=["A1", "A1"],
                default_validity_days=10,
            )
        )
    r = issuer.client.get("/issuer/licence-types", headers=bearer(transport))
    assert r.status_code == 200, r.text
    (old,) = r.json()
    assert old["code"] == "OLD" and old["fields"][0]["choices"] == ["A", "A", ""]


# ---- the CLI --------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ELICENCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("ELICENCE_MASTER_KEY", raising=False)
    run = CliRunner()
    assert run.invoke(cli, ["init"]).exit_code == 0
    assert run.invoke(cli, ["department", "add", "TRANSPORT", "--name", "T"]).exit_code == 0
    return tmp_path / "data" / "elicence.db"


def _stored(database: Path) -> tuple[int, int]:
    with sqlite3.connect(database) as db:
        types = db.execute("SELECT count(*) FROM licence_types").fetchone()[0]
        audit = db.execute("SELECT count(*) FROM audit_entries").fetchone()[0]
    return types, audit


ADD = ["licence-type", "add", "TRANSPORT", "DRIVING", "--name", "Driving", "--validity-days", "5"]

BAD_CLI: dict[str, tuple[list[str], list[str]]] = {
    "duplicate field names": (
        ["--field", "points:int", "--field", "points:text"],
        ["error: --field: field 'points' is defined more than once"],
    ),
    "duplicate categories": (
        ["--categories", "A1,B1,A1"],
        ["error: --categories: category 'A1' is given 2 times"],
    ),
    "empty and repeated choices": (
        ["--field", "licence_class:choice=A||B|A"],
        [
            "error: --field 'licence_class:choice=A||B|A': field 'licence_class': "
            "choice 2 is empty; choice 'A' is given 2 times"
        ],
    ),
    "a 100 KB choice": (
        ["--field", f"licence_class:choice=A|{LONG}"],
        [
            f"error: --field 'licence_class:choice=A|{'x' * 37}…': field 'licence_class': "
            "choice 2 is longer than 200 characters"
        ],
    ),
    "a choice field without choices": (
        ["--field", "licence_class:choice"],
        [
            "error: --field 'licence_class:choice': field 'licence_class': "
            "a choice field needs at least one choice"
        ],
    ),
    "choices on a date field": (
        ["--field", "first_issued:date=A|B"],
        [
            "error: --field 'first_issued:date=A|B': field 'first_issued': "
            "only a choice field takes choices, not a date field"
        ],
    ),
    "a 65-choice list": (
        ["--field", "n:choice=" + "|".join(str(i) for i in range(65))],
        [
            "error: --field 'n:choice=0|1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17|18|19|2…': "
            "field 'n': at most 64 choices (65 given)"
        ],
    ),
    "a built-in name, an overlong name and a malformed field at once": (
        ["--field", "holder:text", "--field", "a" * 40 + ":int", "--field", "Bad:text"],
        [
            "error: --field 'Bad:text': use name:type[:required|optional] with type text, int, "
            "date or choice=A|B|C",
            "error: --field 'holder:text': field 'holder': "
            "the name is reserved for a built-in part of every licence",
            f"error: --field '{'a' * 40}:int': name: "
            "String should match pattern '^[a-z][a-z0-9_]{0,31}$'",
        ],
    ),
    "a bad code, name, validity and category together": (
        ["--name", "n" * 201, "--validity-days", "0", "--categories", "A1," + "c" * 33],
        [
            "error: --name: String should have at most 200 characters",
            "error: --validity-days: Input should be greater than 0",
            "error: --categories: category 2 is longer than 32 characters",
        ],
    ),
}


@pytest.mark.parametrize("case", list(BAD_CLI))
def test_cli_prints_one_line_per_problem_exits_1_and_stores_nothing(
    cli_env: Path, case: str
) -> None:
    extra, lines = BAD_CLI[case]
    before = _stored(cli_env)
    r = CliRunner().invoke(cli, [*ADD, *extra])
    assert r.exit_code == 1, r.output
    assert r.stderr.splitlines() == lines
    assert r.stdout == ""
    assert "invalid settings" not in r.output and "Traceback" not in r.output
    assert _stored(cli_env) == before


def test_cli_adds_a_sound_spec(cli_env: Path) -> None:
    r = CliRunner().invoke(
        cli,
        [*ADD, "--field", "licence_class:choice=A|B|C", "--field", "points:int:optional",
         "--categories", "A1, B1"],
    )  # fmt: skip
    assert r.exit_code == 0 and r.stdout == (
        "added licence type TRANSPORT/DRIVING (2 fields, many valid per holder)\n"
    )
    with sqlite3.connect(cli_env) as db:
        (categories,) = db.execute("SELECT categories FROM licence_types").fetchone()
    assert categories == '["A1", "B1"]'


def test_department_add_names_the_option_at_fault(cli_env: Path) -> None:
    r = CliRunner().invoke(cli, ["department", "add", "lower", "--name", " "])
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "error: CODE: String should match pattern '^[A-Z][A-Z0-9_]{1,23}$'",
        "error: --name: String should have at least 1 character",
    ]
