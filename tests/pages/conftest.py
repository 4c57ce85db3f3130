"""Fixtures of the page tests: the real app served by uvicorn on 127.0.0.1 over a SQLite file,
a department with an API key and a licence type made through the admin API, and a second
Chromium whose camera plays a video file the test writes (see ``_camera.py``).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import uvicorn

from tests.pages._camera import camera_args, write_y4m

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("ELICENCE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PHONE = {"width": 390, "height": 844}
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


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """``elicence.app.create_app`` served by uvicorn in a thread, on a migrated SQLite file."""
    from elicence.app import create_app
    from registry.migrate import upgrade
    from registry.settings import Settings

    data_dir = tmp_path_factory.mktemp("live-app")
    port = _free_port()
    admin_token = secrets.token_urlsafe(32)
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        environment="development",
        data_dir=data_dir,
        admin_token=admin_token,
        dev_idp=True,
        public_base_url=url,
        presentation_ttl=PRESENTATION_TTL,
    )
    upgrade(settings.database_url)
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start")
        time.sleep(0.05)
    try:
        yield LiveApp(url=url, admin_token=admin_token, data_dir=data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


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
