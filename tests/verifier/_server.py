"""A real HTTP server on 127.0.0.1 serving the issuer's published documents from a dict."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from credential import public_key_to_jwk
from tests.verifier._world import MARKET_STATUS_URI, STATUS_URI, World


class DocumentServer:
    """``documents`` maps a path to the body served with 200; others answer 404."""

    def __init__(self) -> None:
        self.documents: dict[str, str] = {}
        self.requests: list[str] = []
        documents, requests = self.documents, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                body = documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def publish(self, world: World) -> None:
        """Serve what the issuer of ``world`` would serve."""
        self.documents["/root-key"] = json.dumps(public_key_to_jwk(world.root.public_key))
        self.documents["/trust-list"] = world.trust_token()
        self.documents[f"/status-lists/{STATUS_URI}"] = world.status_token()
        self.documents[f"/status-lists/{MARKET_STATUS_URI}"] = world.status_token(MARKET_STATUS_URI)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serving(world: World) -> Iterator[DocumentServer]:
    server = DocumentServer()
    server.publish(world)
    server.start()
    try:
        yield server
    finally:
        server.stop()
