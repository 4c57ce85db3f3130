"""The pages router: pages and assets served from the package, strict headers, no outside URL,
a label for every control. Runs the router alone in a FastAPI app through TestClient."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pages import router
from pages.routes import STATIC_PREFIX

PAGES = ["/counter", "/wallet", "/wallet/", "/console", "/desk"]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


class _Page(HTMLParser):
    """Collects what the checks below need from one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.style_attributes = 0
        self.handler_attributes: list[str] = []
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self._in_label = 0
        self._script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        for name in ("src", "href"):
            if a.get(name):
                self.urls.append(str(a[name]))
        if "style" in a:
            self.style_attributes += 1
        self.handler_attributes += [name for name in a if name.startswith("on")]
        if tag == "script":
            self._script_without_src = "src" not in a
        if tag == "label":
            self._in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea"):
            self.controls.append({**a, "_wrapped": "yes" if self._in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._in_label -= 1
        if tag == "script":
            self._script_without_src = False

    def handle_data(self, data: str) -> None:
        if self._script_without_src and data.strip():
            self.inline_scripts += 1


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.mark.parametrize("path", PAGES)
def test_page_is_served_bilingual_with_strict_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    page = _parse(response.text)
    assert page.html_lang == "zh-CN"
    # Chinese first, English alongside: the title has both, Chinese before English.
    title = re.search(r"<title>(.*?)</title>", response.text)
    assert title is not None
    assert re.match(r"[\u4e00-\u9fff]", title.group(1))
    assert re.search(r"[A-Za-z]{3,}", title.group(1))


@pytest.mark.parametrize("path", PAGES)
def test_every_script_and_style_comes_from_the_package(client: TestClient, path: str) -> None:
    page = _parse(client.get(path).text)
    assert page.urls, "a page with no scripts or styles is not the page"
    for url in page.urls:
        assert url.startswith(STATIC_PREFIX + "/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(("text/css", "text/javascript"))
    # The CSP forbids inline code; the pages must not rely on it.
    assert page.inline_scripts == 0
    assert page.style_attributes == 0
    assert page.handler_attributes == []


def test_no_asset_reaches_outside_the_origin(client: TestClient) -> None:
    for name in ("common.js", "counter.js", "wallet.js", "console.js", "desk.js", "pages.css"):
        text = client.get(f"{STATIC_PREFIX}/{name}").text
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import", text), name


@pytest.mark.parametrize("path", ["/counter", "/wallet", "/console", "/desk"])
def test_every_control_has_a_label(client: TestClient, path: str) -> None:
    page = _parse(client.get(path).text)
    assert page.controls
    for control in page.controls:
        labelled = (
            control.get("_wrapped")
            or control.get("aria-label")
            or control.get("aria-labelledby")
            or (control.get("id") and control["id"] in page.label_for)
        )
        assert labelled, f"unlabelled control on {path}: {control}"


@pytest.mark.parametrize(
    "name",
    [
        "missing.js",
        "counter.html",  # pages are only served at their own paths
        "..%2Froutes.py",
        "..%2F..%2Fpyproject.toml",
        "%2E%2E%2F__init__.py",
    ],
)
def test_unknown_or_traversing_asset_is_a_clean_404(client: TestClient, name: str) -> None:
    response = client.get(f"{STATIC_PREFIX}/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    # Nothing of a Python or TOML file leaks, whichever router answered.
    assert "import" not in response.text and "[project]" not in response.text


def test_unknown_asset_error_body(client: TestClient) -> None:
    response = client.get(f"{STATIC_PREFIX}/missing.css")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no such page asset"}


def test_only_the_counter_may_use_the_camera(client: TestClient) -> None:
    assert client.get("/counter").headers["permissions-policy"].startswith("camera=(self)")
    assert client.get("/wallet").headers["permissions-policy"].startswith("camera=()")
    assert client.get("/console").headers["permissions-policy"].startswith("camera=()")


def test_the_app_serves_the_pages_beside_the_wallet_api(tmp_path: Path) -> None:
    """In the combined app, /wallet is the citizen page while /wallet/licences stays the API."""
    from elicence.app import create_app
    from registry.migrate import upgrade
    from registry.settings import Settings

    settings = Settings(data_dir=tmp_path)
    upgrade(settings.database_url)
    with TestClient(create_app(settings)) as app_client:
        for path in PAGES:
            response = app_client.get(path, follow_redirects=False)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html"), path
        assert "我的电子证照" in app_client.get("/wallet").text
        api = app_client.get("/wallet/licences")
        assert api.status_code == 401
        assert api.json()["error"] == "missing_token"
