"""Reading the QR payload from a photo or screenshot (PNG, JPEG) with zxing-cpp."""

from __future__ import annotations

import io
import warnings

import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_BYTES = 12 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 48 MP phone photo is refused before it is decoded
_SCALED_SIDE = 1200
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class ImageUnreadable(Exception):
    """The file is not a PNG/JPEG image we can open. ``code`` is ``bad_image``."""

    code = "bad_image"


def _read(image: Image.Image) -> str | None:
    for barcode in zxingcpp.read_barcodes(
        image, formats=_QR_ONLY, text_mode=zxingcpp.TextMode.Plain
    ):
        if barcode.valid and barcode.text:
            return str(barcode.text)
    return None


def read_qr_text(data: bytes) -> str | None:
    """The text of the first QR code in an image, or ``None`` when none is found.

    Tries the image as it is, then a grayscale, contrast-stretched copy at a few scales
    (phone photos are large and soft; screenshots can be tiny). Raises ``ImageUnreadable``.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageUnreadable(f"image larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ("PNG", "JPEG"):
                raise ImageUnreadable("only PNG and JPEG images are read")
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ImageUnreadable("image has too many pixels")
            image.load()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
    ) as exc:
        raise ImageUnreadable(f"not a readable PNG or JPEG image: {exc}") from None
    rgb = (ImageOps.exif_transpose(image) or image).convert("RGB")
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
