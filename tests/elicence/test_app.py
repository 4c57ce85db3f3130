"""create_app over a real SQLite file: /healthz, error shape, one commit per request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credential import errors
from elicence.app import create_app
from registry.database import Database
from registry.errors import NotFound
from registry.migrate import upgrade
from registry.models import Department
from registry.settings import Settings

ID = "11010519491231002X"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.database_url)
    app = create_app(settings)

    @app.get("/test/revoked")
    def revoked() -> None:
        raise errors.Revoked()

    @app.get("/test/malformed")
    def malformed() -> None:
        raise errors.BadBase45()

    @app.get("/test/missing")
    def missing() -> None:
        raise NotFound("no such licence")

    @app.get("/test/count")
    def count(limit: int) -> dict[str, int]:
        return {"limit": limit}

    @app.post("/test/id")
    def id_number(body: dict[str, int]) -> dict[str, int]:
        return body

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    @app.post("/test/departments/{code}")
    async def add_department(
        code: str, request: Request, fail: bool = False, flush: bool = True
    ) -> dict[str, str]:
        def work(session: Session) -> dict[str, str]:
            session.add(Department(code=code, name=code))
            if flush:
                session.flush()
            if fail:
                raise errors.MalformedPayload("refused after the insert")
            return {"code": code}

        database: Database = request.app.state.context.database
        return await database.write(work)

    @app.get("/test/departments")
    def departments(request: Request) -> dict[str, int]:
        with request.app.state.context.database.reading() as session:
            return {"count": session.scalar(select(func.count()).select_from(Department)) or 0}

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # The app runs in TestClient's own thread and loop (an event loop of the test's thread would
    # collide with a session-wide Playwright browser another test may have started).
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_healthz(client: TestClient, app: FastAPI, tmp_path: Path) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert (tmp_path / "elicence.db").exists()
    context = app.state.context
    assert context.database.dialect == "sqlite"
    assert len(context.key_secret) == 32
    # Made at start-up, once: every service's runtime shares the one database.
    assert app.state.issuer.database is context.database is app.state.wallet.database
    assert "key_secret" not in repr(context)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/test/revoked", 422, "revoked"),
        ("/test/malformed", 400, "bad_base45"),
        ("/test/missing", 404, "not_found"),
        ("/no/such/route", 404, "not_found"),
    ],
)
def test_errors_render_code_and_detail(
    client: TestClient, path: str, status: int, code: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert body["detail"]


def test_validation_error_is_422_without_echoing_input(client: TestClient) -> None:
    response = client.get("/test/count", params={"limit": ID})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "limit" in body["detail"]
    assert ID not in response.text
    response = client.post("/test/id", content=b"{not json")
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_unexpected_error_is_500_without_traceback(client: TestClient) -> None:
    response = client.get("/test/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "internal error"}
    assert "secret internals" not in response.text


def test_request_commits_once_and_rolls_back_on_error(client: TestClient) -> None:
    assert (client.post("/test/departments/transport")).status_code == 200
    refused = client.post("/test/departments/market", params={"fail": "true"})
    assert refused.status_code == 400
    assert (client.get("/test/departments")).json() == {"count": 1}
    # Not flushed: the unique code fails at the commit after the endpoint returned, and the
    # client still learns of it (the commit happens before the response is sent).
    duplicate = client.post("/test/departments/transport", params={"flush": "false"})
    assert duplicate.status_code == 500
    assert duplicate.json()["error"] == "internal_error"
    assert (client.get("/test/departments")).json() == {"count": 1}
