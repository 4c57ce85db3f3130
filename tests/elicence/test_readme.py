"""The README's "First steps", run as a new user runs them.

The commands are not copied here: they are the fenced ``sh`` blocks under the README's
"## First steps" heading, read from the README at test time, so the test fails when the README
drifts from what works. They run in order, in one ``bash -euo pipefail`` (shell variables such as
the API key a command printed carry over, as in the user's terminal), against a real
``elicence serve`` started here the way ``./scripts/serve`` starts it (``elicence init``, then
``elicence serve`` with the development identity provider on).

Substituted, and only this: the port, since ``127.0.0.1:8000`` may be taken on a test machine
(the server listens on a free port and every ``127.0.0.1:8000`` in the commands names it). The
working directory is a fresh temporary directory holding a ``.venv`` link to this virtualenv, so
``.venv/bin/elicence`` and the relative paths the commands write (``licence.json``, ``qr.png``,
``root.jwk``, ``data/verifier-bundle``) land there; the data directory is ``ELICENCE_DATA_DIR`` in
the environment (``./data`` of that directory, the default). The commands' environment has no
``ELICENCE_DEV_IDP`` and no admin token: a user's second terminal has neither.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import qrcode

from credential import parse_id_number
from tests._served import ROOT, Served, run_cli, service_env

README = ROOT / "README.md"
HEADING = "## First steps"
SERVED_AT = "127.0.0.1:8000"
TEST_ID_NUMBER = "11010519491231002X"


def first_steps_blocks(text: str) -> list[str]:
    """The fenced ``sh`` blocks under the "First steps" heading, up to the next heading."""
    start = text.index(f"\n{HEADING}\n") + len(HEADING) + 2
    following = re.search(r"^## ", text[start:], re.M)
    section = text[start : start + following.start()] if following else text[start:]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.M | re.S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_first_steps_are_found_in_the_readme() -> None:
    """The extraction finds the steps a new user needs, in this order; an edit that drops one
    (or renames the heading) fails here rather than silently running nothing."""
    blocks = first_steps_blocks(README.read_text("utf-8"))
    commands = "\n".join(blocks)
    order = [
        "elicence department add",
        "elicence licence-type add",
        "elicence department key",
        "/issuer/licences",
        "elicence root-key",
        "elicence verifier sync",
        "/qr.png",
        "elicence verify --image qr.png",
    ]
    positions = [commands.find(step) for step in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    # The sample ID number passes GB 11643 and is called a test number.
    assert TEST_ID_NUMBER in commands
    parse_id_number(TEST_ID_NUMBER)
    assert f"`{TEST_ID_NUMBER}` is a **test number**" in README.read_text("utf-8")


def test_first_steps_blocks_are_only_those_under_the_heading() -> None:
    text = "\n".join(
        [
            "# x",
            "```sh",
            "before",
            "```",
            "## First steps",
            "```sh",
            "one",
            "```",
            "```python",
            "not shell",
            "```",
            "```sh",
            "two",
            "three",
            "```",
            "## Next",
            "```sh",
            "after",
            "```",
        ]
    )
    assert first_steps_blocks(text) == ["one\n", "two\nthree\n"]


def test_the_readme_first_steps_work_verbatim(tmp_path: Path) -> None:
    blocks = first_steps_blocks(README.read_text("utf-8"))
    script = "\n".join(blocks)
    assert SERVED_AT in script
    port = _free_port()
    script = script.replace(SERVED_AT, f"127.0.0.1:{port}")

    work = tmp_path / "clone"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    server_env = service_env(work / "data", ELICENCE_DEV_IDP="true")
    user_env = {
        key: value
        for key, value in server_env.items()
        if key not in ("ELICENCE_DEV_IDP", "ELICENCE_ADMIN_TOKEN")
    }
    run_cli(server_env, "init")  # what ./scripts/serve runs before serving
    with Served(server_env, port, workers=1, log=tmp_path / "serve.log") as served:
        served.wait_ready()
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=work,
            env=user_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    # The key was printed once, the licence issued to the test number (masked in the answer),
    # and the QR code fetched as the holder verified offline from the synced bundle.
    assert re.search(r"^elk_\w{8}", done.stdout, re.M)
    assert '"masked_id"' in done.stdout and TEST_ID_NUMBER not in done.stdout
    assert (work / "qr.png").read_bytes().startswith(b"\x89PNG")
    assert (work / "data" / "verifier-bundle").is_dir()
    assert re.search(r"^VALID", done.stdout, re.M), done.stdout


def test_verify_before_a_sync_says_what_to_do(tmp_path: Path) -> None:
    """The README's last command run before its sync: a clear error naming the sync command."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    qrcode.make("EL1:NOT-SYNCED-YET").save(str(tmp_path / "qr.png"))
    done = subprocess.run(
        [".venv/bin/elicence", "verify", "--image", "qr.png"],
        cwd=tmp_path,
        env=service_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "no verifier bundle" in done.stderr
    assert "elicence verifier sync" in done.stderr
