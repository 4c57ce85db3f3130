"""The import table of DESIGN.md is checked by import-linter (``.importlinter``, run by
``./scripts/test``): the project keeps every contract, and the checker does fail on a violation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_contract_is_kept() -> None:
    done = _lint(ROOT / ".importlinter")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_a_violation_fails_the_check(tmp_path: Path) -> None:
    # registry.database really imports sqlalchemy: a contract forbidding it must break.
    config = tmp_path / "violated.ini"
    config.write_text(
        (ROOT / ".importlinter").read_text()
        + "\n[importlinter:contract:violated]\nname = registry may not use sqlalchemy\n"
        "type = forbidden\nsource_modules =\n    registry\nforbidden_modules =\n    sqlalchemy\n"
    )
    done = _lint(config)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "registry may not use sqlalchemy BROKEN" in done.stdout.replace("\n", " ")
    assert "registry.database -> sqlalchemy" in done.stdout
