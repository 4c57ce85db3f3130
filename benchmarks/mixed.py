"""Mixed load on the whole service (issue 11): counters verifying online while departments issue,
suspend, reinstate and revoke and citizens read their wallets, against a real
``elicence serve --workers N`` on SQLite (the embedded default) or PostgreSQL (``--postgres``: a
throwaway server on 127.0.0.1).

Set-up: ``elicence init``, then through the admin API a department, a driving-licence type and an
API key; the development identity provider is on; ``--holders`` citizens get one licence each and
a dev token (``POST /wallet/dev/token``). Then, for ``--seconds``:

- counters: a scan fetches a fresh presentation of a random holder's licence (as the holder's
  phone does, ``GET /wallet/licences/{id}/presentation``) and posts it to ``POST /verify`` signed
  in as a relying party (its API key) naming its purpose, so the check is recorded for the
  holder (an anonymous scan records nothing);
- issuers: ``POST /issuer/licences`` for a new citizen each time;
- status changers: each suspends then reinstates its own licence, and every third act revokes a
  licence the issuers issued during the run;
- citizens: ``GET /wallet/licences`` and ``GET /wallet/licences/{id}/presentation`` in turn.

Each client acts at most ``--rate`` times a second (0: back to back); every request has a client
timeout (``--timeout``, 10 s) after which it counts as "no answer". Prints per route: requests,
answers by status code, no answers, p50 and p99 of the answered requests; the server log's
"Traceback" and "database is locked" lines; and whether the issue's goal is met (60 s, 2 workers,
on each database: zero 5xx, zero no-answers, zero tracebacks, p99 under 100 ms on every route).

    .venv/bin/python benchmarks/mixed.py [--seconds 60] [--workers 2] [--postgres]
        [--counters 8] [--issuers 4] [--changers 2] [--citizens 4] [--rate 5] [--log FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

from _load import Connection, Tally, free_port, get_request, paced, post_request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests._served import (
    DEPARTMENT,
    LICENCE_TYPE,
    Served,
    driving_licence,
    id_number,
    throwaway_registry,
)

VERIFY = "POST /verify"
ISSUE = "POST /issuer/licences"
SUSPEND = "POST /issuer/licences/{id}/suspend"
REINSTATE = "POST /issuer/licences/{id}/reinstate"
REVOKE = "POST /issuer/licences/{id}/revoke"
LIST = "GET /wallet/licences"
PRESENTATION = "GET /wallet/licences/{id}/presentation"
ROUTES = (VERIFY, PRESENTATION, LIST, ISSUE, SUSPEND, REINSTATE, REVOKE)
EXPECTED = {ISSUE: 201}  # every other route: 200

GOAL_SECONDS, GOAL_WORKERS, GOAL_P99_MS = 60, 2, 100.0
COUNTER_PURPOSE = {
    "code": "IDENTITY_CHECK",
    "text_zh": "柜台核验",
    "text_en": "Identity check at the counter",
    "licence_types": [f"{DEPARTMENT}/{LICENCE_TYPE}"],
    "fields": ["holder_name"],
    "max_days": 1,
}
HOLDER_SERIALS = 0  # ID numbers: holders from here, status changers' from 10_000, issuers' 20_000+
CHANGER_SERIALS = 10_000
ISSUED_SERIALS = 20_000


class Holder:
    """A citizen prepared before the run: one licence and a dev token."""

    def __init__(self, licence_id: str, token: str) -> None:
        self.licence_id = licence_id
        self.auth = {"Authorization": f"Bearer {token}"}


async def _expect(connection: Connection, request: bytes, status: int) -> dict[str, object]:
    answer = await connection.send(request)
    if answer is None or answer[0] != status:
        got = "no answer" if answer is None else f"{answer[0]} {answer[1][:300]!r}"
        raise SystemExit(f"set-up request failed: {got}")
    document: dict[str, object] = json.loads(answer[1])
    return document


def _issue_request(api_key: str, serial: int) -> bytes:
    body = json.dumps(driving_licence(id_number(serial))).encode()
    return post_request("/issuer/licences", body, {"Authorization": f"Bearer {api_key}"})


async def prepare(
    port: int, api_key: str, holders: int, changers: int, timeout: float
) -> tuple[list[Holder], list[str]]:
    """Issue the holders' licences (with their dev tokens) and the status changers' licences."""
    connection = Connection(port, timeout)
    try:
        prepared = []
        for n in range(holders):
            licence = await _expect(connection, _issue_request(api_key, HOLDER_SERIALS + n), 201)
            form = urlencode({"id_number": id_number(HOLDER_SERIALS + n)}).encode()
            request = post_request(
                "/wallet/dev/token", form, content_type="application/x-www-form-urlencoded"
            )
            token = await _expect(connection, request, 200)
            prepared.append(Holder(str(licence["id"]), str(token["access_token"])))
        changed = []
        for n in range(changers):
            licence = await _expect(connection, _issue_request(api_key, CHANGER_SERIALS + n), 201)
            changed.append(str(licence["id"]))
        return prepared, changed
    finally:
        connection.close()


async def run_load(
    port: int,
    api_key: str,
    party_key: str,
    holders: list[Holder],
    changed: list[str],
    args: argparse.Namespace,
) -> tuple[Tally, Counter[str]]:
    """The timed mixed load; returns the per-route tally and the outcomes ``POST /verify`` gave."""
    tally = Tally(ROUTES)
    outcomes: Counter[str] = Counter()
    issued: list[str] = []  # licences the issuers got a 201 for: the status changers revoke them
    serials = itertools.count(ISSUED_SERIALS)
    department = {"Authorization": f"Bearer {api_key}"}
    deadline = time.monotonic() + args.seconds

    def presentation_request(holder: Holder) -> bytes:
        return get_request(f"/wallet/licences/{holder.licence_id}/presentation", holder.auth)

    async def counter(n: int) -> None:
        connection = Connection(port, args.timeout)
        verifier = {"purpose": COUNTER_PURPOSE["code"]}
        signed_in = {"Authorization": f"Bearer {party_key}"}
        async for _ in paced(args.rate, deadline):
            shown = await tally.send(
                PRESENTATION, connection, presentation_request(random.choice(holders))
            )
            if shown is None or shown[0] != 200:
                continue
            body = json.dumps({"payload": json.loads(shown[1])["payload"], "verifier": verifier})
            request = post_request("/verify", body.encode(), signed_in)
            answer = await tally.send(VERIFY, connection, request)
            if answer is not None and answer[0] == 200:
                outcomes[json.loads(answer[1])["outcome"]] += 1
        connection.close()

    async def issuer() -> None:
        connection = Connection(port, args.timeout)
        async for _ in paced(args.rate, deadline):
            answer = await tally.send(ISSUE, connection, _issue_request(api_key, next(serials)))
            if answer is not None and answer[0] == 201:
                issued.append(json.loads(answer[1])["id"])
        connection.close()

    async def status_changer(licence_id: str) -> None:
        connection = Connection(port, args.timeout)
        acts = itertools.cycle(
            [
                (SUSPEND, "suspend", {"reason": "investigation"}),
                (REINSTATE, "reinstate", {"reason": "investigation_closed"}),
                (REVOKE, "revoke", {"reason": "issued_in_error"}),
            ]
        )
        async for _ in paced(args.rate, deadline):
            route, verb, body = next(acts)
            target = licence_id
            if route == REVOKE:
                if not issued:
                    continue
                target = issued.pop()
            request = post_request(
                f"/issuer/licences/{target}/{verb}", json.dumps(body).encode(), department
            )
            await tally.send(route, connection, request)
        connection.close()

    async def citizen() -> None:
        connection = Connection(port, args.timeout)
        lists = itertools.cycle([True, False])
        async for _ in paced(args.rate, deadline):
            holder = random.choice(holders)
            if next(lists):
                await tally.send(LIST, connection, get_request("/wallet/licences", holder.auth))
            else:
                await tally.send(PRESENTATION, connection, presentation_request(holder))
        connection.close()

    await asyncio.gather(
        *(counter(n) for n in range(args.counters)),
        *(issuer() for _ in range(args.issuers)),
        *(status_changer(changed[n]) for n in range(args.changers)),
        *(citizen() for _ in range(args.citizens)),
    )
    return tally, outcomes


def log_lines(log: Path) -> tuple[int, int]:
    """The server log's "Traceback" lines and "database is locked" lines."""
    tracebacks = locked = 0
    with log.open(errors="replace") as lines:
        for line in lines:
            tracebacks += "Traceback" in line
            locked += "database is locked" in line
    return tracebacks, locked


def goal_shortfalls(tally: Tally, tracebacks: int) -> list[str]:
    """What keeps this run from the issue's goal (empty: met)."""
    shortfalls = []
    errors = sum(route.server_errors for route in tally.routes.values())
    no_answers = sum(route.no_answer for route in tally.routes.values())
    if errors:
        shortfalls.append(f"{errors} answers 5xx")
    if no_answers:
        shortfalls.append(f"{no_answers} no answers")
    if tracebacks:
        shortfalls.append(f"{tracebacks} tracebacks")
    for name, route in tally.routes.items():
        p99 = route.p99_ms()
        if p99 is None:
            shortfalls.append(f"no answered request on {name}")
        elif p99 >= GOAL_P99_MS:
            shortfalls.append(f"p99 {p99:.0f} ms on {name}")
    return shortfalls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=GOAL_SECONDS)
    parser.add_argument("--workers", type=int, default=GOAL_WORKERS)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL (a throwaway server on 127.0.0.1) instead of the embedded SQLite",
    )
    parser.add_argument("--counters", type=int, default=8, help="clients verifying online")
    parser.add_argument("--issuers", type=int, default=4, help="clients issuing licences")
    parser.add_argument("--changers", type=int, default=2, help="clients changing status")
    parser.add_argument("--citizens", type=int, default=4, help="clients reading wallets")
    parser.add_argument("--holders", type=int, default=32, help="citizens prepared with a licence")
    parser.add_argument(
        "--rate", type=float, default=5, help="acts per second per client (0: back to back)"
    )
    parser.add_argument("--timeout", type=float, default=10, help="client timeout, seconds")
    parser.add_argument("--log", type=Path, help="keep the server's output in this file")
    args = parser.parse_args()
    if min(args.counters, args.issuers, args.changers, args.citizens) < 0 or args.holders < 1:
        parser.error("client counts must be >= 0 and --holders >= 1")
    # A SIGTERM unwinds like Ctrl-C, so the server is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        # the counters share one relying party: its rate limit is not what is measured
        data_dir, env, database = throwaway_registry(
            stack,
            "elicence-mix-",
            postgres=args.postgres,
            ELICENCE_RELYING_PARTY_RATE="1000000",
            ELICENCE_RELYING_PARTY_BURST="1000000",
        )
        log = args.log or data_dir / "server.log"
        log.write_bytes(b"")
        served = stack.enter_context(Served(env, free_port(), args.workers, log))
        served.wait_ready()
        api_key = served.prepare_department()
        party_key = served.prepare_relying_party("COUNTERS", COUNTER_PURPOSE)
        holders, changed = asyncio.run(
            prepare(served.port, api_key, args.holders, args.changers, args.timeout)
        )
        started = time.monotonic()
        tally, outcomes = asyncio.run(
            run_load(served.port, api_key, party_key, holders, changed, args)
        )
        elapsed = time.monotonic() - started
        served.stop()
        tracebacks, locked = log_lines(log)
    clients = args.counters + args.issuers + args.changers + args.citizens
    print(
        f"mixed load: {elapsed:.1f} s ({args.seconds:g} s of load), {args.workers} workers, "
        f"{database}; {args.counters} counters, {args.issuers} issuers, {args.changers} status "
        f"changers, {args.citizens} citizens ({clients} clients, each at most "
        f"{f'{args.rate:g} acts/s' if args.rate > 0 else 'back to back'}), {args.holders} "
        f"holders, client timeout {args.timeout:g} s; load average before: {load_before:.1f} "
        f"on {os.cpu_count()} cores"
    )
    for line in tally.table():
        print(f"  {line}")
    unexpected = {
        name: {
            status: n for status, n in route.answers.items() if status != EXPECTED.get(name, 200)
        }
        for name, route in tally.routes.items()
    }
    for name, answers in unexpected.items():
        if answers:
            print(f"  unexpected answers on {name}: {answers}")
    print(f"  POST /verify outcomes: {dict(outcomes) or '-'}")
    print(f"  server log: {tracebacks} Traceback lines, {locked} 'database is locked' lines")
    shortfalls = goal_shortfalls(tally, tracebacks)
    settings = (
        ""
        if (args.seconds, args.workers) == (GOAL_SECONDS, GOAL_WORKERS)
        else (f" (this run: {args.seconds:g} s, {args.workers} workers)")
    )
    print(
        f"  goal: {GOAL_SECONDS} s, {GOAL_WORKERS} workers, each database: zero 5xx, zero "
        f"no-answers, zero tracebacks, p99 < {GOAL_P99_MS:g} ms on every route{settings}: "
        + ("met" if not shortfalls else "NOT met")
    )
    for shortfall in shortfalls:
        print(f"    - {shortfall}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the server was stopped on the way out
        sys.exit("interrupted")
