"""The rejects file of an import: one CSV row per rejected record (line number, reason code,
message, then the record as the department wrote it), created mode 0600 since it repeats the
department's own data (ID numbers included). Our messages never hold an ID number."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import IO

REJECTS_HEADER = ["line", "reason", "message"]


class RejectsFile:
    """Written as rows are rejected; created (truncated) when opened, so a rerun's file lists
    that run's rejects only. ``keep``: the length of the file at an import's checkpoint; the
    file is cut back to it and written on (what came after belonged to a batch that was never
    committed)."""

    def __init__(self, path: Path, original_header: list[str], *, keep: int = 0) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if keep == 0 else 0)
        fd = os.open(path, flags, 0o600)
        os.fchmod(fd, 0o600)  # an older file of the same name may have been looser
        if keep:
            os.ftruncate(fd, keep)
            os.lseek(fd, keep, os.SEEK_SET)
        self._handle: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._handle)
        if not keep:
            self._writer.writerow([*REJECTS_HEADER, *original_header])
        self.count = 0
        self._synced = -1  # ``count`` when last put on disk

    def flush(self) -> int:
        """Put what was written on disk (``fsync``, when anything was); the file's length."""
        self._handle.flush()
        if self._synced != self.count:
            os.fsync(self._handle.fileno())
            self._synced = self.count
        return self._handle.tell()

    def __repr__(self) -> str:
        return f"RejectsFile({self.path.name!r}, {self.count} rows)"

    def add(self, line: int, original: list[str], code: str, message: str) -> None:
        self._writer.writerow([line, code, message, *original])
        self.count += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RejectsFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def default_rejects_path(source: Path) -> Path:
    """``FILE.rejects.csv`` next to the input file."""
    return source.with_name(f"{source.name}.rejects.csv")
