"""A real ``elicence serve`` in a subprocess, for tests and benchmarks that need the whole service
as an operator runs it: a data directory made by ``elicence init``, the server in its own process
group (so its workers are stopped, or killed at once, together) with its output in a log file,
and a department with a driving-licence type and an API key made through the admin API. (The admin
API rather than one ``elicence`` command each: a command costs seconds of imports on a busy
machine, a request milliseconds.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from credential import check_character

ROOT = Path(__file__).resolve().parents[1]
ELICENCE = str(Path(sys.executable).parent / "elicence")
# The same ``elicence`` command without its console-script file. uvicorn's workers are spawned
# processes, which first re-import a ``__main__`` that is a file: the console script imports the
# whole command (3.3 s at a load average of 5 on 2 cores, measured), and uvicorn's supervisor kills
# a worker that has not answered its health check within 5 s. On a busy machine a start with
# 2 workers then respawns workers for a minute or more (17 "Child process [N] died" in one test of
# 4 starts). Started with ``-c``, a worker imports only what serving needs.
ELICENCE_INLINE = [sys.executable, "-c", "from elicence.cli import app; app()"]
DEPARTMENT = "TRANSPORT"
LICENCE_TYPE = "DRIVING"


def service_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any ``ELICENCE_*`` variable, plus the data directory, a
    random admin token and ``settings`` (e.g. ``ELICENCE_DEV_IDP="true"``)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELICENCE_")}
    return {
        **env,
        "ELICENCE_DATA_DIR": str(data_dir),
        "ELICENCE_ADMIN_TOKEN": secrets.token_urlsafe(32),
        **settings,
    }


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run ``elicence ARGS``; its stdout. Raises ``RuntimeError`` with its stderr if it fails."""
    done = subprocess.run(
        [ELICENCE, *args], env=env, capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"elicence {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def id_number(serial: int) -> str:
    """A valid resident ID number (GB 11643), a different one for each ``serial`` < 10**7."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=serial // 1000)
    first17 = f"110105{born:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_character(first17)


def driving_licence(holder_id_number: str) -> dict[str, Any]:
    """The body of ``POST /issuer/licences`` for a driving licence of the prepared type."""
    return {
        "licence_type": LICENCE_TYPE,
        "id_number": holder_id_number,
        "holder_name": "张三",
        "fields": {"licence_class": "B", "first_issued": "2020-05-01"},
        "categories": ["B1"],
    }


class Served:
    """``elicence serve --workers N`` on 127.0.0.1:``port``, its output appended to ``log``.
    ``command``: how ``elicence`` is run (the console script, or ``ELICENCE_INLINE``)."""

    def __init__(
        self,
        env: dict[str, str],
        port: int,
        workers: int,
        log: Path,
        command: tuple[str, ...] | list[str] = (ELICENCE,),
    ) -> None:
        self.env = env
        self.port = port
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("ab") as out:
            self._log_start = out.tell()
            self.process = subprocess.Popen(
                [*command, "serve", "--port", str(port), "--workers", str(workers)],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the workers go with it
            )

    def wait_ready(self, timeout: float = 180) -> None:
        """Wait until every worker has started and ``/healthz`` answers; raises ``RuntimeError``
        (with the log's tail) if the server exits or is not ready within ``timeout`` seconds.

        The timeout is long for the console script on a busy machine (see ``ELICENCE_INLINE``)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.log.open("rb") as log:
                log.seek(self._log_start)
                started = log.read().count(b"Application startup complete.")
            if started >= self.workers:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"elicence serve did not start:\n{tail}")
            time.sleep(0.1)

    def prepare_department(self) -> str:
        """Through the admin API: a department with a driving-licence type; its new API key."""
        admin = {"Authorization": f"Bearer {self.env['ELICENCE_ADMIN_TOKEN']}"}
        calls: list[tuple[str, dict[str, Any]]] = [
            ("/issuer/admin/departments", {"code": DEPARTMENT, "name": "Transport bureau"}),
            (
                f"/issuer/admin/departments/{DEPARTMENT}/licence-types",
                {
                    "code": LICENCE_TYPE,
                    "name": "Driving licence",
                    "fields": [
                        {"name": "licence_class", "type": "choice", "choices": ["A", "B", "C"]},
                        {"name": "first_issued", "type": "date"},
                    ],
                    "validity_days": 3650,
                    "categories": ["A1", "B1", "C1"],
                },
            ),
            (f"/issuer/admin/departments/{DEPARTMENT}/api-keys", {}),
        ]
        with httpx.Client(base_url=self.url, headers=admin, timeout=30) as client:
            for path, body in calls:
                answer = client.post(path, json=body)
                if answer.status_code != 201:
                    raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:300]}")
        api_key: str = answer.json()["api_key"]
        return api_key

    def prepare_relying_party(self, code: str, purpose: dict[str, Any]) -> str:
        """Through the admin API: a relying party (a bank) with ``purpose``; its new API key."""
        admin = {"Authorization": f"Bearer {self.env['ELICENCE_ADMIN_TOKEN']}"}
        calls: list[tuple[str, dict[str, Any]]] = [
            (
                "/sharing/admin/relying-parties",
                {"code": code, "name": f"{code} (benchmark)", "kind": "bank", "contact": "-"},
            ),
            (f"/sharing/admin/relying-parties/{code}/purposes", purpose),
            (f"/sharing/admin/relying-parties/{code}/api-keys", {}),
        ]
        with httpx.Client(base_url=self.url, headers=admin, timeout=30) as client:
            for path, body in calls:
                answer = client.post(path, json=body)
                if answer.status_code != 201:
                    raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:300]}")
        api_key: str = answer.json()["api_key"]
        return api_key

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # every process of the group has exited
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the server and its workers at once (a crash), and reap the server."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, grace: float = 15) -> None:
        """SIGTERM the supervisor (it stops its workers, as on a real shutdown); SIGKILL the
        process group if it has not exited after ``grace`` seconds."""
        self.request_stop()
        self.wait_stopped(grace)

    def request_stop(self) -> None:
        """SIGTERM the supervisor, without waiting (``wait_stopped``)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, grace: float = 15) -> None:
        """Wait ``grace`` seconds for the server to exit, then SIGKILL what is left."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        self._signal_group(signal.SIGKILL)  # also any worker left behind by its supervisor
        self.process.wait(timeout=30)

    def output(self) -> str:
        """What this server has written to its log so far."""
        with self.log.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def use_throwaway_postgres(stack: contextlib.ExitStack, env: dict[str, str]) -> str:
    """Point ``env`` at a new database on a throwaway PostgreSQL server on 127.0.0.1 with
    PostgreSQL's own durability settings (a benchmark measures what production pays), stopped
    when ``stack`` closes; returns the benchmarks' description of it."""
    from tests._postgres import running_postgres

    server = stack.enter_context(running_postgres(durable=True))
    server.create_database("bench")
    env["ELICENCE_DATABASE_URL"] = server.url("bench")
    return "PostgreSQL (throwaway server on 127.0.0.1, fsync and synchronous commit on)"


def throwaway_registry(
    stack: contextlib.ExitStack, prefix: str, *, postgres: bool = False, **settings: str
) -> tuple[Path, dict[str, str], str]:
    """A new registry for a benchmark, removed when ``stack`` closes: a temporary data directory,
    the development identity provider on, ``settings`` (``ELICENCE_...``), SQLite or a throwaway
    PostgreSQL, ``elicence init`` run. Returns (data directory, environment, description)."""
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
    env = service_env(
        data_dir, ELICENCE_ENVIRONMENT="development", ELICENCE_DEV_IDP="true", **settings
    )
    database = "SQLite (embedded default)"
    if postgres:
        database = use_throwaway_postgres(stack, env)
    run_cli(env, "init")
    return data_dir, env, database
