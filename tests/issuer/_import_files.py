"""Generated import files (存量证照) for the tests and ``benchmarks/import.py``: distinct
citizens with valid GB 11643 ID numbers, a DRIVING type with the fields ``licence_class``
(choice A|B|C), ``first_issued`` (date) and optional ``points`` (int)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from credential import check_character

COLUMNS = [
    "record_key",
    "id_number",
    "holder_name",
    "licence_class",
    "first_issued",
    "points",
    "categories",
    "issued_at",
    "valid_from",
    "valid_until",
    "status",
    "status_reason",
]
_BIRTH = dt.date(1950, 1, 1)


def citizen_id(n: int) -> str:
    """The ``n``-th of 20,000 × 1,000 distinct valid ID numbers."""
    birth = _BIRTH + dt.timedelta(days=n % 20000)
    first17 = f"110105{birth:%Y%m%d}{n // 20000 % 1000:03d}"
    return first17 + check_character(first17)


def licence_row(n: int, **overrides: Any) -> dict[str, Any]:
    """Row ``n`` of a generated file: valid since 2019, until 2029-06-30."""
    row: dict[str, Any] = {
        "record_key": f"D{n:08d}",
        "id_number": citizen_id(n),
        "holder_name": f"持证人{n}",
        "licence_class": "ABC"[n % 3],
        "first_issued": "2019-03-01",
        "points": str(n % 12),
        "categories": "B1",
        "issued_at": "2019-03-01",
        "valid_from": "2019-03-01",
        "valid_until": "2029-06-30",
        "status": "valid",
        "status_reason": "",
    }
    row.update(overrides)
    return row


def rows(count: int, start: int = 0) -> Iterator[dict[str, Any]]:
    for n in range(start, start + count):
        yield licence_row(n)


def write_csv(
    path: Path,
    records: Iterator[dict[str, Any]] | list[dict[str, Any]],
    *,
    bom: bool = False,
    columns: list[str] | None = None,
) -> Path:
    """``records`` as a UTF-8 CSV file with a header row (``bom``: as Excel saves it)."""
    names = columns or COLUMNS
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow(record)
    return path


def write_jsonl(path: Path, records: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Path:
    """``records`` as JSON Lines (points as a number, categories as a list)."""
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            body = {k: v for k, v in record.items() if v != ""}
            if "points" in body:
                body["points"] = int(body["points"])
            if isinstance(body.get("categories"), str):
                body["categories"] = body["categories"].split()
            handle.write(json.dumps(body, ensure_ascii=False) + "\n")
    return path
