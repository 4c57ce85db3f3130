"""QR codes: the same symbol as the ``qrcode`` library builds, within the size goals, and read
back by two independent decoders (zxing-cpp and zbar) from the PNG and the rasterised SVG, also
after a phone-photo distortion; what they read verifies."""

from __future__ import annotations

import io
import random

import cairosvg
import pytest
import qrcode
import zxingcpp
from PIL import Image, ImageFilter
from pyzbar import pyzbar

from tests.wallet_api.conftest import ZHANG, Wallet, driving_licence
from wallet_api.qr import QUIET_ZONE, encode_matrix, qr_version, render_png, render_svg

_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def reference_rows(text: str) -> tuple[int, ...]:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(text)
    qr.make(fit=True)
    return tuple(int("".join("1" if m else "0" for m in row), 2) for row in qr.modules)


@pytest.mark.parametrize("length", [1, 2, 20, 77, 154, 355, 471, 520, 700, 1200])
def test_matrix_is_the_qrcode_librarys_symbol(length: int) -> None:
    rng = random.Random(length)
    text = "EP1:" + "".join(rng.choice(_ALPHANUMERIC) for _ in range(length))
    matrix = encode_matrix(text)
    assert matrix.rows == reference_rows(text)
    assert matrix.size == 17 + 4 * matrix.version == len(matrix.rows)
    assert qr_version(text) == matrix.version


def test_only_qr_alphanumeric_text() -> None:
    with pytest.raises(ValueError, match="alphanumeric"):
        encode_matrix("ep1:lower case")
    with pytest.raises(ValueError, match="too long"):
        encode_matrix("A" * 4000)


def decode_all(image: Image.Image) -> tuple[str, str]:
    """What zxing-cpp and zbar each read (exactly one QR code each)."""
    gray = image.convert("L")
    zx = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    zb = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    assert len(zx) == 1 and len(zb) == 1
    assert zx[0].ec_level == "M"
    return zx[0].text, zb[0].data.decode("ascii")


def phone_photo(image: Image.Image) -> Image.Image:
    """Rotated 7 degrees, blurred, scaled to 60% and saved as JPEG."""
    gray = image.convert("L").rotate(7, expand=True, fillcolor=255, resample=Image.BICUBIC)
    gray = gray.filter(ImageFilter.GaussianBlur(1.2))
    gray = gray.resize((gray.width * 6 // 10, gray.height * 6 // 10), Image.LANCZOS)
    out = io.BytesIO()
    gray.save(out, format="JPEG", quality=70)
    return Image.open(io.BytesIO(out.getvalue()))


def svg_raster(svg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(cairosvg.svg2png(bytestring=svg)))


def test_png_and_svg_read_back_and_verify(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    for query in ({}, {"mode": "static"}, {"challenge": "COUNTER-7"}):
        png = wallet.get(f"/wallet/licences/{dl}/qr.png", ZHANG, **query)
        svg = wallet.get(f"/wallet/licences/{dl}/qr.svg", ZHANG, **query)
        assert png.headers["content-type"] == "image/png"
        assert svg.headers["content-type"] == "image/svg+xml"
        assert png.headers["cache-control"] == "no-store"
        images = [Image.open(io.BytesIO(png.content)), svg_raster(svg.content)]
        for image in images:
            for picture in (image, phone_photo(image)):
                zx_text, zb_text = decode_all(picture)
                assert zx_text == zb_text
                result = wallet.verify(zx_text, challenge=query.get("challenge"))
                assert result.valid, (query, result.outcome)
                assert result.kind == ("static" if query.get("mode") else "presentation")


def test_png_has_a_quiet_zone_and_phone_size(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    png = wallet.get(f"/wallet/licences/{dl}/qr.png", ZHANG)
    image = Image.open(io.BytesIO(png.content)).convert("L")
    version = wallet.get(f"/wallet/licences/{dl}/qr", ZHANG).json()["qr_version"]
    modules = 17 + 4 * version + 2 * QUIET_ZONE
    assert image.width == image.height and image.width % modules == 0
    assert 480 <= image.width <= 800
    box = image.width // modules
    margin = image.crop((0, 0, image.width, QUIET_ZONE * box))
    assert margin.getextrema() == (255, 255)  # light quiet zone
    assert image.getpixel((QUIET_ZONE * box, QUIET_ZONE * box)) == 0  # finder corner is dark


def test_driving_licence_sizes(wallet: Wallet) -> None:
    """A realistic driving licence: presentation at most version 13-M, static at most 11-M."""
    dl = wallet.issue(
        "TRANSPORT",
        **driving_licence(ZHANG, holder_name="欧阳秀英", categories=["A2", "C1"]),
    )
    for _ in range(5):  # signature lengths are fixed, but check a few fresh proofs
        presentation = wallet.get(f"/wallet/licences/{dl}/presentation", ZHANG).json()
        assert presentation["qr_version"] == encode_matrix(presentation["payload"]).version
        assert presentation["qr_version"] <= 13
    static = wallet.get(f"/wallet/licences/{dl}/qr", ZHANG, mode="static").json()
    assert static["qr_version"] <= 11


def test_render_functions_agree_with_matrix() -> None:
    text = "EL1:" + "7" * 300
    matrix = encode_matrix(text)
    image = Image.open(io.BytesIO(render_png(text, box_size=1))).convert("1")
    width = matrix.size + 2 * QUIET_ZONE
    assert image.size == (width, width)
    for r in range(matrix.size):
        for c in range(matrix.size):
            dark = image.getpixel((c + QUIET_ZONE, r + QUIET_ZONE)) == 0
            assert dark == matrix.is_dark(r, c)
    svg = render_svg(text, box_size=1)
    raster = svg_raster(svg.encode()).convert("L")
    assert raster.size == (width, width)
    for r in range(matrix.size):
        for c in range(matrix.size):
            dark = raster.getpixel((c + QUIET_ZONE, r + QUIET_ZONE)) < 128
            assert dark == matrix.is_dark(r, c)
