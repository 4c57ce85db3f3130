"""The relying parties' rate limiter on its own: token buckets in a shared file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sharing.limits import SLOTS, RateLimited, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_two_processes_views_spend_one_bucket(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "relying-party-rates"
    first = RateLimiter(rate=1.0, burst=3, path=path, clock=clock)
    second = RateLimiter(rate=1.0, burst=3, path=path, clock=clock)
    try:
        first.take(7)
        second.take(7)
        first.take(7)
        with pytest.raises(RateLimited) as refused:
            second.take(7)
        assert refused.value.retry_after == 1
        second.take(8)  # another party: its own bucket
        clock.now += 1.0  # one request's worth refilled, seen by both
        first.take(7)
        with pytest.raises(RateLimited):
            second.take(7)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        first.close()
        second.close()


def test_a_refused_request_spends_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=0.5, burst=1, clock=clock)
    limiter.take(1)
    for _ in range(5):
        with pytest.raises(RateLimited) as refused:
            limiter.take(1)
        assert refused.value.retry_after == 2
    clock.now += 2.0
    limiter.take(1)


def test_a_full_table_reuses_a_refilled_slot_and_never_resets_a_busy_bucket() -> None:
    """More parties than slots: a slot whose bucket has refilled is reused (forgetting it
    changes nothing); a party that spent its allowance stays refused."""
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.take(1)
    limiter.take(1)  # party 1 has spent everything
    for party in range(2, SLOTS + 1):  # fills every other slot
        limiter.take(party)
    clock.now += 0.5  # party 1 still empty; nobody has refilled yet
    with pytest.raises(RateLimited):
        limiter.take(1)
    clock.now += 1.0  # everyone else (1 spent of 2 at rate 1/s) has refilled
    limiter.take(SLOTS + 1)  # a new party takes a refilled slot
    limiter.take(1)  # party 1 got 1.5 tokens back: one request
    with pytest.raises(RateLimited):
        limiter.take(1)
