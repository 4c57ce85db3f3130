"""The landing page at ``/`` and ``GET /pages/verifier-policy``, on the whole app over a real
SQLite file (``create_app`` with its lifespan) and on the pages router alone."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from elicence.app import create_app
from pages import router
from registry.migrate import upgrade
from registry.settings import Settings
from tests._served import run_cli, service_env

PUBLIC_URL = "https://licences.example.gov"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _app(tmp_path: Path, **settings: object) -> FastAPI:
    config = Settings(data_dir=tmp_path, **settings)  # type: ignore[arg-type]
    upgrade(config.database_url)
    return create_app(config)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The whole app on a data directory made by ``elicence init`` (so it has a platform root
    key and serves a trust list)."""
    data_dir = tmp_path_factory.mktemp("landing")
    run_cli(service_env(data_dir), "init")
    app = create_app(Settings(data_dir=data_dir, public_base_url=PUBLIC_URL + "/"))
    with TestClient(app) as client:
        yield client


def test_the_landing_page_links_every_page_the_docs_and_the_health_check(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    links = _Links()
    links.feed(page.text)
    assert set(links.hrefs) == {"/counter", "/wallet", "/console", "/desk", "/docs", "/healthz"}
    for href in links.hrefs:
        assert client.get(href).status_code == 200, href
    # Bilingual: each link's words in Chinese and English.
    assert "证照核验窗口" in page.text and "Licence check counter" in page.text
    assert "接口文档" in page.text and "API documentation" in page.text


def test_the_landing_page_shows_the_public_base_url_counters_sync_from(
    client: TestClient,
) -> None:
    page = client.get("/").text
    assert f'<code id="public-base-url">{PUBLIC_URL}</code>' in page
    assert "{{" not in page


def test_the_public_base_url_is_escaped(tmp_path: Path) -> None:
    with TestClient(_app(tmp_path, public_base_url='https://x.example/?a="<b>')) as client:
        page = client.get("/").text
    assert "https://x.example/?a=&quot;&lt;b&gt;" in page
    assert "<b>" not in page


def test_a_counter_without_registry_settings_shows_where_it_is_served() -> None:
    app = FastAPI()
    app.include_router(router)
    page = TestClient(app).get("/").text
    assert '<code id="public-base-url">http://testserver</code>' in page


def test_the_verifier_policy_is_what_post_verify_applies(client: TestClient) -> None:
    policy = client.get("/pages/verifier-policy")
    assert policy.status_code == 200
    context = client.app.state.verifier_context  # type: ignore[attr-defined]
    assert policy.json() == {
        "max_presentation_age": context.policy.max_presentation_age,
        "presentation_future_skew": context.policy.presentation_future_skew,
        "max_status_age": context.policy.max_status_age,
        "status_ttl": client.app.state.context.settings.status_list_ttl,  # type: ignore[attr-defined]
    }
    assert policy.json()["max_presentation_age"] == 90


def test_the_verifier_policy_of_a_server_that_verifies_nothing_is_a_clear_404() -> None:
    app = FastAPI()
    app.include_router(router)
    answer = TestClient(app).get("/pages/verifier-policy")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
