"""Consented fetches (授权用证) through the HTTP API: ``GET /sharing/consents/{id}/data`` against a
real ``elicence serve --workers N`` on SQLite (the embedded default), or PostgreSQL
(``--postgres``: a throwaway server on 127.0.0.1).

Set-up: ``elicence init``; through the admin API a department, a driving-licence type, a relying
party (a bank) with a purpose and an API key; ``--holders`` citizens get a licence and a dev
token, the bank asks each for a standing consent and each citizen approves it in the wallet.
Then ``--count`` fetches from ``--clients`` keep-alive clients, round-robin over the consents;
every fetch reads the consent and licences, signs a package with the platform root key and
records the access through the writer (group commit) before answering.

Prints fetches/s and p50/p99 latency, and the raw floor measured in the same run: signing the
same package payload with an ES256 key in this process (one core), with the ratio of the two.
Also the server's CPU time per fetch (every ``elicence serve`` process, from ``/proc``): on a
shared machine throughput follows the others' load, CPU per fetch much less so.
The issue's goal: at least 1,000 fetches/s and p99 under 50 ms with 16 clients and 2 workers on
SQLite. Per-party rate limits are raised out of the way (``ELICENCE_RELYING_PARTY_RATE``).

    .venv/bin/python benchmarks/sharing.py [--count 5000] [--clients 16] [--workers 2]
        [--holders 64] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from _load import Connection, drive, free_port, get_request, percentile, post_request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from credential import sign_data_package
from keys import LocalSigner, generate_signing_key
from tests._served import (
    DEPARTMENT,
    LICENCE_TYPE,
    Served,
    driving_licence,
    id_number,
    throwaway_registry,
)

GOAL_FETCHES, GOAL_P99_MS, GOAL_CLIENTS, GOAL_WORKERS = 1000, 50.0, 16, 2
PARTY = "BENCH_BANK"
PURPOSE = {
    "code": "ACCOUNT_OPENING",
    "text_zh": "开立个人账户核验驾驶证",
    "text_en": "Opening a personal account: driving licence check",
    "licence_types": [f"{DEPARTMENT}/{LICENCE_TYPE}"],
    "fields": ["holder_name", "number", "valid_until", "licence_class"],
    "max_days": 30,
}


async def _expect(connection: Connection, request: bytes, status: int) -> dict[str, object]:
    answer = await connection.send(request)
    if answer is None or answer[0] != status:
        got = "no answer" if answer is None else f"{answer[0]} {answer[1][:300]!r}"
        raise SystemExit(f"set-up request failed: {got}")
    document: dict[str, object] = json.loads(answer[1])
    return document


async def prepare_consents(
    port: int, api_key: str, party_key: str, holders: int
) -> tuple[list[str], dict[str, object]]:
    """Per holder: a licence, a dev token, the bank's standing request, the citizen's approval.
    Returns the consent ids and one package's payload (for the floor)."""
    connection = Connection(port, 30)
    department = {"Authorization": f"Bearer {api_key}"}
    party = {"Authorization": f"Bearer {party_key}"}
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 20 * 86400))
    consents = []
    try:
        for n in range(holders):
            number = id_number(n)
            body = json.dumps(driving_licence(number)).encode()
            await _expect(connection, post_request("/issuer/licences", body, department), 201)
            form = urlencode({"id_number": number}).encode()
            token = await _expect(
                connection,
                post_request(
                    "/wallet/dev/token", form, content_type="application/x-www-form-urlencoded"
                ),
                200,
            )
            ask = {
                "id_number": number,
                "purpose": PURPOSE["code"],
                "licence_types": PURPOSE["licence_types"],
                "fields": PURPOSE["fields"],
                "kind": "standing",
                "until": until,
            }
            request = await _expect(
                connection,
                post_request("/sharing/requests", json.dumps(ask).encode(), party),
                201,
            )
            citizen = {"Authorization": f"Bearer {token['access_token']}"}
            approved = await _expect(
                connection,
                post_request(f"/wallet/sharing/requests/{request['id']}/approve", b"", citizen),
                200,
            )
            consents.append(str(approved["consent_id"]))
        sample = await _expect(
            connection, get_request(f"/sharing/consents/{consents[0]}/data", party), 200
        )
    finally:
        connection.close()
    content = sample["content"]
    assert isinstance(content, dict)
    return consents, content


def signing_floor(payload: dict[str, object], seconds: float = 1.0) -> float:
    """Packages signed per second in this process: the same payload, an ES256 key."""
    signer = LocalSigner(generate_signing_key("ES256"))
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sign_data_package(payload, signer)
        n += 1
    return n / (time.perf_counter() - start)


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` and its children so far (Linux ``/proc``;
    ``None`` elsewhere)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ticks = 0
        for process in (pid, *map(int, children)):
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    except OSError:
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=GOAL_CLIENTS)
    parser.add_argument("--workers", type=int, default=GOAL_WORKERS)
    parser.add_argument("--holders", type=int, default=64)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.count < 1 or args.clients < 1 or args.holders < 1:
        parser.error("--count, --clients and --holders must be >= 1")
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        data_dir, env, database = throwaway_registry(
            stack,
            "elicence-share-",
            postgres=args.postgres,
            ELICENCE_RELYING_PARTY_RATE="1000000",
            ELICENCE_RELYING_PARTY_BURST="1000000",
        )
        served = stack.enter_context(
            Served(env, free_port(), args.workers, data_dir / "server.log")
        )
        served.wait_ready()
        api_key = served.prepare_department()
        party_key = served.prepare_relying_party(PARTY, PURPOSE)
        consents, payload = asyncio.run(
            prepare_consents(served.port, api_key, party_key, args.holders)
        )
        party = {"Authorization": f"Bearer {party_key}"}
        requests = [
            get_request(f"/sharing/consents/{consents[n % len(consents)]}/data", party)
            for n in range(args.count)
        ]
        cpu_before = server_cpu_seconds(served.process.pid)
        elapsed, latencies = asyncio.run(drive(served.port, requests, args.clients, 200))
        cpu_after = server_cpu_seconds(served.process.pid)
        load_after = os.getloadavg()[0]
        floor = signing_floor(payload)
        served.stop()
    latencies.sort()
    rate = args.count / elapsed
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    print(
        f"sharing: {args.count} consented fetches, {args.clients} clients, {args.workers} "
        f"workers, {database}, {args.holders} consents; load average before: "
        f"{load_before:.1f}, after: {load_after:.1f}, on {os.cpu_count()} cores"
    )
    print(f"  throughput   {rate:8.0f} fetches/s")
    print(f"  latency p50  {p50:8.1f} ms")
    print(f"  latency p99  {p99:8.1f} ms")
    if cpu_before is not None and cpu_after is not None:
        cpu_ms = (cpu_after - cpu_before) * 1000 / args.count
        print(f"  server CPU   {cpu_ms:8.2f} ms per fetch (every serve process)")
    print(f"  raw floor    {floor:8.0f} packages signed/s (ES256, same payload, one core)")
    print(f"  ratio        {rate / floor:8.2f} of the raw floor")
    met = rate >= GOAL_FETCHES and p99 < GOAL_P99_MS
    print(
        f"  goal: >= {GOAL_FETCHES} fetches/s and p99 < {GOAL_P99_MS:g} ms ({GOAL_CLIENTS} "
        f"clients, {GOAL_WORKERS} workers, SQLite): {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
