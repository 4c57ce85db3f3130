"""Fixtures of the page tests: the real app served by uvicorn on 127.0.0.1 over a SQLite file,
a department with an API key and a licence type made through the admin API, and a second
Chromium whose camera plays a video file the test writes (see ``_camera.py``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from tests.pages._camera import camera_args, write_y4m

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ViewportSize

CHROMIUM = os.environ.get("ELICENCE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PHONE: ViewportSize = {"width": 390, "height": 844}
# How long one presentation QR lives on the wallet page in these tests (the default is 30 s);
# short enough to watch the page refresh it.
PRESENTATION_TTL = 12

BROWSER_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class LiveApp:
    """The served app: its base URL and the admin token of its platform administrator."""

    url: str
    admin_token: str
    data_dir: Path

    def admin(self) -> httpx.Client:
        """An HTTP client speaking as the platform administrator."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=10
        )


@dataclass(frozen=True)
class Department:
    """A department made for a test, with its API key and one licence type."""

    code: str
    name: str
    api_key: str
    licence_type: str
    licence_type_name: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_elicence(data_dir: Path, *args: str) -> str:
    """Run the ``elicence`` command on ``data_dir``; its standard output."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("elicence")), *args],
        env={
            **os.environ,
            "ELICENCE_DATA_DIR": str(data_dir),
            "ELICENCE_ENVIRONMENT": "development",
        },
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on 127.0.0.1 (a free port unless given)."""
    port = port or _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """``elicence.app.create_app`` served by uvicorn in a thread, on a SQLite file made by
    ``elicence init``, with the development identity provider on."""
    from pydantic import SecretStr

    from elicence.app import create_app
    from registry.settings import Settings

    data_dir = tmp_path_factory.mktemp("live-app")
    admin_token = secrets.token_urlsafe(32)
    settings = Settings(
        environment="development",
        data_dir=data_dir,
        admin_token=SecretStr(admin_token),
        dev_idp=True,
        presentation_ttl=PRESENTATION_TTL,
    )
    # `elicence init`, as an operator would run it: schema, master key, platform root key.
    subprocess.run(
        [str(Path(sys.executable).with_name("elicence")), "init"],
        env={
            **os.environ,
            "ELICENCE_DATA_DIR": str(data_dir),
            "ELICENCE_ENVIRONMENT": "development",
        },
        check=True,
        capture_output=True,
        timeout=60,
    )
    app = create_app(settings)
    with serving(app) as url:
        yield LiveApp(url=url, admin_token=admin_token, data_dir=data_dir)


def make_department(live_app: LiveApp, code: str) -> Department:
    """A department with an API key and a driving-licence type, through the admin API."""
    name = "市交通运输局 City Transport Bureau"
    type_name = "机动车驾驶证 Driving licence"
    with live_app.admin() as admin:
        r = admin.post("/issuer/admin/departments", json={"code": code, "name": name})
        assert r.status_code == 201, r.text
        r = admin.post(f"/issuer/admin/departments/{code}/api-keys")
        assert r.status_code == 201, r.text
        api_key = r.json()["api_key"]
        r = admin.post(
            f"/issuer/admin/departments/{code}/licence-types",
            json={
                "code": "DRIVING",
                "name": type_name,
                "validity_days": 3650,
                "categories": ["A1", "B2", "C1"],
                "fields": [
                    {"name": "first_issued", "label": "初次领证日期 First issued", "type": "date"},
                    {"name": "archive_no", "label": "档案编号 Archive number", "type": "text"},
                ],
            },
        )
        assert r.status_code == 201, r.text
    return Department(
        code=code, name=name, api_key=api_key, licence_type="DRIVING", licence_type_name=type_name
    )


def make_party(
    live_app: LiveApp, code: str, name: str, purposes: list[dict[str, Any]], kind: str = "bank"
) -> str:
    """A relying party with ``purposes`` and a new API key, through the admin API."""
    with live_app.admin() as admin:
        r = admin.post(
            "/sharing/admin/relying-parties",
            json={"code": code, "name": name, "kind": kind, "contact": "desk@example.cn"},
        )
        assert r.status_code == 201, r.text
        for purpose in purposes:
            r = admin.post(f"/sharing/admin/relying-parties/{code}/purposes", json=purpose)
            assert r.status_code == 201, r.text
        r = admin.post(f"/sharing/admin/relying-parties/{code}/api-keys")
        assert r.status_code == 201, r.text
        key: str = r.json()["api_key"]
        return key


@contextmanager
def offline_counter(
    live_app: LiveApp,
    bundle_dir: Path,
    port: int | None = None,
    *,
    now: Callable[[], int] | None = None,
) -> Iterator[str]:
    """A counter machine: the verifier alone (no database) serving ``/counter`` and ``/verify``
    from a bundle synced from the live app, pinning the root key ``elicence root-key`` prints.
    Entering it again with the same ``bundle_dir`` and ``port`` is the counter's next sync;
    ``now`` is the counter's clock."""
    from credential import jwk_to_public_key
    from pages import router as pages_router
    from verifier import sync_bundle
    from verifier.api import create_app as create_verifier_app

    # The operator copies the root key printed by `elicence root-key` onto the counter machine.
    printed = run_elicence(live_app.data_dir, "root-key")
    jwk = json.loads(re.search(r"^jwk:\s+(\{.*\})$", printed, re.M).group(1))  # type: ignore[union-attr]
    sync_bundle(source=live_app.url, bundle_dir=bundle_dir, root_key=jwk_to_public_key(jwk))
    app = create_verifier_app(bundle_dir, now=now)
    app.include_router(pages_router)
    with serving(app, port) as url:
        yield url


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    return _free_port()


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The video file the camera browser plays; starts as a blank white picture."""
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    write_y4m(None, path)
    return path


@pytest.fixture(scope="module")
def camera_browser(browser: Browser, camera_file: Path) -> Iterator[Browser]:
    """A second headless Chromium whose camera plays ``camera_file`` (rewrite it to change it)."""
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*sandbox, *BROWSER_ARGS, *camera_args(camera_file)],
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (``tests/artifacts/``, ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
