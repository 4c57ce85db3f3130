"""``elicence.access_log``: uvicorn's access line, written by a thread of its own in whole lines."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from elicence.access_log import AccessLog, LineWriter, access_line


class Recorded(io.StringIO):
    """A stream that keeps each write apart (and counts flushes)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _scope(**extra: object) -> dict[str, object]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/wallet/licences",
        "root_path": "",
        "query_string": b"",
        "http_version": "1.1",
        "client": ("127.0.0.1", 40312),
        **extra,
    }


def test_the_line_is_uvicorns() -> None:
    assert (
        access_line(_scope(), 200)
        == 'INFO:     127.0.0.1:40312 - "GET /wallet/licences HTTP/1.1" 200'
    )
    assert (
        access_line(_scope(path="/status-lists/a b", query_string=b"x=1", client=None), 404)
        == 'INFO:     - - "GET /status-lists/a%20b?x=1 HTTP/1.1" 404'
    )


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ok")
    def ok() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return app


def test_each_answered_request_is_a_line_written_by_the_thread_and_at_shutdown() -> None:
    stream = Recorded()
    writer = LineWriter(lambda: stream, interval=0.05)
    app = AccessLog(_app(), writer)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/ok?x=1").status_code == 200
        _wait_for(lambda: "/ok?x=1" in stream.getvalue())  # the thread wrote it, no shutdown
        assert client.get("/boom").status_code == 500
        assert client.get("/nowhere").status_code == 404
    lines = stream.getvalue().splitlines()
    assert [line.split('"')[1:] for line in lines] == [
        ["GET /ok?x=1 HTTP/1.1", " 200"],
        ["GET /boom HTTP/1.1", " 500"],
        ["GET /nowhere HTTP/1.1", " 404"],
    ]
    assert all(line.startswith("INFO:     testclient:") for line in lines)
    # the lifespan ended: the thread is gone and nothing is left queued
    assert writer._thread is not None and not writer._thread.is_alive()


def test_a_request_answered_with_nothing_is_not_logged() -> None:
    async def silent(scope: object, receive: object, send: object) -> None:
        return None  # the client went away before an answer

    stream = Recorded()
    writer = LineWriter(lambda: stream, interval=60)
    # a loop of its own in a thread of its own: a browser test earlier in the same process may
    # leave Playwright's loop running in this one
    thread = threading.Thread(
        target=asyncio.run, args=(AccessLog(silent, writer)(_scope(), _no_body, _drop),)
    )
    thread.start()
    thread.join()
    writer.close()
    assert stream.getvalue() == "" and stream.writes == []


async def _no_body() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _drop(message: object) -> None:
    return None


def test_writes_are_whole_lines_of_at_most_4096_bytes() -> None:
    stream = Recorded()
    writer = LineWriter(lambda: stream, interval=60)
    lines = [f"line {n:04d} " + "x" * 90 for n in range(200)]  # 20,000 bytes
    for line in lines:
        writer.add(line)
    writer.close()
    assert len(stream.writes) > 4
    assert all(len(w.encode()) <= 4096 and w.endswith("\n") for w in stream.writes)
    assert stream.getvalue().splitlines() == lines
