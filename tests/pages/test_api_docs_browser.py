"""The API documentation in a real headless Chromium with every request off this machine
refused, as on a counter or an office network without internet: Swagger UI still renders every
operation, and nothing even tries to reach another host."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from tests.pages.conftest import LiveApp

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
# A bound for a hang, not a speed goal: a busy 2-core machine parses the 1.5 MB bundle slowly.
WAIT_MS = 60_000


def _operation_count(live_app: LiveApp) -> int:
    """Operations as Swagger UI draws them: once under each of their tags (the wallet's sharing
    routes are under "wallet" and "wallet sharing")."""
    document = httpx.get(f"{live_app.url}/openapi.json", timeout=10).json()
    return sum(
        len(operation.get("tags") or ["default"])
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in ("get", "post")
    )


def _offline_page(browser: Browser, refused: list[str]):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and (
            urlsplit(url).hostname not in LOOPBACK
        ):
            refused.append(url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    context.route("**/*", only_loopback)
    return context


def test_swagger_ui_renders_every_operation_offline(browser: Browser, live_app: LiveApp) -> None:
    refused: list[str] = []
    context = _offline_page(browser, refused)
    try:
        page = context.new_page()
        page.goto(f"{live_app.url}/docs")
        operations = page.locator(".opblock")
        operations.first.wait_for()
        assert operations.count() == _operation_count(live_app)
        assert page.locator(".opblock-summary-path", has_text="/issuer/licences/search").count()
        # An operation opens and shows its documented error answers.
        page.locator(".opblock-summary-path", has_text="/verify").first.click()
        page.locator(".responses-table .response-col_status", has_text="415").first.wait_for()
    finally:
        context.close()
    assert refused == []
