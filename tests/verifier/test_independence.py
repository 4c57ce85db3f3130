"""The verifier runs with no database: importing it pulls in neither SQLAlchemy nor the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.verifier._server import serving
from tests.verifier._world import NOW, World
from verifier import sync_bundle

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("sqlalchemy", "alembic", "psycopg", "registry", "issuer", "wallet_api", "keys")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELICENCE_")}
    env["PYTHONPATH"] = str(REPO)
    env["HOME"] = str(tmp_path)
    return env


def test_import_verifier_in_a_fresh_interpreter_imports_no_database(tmp_path: Path) -> None:
    code = (
        "import sys, json\n"
        "import verifier, verifier.api, verifier.cli, verifier.bundle, verifier.image\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == []
    # the probe itself works: importing the registry would be seen
    seen = subprocess.run(
        [sys.executable, "-c", "import sys, sqlalchemy; print('sqlalchemy' in sys.modules)"],
        capture_output=True,
        text=True,
        env=_clean_env(tmp_path),
        timeout=60,
        check=True,
    )
    assert seen.stdout.strip() == "True"


def test_cli_verifies_from_a_bundle_with_no_database_configured(tmp_path: Path) -> None:
    world = World()
    bundle_dir = tmp_path / "bundle"
    with serving(world) as server:
        sync_bundle(source=server.url, bundle_dir=bundle_dir, root_key=world.root.public_key)
    workdir = tmp_path / "counter"
    workdir.mkdir()
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: print('SQLALCHEMY', 'sqlalchemy' in sys.modules))\n"
        "from verifier.cli import app\n"
        "app(prog_name='elicence')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "verify", world.presentation_qr(), "--now", str(NOW)],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**_clean_env(tmp_path), "ELICENCE_VERIFIER_BUNDLE": str(bundle_dir)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("VALID: holder presentation")
    assert done.stdout.rstrip().endswith("SQLALCHEMY False")
    assert list(workdir.iterdir()) == []  # no database file, no data directory
