"""Issuance throughput through the HTTP API on the embedded default (SQLite in a temp data dir).

Starts the real service (uvicorn on 127.0.0.1, ``--workers`` processes), sets up a department,
a licence type and an API key with the ``elicence`` CLI, then drives ``POST /issuer/licences``
from ``--clients`` concurrent clients for ``--count`` licences (each to a different citizen, so
every request also creates a holder key). Prints licences/s, p50/p99 latency and the raw signing
rate of the department key's algorithm measured in the same run. ``--postgres`` runs the same
against a throwaway PostgreSQL server on 127.0.0.1 (the issue's goal is for the embedded default).

``--alg`` (repeatable; by default ES256 and then SM2 in the same run, against the same server)
gives each algorithm a department of its own whose signing key is of that algorithm; the SM2
figures print next to the ES256 ones.

    .venv/bin/python benchmarks/issue.py [--alg ES256|SM2] [--count 3000] [--clients 16]
        [--workers 2] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _load import drive, free_port, percentile, post_request

from credential import check_character
from keys import LocalSigner, generate_signing_key

ROOT = Path(__file__).resolve().parent.parent
ELICENCE = [str(Path(sys.executable).parent / "elicence")]


def random_id_number(rng: random.Random) -> str:
    first17 = (
        "110105"
        + f"{rng.randint(1950, 2005):04d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        + f"{rng.randint(0, 999):03d}"
    )
    return first17 + check_character(first17)


def run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*ELICENCE, *args], env=env, capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"elicence {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


ALGS = ("ES256", "SM2")


def signing_rate(alg: str = "ES256", seconds: float = 1.0) -> float:
    signer = LocalSigner(generate_signing_key(alg))
    data = secrets.token_bytes(300)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            signer.sign(data)
        n += 200
    return n / (time.perf_counter() - start)


def department_code(alg: str) -> str:
    return "TRANSPORT" if alg == "ES256" else f"TRANSPORT_{alg}"


def licence_requests(api_key: str, count: int) -> list[bytes]:
    """``count`` issuance requests, each for a different citizen."""
    rng = random.Random(secrets.randbits(32))
    headers = {"Authorization": f"Bearer {api_key}"}
    return [
        post_request(
            "/issuer/licences",
            json.dumps(
                {
                    "licence_type": "DRIVING",
                    "id_number": random_id_number(rng),
                    "holder_name": "张三",
                    "fields": {"licence_class": "B", "first_issued": "2020-05-01"},
                    "categories": ["B1"],
                }
            ).encode(),
            headers,
        )
        for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--alg",
        action="append",
        choices=ALGS,
        help="department key algorithm, repeatable (default: ES256 and SM2 in the same run)",
    )
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL (a throwaway server on 127.0.0.1) instead of the embedded SQLite",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="elicence-bench-"))
        env = {
            **os.environ,
            "ELICENCE_DATA_DIR": data_dir,
            "ELICENCE_ADMIN_TOKEN": secrets.token_urlsafe(32),
        }
        env.pop("ELICENCE_DATABASE_URL", None)
        database = "SQLite (embedded default)"
        if args.postgres:
            sys.path.insert(0, str(ROOT))
            from tests._served import use_throwaway_postgres

            database = use_throwaway_postgres(stack, env)
        run_cli(env, "init")
        algs = list(dict.fromkeys(args.alg or ALGS))
        api_keys = {}
        for alg in algs:
            department = department_code(alg)
            run_cli(
                env, "department", "add", department, "--name", f"Transport bureau ({alg})",
                "--alg", alg,
            )  # fmt: skip
            run_cli(
                env,
                "licence-type",
                "add",
                department,
                "DRIVING",
                "--name",
                "Driving licence",
                "--field",
                "licence_class:choice=A|B|C",
                "--field",
                "first_issued:date",
                "--validity-days",
                "3650",
                "--categories",
                "A1,B1,C1",
            )
            api_keys[alg] = run_cli(env, "department", "key", department).strip().splitlines()[-1]
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "elicence.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 120  # a start-up on a loaded 2-core machine: tens of s
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            results = {}
            for alg in algs:
                warm_up = licence_requests(api_keys[alg], 200)  # caches, pools
                asyncio.run(drive(port, warm_up, args.clients, expect=201))
                requests = licence_requests(api_keys[alg], args.count)
                results[alg] = asyncio.run(drive(port, requests, args.clients, expect=201))
        finally:
            server.terminate()
            server.wait(timeout=30)
    throughputs = {}
    for alg in algs:
        elapsed, latencies = results[alg]
        rate = signing_rate(alg)
        latencies.sort()
        throughput = throughputs[alg] = args.count / elapsed
        p50 = percentile(latencies, 0.50) * 1000
        p99 = percentile(latencies, 0.99) * 1000
        print(
            f"issuance ({alg} department key): {args.count} licences, {args.clients} clients, "
            f"{args.workers} workers, {database}"
        )
        print(f"  throughput     {throughput:8.1f} licences/s")
        print(f"  latency p50    {p50:8.1f} ms")
        print(f"  latency p99    {p99:8.1f} ms")
        print(f"  raw {alg:5} sign {rate:8.0f} signatures/s (one core, same run)")
        print(f"  ratio          {throughput / rate:8.3f} (issuance rate / raw signing rate)")
        if not args.postgres:  # the goal is for the embedded default
            print(
                f"  goal           >= 500 licences/s, p99 < 50 ms: "
                f"{'met' if throughput >= 500 and p99 < 50 else 'NOT met'}"
            )
    if "ES256" in throughputs and "SM2" in throughputs:
        print(
            f"SM2 next to ES256: {throughputs['SM2']:.1f} vs {throughputs['ES256']:.1f} "
            f"licences/s ({throughputs['SM2'] / throughputs['ES256']:.2f}x)"
        )


if __name__ == "__main__":
    main()
