"""Scale check (issue 13 item 10): with ``--count`` licences (default 1,000,000) in PostgreSQL, the
three look-ups that grow with the register stay fast: a citizen's licence list
(``GET /wallet/licences``), a department's search by ID number (``POST /issuer/licences/search``,
the number in the body) and a status-list fetch (``GET /status-lists/{id}``). Goal: p99 under
20 ms each.

How the register is filled: ``--holders`` licences are issued for real over HTTP (signed, a
holder key each, ID numbers blind-indexed and encrypted): these are the citizens the look-ups
ask for. The rest are made inside PostgreSQL in one ``INSERT ... SELECT generate_series`` from a
real licence: a new id, number, record key and a random 64-hex blind index each (so each is
another citizen), and status entries in copies of the department's status list (a
``(list, index)`` pair is unique). Their credentials are copies, so they would not verify; no
look-up measured here reads them, and the register's size and its indexes are what the queries
meet. Importing a million rows for real through ``elicence import`` measures the importer, not
the look-ups (``benchmarks/import.py`` does that).

Printed per look-up: requests, p50 and p99 over HTTP (``--clients`` keep-alive clients against
``elicence serve --workers N``), and in the same run the floor: the look-up's own SQL on a
direct psycopg connection (what any service must spend at least), with the ratio.

    .venv/bin/python benchmarks/scale.py [--count 1000000] [--samples 2000] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _load import Connection, free_port, get_request, percentile, post_request
from mixed import Holder, prepare

from tests._served import (
    Served,
    id_number,
    throwaway_registry,
)

GOAL_P99_MS = 20.0
LIST = "GET /wallet/licences"
SEARCH = "POST /issuer/licences/search"
STATUS = "GET /status-lists/{id}"

# Every column of a copy but its identity comes from the real licence it copies.
_COPIED = (
    "department_id, licence_type_id, holder_name, id_ciphertext, fields, categories, "
    "valid_from, valid_until, issued_at, status, credential, kid"
)


def fill(url: str, count: int) -> tuple[int, float]:
    """Bring the register to ``count`` licences with copies of a real one; (copies, seconds)."""
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=False) as db:
        have = db.execute("SELECT count(*) FROM licences").fetchone()
        assert have is not None
        copies = max(0, count - int(have[0]))
        seed = db.execute(
            "SELECT id, status_list_id FROM licences ORDER BY issued_at LIMIT 1"
        ).fetchone()
        if seed is None or copies == 0:
            return 0, 0.0
        size_row = db.execute("SELECT size FROM status_lists WHERE id = %s", (seed[1],)).fetchone()
        assert size_row is not None
        size = int(size_row[0])
        lists = []
        for _ in range((copies + size - 1) // size):
            made = db.execute(
                "INSERT INTO status_lists (department_id, bits, size, data, version, updated_at) "
                "SELECT department_id, bits, size, data, version, updated_at "
                "FROM status_lists WHERE id = %s RETURNING id",
                (seed[1],),
            ).fetchone()
            assert made is not None
            lists.append(int(made[0]))
        db.execute(
            f"INSERT INTO licences (id, number, id_index, status_list_id, status_index, "
            f"record_key, {_COPIED}) "
            f"SELECT gen_random_uuid()::text, 'SCALE-' || g, "
            f"encode(sha256(convert_to('scale ' || g, 'UTF8')), 'hex'), "
            f"(%(lists)s::int[])[g / %(size)s + 1], g %% %(size)s, 'scale-' || g, {_COPIED} "
            f"FROM licences CROSS JOIN generate_series(0, %(last)s) AS g "
            f"WHERE licences.id = %(seed)s",
            {"lists": lists, "size": size, "last": copies - 1, "seed": seed[0]},
        )
        db.commit()
        db.execute("ANALYZE")
    return copies, time.perf_counter() - start


async def _timed(port: int, requests: list[bytes], clients: int) -> list[float]:
    """Latencies of ``requests`` sent by ``clients`` keep-alive clients; every answer a 200."""
    queue = list(reversed(requests))
    latencies: list[float] = []

    async def client() -> None:
        connection = Connection(port, 30)
        while queue:
            request = queue.pop()
            start = time.perf_counter()
            answer = await connection.send(request)
            if answer is None or answer[0] != 200:
                raise SystemExit(f"a look-up failed: {answer and answer[:2]}")
            latencies.append(time.perf_counter() - start)
        connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return sorted(latencies)


def _floor(url: str, queries: list[tuple[str, tuple[Any, ...]]]) -> list[float]:
    """Latencies of the look-ups' own SQL on one direct connection."""
    latencies = []
    with psycopg.connect(url, autocommit=True) as db:
        for sql, params in queries:
            start = time.perf_counter()
            db.execute(sql, params).fetchall()
            latencies.append(time.perf_counter() - start)
    return sorted(latencies)


def _ms(latencies: list[float], fraction: float) -> float:
    return percentile(latencies, fraction) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="licences in the register")
    parser.add_argument("--holders", type=int, default=200, help="licences issued for real")
    parser.add_argument("--samples", type=int, default=2000, help="look-ups of each kind")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        data_dir, env, database = throwaway_registry(stack, "elicence-sc-", postgres=True)
        raw_url = env["ELICENCE_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        served = stack.enter_context(
            Served(env, free_port(), args.workers, data_dir / "server.log")
        )
        served.wait_ready()
        api_key = served.prepare_department()
        holders, _ = asyncio.run(prepare(served.port, api_key, args.holders, 0, 30))
        copies, seconds = fill(raw_url, args.count)
        with psycopg.connect(raw_url) as db:
            total = db.execute("SELECT count(*) FROM licences").fetchone()
            lists = [r[0] for r in db.execute("SELECT id FROM status_lists ORDER BY id")]
            indexes = {
                number: index
                for number, index in db.execute(
                    "SELECT number, id_index FROM licences WHERE number NOT LIKE 'SCALE-%'"
                )
            }
        assert total is not None
        measured = _measure(served.port, api_key, holders, lists, args)
        floors = _floors(raw_url, list(indexes.values()), lists, args.samples)
        served.stop()
    print(
        f"scale check: {int(total[0]):,} licences in {database} ({args.holders} issued over "
        f"HTTP, {copies:,} copied in SQL in {seconds:.0f} s), {len(lists)} status lists; "
        f"elicence serve --workers {args.workers}, {args.clients} clients, {args.samples} "
        f"look-ups each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"  {'look-up':<32} {'p50 ms':>8} {'p99 ms':>8}   floor (its SQL, direct) p50 / p99 ms")
    shortfalls = []
    for route in (LIST, SEARCH, STATUS):
        latencies, floor = measured[route], floors[route]
        p99 = _ms(latencies, 0.99)
        print(
            f"  {route:<32} {_ms(latencies, 0.5):>8.1f} {p99:>8.1f}   "
            f"{_ms(floor, 0.5):.2f} / {_ms(floor, 0.99):.2f} "
            f"(HTTP p99 = {p99 / max(_ms(floor, 0.99), 1e-3):.0f}x the floor's)"
        )
        if p99 >= GOAL_P99_MS:
            shortfalls.append(f"p99 {p99:.1f} ms on {route}")
    print(
        f"  goal: p99 < {GOAL_P99_MS:g} ms on each look-up: "
        + ("met" if not shortfalls else "NOT met (" + "; ".join(shortfalls) + ")")
    )
    print(json.dumps({route: round(_ms(measured[route], 0.99), 2) for route in measured}))


def _measure(
    port: int, api_key: str, holders: list[Holder], lists: list[int], args: argparse.Namespace
) -> dict[str, list[float]]:
    department = {"Authorization": f"Bearer {api_key}"}
    pick: Callable[[], int] = lambda: random.randrange(len(holders))  # noqa: E731
    kinds: dict[str, list[bytes]] = {LIST: [], SEARCH: [], STATUS: []}
    for _ in range(args.samples):
        holder = pick()
        kinds[LIST].append(get_request("/wallet/licences", holders[holder].auth))
        body = json.dumps({"id_number": id_number(holder)}).encode()
        kinds[SEARCH].append(post_request("/issuer/licences/search", body, department))
        kinds[STATUS].append(get_request(f"/status-lists/{random.choice(lists[:1])}"))
    for requests in kinds.values():  # warm every worker's caches and connections
        asyncio.run(_timed(port, requests[:100], args.clients))
    return {route: asyncio.run(_timed(port, kinds[route], args.clients)) for route in kinds}


def _floors(
    url: str, id_indexes: list[str], lists: list[int], samples: int
) -> dict[str, list[float]]:
    by_index = "SELECT * FROM licences WHERE id_index = %s"
    searches = [(by_index + " AND department_id = 1", (random.choice(id_indexes),))]
    return {
        LIST: _floor(url, [(by_index, (random.choice(id_indexes),)) for _ in range(samples)]),
        SEARCH: _floor(url, searches * samples),
        STATUS: _floor(url, [("SELECT * FROM status_lists WHERE id = %s", (lists[0],))] * samples),
    }


if __name__ == "__main__":
    main()
