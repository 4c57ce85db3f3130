"""Per-party rate limits: a token bucket per relying party, in the worker process's memory.

Hand-written (a dozen lines) because the libraries at hand wait instead of refusing:
``aiolimiter.AsyncLimiter`` makes a caller sleep until capacity frees, where a service must
answer 429 at once with how long to wait (``Retry-After``). With ``--workers N`` each process
keeps its own buckets, so a party gets up to N times the rate over all workers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

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


class RateLimiter:
    """``rate`` requests per second per key, bursts of ``burst``."""

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: int) -> None:
        """Spend one request of ``key``. Raises ``RateLimited`` (nothing spent) when none is
        left."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1.0 - tokens) / self.rate)))
            self._buckets[key] = (tokens - 1.0, now)
