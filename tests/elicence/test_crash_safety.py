"""Crash safety of issuance (issue 11, item 4), black box: a real ``elicence serve --workers 2``
on SQLite is killed with SIGKILL (server and workers at once) while several clients issue
licences, each request with its own ``Idempotency-Key``; then restarted. After each crash:

- the database file passes ``PRAGMA integrity_check`` (read straight after the kill);
- every licence that got a 201 is there (``GET /issuer/licences/{id}``) with exactly one
  ``licence.issue`` audit row, and no audit row names a licence that is not there;
- ``elicence audit verify`` finds the hash chain intact;
- retrying every request with its Idempotency-Key gives the same licence (200, replayed) to those
  that landed, whether or not their answer got out, and issues the others (201); no key ever
  holds two licences, and every key tried holds exactly one.

Several rounds in one test: each restart is the next round's server. The server is the
``elicence serve`` command started with ``python -c`` rather than through its console script, so
that a restart takes seconds, not minutes, on a busy machine (see ``tests/_served.py``).
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests._postgres import free_port
from tests._served import (
    ELICENCE,
    ELICENCE_INLINE,
    ROOT,
    Served,
    driving_licence,
    id_number,
    run_cli,
    service_env,
)

ROUNDS = 3
WORKERS = 2
CLIENTS = 6
KILL_AFTER = 12  # licences answered 201 in a round before the kill, so the kill lands mid-load
CLIENT_TIMEOUT = 10


@dataclass
class Attempt:
    """One issuance request and what came back before the crash (``status`` None: no answer)."""

    key: str
    body: dict[str, Any]
    status: int | None = None
    licence: dict[str, Any] | None = None


def _issue_until_killed(
    served: Served, api_key: str, serials: itertools.count[int]
) -> list[Attempt]:
    """Issue from ``CLIENTS`` threads until ``KILL_AFTER`` licences got a 201, SIGKILL the server
    mid-load, and return every attempt made."""
    attempts: list[Attempt] = []
    lock = threading.Lock()
    killed = threading.Event()
    enough = threading.Event()

    def client() -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=served.url, headers=headers, timeout=CLIENT_TIMEOUT) as http:
            while not killed.is_set():
                with lock:
                    attempt = Attempt(uuid.uuid4().hex, driving_licence(id_number(next(serials))))
                    attempts.append(attempt)
                try:
                    answer = http.post(
                        "/issuer/licences",
                        json=attempt.body,
                        headers={"Idempotency-Key": attempt.key},
                    )
                except httpx.TransportError:
                    continue  # no answer: the server is gone (or going)
                attempt.status = answer.status_code
                if answer.status_code != 201:
                    continue
                attempt.licence = answer.json()
                with lock:
                    if sum(a.status == 201 for a in attempts) >= KILL_AFTER:
                        enough.set()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        reached = enough.wait(timeout=120)
    finally:
        killed.set()  # no new request from here on: those in flight meet the kill
        served.kill()
        for thread in threads:
            thread.join(timeout=2 * CLIENT_TIMEOUT)
    assert reached, f"fewer than {KILL_AFTER} licences issued in 120 s:\n{_tail(served.log)}"
    return attempts


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


def _query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


def _integrity_ok(database: Path) -> None:
    assert _query(database, "PRAGMA integrity_check") == [("ok",)]


def _check_after_restart(
    served: Served, api_key: str, database: Path, attempts: list[Attempt], tried: set[str]
) -> None:
    answers = [a for a in attempts if a.status is not None]
    assert all(a.status == 201 for a in answers), [
        (a.status, a.licence) for a in answers if a.status != 201
    ]
    issued = [a for a in attempts if a.status == 201]
    audit = subprocess.Popen(  # the chain check runs while the requests below are answered
        [ELICENCE, "audit", "verify"],
        env=served.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        headers = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=served.url, headers=headers, timeout=CLIENT_TIMEOUT) as http:
            for attempt in issued:
                assert attempt.licence is not None
                stored = http.get(f"/issuer/licences/{attempt.licence['id']}")
                assert stored.status_code == 200, stored.text
                assert stored.json()["number"] == attempt.licence["number"]

            audited = dict(
                _query(
                    database,
                    "SELECT object_id, count(*) FROM audit_entries WHERE act = 'licence.issue' "
                    "GROUP BY object_id",
                )
            )
            stored_ids = {row[0] for row in _query(database, "SELECT id FROM licences")}
            for attempt in issued:
                assert attempt.licence is not None
                assert audited.get(attempt.licence["id"]) == 1
            assert set(audited) == stored_ids  # an audit row for each licence, none for a ghost
            assert all(count == 1 for count in audited.values())

            for attempt in attempts:
                retry = http.post(
                    "/issuer/licences", json=attempt.body, headers={"Idempotency-Key": attempt.key}
                )
                if attempt.licence is not None:
                    assert retry.status_code == 200, retry.text
                    assert retry.headers.get("Idempotent-Replayed") == "true"
                    assert retry.json()["id"] == attempt.licence["id"]
                    assert retry.json()["number"] == attempt.licence["number"]
                else:  # it landed before the kill (200, replayed) or not at all (201, new)
                    assert retry.status_code in (200, 201), retry.text
                    assert (retry.headers.get("Idempotent-Replayed") == "true") == (
                        retry.status_code == 200
                    )
                    assert (retry.status_code == 200) == (retry.json()["id"] in stored_ids)
                tried.add(attempt.key)
        output, _ = audit.communicate(timeout=120)
    finally:
        if audit.poll() is None:
            audit.kill()
            audit.wait()
    assert audit.returncode == 0, output
    assert "chain intact" in output

    per_key = _query(
        database,
        "SELECT idempotency_key, count(*) FROM licences GROUP BY idempotency_key",
    )
    assert all(count == 1 for _, count in per_key), [row for row in per_key if row[1] != 1]
    assert {key for key, _ in per_key} == tried  # every key tried holds exactly one licence


def test_sigkill_during_concurrent_issuance_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    env = service_env(tmp_path / "data")
    database = tmp_path / "data" / "elicence.db"
    log = tmp_path / "server.log"
    run_cli(env, "init")
    served = Served(env, free_port(), WORKERS, log, ELICENCE_INLINE)
    try:
        served.wait_ready()
        api_key = served.prepare_department()
        serials = itertools.count()
        tried: set[str] = set()
        for _ in range(ROUNDS):
            attempts = _issue_until_killed(served, api_key, serials)
            # Clients post back to back, so the kill finds some of them waiting for an answer.
            assert any(a.status is None for a in attempts)
            _integrity_ok(database)  # the file as the crash left it
            served = Served(env, free_port(), WORKERS, log, ELICENCE_INLINE)
            served.wait_ready()
            _check_after_restart(served, api_key, database, attempts, tried)
        _integrity_ok(database)
    except AssertionError as failure:
        failure.add_note(f"server log, last lines:\n{_tail(log)}")
        raise
    finally:
        served.stop()
    assert "Traceback" not in log.read_text(errors="replace")
