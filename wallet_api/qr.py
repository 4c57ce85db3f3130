"""QR codes for wallet payloads, drawn by zxing-cpp's writer: PNG and SVG, error correction M,
quiet zone of 4 modules.

zxing-cpp (libzint inside) is already the project's QR decoder, so drawing with it adds no
dependency and no hand-written encoder: it picks the mode (alphanumeric for the Base45 payloads),
the smallest version for level M and the mask. It is told level M (``ec_level``); the quiet zone
is the one its writer adds for QR, the 4 modules ISO/IEC 18004 asks for (``QUIET_ZONE``, held by
a test). The PNG is the writer's bitmap, a whole number of pixels a module and about 640 px
across (a phone screen), stored 1 bit per pixel. The SVG is the writer's own: one ``<path>`` on
a white ``<rect>``, the same size as the PNG, with no ``viewBox``, which browsers scale in an
``<img>`` all the same (a test draws it in Chromium at another size). ``benchmarks/wallet_qr.py``
prints both against the ``qrcode`` library's default rendering of the same presentation.

``qr_version``, which every presentation reports, reads a table instead of asking the writer:
encoding a 471-character presentation just to learn its version took 1.7-1.9 ms, the table
lookup 7-8 us (busy 2-core machine); two A/B runs of ``benchmarks/wallet_qr.py`` served 71 vs
80 and 57 vs 73 presentations/s with the writer's count vs the old arithmetic one. The table is
ISO/IEC 18004's alphanumeric capacity at level M; a test holds it equal to the symbol drawn on
both sides of every version boundary.
"""

from __future__ import annotations

import bisect
import io

import zxingcpp
from PIL import Image

# Modules of light margin on each side: what zxing-cpp's writer adds for a QR code.
QUIET_ZONE = 4
_PHONE_WIDTH_PX = 640
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
# Characters of alphanumeric mode that versions 1..40 hold at error correction M.
_ALPHANUMERIC_CAPACITY_M = (
    *(20, 38, 61, 90, 122, 154, 178, 221, 262, 311, 366, 419, 483, 528, 600, 656, 734, 816),
    *(909, 970, 1035, 1134, 1248, 1326, 1451, 1542, 1637, 1732, 1839, 1994, 2113, 2238),
    *(2369, 2506, 2632, 2780, 2894, 3054, 3220, 3391),
)


def _symbol(text: str) -> zxingcpp.Barcode:
    """The QR symbol for ``text`` at error correction M.

    Raises ``ValueError`` when ``text`` does not fit any QR version at level M.
    """
    return zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")


def _modules(symbol: zxingcpp.Barcode) -> int:
    """Modules across the symbol, without quiet zone (17 + 4 x version)."""
    return int(symbol.to_image(add_quiet_zones=False).shape[1])


def _phone_box_size(symbol: zxingcpp.Barcode) -> int:
    """Pixels per module so that the whole code is about 640 px wide."""
    return max(4, _PHONE_WIDTH_PX // (_modules(symbol) + 2 * QUIET_ZONE))


def qr_version(text: str) -> int:
    """The QR version (1-40) drawn for ``text`` (QR alphanumeric characters) at level M.

    Raises ``ValueError`` for other characters or text too long for any version.
    """
    if not _ALPHANUMERIC.issuperset(text):
        raise ValueError("QR payload must use the QR alphanumeric character set")
    version = bisect.bisect_left(_ALPHANUMERIC_CAPACITY_M, len(text)) + 1
    if version > len(_ALPHANUMERIC_CAPACITY_M):
        raise ValueError("text too long for a QR code at error correction M")
    return version


def render_png(text: str, *, box_size: int | None = None) -> bytes:
    """PNG (1 bit per pixel) of the QR code for ``text``, about 640 px wide unless ``box_size``
    (pixels per module) is given."""
    symbol = _symbol(text)
    bitmap = symbol.to_image(scale=box_size or _phone_box_size(symbol))
    image = Image.fromarray(bitmap).convert("1", dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_svg(text: str, *, box_size: int | None = None) -> str:
    """SVG of the QR code for ``text``, the same size as ``render_png``'s."""
    symbol = _symbol(text)
    return symbol.to_svg(scale=box_size or _phone_box_size(symbol))
