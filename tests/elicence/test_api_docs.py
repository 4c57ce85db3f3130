"""``/docs`` is served with its assets from the project: no external host.

(``tests/pages/test_api_docs_browser.py`` loads ``/docs`` in Chromium with the network cut.)
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from elicence.app import DOCS_ASSETS, create_app
from registry.settings import Settings


class _Links(HTMLParser):
    """Every ``src`` and ``href`` in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    # The pages and their assets need no database: the app is not started (no lifespan).
    settings = Settings(environment="development", data_dir=tmp_path_factory.mktemp("docs"))
    return TestClient(create_app(settings))


def test_docs_page_uses_only_assets_served_here(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    links = _Links()
    links.feed(r.text)
    assert {Path(url).name for url in links.urls} == {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon.png",
    }
    for url in links.urls:
        assert not urlsplit(url).netloc, url
        assert url.startswith(f"{DOCS_ASSETS}/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    # Nothing else on the page names a host either (fonts, a validator badge, a CDN).
    assert re.findall(r"(?:https?:)?//[\w.-]+", r.text) == []
    assert client.get("/openapi.json").status_code == 200


def test_docs_assets_have_their_media_types(client: TestClient) -> None:
    expected = {
        "swagger-ui-bundle.js": "text/javascript",
        "swagger-ui.css": "text/css",
        "favicon.png": "image/png",
    }
    for name, media_type in expected.items():
        r = client.get(f"{DOCS_ASSETS}/{name}")
        assert r.headers["content-type"].split(";")[0] == media_type, name


def test_docs_assets_serve_no_other_path(client: TestClient) -> None:
    for path in ("/../app.py", "/%2e%2e/core.py", "/missing.js"):
        r = client.get(DOCS_ASSETS + path)
        assert r.status_code == 404, path
