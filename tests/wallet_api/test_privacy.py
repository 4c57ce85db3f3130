"""Privacy: a whole wallet session served by a real uvicorn on 127.0.0.1, with every log record
captured (root logger at DEBUG: uvicorn, httpx, SQLAlchemy, the app). No log line and no
response carries a full ID number, except the holder's own licence detail."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.wallet_api.conftest import (
    BAD_CHECK_DIGIT,
    ID_NUMBERS,
    LI,
    ZHANG,
    Wallet,
    driving_licence,
)


@pytest.fixture
def served(wallet: Wallet) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        wallet.app,
        host="127.0.0.1",
        port=port,
        log_level="debug",
        access_log=True,
        log_config=None,  # keep uvicorn's loggers propagating to the root logger's capture
    )
    # Another test in this process may have run uvicorn with its default logging config, which
    # stops uvicorn's loggers propagating (and may disable them): undo that for the capture.
    saved = {}
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        saved[name] = (logger.propagate, logger.disabled, logger.level)
        logger.propagate, logger.disabled = True, False
        logger.setLevel(logging.DEBUG)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        for name, (propagate, disabled, level) in saved.items():
            logger = logging.getLogger(name)
            logger.propagate, logger.disabled = propagate, disabled
            logger.setLevel(level)


def test_no_id_number_in_logs_or_responses(
    wallet: Wallet, served: str, no_id_number_in_logs: logging.Handler
) -> None:
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # SQL and its parameters too
    try:
        mine = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
        theirs = wallet.issue("TRANSPORT", **driving_licence(LI, holder_name="李四"))
        wallet.revoke("TRANSPORT", theirs, "holder_request")
        responses: list[httpx.Response] = []
        detail: list[httpx.Response] = []
        with httpx.Client(base_url=served, timeout=10) as client:
            token = client.post("/wallet/dev/token", data={"id_number": ZHANG}).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}
            other = client.post("/wallet/dev/token", data={"id_number": LI}).json()
            other_auth = {"Authorization": f"Bearer {other['access_token']}"}
            responses.append(client.post("/wallet/dev/token", data={"id_number": BAD_CHECK_DIGIT}))
            for path in (
                "/wallet/licences",
                f"/wallet/licences/{mine}/presentation",
                f"/wallet/licences/{mine}/presentation?challenge=ABC",
                f"/wallet/licences/{mine}/qr?mode=static",
                f"/wallet/licences/{mine}/qr.png",
                f"/wallet/licences/{mine}/qr.svg?mode=static",
                f"/wallet/licences/{mine}/checks",
                f"/wallet/licences/{theirs}",
                f"/wallet/licences/{theirs}/presentation",
            ):
                responses.append(client.get(path, headers=auth))
            responses.append(client.get(f"/wallet/licences/{theirs}/qr", headers=other_auth))
            responses.append(client.get("/wallet/licences", headers=other_auth))
            responses.append(client.get("/wallet/licences"))
            forged = wallet.token(ZHANG)[:-8] + "AAAAAAAA"
            responses.append(client.get("/wallet/licences", headers={"Authorization": forged}))
            detail.append(client.get(f"/wallet/licences/{mine}", headers=auth))
            detail.append(client.get(f"/wallet/licences/{theirs}", headers=other_auth))
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.NOTSET)

    assert [r.status_code for r in responses] == [
        422, 200, 200, 200, 200, 200, 200, 200, 404, 404, 409, 200, 401, 401,
    ]  # fmt: skip
    for response in responses:
        for number in ID_NUMBERS:
            assert number.encode() not in response.content, response.url
        assert number not in str(response.url)
    assert detail[0].json()["id_number"] == ZHANG and LI not in detail[0].text
    assert detail[1].json()["id_number"] == LI and ZHANG not in detail[1].text

    lines = no_id_number_in_logs.lines  # type: ignore[attr-defined]
    # The capture did see the whole run: uvicorn's access log, httpx and the SQL statements.
    assert any(line.startswith("uvicorn.access") and "/wallet/licences" in line for line in lines)
    assert any(line.startswith("httpx") for line in lines)
    assert any(line.startswith("sqlalchemy.engine") and "id_index" in line for line in lines)
    assert not [line for line in lines for n in ID_NUMBERS if n in line]
