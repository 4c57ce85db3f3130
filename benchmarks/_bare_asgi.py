"""The HTTP floor for online benchmarks: a bare ASGI app that reads the request body and answers
a fixed JSON body (``BARE_ANSWER``, the size of a real answer), served by the same uvicorn with
the same defaults as ``elicence serve``. What it costs is what any route pays before doing work.

    BARE_ANSWER='{"outcome": "valid"}' uvicorn _bare_asgi:app --port N --app-dir benchmarks
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

ANSWER = os.environ.get("BARE_ANSWER", '{"outcome": "valid"}').encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})
