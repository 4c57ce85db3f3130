"""``elicence verify --image FILE`` and ``verify -`` on files that are no photo: endless devices,
FIFOs, directories, missing or sparse huge files, endless stdin. Each is refused at once with exit
1 and the reason, and never read without bound (the real command runs in a subprocess whose
address space is capped, so reading a file whole would fail it with a MemoryError).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from verifier.cli import app as verifier_cli
from verifier.image import MAX_IMAGE_BYTES

ELICENCE = str(Path(sys.executable).parent / "elicence")
_ADDRESS_SPACE = 1024 * 1024 * 1024  # the command needs ~150 MB; a 4 GiB read cannot fit


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_ADDRESS_SPACE, _ADDRESS_SPACE))


def _elicence(
    *args: str, tmp_path: Path, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """The installed command, with a bundle path that does not exist (input is read first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELICENCE_")}
    return subprocess.run(
        [ELICENCE, "verify", *args, "--bundle", str(tmp_path / "no-bundle")],
        stdin=stdin,
        capture_output=True,
        text=True,
        env={**env, "HOME": str(tmp_path)},
        cwd=tmp_path,
        preexec_fn=_capped,
        timeout=120,  # a guard against a hang, not a measurement
    )


def test_dev_zero_is_refused_unread(tmp_path: Path) -> None:
    done = _elicence("--image", "/dev/zero", tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "error: cannot read /dev/zero: not a regular file (a device)\n"
    assert done.stdout == ""


def test_sparse_four_gigabyte_file_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    with huge.open("wb") as file:
        file.truncate(4 * 1024 * 1024 * 1024)  # sparse: no disk used, reads as zeros
    done = _elicence("--image", str(huge), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"error: bad_image: image larger than {MAX_IMAGE_BYTES >> 20} MB\n"


def test_endless_stdin_payload_is_refused(tmp_path: Path) -> None:
    with open("/dev/zero", "rb") as zeros:
        done = _elicence("-", tmp_path=tmp_path, stdin=zeros.fileno())
    assert done.returncode == 1, done.stderr
    assert done.stderr == "error: payload on stdin longer than 65536 characters\n"


def test_a_payload_on_stdin_still_reaches_the_verifier(tmp_path: Path) -> None:
    """A normal stdin payload is read (and then stops at the missing bundle, exit 2)."""
    payload = tmp_path / "payload.txt"
    payload.write_text("EL1:ABC\n")
    with payload.open("rb") as file:
        done = _elicence("-", tmp_path=tmp_path, stdin=file.fileno())
    assert done.returncode == 2 and "elicence verifier sync" in done.stderr


def _verify_image(path: Path, tmp_path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        verifier_cli, ["verify", "--image", str(path), "--bundle", str(tmp_path / "no-bundle")]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stderr


def test_fifo_with_no_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    done = _elicence("--image", str(fifo), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"error: cannot read {fifo}: not a regular file (a FIFO)\n"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("photos", "not a regular file (a directory)"),
        ("missing.png", "No such file or directory"),
        ("empty.png", "bad_image: the image is empty"),
    ],
)
def test_directory_missing_and_empty_files_are_refused(
    name: str, reason: str, tmp_path: Path
) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "empty.png").write_bytes(b"")
    path = tmp_path / name
    code, err = _verify_image(path, tmp_path)
    assert code == 1 and err.startswith("error: ") and reason in err, err
    assert "Traceback" not in err
