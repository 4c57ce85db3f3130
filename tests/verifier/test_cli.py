"""`elicence verify` and `elicence verifier sync`: exit codes, JSON output, QR images."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import qrcode
from PIL import Image, ImageFilter
from typer.testing import CliRunner

from credential import public_key_to_jwk
from tests.verifier._server import serving
from tests.verifier._world import DAY, NOW, STATUS_URI, World, signer
from verifier import root_thumbprint, sync_bundle
from verifier.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle_dir = tmp_path_factory.mktemp("cli") / "bundle"
    with serving(world) as server:
        sync_bundle(source=server.url, bundle_dir=bundle_dir, root_key=world.root.public_key)
    return bundle_dir


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _qr_png(text: str) -> bytes:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    code.add_data(text)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


def _phone_photo(text: str) -> bytes:
    """The QR shown on a screen, photographed: small in a big grey frame, tilted, soft, JPEG."""
    qr = Image.open(io.BytesIO(_qr_png(text))).convert("RGB")
    qr = qr.rotate(7, expand=True, fillcolor=(255, 255, 255)).filter(ImageFilter.GaussianBlur(1))
    frame = Image.new("RGB", (qr.width * 3, qr.height * 3), (96, 100, 104))
    frame.paste(qr, (qr.width, qr.height))
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=70)
    return out.getvalue()


def test_valid_presentation_exits_0(world: World, bundle: Path) -> None:
    code, out, _ = _run(
        "verify", world.presentation_qr(), "--bundle", str(bundle), "--now", str(NOW)
    )
    assert code == 0, out
    assert out.startswith("VALID: holder presentation")
    assert "王小明 (110105********002X)" in out and "Driving licence [DL] DL-2026-000123" in out


def test_static_copy_exits_0_flagged_and_1_when_presentation_required(
    world: World, bundle: Path
) -> None:
    args = ["verify", world.static_qr(), "--bundle", str(bundle), "--now", str(NOW)]
    code, out, _ = _run(*args)
    assert code == 0 and "static copy" in out
    code, out, _ = _run(*args, "--require-presentation")
    assert code == 1 and out.startswith("INVALID: presentation_required")


def test_invalid_exits_1_with_the_outcome_code(world: World, bundle: Path) -> None:
    stale = world.presentation_qr(presented_at=NOW - 120)
    code, out, _ = _run("verify", stale, "--bundle", str(bundle), "--now", str(NOW))
    assert code == 1 and out.startswith("INVALID: stale_presentation")
    assert "[FAIL] presentation_time: stale_presentation" in out
    code, out, _ = _run(
        "verify", stale, "--bundle", str(bundle), "--now", str(NOW), "--max-presentation-age", "300"
    )
    assert code == 0


def test_json_output(world: World, bundle: Path) -> None:
    code, out, _ = _run(
        "verify", world.static_qr(signer=signer()), "--bundle", str(bundle), "--now", str(NOW),
        "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 1 and data["valid"] is False and data["outcome"] == "unknown_kid"
    assert data["checks"][-1] == {"name": "trusted_key", "passed": False, "code": "unknown_kid"}
    code, out, _ = _run(
        "verify", world.presentation_qr(), "--bundle", str(bundle), "--now", str(NOW), "--json"
    )
    data = json.loads(out)
    assert code == 0 and data["kind"] == "presentation" and data["status_age"] == 600
    assert data["licence"]["department_name"] == "Transport Bureau"


def test_challenge_option(world: World, bundle: Path) -> None:
    text = world.presentation_qr(challenge="c-42")
    base = ["verify", text, "--bundle", str(bundle), "--now", str(NOW)]
    assert _run(*base, "--challenge", "c-42")[0] == 0
    code, out, _ = _run(*base, "--challenge", "c-43")
    assert code == 1 and "challenge_mismatch" in out


def test_garbage_payload_exits_1_not_a_traceback(bundle: Path) -> None:
    code, out, _ = _run("verify", "hello world", "--bundle", str(bundle))
    assert code == 1 and out.startswith("INVALID: bad_prefix")


def test_stale_status_from_the_bundle(world: World, bundle: Path) -> None:
    later = NOW + 2 * DAY
    text = world.presentation_qr(presented_at=later)
    code, out, _ = _run("verify", text, "--bundle", str(bundle), "--now", str(later))
    assert code == 1 and out.startswith("INVALID: status_stale")


@pytest.mark.parametrize(
    "args",
    [
        ["verify"],  # neither payload nor image
        ["verify", "EL1:X", "--image", "x.png"],  # both
        ["verify", "EL1:X", "--now", "yesterday"],
        ["verify", "EL1:X", "--max-presentation-age", "0"],
        ["verifier", "sync", "--bundle", "b"],  # --from missing
        ["verifier", "sync", "--from", "ftp://x", "--bundle", "b"],
    ],
)
def test_usage_errors_exit_2(args: list[str], bundle: Path) -> None:
    result = runner.invoke(app, [*args, "--bundle", str(bundle)] if args[0] == "verify" else args)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_bundle_exits_2(world: World, tmp_path: Path) -> None:
    code, _, err = _run("verify", world.static_qr(), "--bundle", str(tmp_path / "none"))
    assert code == 2 and "elicence verifier sync" in err


def test_bundle_from_environment(world: World, bundle: Path) -> None:
    result = runner.invoke(
        app,
        ["verify", world.presentation_qr(), "--now", str(NOW)],
        env={"ELICENCE_VERIFIER_BUNDLE": str(bundle)},
    )
    assert result.exit_code == 0


def test_image_png_and_phone_photo_jpeg(world: World, bundle: Path, tmp_path: Path) -> None:
    text = world.presentation_qr()
    png, jpeg = tmp_path / "qr.png", tmp_path / "photo.jpg"
    png.write_bytes(_qr_png(text))
    jpeg.write_bytes(_phone_photo(text))
    for image in (png, jpeg):
        code, out, _ = _run(
            "verify", "--image", str(image), "--bundle", str(bundle), "--now", str(NOW)
        )
        assert code == 0, (image, out)
        assert "DL-2026-000123" in out
    revoked_world_text = world.static_qr(expires_at=NOW - DAY)
    png.write_bytes(_qr_png(revoked_world_text))
    code, out, _ = _run("verify", "--image", str(png), "--bundle", str(bundle), "--now", str(NOW))
    assert code == 1 and out.startswith("INVALID: expired")


def test_image_without_qr_and_unreadable_files(bundle: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 300), (255, 255, 255)).save(blank)
    code, out, _ = _run("verify", "--image", str(blank), "--bundle", str(bundle))
    assert code == 1 and "no_qr_code" in out
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image")
    code, _, err = _run("verify", "--image", str(text_file), "--bundle", str(bundle))
    assert code == 1 and "PNG or JPEG" in err
    code, _, err = _run("verify", "--image", str(tmp_path / "missing.png"), "--bundle", str(bundle))
    assert code == 1 and "cannot read" in err


def test_sync_command_with_root_key_file_and_thumbprint(world: World, tmp_path: Path) -> None:
    root_file = tmp_path / "root.jwk"
    root_file.write_text(json.dumps(public_key_to_jwk(world.root.public_key)))
    with serving(world) as server:
        code, out, _ = _run(
            "verifier", "sync", "--from", server.url, "--bundle", str(tmp_path / "a"),
            "--root-key", str(root_file),
        )  # fmt: skip
        assert code == 0 and "2 departments" in out and "2 status lists" in out
        code, out, _ = _run(
            "verifier", "sync", "--from", server.url, "--bundle", str(tmp_path / "b"),
            "--root-thumbprint", root_thumbprint(world.root.public_key),
        )  # fmt: skip
        assert code == 0
        code, _, err = _run(
            "verifier", "sync", "--from", server.url, "--bundle", str(tmp_path / "c")
        )
        assert code == 2 and "root_key_required" in err
        server.documents["/status-lists/12"] = world.status_token(STATUS_URI, signer=signer())
        code, _, err = _run(
            "verifier", "sync", "--from", server.url, "--bundle", str(tmp_path / "a")
        )
        assert code == 1 and "status_list_refused" in err
    bad_file = tmp_path / "bad.jwk"
    bad_file.write_text("{}")
    code, _, err = _run(
        "verifier", "sync", "--from", "http://127.0.0.1:9", "--bundle", str(tmp_path / "d"),
        "--root-key", str(bad_file),
    )  # fmt: skip
    assert code == 2 and "JWK" in err


def test_elicence_command_verifies_from_a_bundle_with_no_database(
    world: World, bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from elicence.cli import app as elicence_app

    for name in [n for n in os.environ if n.startswith("ELICENCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    args = ["verify", world.presentation_qr(), "--bundle", str(bundle), "--now", str(NOW)]
    result = runner.invoke(elicence_app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("VALID: holder presentation")
    assert runner.invoke(elicence_app, [*args, "--require-presentation"]).exit_code == 0
    static = ["verify", world.static_qr(), "--bundle", str(bundle), "--now", str(NOW)]
    assert runner.invoke(elicence_app, [*static, "--require-presentation"]).exit_code == 1
    assert runner.invoke(elicence_app, ["verify"]).exit_code == 2
    assert runner.invoke(elicence_app, ["verifier", "sync", "--help"]).exit_code == 0
    assert list(tmp_path.iterdir()) == []  # no database, no data directory created
