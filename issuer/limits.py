"""A request body limit, so an oversized upload is refused with 413 before any handler runs."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Routes that stream their body to disk under a limit of their own (``POST /issuer/imports``).
STREAMED_UPLOADS = ("/issuer/imports",)


class BodySizeLimit:
    """ASGI middleware: bodies above ``max_bytes`` under ``paths`` get
    ``413 {"error": "body_too_large"}``.

    A declared ``Content-Length`` is checked before reading; a chunked body is buffered up to
    the limit and replayed to the app, so the app never sees a partial body. ``streamed``: paths
    left to their route, which streams the body to disk under its own limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        paths: tuple[str, ...] = ("/issuer",),
        streamed: tuple[str, ...] = STREAMED_UPLOADS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths
        self.streamed = frozenset(streamed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in ("GET", "HEAD", "OPTIONS")
            or not str(scope.get("path", "")).startswith(self.paths)
            or str(scope.get("path", "")).rstrip("/") in self.streamed
        ):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, max_bytes: int) -> None:
    body: dict[str, Any] = {
        "error": "body_too_large",
        "detail": f"request body exceeds {max_bytes} bytes",
    }
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})
