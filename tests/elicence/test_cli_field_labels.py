"""``elicence licence-type add --field name:type[:required|optional][:label]``: the label is stored
with the field (the wallet and console pages show it instead of the name); a malformed or
unsound label is refused with a reason and nothing is stored."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from registry.database import Database
from registry.models import LicenceType
from registry.settings import get_settings

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("ELICENCE_"):
            monkeypatch.delenv(name)
    path = tmp_path / "data"
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(path))
    get_settings.cache_clear()
    assert _invoke("init").exit_code == 0
    assert _invoke("department", "add", "TRANSPORT", "--name", "Transport").exit_code == 0
    yield path
    get_settings.cache_clear()


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    from elicence.cli import app

    return runner.invoke(app, list(args))


def _add(*fields: str):  # type: ignore[no-untyped-def]
    args = ["licence-type", "add", "TRANSPORT", "DL", "--name", "Driving licence"]
    args += ["--validity-days", "365"]
    for field in fields:
        args += ["--field", field]
    return _invoke(*args)


def _stored_fields(data_dir: Path) -> list[dict[str, Any]] | None:
    database = Database(f"sqlite:///{data_dir}/elicence.db")
    try:
        with database.reading() as session:
            stored = session.scalars(select(LicenceType)).one_or_none()
            return None if stored is None else list(stored.fields)
    finally:
        database.close()


def test_labels_are_stored_with_their_fields(data_dir: Path) -> None:
    done = _add(
        "first_issued:date:optional:初次领证日期 First issued",
        "archive_no:text:档案编号 Archive number",
        "licence_class:choice=A|B:required:准驾车型: A or B",
        "remarks:text",
    )
    assert done.exit_code == 0, done.output
    by_name = {spec["name"]: spec for spec in _stored_fields(data_dir) or []}
    assert by_name["first_issued"]["label"] == "初次领证日期 First issued"
    assert by_name["first_issued"]["required"] is False
    assert by_name["archive_no"]["label"] == "档案编号 Archive number"
    assert by_name["archive_no"]["required"] is True
    # A label may hold a colon: everything after the fourth part is the label.
    assert by_name["licence_class"]["label"] == "准驾车型: A or B"
    assert by_name["licence_class"]["choices"] == ["A", "B"]
    assert by_name["remarks"].get("label") is None


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("first_issued:date:", "use name:type[:required|optional] with type"),
        ("first_issued:date:optional:", "use name:type[:required|optional] with type"),
        ("first_issued:date:optional:   ", "label is empty"),
        ("first_issued:date:" + "长" * 101, "at most 100 characters"),
        ("first_issued:date:bad\x07label", "control character"),
    ],
)
def test_a_bad_label_is_refused_and_nothing_is_stored(
    data_dir: Path, field: str, reason: str
) -> None:
    done = _add(field)
    assert done.exit_code == 1
    assert reason in done.output
    assert _stored_fields(data_dir) is None
