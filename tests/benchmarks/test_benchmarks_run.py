"""The benchmark scripts still run end to end (tiny counts): the speed figures the issues ask for
come from them, so a change that breaks one must fail here rather than in the next measurement.
The figures themselves are not asserted (shared machines are noisy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELICENCE_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        (
            "issue.py",
            ("--count", "100", "--clients", "4", "--workers", "1"),
            (
                *("throughput", "latency p99", "raw ES256 sign", "goal"),
                *("issuance (SM2 department key)", "raw SM2   sign", "SM2 next to ES256"),
            ),
        ),
        pytest.param(
            "issue.py",
            ("--count", "50", "--clients", "4", "--workers", "1", "--postgres", "--alg", "ES256"),
            ("PostgreSQL", "throughput", "latency p99"),
            marks=pytest.mark.postgres,
        ),
        (
            "mixed.py",
            (
                *("--seconds", "2", "--workers", "1", "--holders", "2", "--timeout", "3"),
                *("--counters", "1", "--issuers", "1", "--changers", "1", "--citizens", "1"),
            ),
            ("SQLite", "POST /verify", "/revoke", "no answer", "Traceback lines", "goal:"),
        ),
        pytest.param(
            "mixed.py",
            (
                *("--seconds", "2", "--workers", "1", "--holders", "2", "--timeout", "3"),
                *("--counters", "1", "--issuers", "1", "--changers", "1", "--citizens", "1"),
                "--postgres",
            ),
            ("PostgreSQL", "POST /verify", "/revoke", "no answer", "Traceback lines", "goal:"),
            marks=pytest.mark.postgres,
        ),
        (
            "sharing.py",
            ("--count", "60", "--holders", "2", "--clients", "4", "--workers", "1"),
            ("consented fetches", "fetches/s", "latency p99", "raw floor", "ratio", "goal"),
        ),
        pytest.param(
            "sharing.py",
            ("--count", "40", "--holders", "2", "--clients", "4", "--workers", "1", "--postgres"),
            ("PostgreSQL", "fetches/s", "ratio"),
            marks=pytest.mark.postgres,
        ),
        (
            "import.py",
            ("--count", "300"),
            ("licences/s", "peak RSS", "raw floor", "ratio", "goal"),
        ),
        pytest.param(
            "import.py",
            ("--count", "200", "--postgres"),
            ("PostgreSQL", "licences/s", "ratio"),
            marks=pytest.mark.postgres,
        ),
        pytest.param(
            "scale.py",
            ("--count", "3000", "--holders", "3", "--samples", "20", "--workers", "1"),
            ("3,000 licences", "copied in SQL", "/wallet/licences", "/search", "floor", "goal:"),
            marks=pytest.mark.postgres,
        ),
        (
            "verify.py",
            ("--count", "100", "--requests", "100", "--concurrency", "4"),
            (
                "compiled with mypyc: ",
                *("[ES256] raw floor", "holder key loaded", "% of the floor", "POST /verify"),
                *("[SM2] raw floor", "[SM2] verify_payload", "SM2 next to ES256"),
                *("SD-JWT VC + KB-JWT", "verify_payload from the bundle", "reference library"),
            ),
        ),
        (
            "verify_sd_jwt.py",
            ("--count", "20", "--rounds", "1"),
            ("raw floor", "verify_sd_jwt_vc", "reference library", "of the floor", "goal"),
        ),
        (
            "verify_online.py",
            ("--requests", "100", "--clients", "4", "--holders", "2", "--presentations", "20"),
            ("library floor", "HTTP floor", "of both floors", "goal:"),
        ),
        (
            "wallet_qr.py",
            ("--rounds", "5", "--requests", "40", "--concurrency", "4"),
            ("wallet_api PNG", "wallet_api SVG", "GET .../presentation"),
        ),
    ],
)
def test_benchmark_runs(script: str, args: tuple[str, ...], expected: tuple[str, ...]) -> None:
    output = _run(script, *args)
    for text in expected:
        assert text in output, output
