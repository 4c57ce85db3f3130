"""No missing glyphs: every character the pages can put on screen (their HTML, scripts and
styles) is drawn by some font installed by ``./scripts/setup``, as fontconfig, which Chromium
asks, reports. The pages use no emoji: the hourglass they once showed had no font here and came
out as a box in screenshots."""

from __future__ import annotations

import shutil
import subprocess
from importlib.resources import files

import pytest

# Chinese text is checked in one question; Noto CJK (fonts-noto-cjk) draws all of it.
_CJK = [(0x3000, 0x303F), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF)]


def _page_characters() -> set[str]:
    static = files("pages") / "static"
    text = "".join(
        entry.read_text("utf-8")
        for entry in static.iterdir()
        if entry.name.endswith((".html", ".js", ".css"))
    )
    return {c for c in text if ord(c) > 0x7E}


def _covered(code_points: list[int]) -> bool:
    """Whether one installed font has every one of these characters."""
    charset = " ".join(f"{cp:x}" for cp in code_points)
    found = subprocess.run(
        ["fc-list", f":charset={charset}", "family"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return bool(found.stdout.strip())


def _is_cjk(c: str) -> bool:
    return any(low <= ord(c) <= high for low, high in _CJK)


@pytest.fixture(scope="module")
def characters() -> set[str]:
    assert shutil.which("fc-list"), "fontconfig's fc-list is missing (Chromium needs fontconfig)"
    return _page_characters()


def test_every_chinese_character_of_the_pages_has_a_font(characters: set[str]) -> None:
    cjk = sorted(ord(c) for c in characters if _is_cjk(c))
    assert len(cjk) > 200  # the pages really are bilingual
    assert _covered(cjk)


def test_every_symbol_of_the_pages_has_a_font(characters: set[str]) -> None:
    symbols = sorted(c for c in characters if not _is_cjk(c))
    assert "✓" in symbols and "✗" in symbols
    missing = [f"U+{ord(c):04X} {c}" for c in symbols if not _covered([ord(c)])]
    assert missing == []


def test_a_character_no_font_has_is_caught() -> None:
    """The check itself: a private-use code point has no font here."""
    assert not _covered([0x10FFFD])
