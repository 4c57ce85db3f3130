"""A throwaway PostgreSQL server for the test suite.

Starts a private cluster with ``initdb``/``pg_ctl`` in a temporary directory, listening only on
127.0.0.1 on a free port, with unix sockets inside that directory. For the test suite it runs
with fsync, synchronous commit and full-page writes off (a test needs no durability across a power
cut); ``durable=True`` keeps PostgreSQL's own defaults, as a production server has them, for the
benchmarks. It never touches the Debian system cluster. When running as root, the server runs as
the ``postgres`` OS user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

SUPERUSER = "elicence"
PASSWORD = "elicence-test"  # throwaway server on 127.0.0.1, gone after the run


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the server did not start."""


def find_bin_dir() -> Path:
    """Return the newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb``."""
    override = os.environ.get("ELICENCE_TEST_PG_BIN")
    candidates = [override] if override else glob.glob("/usr/lib/postgresql/*/bin")
    usable = [Path(c) for c in candidates if (Path(c) / "initdb").exists()]
    if not usable:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
            "run ./scripts/setup"
        )

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in path.parent.name.split(".") if p.isdigit())

    return max(usable, key=version)


def free_port() -> int:
    """Ask the kernel for a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """A running throwaway server; ``url(database)`` gives a SQLAlchemy URL."""

    bin_dir: Path
    base_dir: Path
    port: int
    run_as: str | None
    durable: bool = False

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "sock"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL for ``database`` on this server (``driver="postgresql"`` for psycopg)."""
        return f"{driver}://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(  # fixed binaries, arguments built here
            command, capture_output=True, text=True, check=False, cwd=self.base_dir
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise PostgresUnavailable(
                f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}{log}"
            )

    def start(self) -> None:
        """Create the cluster and start the server; raises ``PostgresUnavailable`` on failure."""
        self.socket_dir.mkdir(mode=0o700)
        password_file = self.base_dir / "pwfile"
        password_file.write_text(PASSWORD + "\n")
        password_file.chmod(0o600)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            for path in (self.base_dir, self.socket_dir, password_file):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._check(
            self._run(
                "initdb",
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(password_file),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ),
            "initdb",
        )
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.socket_dir}",
                *(
                    ()
                    if self.durable
                    else ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
                ),
                "-c max_connections=200",
                "-c shared_buffers=32MB",
            ]
        )
        self._check(
            self._run(
                "pg_ctl",
                "start",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--options",
                options,
                "--wait",
                "--timeout",
                "60",
            ),
            "pg_ctl start",
        )
        self._wait_until_ready()

    def _wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            result = self._run(
                "pg_isready", "--host", "127.0.0.1", "--port", str(self.port), "--timeout", "2"
            )
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                self._check(result, "pg_isready")

    def create_database(self, name: str) -> None:
        """Create database ``name`` owned by the test superuser."""
        with psycopg.connect(self.url("postgres", driver="postgresql"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        """Stop the server immediately (no checkpoint: the data is thrown away)."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "immediate")


@contextlib.contextmanager
def running_postgres(start_attempts: int = 3, *, durable: bool = False) -> Iterator[PostgresServer]:
    """Start a throwaway server, yield it, then stop it and delete its files. ``durable``:
    PostgreSQL's own fsync and commit settings instead of the test suite's fast ones."""
    bin_dir = find_bin_dir()
    run_as = "postgres" if os.geteuid() == 0 else None
    base_dir = Path(tempfile.mkdtemp(prefix="elicence-pg-"))
    server: PostgresServer | None = None
    try:
        if run_as:
            user = pwd.getpwnam(run_as)
            os.chown(base_dir, user.pw_uid, user.pw_gid)
        for attempt in range(start_attempts):
            # Another process may grab the free port between probing and binding: retry afresh.
            attempt_dir = base_dir / f"cluster{attempt}"
            attempt_dir.mkdir()
            server = PostgresServer(bin_dir, attempt_dir, free_port(), run_as, durable)
            try:
                server.start()
                break
            except PostgresUnavailable:
                server.stop()
                if attempt == start_attempts - 1:
                    raise
        assert server is not None
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base_dir, ignore_errors=True)
