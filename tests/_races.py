"""Two writers racing on PostgreSQL, in a fixed order: the first does its work in a transaction
it keeps open, the second starts and must wait for one of the first's locks, then the first
commits and the second goes on. What each met tells whether the second saw the first's outcome
(a check made before the wait, on a row read without a lock, would not)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import create_engine, text

from registry.database import Database

DONE = "done"


def second_waits_for_first(
    database: Database,
    first: Callable[..., object],
    second: Callable[..., object],
    *,
    timeout: float = 30,
) -> tuple[object, object]:
    """Run ``first`` and then ``second`` (called with ``session=``), each in a write transaction
    of its own; return what
    each met (``DONE`` or the exception it raised). Fails (``AssertionError``) when the second
    never waits for a lock: then the two did not race on one row."""
    outcomes: list[object] = [None, None]
    holding, release = threading.Event(), threading.Event()

    def run(slot: int, work: Callable[..., object], hold: bool) -> None:
        try:
            with database.writing() as session:
                work(session=session)
                if hold:  # done, not yet committed
                    holding.set()
                    if not release.wait(timeout):
                        raise TimeoutError("never released")
            outcomes[slot] = DONE
        except Exception as exc:
            outcomes[slot] = exc
        finally:
            holding.set()

    threads = [
        threading.Thread(target=run, args=(0, first, True)),
        threading.Thread(target=run, args=(1, second, False)),
    ]
    threads[0].start()
    holding.wait(timeout)
    waited = False
    try:
        if outcomes[0] is None:
            threads[1].start()
            # Autocommit: PostgreSQL keeps one snapshot of pg_stat_activity per transaction, so
            # polls inside one transaction would keep seeing the second writer not yet waiting.
            engine = create_engine(database.url, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as watcher:
                    deadline = time.monotonic() + timeout
                    while not waited and outcomes[1] is None and time.monotonic() < deadline:
                        waited = bool(
                            watcher.execute(
                                text(
                                    "SELECT count(*) FROM pg_stat_activity "
                                    "WHERE wait_event_type = 'Lock'"
                                )
                            ).scalar()
                        )
                        time.sleep(0.01)
            finally:
                engine.dispose()
    finally:
        release.set()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(timeout)
    assert outcomes[0] == DONE, f"the first writer failed: {outcomes[0]!r}"
    assert waited, f"the second writer never waited for the first: {outcomes[1]!r}"
    return outcomes[0], outcomes[1]
