"""``elicence serve``: uvicorn, with one listening socket per worker process.

uvicorn's own multi-worker mode binds one socket in the supervisor and every worker accepts on
it. asyncio accepts every waiting connection in one go, so a burst of keep-alive connections
(counters, a proxy's pool, a load test) lands on whichever worker woke first and stays there:
measured with ``benchmarks/mixed.py`` (18 keep-alive clients, 2 workers), one worker had 84% of
the samples and the other 16%, and the busy one's queue set every route's p99. Here each worker
binds its own socket to the same address with ``SO_REUSEPORT``, and the kernel spreads new
connections over them by hash. Everything else (health checks, restarts, signals) stays
uvicorn's supervisor: only the socket each worker serves is its own.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.supervisors import multiprocess

APP = "elicence.serving:served_app"
# How ``serve`` tells the worker processes (which build the app with ``served_app``) to log.
_ACCESS_LOG = "ELICENCE_SERVE_ACCESS_LOG"
# A worker that has not answered the supervisor's ping in time is killed and replaced; uvicorn's
# 5 s is shorter than a start-up on a busy 2-core machine (seen: 13 s), which then loops for
# ever. Answering late is better than never starting.
WORKER_HEALTHCHECK_SECONDS = 60


def _family(config: uvicorn.Config) -> socket.AddressFamily:
    return socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET


def _own_socket(config: uvicorn.Config) -> socket.socket:
    """A listening socket of this worker's own on the configured address (``SO_REUSEPORT``)."""
    sock = socket.socket(family=_family(config))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    sock.listen(config.backlog)
    sock.set_inheritable(True)
    return sock


def _refuse_a_taken_address(config: uvicorn.Config) -> None:
    """Fail at once if something already listens on the address. Sockets with ``SO_REUSEPORT``
    would share it silently with another ``elicence serve`` of the same user; a plain bind does
    not."""
    with socket.socket(family=_family(config)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.host, config.port))
        except OSError as exc:
            where = f"{config.host}:{config.port}"
            raise AddressTaken(f"cannot listen on {where}: {exc.strerror}") from exc


class AddressTaken(Exception):
    """The address ``elicence serve`` was asked to listen on is in use."""


class _OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker that serves a socket of its own instead of the supervisor's."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        super().target([_own_socket(self.config)])


def served_app() -> ASGIApp:
    """The app as ``serve`` serves it: ``create_app()``, with the access log when asked for."""
    from .access_log import AccessLog
    from .app import create_app

    app = create_app()
    return AccessLog(app) if os.environ.get(_ACCESS_LOG) == "1" else app


def serve(host: str, port: int, workers: int, *, access_log: bool = True) -> None:
    """Serve the app on ``host:port`` with ``workers`` processes until told to stop;
    ``access_log``: a line per request on standard output (``elicence.access_log``, in place
    of uvicorn's own)."""
    os.environ[_ACCESS_LOG] = "1" if access_log else "0"  # the workers inherit it
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": False,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, **options)
        return
    config = uvicorn.Config(APP, **options)
    _refuse_a_taken_address(config)
    # uvicorn's supervisor makes its workers by this name; each of ours binds its own socket.
    multiprocess.Process = _OwnSocketProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[]).run()
