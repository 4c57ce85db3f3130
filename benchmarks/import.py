"""Bulk import speed (issue 13 item 9): ``elicence import`` of a generated file of N licences for
N distinct citizens, on SQLite or PostgreSQL.

Prints licences/s, the importing process's peak memory (RSS) against the same command on one
batch (memory must stay flat: streaming, never the whole file), and, measured in the same run,
the raw floor: ES256 signing plus a holder key pair generated per row on one core, with the
ratio of the import rate to it (machines differ in raw crypto speed; the ratio less so). It also
prints both per second of CPU time: on a shared machine the wall-clock figures mostly measure
the wait for a core, the CPU-time ones what the code costs.

    .venv/bin/python benchmarks/import.py --count 200000 [--postgres] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from keys import LocalSigner, generate_signing_key

ROOT = Path(__file__).resolve().parent.parent
ELICENCE = [str(Path(sys.executable).parent / "elicence")]
GOAL_RATE = 5000
GOAL_RATIO = 0.2
GOAL_RSS_MB = 50


def run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*ELICENCE, *args], env=env, capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"elicence {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def floor_rate(seconds: float = 2.0) -> tuple[float, float]:
    """Rows/s of the raw crypto an import cannot avoid: a holder key pair and an ES256
    signature over a credential-sized payload, one core; per second of wall time and per
    second of CPU time."""
    signer = LocalSigner(generate_signing_key("ES256"))
    data = secrets.token_bytes(400)
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            ec.generate_private_key(ec.SECP256R1())
            signer.sign(data)
        n += 100
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def timed_import(
    env: dict[str, str], source: Path, workers: list[str]
) -> tuple[dict[str, object], float, float, float]:
    """(summary, seconds, peak RSS in MB, CPU seconds) of one ``elicence import`` subprocess
    (RSS: the largest of its processes; CPU: all of them, its workers too)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*ELICENCE, "import", "TRANSPORT", "DRIVING", str(source), "--json", *workers],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"elicence import failed: {stderr.strip()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return json.loads(stdout), seconds, usage.ru_maxrss / 1024, cpu  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL (a throwaway server on 127.0.0.1) instead of the embedded SQLite",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="elicence import --workers N (default: the command's own default)",
    )
    args = parser.parse_args()
    workers = [] if args.workers is None else ["--workers", str(args.workers)]
    sys.path.insert(0, str(ROOT))
    from tests.issuer._import_files import rows, write_csv

    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="elicence-bench-")))
        env = {**os.environ, "ELICENCE_DATA_DIR": str(data_dir / "data")}
        env.pop("ELICENCE_DATABASE_URL", None)
        database = "SQLite (embedded default)"
        if args.postgres:
            from tests._served import use_throwaway_postgres

            database = use_throwaway_postgres(stack, env)
        run_cli(env, "init")
        run_cli(env, "department", "add", "TRANSPORT", "--name", "Transport bureau")
        run_cli(
            env,
            "licence-type",
            "add",
            "TRANSPORT",
            "DRIVING",
            "--name",
            "Driving licence",
            "--field",
            "licence_class:choice=A|B|C",
            "--field",
            "first_issued:date",
            "--field",
            "points:int:optional",
            "--validity-days",
            "3650",
            "--categories",
            "A1,B1,C1",
        )
        # One batch first (warms the database; its peak RSS is the baseline), then the file.
        small = write_csv(data_dir / "one-batch.csv", rows(500, start=args.count))
        _, _, baseline_rss, _ = timed_import(env, small, workers)
        source = write_csv(data_dir / "licences.csv", rows(args.count))
        size_mb = source.stat().st_size / 2**20
        summary, seconds, peak_rss, cpu = timed_import(env, source, workers)
    if summary["imported"] != args.count:
        raise SystemExit(f"expected {args.count} imported, got {summary}")
    floor, floor_cpu = floor_rate()
    rate = args.count / seconds
    import_rate = args.count / float(summary["seconds"])  # type: ignore[arg-type]
    growth = peak_rss - baseline_rss
    met = rate >= GOAL_RATE and rate / floor >= GOAL_RATIO and growth <= GOAL_RSS_MB
    print(f"import: {args.count} licences ({size_mb:.1f} MB CSV, distinct citizens), {database}")
    print(f"  workers        {args.workers if args.workers is not None else 'default'}")
    print(f"  throughput     {rate:8.1f} licences/s ({seconds:.1f} s, whole command)")
    print(f"  import loop    {import_rate:8.1f} licences/s (without start-up)")
    print(
        f"  peak RSS       {peak_rss:8.1f} MB (one batch: {baseline_rss:.1f} MB, +{growth:.1f} MB)"
    )
    print(f"  raw floor      {floor:8.0f} rows/s (holder key generation + ES256 sign, one core)")
    print(f"  ratio          {rate / floor:8.3f} (import rate / raw floor)")
    # On a shared machine wall time mostly measures the queue for a core: CPU time does not.
    print(
        f"  CPU time       {args.count / cpu:8.1f} licences per CPU-second ({cpu:.1f} s, whole "
        f"command); floor {floor_cpu:.0f} per CPU-second; ratio {args.count / cpu / floor_cpu:.3f}"
    )
    print(
        f"  goal           >= {GOAL_RATE} licences/s, ratio >= {GOAL_RATIO}, "
        f"RSS growth <= {GOAL_RSS_MB} MB: {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
