"""Worker processes of ``elicence import --workers N``: the per-row work that needs no database
(checks, ID number encryption, holder key pairs, signing) on the machine's other cores.

The workers are forked before the process opens its database, so the vault and the key boxes,
which refuse pickling by design, reach them as memory, never through a pipe; what crosses the
pipes is plain data (a batch's cells, the key's still-encrypted blob, the signed rows as bytes and
text). Each worker has a pipe of its own and answers its requests in order; the batches go round
the workers and come back in the order they went. A worker ends when its pipe reaches EOF,
which also happens when the importing process dies (kill -9): no worker outlives it, and a
worker writes nothing anywhere.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

Context = TypeVar("Context")

_STOP = object()


class WorkerFailed(RuntimeError):
    """A worker process raised or died: the import stops (what was committed stays)."""


def default_workers() -> int:
    """Worker processes for this machine: one per CPU the process may use, none on one CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cpus if cpus and cpus > 1 else 0


def _serve(
    connection: Connection,
    context: Any,
    handler: Callable[[Any, Any], Any],
    inherited: list[Connection],
) -> None:
    """A worker's life: answer each request in order until the pipe's EOF."""
    # Ctrl-C reaches the whole process group: the importing process handles it and closes the
    # pipes, which ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for other in inherited:  # the parent's ends of the pipes forked into this process
        other.close()
    requests: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def read() -> None:
        # Always reading, so that the parent never blocks on a full pipe while this process
        # blocks sending it an answer.
        try:
            while True:
                requests.put(connection.recv())
        except (EOFError, OSError):
            requests.put(_STOP)

    threading.Thread(target=read, daemon=True).start()
    while (request := requests.get()) is not _STOP:
        try:
            answer: tuple[bool, Any] = (True, handler(context, request))
        except Exception as exc:  # reported to the parent, which raises WorkerFailed
            # the class only: a message could quote a row's values (an ID number)
            answer = (False, type(exc).__name__)
        try:
            connection.send(answer)
        except OSError:
            return  # the parent is gone


class WorkerPool(Generic[Context]):
    """``workers`` processes running ``handler(context, request)``; ``submit`` a request,
    ``result`` the oldest answer not yet taken. Start it before the process opens its database
    (it forks); ``close`` ends the workers."""

    def __init__(
        self, workers: int, context: Context, handler: Callable[[Context, Any], Any]
    ) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        fork = multiprocessing.get_context("fork")
        self._connections: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        try:
            for number in range(workers):
                ours, theirs = fork.Pipe()
                process = fork.Process(
                    target=_serve,
                    args=(theirs, context, handler, [*self._connections, ours]),
                    name=f"elicence-import-{number + 1}",
                    daemon=True,
                )
                process.start()
                theirs.close()
                self._connections.append(ours)
                self._processes.append(process)
        except BaseException:
            self.close()
            raise
        self._sent = 0
        self._received = 0

    @property
    def size(self) -> int:
        return len(self._processes)

    @property
    def pending(self) -> int:
        """Requests submitted whose answer was not taken yet."""
        return self._sent - self._received

    def submit(self, request: Any) -> None:
        connection = self._connections[self._sent % len(self._connections)]
        try:
            connection.send(request)
        except OSError as exc:
            raise WorkerFailed(f"an import worker process is gone ({exc})") from None
        self._sent += 1

    def result(self) -> Any:
        """The answer to the oldest request not answered yet. Raises ``WorkerFailed``."""
        if self._received >= self._sent:
            raise RuntimeError("no request is waiting for its answer")
        connection = self._connections[self._received % len(self._connections)]
        try:
            ok, answer = connection.recv()
        except (EOFError, OSError):
            raise WorkerFailed("an import worker process died") from None
        self._received += 1
        if not ok:
            raise WorkerFailed(f"an import worker process failed: {answer}")
        return answer

    def close(self) -> None:
        """End the workers: their pipes close, they see EOF and exit (killed after 5 s)."""
        for connection in self._connections:
            connection.close()
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        self._connections.clear()
        self._processes.clear()

    def __enter__(self) -> WorkerPool[Context]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
