"""Odd images at the counter: read when they hold a QR code, refused with a reason otherwise.

Every image is built with Pillow here and goes through the real decoder three ways: the library
(``read_qr_text``), ``POST /verify`` (multipart ``image``) and ``elicence verify --image``.
Refusals are a 422 ``bad_image`` or exit 1 with the reason, never a 500 or a traceback.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import qrcode
from fastapi.testclient import TestClient
from PIL import Image, ImageOps
from typer.testing import CliRunner

from tests.verifier._server import serving
from tests.verifier._world import NOW, World
from verifier import sync_bundle
from verifier.api import create_app
from verifier.cli import app as verifier_cli
from verifier.image import ImageUnreadable, read_qr_text

runner = CliRunner()


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle_dir = tmp_path_factory.mktemp("odd-images") / "bundle"
    with serving(world) as server:
        sync_bundle(source=server.url, bundle_dir=bundle_dir, root_key=world.root.public_key)
    return bundle_dir


@pytest.fixture(scope="module")
def counter(bundle: Path) -> TestClient:
    return TestClient(create_app(bundle, now=lambda: NOW))


@pytest.fixture(scope="module")
def presented(world: World) -> str:
    """One presentation (each call of ``presentation_qr`` signs a new one)."""
    return world.presentation_qr()


@pytest.fixture(scope="module")
def qr(presented: str) -> Image.Image:
    """The presentation as a QR code, black on white, mode L."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=4)
    code.add_data(presented)
    return code.make_image().get_image().convert("L")


def _saved(image: Image.Image, image_format: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zero_height_png() -> bytes:
    """A PNG whose header says 16 x 0 px: Pillow refuses to write one (``cannot write empty
    image``), so the chunks are written here."""
    header = struct.pack(">IIBBBBB", 16, 0, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b""))
        + _png_chunk(b"IEND", b"")
    )


def _black_on_transparent(qr: Image.Image, mode: str) -> Image.Image:
    """The QR as a design tool exports it: dark modules on a transparent background."""
    dark = Image.new(mode, qr.size, (0,) * len(mode))
    dark.putalpha(ImageOps.invert(qr))
    return dark


def _sixteen_bit(qr: Image.Image) -> Image.Image:
    return qr.point(lambda v: v * 257, mode="I").convert("I;16")


def _mpo(qr: Image.Image) -> bytes:
    """Some phone cameras save a JPEG with a second picture (MPO); Pillow names it ``MPO``."""
    first = qr.convert("RGB")
    return _saved(first, "MPO", save_all=True, append_images=[first.rotate(90)])


QR_IMAGES: dict[str, Callable[[Image.Image], bytes]] = {
    "1-bit PNG": lambda qr: _saved(qr.convert("1")),
    "palette PNG": lambda qr: _saved(qr.convert("P")),
    "16-bit grey PNG": lambda qr: _saved(_sixteen_bit(qr)),
    "RGBA PNG, opaque": lambda qr: _saved(qr.convert("RGBA")),
    "RGBA PNG, transparent background": lambda qr: _saved(_black_on_transparent(qr, "RGBA")),
    "grey+alpha PNG, transparent background": lambda qr: _saved(_black_on_transparent(qr, "LA")),
    "CMYK JPEG": lambda qr: _saved(qr.convert("CMYK"), "JPEG", quality=95),
    "MPO (phone JPEG with a second picture)": _mpo,
}


@pytest.mark.parametrize("kind", list(QR_IMAGES))
def test_odd_but_sound_images_are_read(
    kind: str, qr: Image.Image, presented: str, counter: TestClient, bundle: Path, tmp_path: Path
) -> None:
    data = QR_IMAGES[kind](qr)
    assert read_qr_text(data) == presented
    response = counter.post("/verify", files={"image": ("qr", data, "application/octet-stream")})
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    path = tmp_path / "qr"
    path.write_bytes(data)
    result = runner.invoke(
        verifier_cli, ["verify", "--image", str(path), "--bundle", str(bundle), "--now", str(NOW)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("VALID: holder presentation")


REFUSED_IMAGES: dict[str, tuple[Callable[[], bytes], str]] = {
    "70,000 x 1 px (1-bit PNG, 89 bytes)": (
        lambda: _saved(Image.new("1", (70_000, 1), 1)),
        "70000 x 1 px: at most 65,535 px a side",
    ),
    "1 x 70,000 px": (
        lambda: _saved(Image.new("1", (1, 70_000), 1)),
        "1 x 70000 px: at most 65,535 px a side",
    ),
    "65,536 x 2 px RGB": (
        lambda: _saved(Image.new("RGB", (65_536, 2), (255, 255, 255))),
        "65536 x 2 px: at most 65,535 px a side",
    ),
    "16 x 0 px": (_zero_height_png, "not a PNG or JPEG image"),
    "empty file": (lambda: b"", "the image is empty"),
    "a GIF": (lambda: _saved(Image.new("P", (40, 40)), "GIF"), "only PNG and JPEG images"),
    "a truncated PNG": (
        lambda: _saved(Image.new("RGB", (300, 300), (9, 9, 9)))[:200],
        "not a readable PNG or JPEG image",
    ),
    "header claiming 100,000 x 100,000 px": (
        lambda: _zero_height_png().replace(
            _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 0, 8, 0, 0, 0, 0)),
            _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)),
        ),
        "image has too many pixels",
    ),
}


@pytest.mark.parametrize("kind", list(REFUSED_IMAGES))
def test_unreadable_images_are_refused_with_a_reason(
    kind: str, counter: TestClient, bundle: Path, tmp_path: Path
) -> None:
    build, reason = REFUSED_IMAGES[kind]
    data = build()
    with pytest.raises(ImageUnreadable) as refused:
        read_qr_text(data)
    assert reason in str(refused.value)

    response = counter.post("/verify", files={"image": ("x.png", data, "image/png")})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "bad_image" and reason in response.json()["detail"]
    assert "BytesIO" not in response.json()["detail"]  # no Python object names in the reason

    path = tmp_path / "x.png"
    path.write_bytes(data)
    result = runner.invoke(verifier_cli, ["verify", "--image", str(path), "--bundle", str(bundle)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and reason in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "data",
    [
        _saved(Image.new("RGB", (1, 1), (255, 255, 255))),
        _saved(Image.new("L", (1, 1)), "JPEG"),
        _saved(Image.new("1", (65_535, 1), 1)),  # the widest image the decoder takes
    ],
    ids=["1 x 1 px PNG", "1 x 1 px JPEG", "65,535 x 1 px"],
)
def test_tiny_and_widest_images_hold_no_qr_code(
    data: bytes, counter: TestClient, bundle: Path, tmp_path: Path
) -> None:
    assert read_qr_text(data) is None
    response = counter.post("/verify", files={"image": ("x", data, "image/png")})
    assert response.status_code == 422 and response.json()["error"] == "no_qr_code"
    path = tmp_path / "x"
    path.write_bytes(data)
    result = runner.invoke(verifier_cli, ["verify", "--image", str(path), "--bundle", str(bundle)])
    assert result.exit_code == 1 and result.stdout.startswith("INVALID: no_qr_code")


def test_an_image_the_decoder_refuses_is_a_refusal_not_a_crash() -> None:
    """zxing-cpp raises ``ValueError`` for a side over 65,535 px; should another limit of the
    decoder be met (a later version), it is still a ``bad_image`` refusal."""
    from verifier.image import _read

    with pytest.raises(ImageUnreadable, match="the QR decoder cannot read this image"):
        _read(Image.new("L", (70_000, 1), 255))
