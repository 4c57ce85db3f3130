"""Per-party rate limits: a token bucket per relying party, shared by every worker process.

Hand-written because the libraries at hand wait instead of refusing: ``aiolimiter.AsyncLimiter``
makes a caller sleep until capacity frees, where a service must answer 429 at once with how long
to wait (``Retry-After``); and they keep their buckets in one process, where ``elicence serve
--workers N`` spreads a party's connections over N processes (each worker its own socket), which
would give it N times the rate. Here the buckets live in a small memory-mapped file
(``ELICENCE_DATA_DIR/relying-party-rates``, 0600; 1,024 slots of 24 bytes), updated under an
``flock`` of it, so every worker spends from the same bucket. A slot whose bucket has refilled
is as good as empty and is taken by another party when the table is full.
"""

from __future__ import annotations

import fcntl
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from registry.errors import ServiceError


class RateLimited(ServiceError):
    """Too many requests from this relying party: wait ``retry_after`` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests from this relying party; retry after {retry_after} s")
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


_SLOT = struct.Struct("<qdd")  # party id (0: free), tokens, at (CLOCK_MONOTONIC, system-wide)
SLOTS = 1024


class RateLimiter:
    """``rate`` requests per second per key (a party id, > 0), bursts of ``burst``; shared
    through the file at ``path`` by every process that opens it (in-process if ``None``)."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._fd: int | None = None
        size = _SLOT.size * SLOTS
        if path is None:
            self._table: mmap.mmap | bytearray = bytearray(size)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            self._fd = fd
            self._table = mmap.mmap(fd, size)

    def take(self, key: int) -> None:
        """Spend one request of ``key``. Raises ``RateLimited`` (nothing spent) when none is
        left."""
        with self._lock:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                self._take(key, self._clock())
            finally:
                if self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _take(self, key: int, now: float) -> None:
        slot = self._slot(key, now)
        stored, tokens, at = _SLOT.unpack_from(self._table, slot)
        if stored != key:
            tokens, at = float(self.burst), now
        tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate)
        if tokens < 1.0:
            _SLOT.pack_into(self._table, slot, key, tokens, now)
            raise RateLimited(max(1, math.ceil((1.0 - tokens) / self.rate)))
        _SLOT.pack_into(self._table, slot, key, tokens - 1.0, now)

    def _slot(self, key: int, now: float) -> int:
        """The offset of ``key``'s slot: its own, else a free one, else one whose bucket has
        refilled (forgetting it changes nothing), else the one that will refill soonest."""
        start = hash(key) % SLOTS
        reusable, soonest, soonest_at = None, start, math.inf
        for probe in range(SLOTS):
            offset = ((start + probe) % SLOTS) * _SLOT.size
            stored, tokens, at = _SLOT.unpack_from(self._table, offset)
            if stored == key or stored == 0:
                return offset
            refilled_at = at + (self.burst - tokens) / self.rate
            if reusable is None and refilled_at <= now:
                reusable = offset
            if refilled_at < soonest_at:
                soonest, soonest_at = offset, refilled_at
        return reusable if reusable is not None else soonest

    def close(self) -> None:
        if isinstance(self._table, mmap.mmap):
            self._table.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
