"""QR codes drawn by zxing-cpp's writer: level M in the smallest version (as the ``qrcode``
library counts it), a 4-module quiet zone, PNG and SVG alike, and read back by two independent
decoders (zxing-cpp and zbar) from the PNG and the rasterised SVG, also after a phone-photo
distortion; what they read verifies."""

from __future__ import annotations

import base64
import io
import random
import time

import cairosvg
import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageFilter
from playwright.sync_api import Browser
from pyzbar import pyzbar

from tests._qr import QR_ONLY
from tests.credential.test_qr_size import qr_version as smallest_version
from tests.wallet_api.conftest import ZHANG, Wallet, driving_licence
from wallet_api.qr import QUIET_ZONE, qr_version, render_png, render_svg

_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def payload_like(length: int) -> str:
    """A QR alphanumeric text like the Base45 payloads, ``length`` characters after the prefix."""
    rng = random.Random(length)
    return "EP1:" + "".join(rng.choice(_ALPHANUMERIC) for _ in range(length))


def decode_all(image: Image.Image) -> tuple[str, str]:
    """What zxing-cpp and zbar each read (exactly one QR code each, level M)."""
    gray = image.convert("L")
    zx = zxingcpp.read_barcodes(gray, formats=QR_ONLY)
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


def black_and_white(image: Image.Image) -> Image.Image:
    return image.convert("L").point(lambda value: 255 if value >= 128 else 0)


@pytest.mark.parametrize("length", [1, 20, 77, 154, 355, 471, 520, 700, 1200])
def test_level_m_in_the_smallest_version(length: int) -> None:
    """The writer is told level M and uses alphanumeric mode: the version the ``qrcode``
    library computes for the text, and a decoder reads back level M and the text."""
    text = payload_like(length)
    version = smallest_version(text)
    assert qr_version(text) == version
    image = Image.open(io.BytesIO(render_png(text, box_size=2)))
    assert image.size == (2 * (17 + 4 * version + 2 * QUIET_ZONE),) * 2
    zx_text, zb_text = decode_all(image)
    assert zx_text == zb_text == text


def drawn_version(text: str) -> int:
    modules = Image.open(io.BytesIO(render_png(text, box_size=1))).width - 2 * QUIET_ZONE
    return (modules - 17) // 4


def test_qr_version_is_the_version_drawn_at_every_boundary() -> None:
    """``qr_version`` (a capacity table) agrees with the symbol the writer draws on both sides
    of each of the 39 boundaries between versions 1-M and 40-M."""
    longest = payload_like(3391 - 4)
    versions = [qr_version(longest[:n]) for n in range(1, len(longest) + 1)]
    assert versions[0] == 1 and versions[-1] == 40
    boundaries = [n for n in range(1, len(versions)) if versions[n] != versions[n - 1]]
    assert len(boundaries) == 39
    for n in boundaries:  # longest[:n] is the last text of a version, longest[:n + 1] the first
        below, above = longest[:n], longest[: n + 1]
        assert drawn_version(below) == qr_version(below) == qr_version(above) - 1
        assert drawn_version(above) == qr_version(above)


def test_text_the_symbol_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        render_png("A" * 3392)  # one more than 40-M holds (40-L would hold it)
    with pytest.raises(ValueError, match="too long"):
        qr_version("A" * 3392)
    with pytest.raises(ValueError, match="alphanumeric"):
        qr_version("EP1:lower case")


def test_png_and_svg_read_back_and_verify(wallet: Wallet) -> None:
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    for query in ({}, {"mode": "static"}, {"challenge": "COUNTER-7"}):
        png = wallet.get(f"/wallet/licences/{dl}/qr.png", ZHANG, **query)
        svg = wallet.get(f"/wallet/licences/{dl}/qr.svg", ZHANG, **query)
        assert png.headers["content-type"] == "image/png"
        assert svg.headers["content-type"] == "image/svg+xml"
        assert png.headers["cache-control"] == "no-store"
        for image_answer in (png, svg):  # the presentation's times, so a page asks only once
            if query.get("mode") == "static":
                assert "x-presentation-presented-at" not in image_answer.headers
                assert "x-presentation-expires" not in image_answer.headers
            else:
                presented = int(image_answer.headers["x-presentation-presented-at"])
                expires = int(image_answer.headers["x-presentation-expires"])
                assert abs(presented - time.time()) < 60 and expires > presented
        images = [Image.open(io.BytesIO(png.content)), svg_raster(svg.content)]
        for image in images:
            for picture in (image, phone_photo(image)):
                zx_text, zb_text = decode_all(picture)
                assert zx_text == zb_text
                result = wallet.verify(zx_text, challenge=query.get("challenge"))
                assert result.valid, (query, result.outcome)
                assert result.kind == ("static" if query.get("mode") else "presentation")


def test_quiet_zone_and_phone_size(wallet: Wallet) -> None:
    """PNG and SVG: about 640 px square, a whole number of pixels per module, a light margin of
    exactly 4 modules on every side (the finder patterns start right after it)."""
    dl = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    png = wallet.get(f"/wallet/licences/{dl}/qr.png", ZHANG)
    svg = wallet.get(f"/wallet/licences/{dl}/qr.svg", ZHANG)
    version = wallet.get(f"/wallet/licences/{dl}/qr", ZHANG).json()["qr_version"]
    modules = 17 + 4 * version + 2 * QUIET_ZONE
    png_image = Image.open(io.BytesIO(png.content))
    assert png_image.mode == "1"  # 1 bit per pixel
    for image in (png_image.convert("L"), black_and_white(svg_raster(svg.content))):
        assert image.width == image.height and image.width % modules == 0
        assert 480 <= image.width <= 800
        box = image.width // modules
        margin = QUIET_ZONE * box
        inner = image.width - margin
        for side in ((0, 0, image.width, margin), (0, inner, image.width, image.width)):
            assert image.crop(side).getextrema() == (255, 255)  # top, bottom
            assert image.crop(side[1::-1] + side[3:1:-1]).getextrema() == (255, 255)  # sides
        for x, y in ((margin, margin), (inner - 1, margin), (margin, inner - 1)):
            assert image.getpixel((x, y)) == 0  # a finder pattern's outer corner


def test_driving_licence_sizes(wallet: Wallet) -> None:
    """A realistic driving licence: presentation at most version 13-M, static at most 11-M;
    the version the API reports is the one drawn."""
    dl = wallet.issue(
        "TRANSPORT",
        **driving_licence(ZHANG, holder_name="欧阳秀英", categories=["A2", "C1"]),
    )
    for _ in range(5):  # signature lengths are fixed, but check a few fresh proofs
        presentation = wallet.get(f"/wallet/licences/{dl}/presentation", ZHANG).json()
        drawn = Image.open(io.BytesIO(render_png(presentation["payload"], box_size=1)))
        assert drawn.width == 17 + 4 * presentation["qr_version"] + 2 * QUIET_ZONE
        assert presentation["qr_version"] == smallest_version(presentation["payload"])
        assert presentation["qr_version"] <= 13
    static = wallet.get(f"/wallet/licences/{dl}/qr", ZHANG, mode="static").json()
    assert static["qr_version"] <= 11


@pytest.mark.parametrize("box_size", [1, 3])
def test_png_and_svg_draw_the_same_modules(box_size: int) -> None:
    text = payload_like(300)
    png = black_and_white(Image.open(io.BytesIO(render_png(text, box_size=box_size))))
    svg = black_and_white(svg_raster(render_svg(text, box_size=box_size).encode()))
    assert png.size == svg.size == ((17 + 4 * qr_version(text) + 2 * QUIET_ZONE) * box_size,) * 2
    assert ImageChops.difference(png, svg).getbbox() is None
    assert png.getextrema() == (0, 255)


@pytest.mark.browser
def test_svg_scales_in_a_browser_img(browser: Browser) -> None:
    """The writer's SVG has a size but no ``viewBox``: Chromium still scales the whole symbol into
    a smaller ``<img>`` box (not a clipped corner), and the screenshot reads back."""
    text = payload_like(471)
    svg = render_svg(text)
    side = 350  # the SVG is 616 px: 4.5 px a module on screen
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    page = browser.new_page(viewport={"width": 400, "height": 400}, device_scale_factor=1)
    try:
        page.set_content(
            f'<img id="qr" src="{source}" style="display:block;width:{side}px;height:{side}px">'
        )
        page.wait_for_function("document.getElementById('qr').complete")
        shot = Image.open(io.BytesIO(page.locator("#qr").screenshot()))
    finally:
        page.close()
    assert shot.size == (side, side)
    assert decode_all(shot) == (text, text)
