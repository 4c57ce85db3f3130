"""How the ``elicence`` command words a refusal: one line per problem, settings by variable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from elicence.cli import app
from registry.settings import get_settings


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("ELICENCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path
    get_settings.cache_clear()


def test_bad_settings_are_one_line_each_naming_the_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELICENCE_ENVIRONMENT", "staging")
    monkeypatch.setenv("ELICENCE_PORT", "eighty")
    r = CliRunner().invoke(app, ["department", "list"])
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "error: invalid settings: ELICENCE_ENVIRONMENT: "
        "Input should be 'development' or 'production'",
        "error: invalid settings: ELICENCE_PORT: "
        "Input should be a valid integer, unable to parse string as an integer",
    ]
    assert r.stdout == "" and not (clean_env / "data").exists()


def test_a_bad_licence_type_spec_is_not_called_a_settings_problem(clean_env: Path) -> None:
    run = CliRunner()
    assert run.invoke(app, ["init"]).exit_code == 0
    assert run.invoke(app, ["department", "add", "TRANSPORT", "--name", "T"]).exit_code == 0
    r = run.invoke(
        app,
        ["licence-type", "add", "TRANSPORT", "DRIVING", "--name", "D", "--validity-days", "5",
         "--field", f"{'a' * 33}:text"],
    )  # fmt: skip
    assert r.exit_code == 1
    assert r.stderr == (
        f"error: --field '{'a' * 33}:text': name: "
        "String should match pattern '^[a-z][a-z0-9_]{0,31}$'\n"
    )
