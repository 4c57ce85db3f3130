"""The ``elicence`` command: init (idempotent), --help everywhere, root-key, serve."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from credential import b64url, b64url_decode, jwk_thumbprint, jwk_to_public_key
from keys import encode_master_key
from registry.db import make_engine, make_session_factory
from registry.migrate import current_revision, head_revision
from registry.models import SigningKey
from registry.settings import get_settings

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("ELICENCE_"):
            monkeypatch.delenv(name)
    path = tmp_path / "data"
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(path))
    yield path
    get_settings.cache_clear()


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    from elicence.cli import app

    return runner.invoke(app, list(args))


def _snapshot(path: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.iterdir())
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def _root_keys(url: str) -> list[SigningKey]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            from sqlalchemy import select

            return list(session.scalars(select(SigningKey)).all())
    finally:
        engine.dispose()


def test_init_twice(data_dir: Path) -> None:
    first = _invoke("init")
    assert first.exit_code == 0, first.output
    assert "created data directory" in first.output
    assert "created master key file" in first.output
    assert "migrated the database" in first.output
    assert "created platform root key" in first.output
    key_file = data_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    url = f"sqlite:///{data_dir}/elicence.db"
    assert current_revision(url) == head_revision()
    keys = _root_keys(url)
    assert [(k.department_id, k.alg, k.state) for k in keys] == [(None, "ES256", "active")]
    before = _snapshot(data_dir)

    second = _invoke("init")
    assert second.exit_code == 0, second.output
    assert second.output.startswith("Nothing to do")
    assert keys[0].kid in second.output
    assert "created" not in second.output
    assert _snapshot(data_dir) == before
    assert len(_root_keys(url)) == 1


def test_init_with_master_key_from_environment_writes_no_key_file(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELICENCE_MASTER_KEY", encode_master_key(os.urandom(32)))
    result = _invoke("init")
    assert result.exit_code == 0, result.output
    assert not (data_dir / "master.key").exists()
    assert "master key" not in result.output


def test_init_refuses_loose_master_key_file(data_dir: Path) -> None:
    assert _invoke("init").exit_code == 0
    (data_dir / "master.key").chmod(0o644)
    result = _invoke("init")
    assert result.exit_code == 1
    assert "0644" in result.output
    assert "Traceback" not in result.output


def test_production_without_master_key_is_a_clear_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELICENCE_ENVIRONMENT", "production")
    result = _invoke("init")
    assert result.exit_code == 1
    assert "ELICENCE_MASTER_KEY must be set" in result.output
    assert "Traceback" not in result.output
    assert not data_dir.exists()


@pytest.mark.parametrize("command", [[], ["init"], ["serve"], ["root-key"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = _invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    if command == ["serve"]:
        assert "--host" in result.output and "--port" in result.output
        assert "--no-access-log" in result.output


def test_root_key_matches_the_stored_key(data_dir: Path) -> None:
    assert _invoke("init").exit_code == 0
    [stored] = _root_keys(f"sqlite:///{data_dir}/elicence.db")
    expected = b64url(jwk_thumbprint(jwk_to_public_key(stored.public_jwk)))

    result = _invoke("root-key", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document == {"kid": stored.kid, "thumbprint": expected, "jwk": stored.public_jwk}
    assert set(stored.public_jwk) == {"crv", "kty", "x", "y"}  # public members only

    text = _invoke("root-key")
    assert f"thumbprint: {expected}" in text.output
    assert f"kid:        {stored.kid}" in text.output


def test_root_key_before_init_fails_cleanly(data_dir: Path) -> None:
    data_dir.mkdir()
    from registry.migrate import upgrade

    upgrade(f"sqlite:///{data_dir}/elicence.db")
    result = _invoke("root-key")
    assert result.exit_code == 1
    assert "elicence init" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("workers", "access_log"), [(1, "--access-log"), (2, "--access-log"), (2, "--no-access-log")]
)
def test_serve_answers_healthz(data_dir: Path, workers: int, access_log: str) -> None:
    assert _invoke("init").exit_code == 0
    port = _free_port()
    env = {**os.environ, "ELICENCE_DATA_DIR": str(data_dir)}
    elicence = str(Path(sys.executable).parent / "elicence")
    process = subprocess.Popen(
        [elicence, "serve", "--port", str(port), "--workers", str(workers), access_log],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "server exited early"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.json() == {"status": "ok"}
        deadline = time.monotonic() + 120
        while workers > 1 and len(_worker_pids(process.pid)) < workers:
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.1)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"Serving on http://127.0.0.1:{port}" in output
    assert output.count("Application startup complete") == workers
    logged = '"GET /healthz HTTP/1.1" 200' in output
    assert logged is (access_log == "--access-log"), output


def test_two_workers_each_take_a_share_of_a_burst_of_keep_alive_connections(
    data_dir: Path,
) -> None:
    """24 keep-alive connections opened at once (a proxy's pool, a room of counters) reach both
    workers: each has a socket of its own (``SO_REUSEPORT``), so one worker cannot accept the
    whole burst while the other idles. (All 24 on one worker by chance: 1 in 8 million.)"""
    assert _invoke("init").exit_code == 0
    port = _free_port()
    env = {**os.environ, "ELICENCE_DATA_DIR": str(data_dir)}
    elicence = str(Path(sys.executable).parent / "elicence")
    process = subprocess.Popen(
        [elicence, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connections: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 120
        while len(_worker_pids(process.pid)) < 2 or not _answers_healthz(port):
            assert process.poll() is None, "server exited early"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(24)]
        for connection in connections:  # a request on each: accepted and answered, kept alive
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for connection in connections:
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        held = {
            pid: len(_established(int(pid), port))
            for pid in _worker_pids(process.pid)
            if b"multiprocessing-fork" in Path(f"/proc/{pid}/cmdline").read_bytes()  # a worker
        }
    finally:
        for connection in connections:
            connection.close()
        process.terminate()
        process.wait(timeout=30)
    assert len(held) == 2, held
    assert sum(held.values()) == 24, held
    assert all(count > 0 for count in held.values()), held


def test_serve_refuses_an_address_in_use(data_dir: Path) -> None:
    """Another program listens on the port: ``serve --workers 2`` says so and exits 1, instead
    of sharing the port or restarting workers for ever."""
    assert _invoke("init").exit_code == 0
    env = {**os.environ, "ELICENCE_DATA_DIR": str(data_dir)}
    elicence = str(Path(sys.executable).parent / "elicence")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [elicence, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def _answers_healthz(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _established(pid: int, port: int) -> set[str]:
    """Socket inodes of ``pid`` that are established TCP connections to local ``port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
            inodes.add(fields[9])
    mine = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:[") and target[8:-1] in inodes:
                mine.add(target[8:-1])
    return mine


def _worker_pids(parent: int) -> list[str]:
    children = Path(f"/proc/{parent}/task/{parent}/children")
    return children.read_text().split() if children.exists() else []


def test_init_makes_an_sm2_platform_root_that_signs_the_trust_list(data_dir: Path) -> None:
    """``init --alg SM2``: the root key is SM2, ``root-key`` shows its JWK, and the trust list
    the service publishes is signed with it (and verifies with that JWK only)."""
    from fastapi.testclient import TestClient

    from credential import read_trust_list
    from elicence.app import create_app

    result = _invoke("init", "--alg", "SM2")
    assert result.exit_code == 0, result.output
    assert "(SM2)" in result.output
    [stored] = _root_keys(f"sqlite:///{data_dir}/elicence.db")
    assert (stored.department_id, stored.alg) == (None, "SM2")
    shown = json.loads(_invoke("root-key", "--json").output)
    assert shown["jwk"]["crv"] == "SM2"
    get_settings.cache_clear()
    with TestClient(create_app(get_settings())) as client:
        token = client.get("/trust-list").text
    assert json.loads(b64url_decode(token.split(".")[0]))["alg"] == "SM2"
    read_trust_list(token, jwk_to_public_key(shown["jwk"]))  # raises unless it verifies
    # run again: nothing to do, the SM2 root stays; another algorithm is refused, nothing changes
    again = _invoke("init", "--alg", "SM2")
    assert again.exit_code == 0 and again.output.startswith("Nothing to do"), again.output
    assert "SM2" in again.output
    other = _invoke("init", "--alg", "ES256")
    assert other.exit_code == 1 and "Traceback" not in other.output
    assert stored.kid in other.output and "SM2, not ES256" in other.output
    assert [(k.kid, k.alg) for k in _root_keys(f"sqlite:///{data_dir}/elicence.db")] == [
        (stored.kid, "SM2")
    ]


@pytest.mark.parametrize("alg", ["RSA-1024", "sm2", "ED448", ""])
def test_init_refuses_an_unknown_algorithm_by_its_name_and_makes_nothing(
    data_dir: Path, alg: str
) -> None:
    result = _invoke("init", "--alg", alg)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"unknown signature algorithm {alg!r}" in result.output
    assert "ES256, EdDSA, SM2" in result.output
    assert not data_dir.exists()  # no directory, key file or database made
