"""Reading QR codes in tests as the counter does (``verifier.image``): zxing-cpp with QR codes
only. With every format on, its linear-barcode readers now and then "find" a short code among a
QR code's modules: a browser test read ``['EP1:...', 'C5:8D']`` from one downloaded QR code,
once in 15 runs."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def qr_texts(image: Image.Image | bytes) -> list[str]:
    """The text of every valid QR code in ``image`` (a picture, or PNG/JPEG bytes)."""
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    return [str(b.text) for b in zxingcpp.read_barcodes(image, formats=QR_ONLY) if b.valid]


def decode(png: bytes) -> str:
    """The text of the one QR code in a picture."""
    found = qr_texts(png)
    assert len(found) == 1, found
    return found[0]
