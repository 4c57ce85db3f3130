"""The operator's commands for the national profile: departments with credit and jurisdiction
codes and SM2 keys, catalogued licence types, ``licence-type list``, ``keys rotate --alg``;
malformed codes and unknown algorithms exit 1 naming what is wrong, nothing stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from elicence.cli import app as cli

CREDIT = "11430000006122244L"
CATALOGUE = "11100000000013338W011"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ELICENCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("ELICENCE_MASTER_KEY", raising=False)
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    return tmp_path / "data" / "elicence.db"


def _rows(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_path) as db:
        return db.execute(sql).fetchall()


ADD = ["department", "add", "TRANSPORT", "--name", "Transport bureau"]


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--alg", "RSA-1024"], ["--alg", "'RSA-1024'"]),
        (["--credit-code", CREDIT[:-1] + "X"], ["--credit-code", "(check)"]),
        (["--credit-code", "11430000006122244"], ["--credit-code", "(length)"]),
        (["--credit-code", "11430000006122244I"], ["--credit-code", "(character)"]),
        (["--credit-code", "11AB0000006122244L"], ["--credit-code", "(division_code)"]),
        (["--jurisdiction", "12"], ["--jurisdiction"]),
    ],
)
def test_department_add_refuses_bad_codes_and_algorithms(
    cli_env: Path, extra: list[str], needles: list[str]
) -> None:
    r = CliRunner().invoke(cli, [*ADD, *extra])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert all(needle in r.output for needle in needles), r.output
    assert _rows(cli_env, "SELECT count(*) FROM departments") == [(0,)]
    assert _rows(cli_env, "SELECT count(*) FROM signing_keys WHERE department_id IS NOT NULL") == [
        (0,)
    ]


def test_sm2_department_catalogue_and_rotation(cli_env: Path) -> None:
    run = CliRunner()
    r = run.invoke(cli, [*ADD, "--credit-code", CREDIT, "--jurisdiction", "430000", "--alg", "SM2"])
    assert r.exit_code == 0, r.output
    assert "(SM2)" in r.output
    assert _rows(cli_env, "SELECT credit_code, jurisdiction_code FROM departments") == [
        (CREDIT, "430000")
    ]
    assert _rows(cli_env, "SELECT alg FROM signing_keys WHERE department_id IS NOT NULL") == [
        ("SM2",)
    ]
    add_type = ["licence-type", "add", "TRANSPORT", "DRIVING", "--name", "Driving licence"]
    add_type += ["--validity-days", "3650"]
    r = run.invoke(cli, [*add_type, "--catalogue-code", CATALOGUE[:-1], "--defining-body", "MPS"])
    assert r.exit_code == 1 and "--catalogue-code" in r.output and "(type_code)" in r.output
    r = run.invoke(cli, [*add_type, "--catalogue-code", CATALOGUE])
    assert r.exit_code == 1 and "defining body" in r.output
    assert _rows(cli_env, "SELECT count(*) FROM licence_types") == [(0,)]
    r = run.invoke(cli, [*add_type, "--catalogue-code", CATALOGUE, "--defining-body", "公安部"])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["licence-type", "list"])
    assert r.exit_code == 0, r.output
    (line,) = r.output.strip().splitlines()
    assert line.split("\t") == [
        CATALOGUE,
        "Driving licence",
        "公安部 (11100000000013338W)",
        "holder code 111",
        "TRANSPORT/DRIVING",
    ]
    # rotation: an unknown algorithm changes nothing; SM2 -> ES256 -> SM2 works
    r = run.invoke(cli, ["keys", "rotate", "TRANSPORT", "--alg", "ED448"])
    assert r.exit_code == 1 and "'ED448'" in r.output
    assert _rows(cli_env, "SELECT state FROM signing_keys WHERE department_id IS NOT NULL") == [
        ("active",)
    ]
    r = run.invoke(cli, ["keys", "rotate", "TRANSPORT", "--alg", "ES256"])
    assert r.exit_code == 0 and "(ES256)" in r.output
    r = run.invoke(cli, ["keys", "rotate", "TRANSPORT", "--alg", "SM2"])
    assert r.exit_code == 0 and "(SM2)" in r.output
    keys = _rows(
        cli_env,
        "SELECT alg, state FROM signing_keys WHERE department_id IS NOT NULL ORDER BY id",
    )
    assert keys == [("SM2", "retired"), ("ES256", "retired"), ("SM2", "active")]


@pytest.mark.parametrize(
    "catalogue_code",
    [
        CATALOGUE[:18] + "0A1",  # the serial is 3 digits
        "11100000000013338X011",  # the defining body's credit code has a wrong check character
        CATALOGUE + "1",  # 22 characters
        CATALOGUE.lower(),
    ],
)
def test_licence_type_add_refuses_a_malformed_catalogue_code(
    cli_env: Path, catalogue_code: str
) -> None:
    assert CliRunner().invoke(cli, [*ADD, "--credit-code", CREDIT]).exit_code == 0
    add_type = ["licence-type", "add", "TRANSPORT", "DRIVING", "--name", "Driving licence"]
    add_type += ["--validity-days", "3650", "--defining-body", "公安部"]
    r = CliRunner().invoke(cli, [*add_type, "--catalogue-code", catalogue_code])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "--catalogue-code" in r.output and "(type_code)" in r.output, r.output
    assert _rows(cli_env, "SELECT count(*) FROM licence_types") == [(0,)]


def test_licence_type_list_with_no_types(cli_env: Path) -> None:
    r = CliRunner().invoke(cli, ["licence-type", "list"])
    assert r.exit_code == 0 and r.output.strip() == "no licence types"
