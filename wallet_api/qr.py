"""QR rendering for wallet payloads: PNG and SVG, error correction M, quiet zone of 4 modules.

The symbol is the one the ``qrcode`` library builds for the same text in alphanumeric mode
(same version, codewords, mask and format information; a test holds the two equal), built with
less work:

- codewords are packed in one integer and Reed-Solomon parity comes from per-generator
  multiplication tables, not a bit-by-bit buffer and polynomial objects;
- the eight mask candidates are not placed module by module: the data bits are placed once and
  each candidate is that placement XOR a per-version template (function patterns plus mask),
  computed once per version;
- the mask penalty (ISO/IEC 18004 7.8.3, scored exactly as ``qrcode.util.lost_point`` does) runs
  on rows held as integers and strings: runs and finder-like patterns with one regular
  expression pass, 2x2 blocks with bit operations;
- the PNG is one 1-bit Pillow image from packed rows, scaled once; the SVG is one ``<path>``.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image
from qrcode import QRCode, base, constants, util

QUIET_ZONE = 4
_EC_M = constants.ERROR_CORRECT_M
_MODE_ALPHANUMERIC = 0b0010
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALPHANUMERIC_VALUE = {ch: i for i, ch in enumerate(_ALPHANUMERIC)}
_PAD_BYTES = (0xEC, 0x11)
# About 640 px across on a phone screen, whatever the version.
_PHONE_WIDTH_PX = 640
_RUN = re.compile(r"0{5,}|1{5,}")
_FINDER_LIKE = re.compile(r"(?=10111010000|00001011101)")


@dataclass(frozen=True, slots=True)
class QrMatrix:
    """A QR symbol without quiet zone: ``rows[r]`` has bit ``size-1-c`` set where (r, c) is dark."""

    version: int
    mask: int
    size: int
    rows: tuple[int, ...]

    def is_dark(self, row: int, col: int) -> bool:
        return bool(self.rows[row] >> (self.size - 1 - col) & 1)


def _count_bits(version: int) -> int:
    return 9 if version < 10 else 11 if version < 27 else 13


def _fit_version(length: int) -> int:
    limits = util.BIT_LIMIT_TABLE[_EC_M]
    for version in range(1, 41):
        needed = 4 + _count_bits(version) + 11 * (length // 2) + 6 * (length % 2)
        if needed <= limits[version]:
            return version
    raise ValueError("text too long for a QR code at error correction M")


def _data_codewords(text: str, version: int, capacity_bits: int) -> bytes:
    values = [_ALPHANUMERIC_VALUE[ch] for ch in text]
    acc = (_MODE_ALPHANUMERIC << _count_bits(version)) | len(text)
    bits = 4 + _count_bits(version)
    for i in range(0, len(values) - 1, 2):
        acc = (acc << 11) | (values[i] * 45 + values[i + 1])
    bits += 11 * (len(values) // 2)
    if len(values) % 2:
        acc = (acc << 6) | values[-1]
        bits += 6
    terminator = min(4, capacity_bits - bits)
    acc <<= terminator
    bits += terminator
    acc <<= -bits % 8
    bits += -bits % 8
    data = acc.to_bytes(bits // 8, "big")
    padding = bytes(_PAD_BYTES[i % 2] for i in range(capacity_bits // 8 - len(data)))
    return data + padding


@lru_cache(maxsize=64)
def _generator_products(ec_count: int) -> tuple[int, ...]:
    """``products[f]``: the generator polynomial (leading term dropped) times ``f``, packed."""
    generator = [1]  # coefficients, highest degree first
    for i in range(ec_count):
        root = base.EXP_TABLE[i % 255]
        nxt = [*generator, 0]
        for j, coef in enumerate(generator):
            if coef:
                nxt[j + 1] ^= base.EXP_TABLE[(base.LOG_TABLE[coef] + base.LOG_TABLE[root]) % 255]
        generator = nxt
    tail = generator[1:]
    products = [0]
    for factor in range(1, 256):
        lf = base.LOG_TABLE[factor]
        packed = 0
        for coef in tail:
            packed = (packed << 8) | (
                base.EXP_TABLE[(lf + base.LOG_TABLE[coef]) % 255] if coef else 0
            )
        products.append(packed)
    return tuple(products)


def _parity(block: bytes, ec_count: int) -> bytes:
    products = _generator_products(ec_count)
    shift = 8 * (ec_count - 1)
    keep = (1 << (8 * ec_count)) - 1
    remainder = 0
    for byte in block:
        remainder = ((remainder << 8) & keep) ^ products[byte ^ (remainder >> shift)]
    return remainder.to_bytes(ec_count, "big")


def _codewords(text: str, version: int) -> bytes:
    blocks = base.rs_blocks(version, _EC_M)
    data = _data_codewords(text, version, 8 * sum(b.data_count for b in blocks))
    data_blocks: list[bytes] = []
    ec_blocks: list[bytes] = []
    offset = 0
    for block in blocks:
        chunk = data[offset : offset + block.data_count]
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_parity(chunk, block.total_count - block.data_count))
    out = bytearray()
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return bytes(out)


def _rows_of(modules: list[list[bool | None]]) -> tuple[int, ...]:
    return tuple(int("".join("1" if m else "0" for m in row), 2) for row in modules)


@dataclass(frozen=True, slots=True)
class _VersionTemplate:
    size: int
    placement: tuple[int, ...]  # flat bit index of each codeword bit, in placement order
    scoring: tuple[tuple[int, ...], ...]  # per mask: function patterns (blank format) + mask
    final: tuple[tuple[int, ...], ...]  # per mask: function patterns + format/version + mask


@lru_cache(maxsize=40)
def _template(version: int) -> _VersionTemplate:
    size = version * 4 + 17
    qr = QRCode(version=version, error_correction=_EC_M, border=0)
    qr.modules_count = size
    qr.modules = [[None] * size for _ in range(size)]
    qr.setup_position_probe_pattern(0, 0)
    qr.setup_position_probe_pattern(size - 7, 0)
    qr.setup_position_probe_pattern(0, size - 7)
    qr.setup_position_adjust_pattern()
    qr.setup_timing_pattern()
    qr.setup_type_info(True, 0)
    if version >= 7:
        qr.setup_type_number(True)
    free = qr.modules
    placement: list[int] = []
    # The zigzag of ISO/IEC 18004 7.7.3 (as qrcode's map_data walks it).
    upward = True
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for row in rows:
            for col in (right, right - 1):
                if free[row][col] is None:
                    placement.append((size - 1 - row) * size + (size - 1 - col))
        upward = not upward
    scoring: list[tuple[int, ...]] = []
    final: list[tuple[int, ...]] = []
    for mask in range(8):
        qr.data_cache = []  # no data: data modules show the bare mask
        qr.makeImpl(True, mask)
        scoring.append(_rows_of(qr.modules))
        qr.makeImpl(False, mask)
        final.append(_rows_of(qr.modules))
    return _VersionTemplate(size, tuple(placement), tuple(scoring), tuple(final))


def _penalty(rows: tuple[int, ...], size: int) -> int:
    """The mask penalty exactly as ``qrcode.util.lost_point`` scores it."""
    texts = [format(r, f"0{size}b") for r in rows]
    columns = ["".join(col) for col in zip(*texts, strict=True)]
    lines = "\n".join(texts) + "\n" + "\n".join(columns)
    runs = _RUN.findall(lines)
    score = sum(map(len, runs)) - 2 * len(runs)
    score += 40 * len(_FINDER_LIKE.findall(lines))
    inner = (1 << (size - 1)) - 1
    blocks = 0
    for upper, lower in itertools.pairwise(rows):
        same_vertical = ~(upper ^ lower)
        same_horizontal = ~(upper ^ (upper >> 1))
        blocks += (same_vertical & (same_vertical >> 1) & same_horizontal & inner).bit_count()
    score += 3 * blocks
    dark = sum(r.bit_count() for r in rows)
    percent = float(dark) / (size**2)
    return score + int(abs(percent * 100 - 50) / 5) * 10


def qr_version(text: str) -> int:
    """The QR version ``text`` needs at error correction M (alphanumeric mode)."""
    return _fit_version(len(text))


def encode_matrix(text: str) -> QrMatrix:
    """The QR symbol for ``text`` (QR alphanumeric characters only) at error correction M.

    Raises ``ValueError`` for other characters or text too long for any version.
    """
    if not set(text) <= _ALPHANUMERIC_VALUE.keys():
        raise ValueError("QR payload must use the QR alphanumeric character set")
    version = _fit_version(len(text))
    template = _template(version)
    size = template.size
    codewords = _codewords(text, version)
    total_bits = 8 * len(codewords)
    bits = int.from_bytes(codewords, "big")
    placement = template.placement
    flat = 0
    for i in range(total_bits):
        if bits >> (total_bits - 1 - i) & 1:
            flat |= 1 << placement[i]
    row_mask = (1 << size) - 1
    data_rows = [(flat >> ((size - 1 - r) * size)) & row_mask for r in range(size)]
    best_mask, best_score = 0, -1
    for mask in range(8):
        candidate = tuple(d ^ t for d, t in zip(data_rows, template.scoring[mask], strict=True))
        score = _penalty(candidate, size)
        if best_score < 0 or score < best_score:
            best_mask, best_score = mask, score
    rows = tuple(d ^ t for d, t in zip(data_rows, template.final[best_mask], strict=True))
    return QrMatrix(version, best_mask, size, rows)


def phone_box_size(matrix: QrMatrix) -> int:
    """Pixels per module so that the whole code is about 640 px wide (a phone screen)."""
    return max(4, _PHONE_WIDTH_PX // (matrix.size + 2 * QUIET_ZONE))


def render_png(text: str, *, box_size: int | None = None) -> bytes:
    """PNG (1 bit per pixel) of the QR code for ``text`` with a 4-module quiet zone."""
    matrix = encode_matrix(text)
    box = box_size or phone_box_size(matrix)
    width = matrix.size + 2 * QUIET_ZONE
    light = (1 << width) - 1
    pad = -width % 8
    row_bytes = (width + pad) // 8
    blank = (light << pad).to_bytes(row_bytes, "big")
    packed = bytearray(blank * QUIET_ZONE)
    for row in matrix.rows:  # in mode "1" a set bit is white
        packed += ((light ^ (row << QUIET_ZONE)) << pad).to_bytes(row_bytes, "big")
    packed += blank * QUIET_ZONE
    image = Image.frombytes("1", (width, width), bytes(packed))
    image = image.resize((width * box, width * box), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_svg(text: str, *, box_size: int | None = None) -> str:
    """SVG of the QR code for ``text``: one path of dark runs on a white square."""
    matrix = encode_matrix(text)
    box = box_size or phone_box_size(matrix)
    width = matrix.size + 2 * QUIET_ZONE
    parts: list[str] = []
    for r, row in enumerate(matrix.rows):
        line = format(row, f"0{matrix.size}b")
        y = r + QUIET_ZONE
        for run in re.finditer("1+", line):
            n = run.end() - run.start()
            parts.append(f"M{run.start() + QUIET_ZONE} {y}h{n}v1h-{n}z")
    pixels = width * box
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" '
        f'viewBox="0 0 {width} {width}" shape-rendering="crispEdges">'
        f'<rect width="{width}" height="{width}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>\n'
    )
