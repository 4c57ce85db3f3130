"""The input file of a bulk import: CSV (UTF-8, with or without BOM, a header row) or JSON Lines.

``open_source`` reads the file once before anything is imported: its SHA-256 (named in every
audit entry of the import), whether it is UTF-8 text at all, how many lines it has (for the
progress bar), its format and its columns. A file that fails here fails as a whole, before any
row is written. ``SourceFile.rows()`` then streams the rows, one at a time: memory stays flat
whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidRequest

SourceFormat = Literal["csv", "jsonl"]
FORMATS: tuple[SourceFormat, ...] = ("csv", "jsonl")
_SUFFIXES: dict[str, SourceFormat] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_CHUNK = 1 << 20
# ``--map COLUMN=-``: the column is read and ignored.
IGNORED = "-"
# A header cell with a run of 14+ digits is most likely a data row's ID number (a file without a
# header row, or JSON Lines read as CSV): an error message never repeats it.
_LONG_NUMBER = re.compile(r"[0-9]{14,}[0-9Xx]?")


def _names(columns: list[str]) -> str:
    """Header cells for an error message, long numbers hidden."""
    return ", ".join(_LONG_NUMBER.sub("[number]", column) for column in columns)


class BadSourceFile(InvalidRequest):
    """The input file as a whole cannot be imported (format, encoding, columns)."""

    code = "invalid_file"


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record of the file: its (first) line number, its values under the registry's column
    names, and the record as the department wrote it (for the rejects file)."""

    line: int
    values: dict[str, Any]
    original: list[str]
    malformed: str | None = None  # why the record could not even be read as a row

    def __repr__(self) -> str:  # holds an ID number
        return f"SourceRow(line={self.line})"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A checked input file (see ``open_source``)."""

    path: Path
    format: SourceFormat
    sha256: str
    lines: int
    header: list[str]  # CSV: the columns as written; JSON Lines: ["row"]
    mapping: dict[str, str]

    def rows(self) -> Iterator[SourceRow]:
        """The file's records in order (blank lines skipped)."""
        if self.format == "csv":
            yield from self._csv_rows()
        else:
            yield from self._jsonl_rows()

    def _name(self, column: str) -> str:
        return self.mapping.get(column, column)

    def _csv_rows(self) -> Iterator[SourceRow]:
        names = [self._name(c) for c in self.header]
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            while not any(cell.strip() for cell in next(reader)):
                pass  # blank lines before the header
            line = reader.line_num + 1
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield SourceRow(line, {}, [], f"not a CSV record: {exc}")
                    line = reader.line_num + 1
                    continue
                start, line = line, reader.line_num + 1
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                if len(record) != len(names):
                    yield SourceRow(
                        start,
                        {},
                        record,
                        f"the record has {len(record)} values, the header {len(names)} columns",
                    )
                    continue
                values = {
                    name: value
                    for name, value in zip(names, record, strict=True)
                    if name != IGNORED
                }
                yield SourceRow(start, values, record)

    def _jsonl_rows(self) -> Iterator[SourceRow]:
        with self.path.open(encoding="utf-8-sig") as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                original = [text.rstrip("\r\n")]
                try:
                    record = json.loads(text)
                except ValueError as exc:
                    yield SourceRow(number, {}, original, f"not JSON: {_json_problem(exc)}")
                    continue
                if not isinstance(record, dict):
                    yield SourceRow(number, {}, original, "the line is not a JSON object")
                    continue
                values = {
                    self._name(key): value
                    for key, value in record.items()
                    if self._name(key) != IGNORED
                }
                yield SourceRow(number, values, original)


def _json_problem(exc: ValueError) -> str:
    # json's message names a position, never the content.
    return str(exc).split(":")[0]


def _scan(path: Path) -> tuple[str, int, str]:
    """SHA-256, line count and the first non-blank line of ``path``. Raises ``BadSourceFile``
    when it is not UTF-8 text."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    lines = 0
    offset = 0
    first = ""
    last = b"\n"
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    raise BadSourceFile(
                        f"the file is not UTF-8 text (bad byte at offset {offset + exc.start}); "
                        "save it as UTF-8 (CSV UTF-8 in a spreadsheet)"
                    ) from None
                if "\x00" in text:
                    raise BadSourceFile("the file holds NUL characters: not a CSV or JSONL text")
                if not first.strip():
                    first += text[:4096]
                lines += chunk.count(b"\n")
                offset += len(chunk)
                last = chunk[-1:]
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise BadSourceFile("the file is not UTF-8 text (it ends mid-character)") from None
    except OSError as exc:
        raise BadSourceFile(f"cannot read {path.name}: {exc.strerror}") from None
    if last != b"\n":
        lines += 1
    first_line = next((ln for ln in first.lstrip("\ufeff").splitlines() if ln.strip()), "")
    return digest.hexdigest(), lines, first_line


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``COLUMN=FIELD`` pairs as a dict. Raises ``BadSourceFile``."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, field = pair.partition("=")
        if not sep or not column.strip() or not field.strip():
            raise BadSourceFile(f"--map {pair!r}: use COLUMN=FIELD (FIELD - ignores the column)")
        mapping[column.strip()] = field.strip()
    return mapping


def open_source(
    path: Path,
    *,
    mapping: Mapping[str, str],
    known: set[str],
    required: set[str],
    fmt: SourceFormat | None = None,
) -> SourceFile:
    """Check ``path`` as a whole and return it ready to stream.

    ``known``: the column names the import understands; ``required``: those every record needs
    (a CSV header, or the first JSON object, must have them after ``mapping``). Raises
    ``BadSourceFile``: not a file, not UTF-8, empty, neither CSV nor JSON Lines, a header with
    unknown, repeated or missing columns.
    """
    if not path.is_file():
        raise BadSourceFile(f"no such file: {path.name}")
    sha256, lines, first = _scan(path)
    if not first.strip():
        raise BadSourceFile("the file is empty")
    if fmt is None:
        fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        fmt = "jsonl" if first.lstrip().startswith("{") else "csv"
    names = dict(mapping)
    if fmt == "jsonl":
        try:
            record = json.loads(first)
        except ValueError as exc:
            raise BadSourceFile(
                f"not JSON Lines: the first line is not JSON ({_json_problem(exc)})"
            ) from None
        if not isinstance(record, dict):
            raise BadSourceFile("not JSON Lines: the first line is not a JSON object")
        columns: list[str] = [names.get(str(k), str(k)) for k in record]
        header = ["row"]
        lines_of_rows = lines
    else:
        try:
            header = next(csv.reader([first], strict=True))
        except csv.Error as exc:
            raise BadSourceFile(f"not CSV: the header row cannot be read ({exc})") from None
        header = [h.strip() for h in header]
        columns = [names.get(h, h) for h in header]
        repeated = sorted({c for c in columns if c != IGNORED and columns.count(c) > 1})
        if repeated:
            raise BadSourceFile(f"columns repeat in the header: {_names(repeated)}")
        unknown = [h for h, c in zip(header, columns, strict=True) if c not in known | {IGNORED}]
        if unknown:
            raise BadSourceFile(
                f"unknown column(s) {_names(unknown)}: map each to a field with "
                f"--map COLUMN=FIELD or ignore it with --map COLUMN=- (fields: "
                f"{', '.join(sorted(known))})"
            )
        lines_of_rows = max(lines - 1, 0)
    missing = sorted(required - set(columns))
    if missing:
        raise BadSourceFile(f"missing required column(s): {', '.join(missing)}")
    return SourceFile(path, fmt, sha256, lines_of_rows, header, dict(names))
