"""The verifier's hot path runs compiled (mypyc, ./scripts/setup), and a compiled module older
than its source is refused at import rather than run in place of the source."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import tomllib
from pathlib import Path

import pytest

from credential._compiled import refuse_stale_builds

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _listed() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["tool"]["elicence"]["compiled"])


@pytest.mark.parametrize("path", _listed())
def test_each_listed_module_is_imported_from_its_compiled_build(path: str) -> None:
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert module.__file__ is not None
    assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), module.__file__


def test_both_packages_check_their_builds_when_imported() -> None:
    import verifier  # noqa: F401

    assert "credential._compiled" in sys.modules
    assert "verifier._compiled" in sys.modules


def _package(tmp_path: Path, *, source_age: float, build_age: float) -> Path:
    (tmp_path / "__init__.py").write_text("")
    source, build = tmp_path / "_parse.py", tmp_path / f"_parse{SUFFIX}"
    source.write_text("x = 1\n")
    build.write_bytes(b"\x7fELF")
    now = 1_800_000_000
    os.utime(source, (now - source_age, now - source_age))
    os.utime(build, (now - build_age, now - build_age))
    return tmp_path / "__init__.py"


def test_a_build_older_than_its_source_is_refused_with_what_to_run(tmp_path: Path) -> None:
    init = _package(tmp_path, source_age=10, build_age=60)
    stale = r"_parse\.py is newer than its compiled module"
    with pytest.raises(ImportError, match=stale) as raised:
        refuse_stale_builds(str(init))
    assert "./scripts/setup" in str(raised.value)


def test_a_build_newer_than_its_source_passes(tmp_path: Path) -> None:
    refuse_stale_builds(str(_package(tmp_path, source_age=60, build_age=10)))


def test_a_source_without_a_build_and_a_build_without_a_source_pass(tmp_path: Path) -> None:
    init = _package(tmp_path, source_age=60, build_age=10)
    (tmp_path / "_plain.py").write_text("y = 2\n")  # not compiled: imported from its source
    runtime = tmp_path / f"abc__mypyc{SUFFIX}"  # mypyc's shared runtime has no source
    runtime.write_bytes(b"\x7fELF")
    os.utime(runtime, (1, 1))
    refuse_stale_builds(str(init))
