"""A minimal HTTP/1.1 load generator for the benchmarks: keep-alive connections, each sending
pre-encoded requests one after another, so the driver (which shares the machine's cores with the
server) takes as little CPU as it can and its own scheduling adds no latency tail.

``drive`` sends a fixed list of requests as fast as the server answers. For a timed, mixed load
(``benchmarks/mixed.py``): a ``Connection`` gives up on a request after a client timeout (no
answer) and reconnects, ``paced`` spaces a client's requests, and a ``Tally`` counts answers by
status code and latencies per route."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get_request(path: str, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of one ``GET path``."""
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    return (head + "\r\n").encode()


def post_request(
    path: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> bytes:
    """The bytes of one ``POST path`` with ``body`` (JSON unless ``content_type`` says else)."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """Send ``request``, read the answer: (status, body, whether the server keeps the
    connection open)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    keep_alive = True
    for line in head.split(b"\r\n"):
        name = line[:16].lower()
        if name.startswith(b"content-length:"):
            length = int(line[15:])
        elif name.startswith(b"connection:"):
            keep_alive = line[11:].strip().lower() != b"close"
    return status, await reader.readexactly(length), keep_alive


async def drive(
    port: int, requests: Iterable[bytes], clients: int, expect: int
) -> tuple[float, list[float]]:
    """Send ``requests`` over ``clients`` connections to 127.0.0.1:``port``; returns (seconds,
    latencies). Raises ``SystemExit`` if any answer's status is not ``expect``."""
    latencies: list[float] = []
    failures: list[str] = []
    queue = iter(requests)

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in queue:
                start = time.perf_counter()
                status, body, _ = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - start)
                if status != expect:
                    failures.append(f"{status} {body[:200]!r}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return elapsed, latencies


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``sorted_values`` lie (nearest rank)."""
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


class Connection:
    """One keep-alive connection to 127.0.0.1:``port``, opened on first use. A request that gets
    no answer within ``timeout`` seconds (or whose connection drops) gives ``None``; the
    connection is then closed, so a late answer cannot be read as the next request's, and the
    next request opens a new one."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, request: bytes) -> tuple[int, bytes] | None:
        """The answer's (status, body), or ``None`` for no answer."""
        try:
            async with asyncio.timeout(self.timeout):
                if self._streams is None:
                    self._streams = await asyncio.open_connection("127.0.0.1", self.port)
                status, body, keep_alive = await _exchange(*self._streams, request)
        except (TimeoutError, OSError, EOFError, asyncio.LimitOverrunError, ValueError):
            self.close()
            return None
        if not keep_alive:
            self.close()
        return status, body

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def paced(rate: float, deadline: float) -> AsyncIterator[None]:
    """Yield until ``deadline`` (``time.monotonic()``), at most ``rate`` times a second (0: as
    often as the caller comes back). The first tick comes after a random part of the interval,
    so clients started together do not send in lockstep; a late caller is not made up for with a
    burst."""
    interval = 1 / rate if rate > 0 else 0.0
    due = time.monotonic() + random.uniform(0, interval)
    while True:
        now = time.monotonic()
        if now < due:
            await asyncio.sleep(due - now)
            now = due
        if now >= deadline:
            return
        yield
        due = max(due + interval, time.monotonic())


@dataclass
class RouteTally:
    """What one route answered: counts by status code, requests with no answer, and the
    latencies (seconds) of the answered ones."""

    answers: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.answers.values()) + self.no_answer

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.answers.items() if status >= 500)

    def p99_ms(self) -> float | None:
        return percentile(sorted(self.latencies), 0.99) * 1000 if self.latencies else None


class Tally:
    """Per route (a label such as ``POST /verify``): answers, no-answers and latencies."""

    def __init__(self, routes: Iterable[str] = ()) -> None:
        """``routes``: labels listed first in the table, in this order, even if never sent."""
        self.routes: dict[str, RouteTally] = {route: RouteTally() for route in routes}

    async def send(
        self, route: str, connection: Connection, request: bytes
    ) -> tuple[int, bytes] | None:
        """Send ``request`` on ``connection`` and count its answer (or its absence) under
        ``route``."""
        tally = self.routes.setdefault(route, RouteTally())
        start = time.perf_counter()
        answer = await connection.send(request)
        if answer is None:
            tally.no_answer += 1
        else:
            tally.answers[answer[0]] += 1
            tally.latencies.append(time.perf_counter() - start)
        return answer

    def table(self) -> list[str]:
        """One line per route: requests, answers by status, no answer, p50 and p99 (ms, of the
        answered requests)."""
        lines = [
            f"{'route':42} {'requests':>8}  {'answers by status':24} {'no answer':>9} "
            f"{'p50 ms':>8} {'p99 ms':>8}"
        ]
        for route, tally in self.routes.items():
            answers = " ".join(f"{status}:{n}" for status, n in sorted(tally.answers.items()))
            ordered = sorted(tally.latencies)
            p50 = f"{percentile(ordered, 0.50) * 1000:8.1f}" if ordered else f"{'-':>8}"
            p99 = f"{percentile(ordered, 0.99) * 1000:8.1f}" if ordered else f"{'-':>8}"
            lines.append(
                f"{route:42} {tally.requests:8d}  {answers or '-':24} {tally.no_answer:9d} "
                f"{p50} {p99}"
            )
        return lines
