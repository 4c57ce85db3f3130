"""A minimal HTTP/1.1 load generator for the benchmarks: keep-alive connections, each sending
pre-encoded requests one after another, so the driver (which shares the machine's cores with the
server) takes as little CPU as it can and its own scheduling adds no latency tail."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterable


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


def post_request(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of one ``POST path`` with a JSON ``body``."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


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
                status, body = await _exchange(reader, writer, request)
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
