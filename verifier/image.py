"""Reading the QR payload from a photo or screenshot (PNG, JPEG) with zxing-cpp."""

from __future__ import annotations

import io
import warnings

import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_BYTES = 12 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 48 MP phone photo is refused before it is decoded
# zxing-cpp raises ValueError for a side longer than this; such an image is refused first.
MAX_IMAGE_SIDE = 65_535
# Pillow calls some phone-camera JPEGs (a second picture appended) "MPO"; the first is read.
_FORMATS = ("PNG", "JPEG", "MPO")
_SCALED_SIDE = 1200
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_WHITE = (255, 255, 255, 255)


class ImageUnreadable(Exception):
    """The file is not a PNG/JPEG image we can open. ``code`` is ``bad_image``."""

    code = "bad_image"


def _read(image: Image.Image) -> str | None:
    try:
        barcodes = zxingcpp.read_barcodes(
            image, formats=_QR_ONLY, text_mode=zxingcpp.TextMode.Plain
        )
    except ValueError as exc:  # an image the decoder does not take (its size, its mode)
        raise ImageUnreadable(f"the QR decoder cannot read this image: {exc}") from None
    for barcode in barcodes:
        if barcode.valid and barcode.text:
            return str(barcode.text)
    return None


def _opened(data: bytes) -> Image.Image:
    """The image decoded, upright, as RGB on white. Raises ``ImageUnreadable``."""
    if not data:
        raise ImageUnreadable("the image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageUnreadable(f"image larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            if opened.format not in _FORMATS:
                raise ImageUnreadable("only PNG and JPEG images are read")
            width, height = opened.size
            if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
                raise ImageUnreadable(
                    f"image is {width} x {height} px: at most {MAX_IMAGE_SIDE:,} px a side is read"
                )
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageUnreadable("image has too many pixels")
            opened.load()
            image = ImageOps.exif_transpose(opened) or opened
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                # A QR exported on a transparent background: its hidden colour is often black.
                image = Image.alpha_composite(
                    Image.new("RGBA", image.size, _WHITE), image.convert("RGBA")
                )
            return image.convert("RGB")
    except UnidentifiedImageError:
        raise ImageUnreadable("not a PNG or JPEG image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageUnreadable("image has too many pixels") from None
    except (OSError, ValueError) as exc:
        raise ImageUnreadable(f"not a readable PNG or JPEG image: {exc}") from None


def read_qr_text(data: bytes) -> str | None:
    """The text of the first QR code in an image, or ``None`` when none is found.

    Tries the image as it is, then a grayscale, contrast-stretched copy at a few scales
    (phone photos are large and soft; screenshots can be tiny). Raises ``ImageUnreadable``
    for an empty, oversized, too wide or tall, or undecodable file, with the reason.
    """
    rgb = _opened(data)
    found = _read(rgb)
    if found is not None:
        return found
    gray = ImageOps.autocontrast(rgb.convert("L"))
    found = _read(gray)
    if found is not None:
        return found
    longest = max(gray.size)
    for side in (_SCALED_SIDE, longest * 2, longest // 2):
        if side < 64 or side == longest or side > 4000:
            continue
        factor = side / longest
        scaled = gray.resize(
            (max(1, round(gray.width * factor)), max(1, round(gray.height * factor))),
            Image.Resampling.LANCZOS,
        )
        found = _read(scaled)
        if found is not None:
            return found
    return None
