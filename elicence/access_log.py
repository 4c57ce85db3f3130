"""The access log of ``elicence serve``: a line per answered request on standard output, as
uvicorn prints its own (``INFO:     127.0.0.1:40312 - "GET /healthz HTTP/1.1" 200``), written
by a thread of its own a few times a second instead of by the request.

Why not uvicorn's: its line is a ``logging`` record made, formatted and flushed to standard output
while the request is answered. That cost 90-120 us of server CPU per ``POST /verify`` here, a
sixth of the request (one worker, probe reading the server's CPU from ``/proc``, alternating runs
with ``--access-log`` and ``--no-access-log``: 628-665 vs 527-569 us). Here a request only
appends its line to a list; ``LineWriter`` writes what gathered every ``FLUSH_SECONDS`` and when
the app shuts down. What a ``kill -9`` can lose is the last ``FLUSH_SECONDS`` of lines, as with
nginx's buffered ``access_log``. Each write is whole lines of at most ``PIPE_BUF`` bytes, so the
lines of several workers on one pipe or file never mix.

The line holds what uvicorn's holds (client address, method, path with its query, HTTP version,
status) and nothing else: no header, no body.
"""

from __future__ import annotations

import sys
import threading
import urllib.parse
from collections.abc import Callable
from typing import TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FLUSH_SECONDS = 0.25
# Writes of at most this many bytes to a pipe are never interleaved with other writers' (POSIX).
_CHUNK_BYTES = 4096


class LineWriter:
    """Lines handed to ``add`` written to ``stream`` by a daemon thread every ``interval``
    seconds (started with the first line), and by ``flush``."""

    def __init__(
        self, stream: Callable[[], TextIO] = lambda: sys.stdout, interval: float = FLUSH_SECONDS
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._lines: list[str] = []
        self._write_lock = threading.Lock()
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def add(self, line: str) -> None:
        """Queue ``line`` (without its newline): ``list.append``, atomic under the GIL."""
        self._lines.append(line)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        """Write every queued line now."""
        with self._write_lock:
            lines, self._lines = self._lines, []
            if not lines:
                return
            stream = self._stream()
            chunk: list[str] = []
            size = 0
            for line in lines:
                if chunk and size + len(line) + 1 > _CHUNK_BYTES:
                    stream.write("".join(chunk))
                    stream.flush()
                    chunk, size = [], 0
                chunk.append(line + "\n")
                size += len(line) + 1
            stream.write("".join(chunk))
            stream.flush()

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()


def access_line(scope: Scope, status: int) -> str:
    """uvicorn's access line for a request of ``scope`` answered with ``status``."""
    client = scope.get("client")
    address = f"{client[0]}:{client[1]}" if client else "-"
    path = urllib.parse.quote(scope.get("root_path", "") + scope["path"])
    if scope.get("query_string"):
        path = f"{path}?{scope['query_string'].decode('ascii')}"
    return f'INFO:     {address} - "{scope["method"]} {path} HTTP/{scope["http_version"]}" {status}'


class AccessLog:
    """ASGI middleware: each answered HTTP request's ``access_line`` to ``writer``, which is
    written out for the last time when the app's lifespan ends."""

    def __init__(self, app: ASGIApp, writer: LineWriter | None = None) -> None:
        self.app = app
        self.writer = writer or LineWriter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            try:
                await self.app(scope, receive, send)
            finally:
                self.writer.close()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, logged)
        finally:
            if status:  # nothing was answered (the client went away): nothing to log
                self.writer.add(access_line(scope, status))
