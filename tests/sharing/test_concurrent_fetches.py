"""Fetches racing each other, black box: a real ``elicence serve --workers 2`` on SQLite, each
client on a connection of its own (the kernel spreads them over both workers' sockets), all
released at once by a barrier.

- A one-time consent fetched by 16 clients at once gives exactly one 200 and 15 ``consent_used``
  403s, and exactly one access in the citizen's log (the spend is one ``UPDATE`` in the writer,
  which both worker processes share through the writer lock).
- A standing consent revoked while clients fetch refuses every fetch that starts after the
  revocation's answer, and the citizen's log counts exactly the fetches answered 200.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._postgres import free_port
from tests._served import (
    DEPARTMENT,
    ELICENCE_INLINE,
    LICENCE_TYPE,
    Served,
    driving_licence,
    id_number,
    run_cli,
    service_env,
)

WORKERS = 2
CLIENTS = 16
ROUNDS = 3
PURPOSE = {
    "code": "ACCOUNT_OPENING",
    "text_zh": "开立个人账户核验驾驶证",
    "text_en": "Opening a personal account: driving licence check",
    "licence_types": [f"{DEPARTMENT}/{LICENCE_TYPE}"],
    "fields": ["holder_name", "valid_until"],
    "max_days": 30,
}


class World:
    """The served registry with a licence, a citizen signed in and a bank."""

    def __init__(self, served: Served) -> None:
        self.served = served
        department_key = served.prepare_department()
        self.party_key = served.prepare_relying_party("CITY_BANK", PURPOSE)
        self.http = httpx.Client(base_url=served.url, timeout=60)
        self.id_number = id_number(7)
        issued = self.http.post(
            "/issuer/licences",
            json=driving_licence(self.id_number),
            headers={"Authorization": f"Bearer {department_key}"},
        )
        assert issued.status_code == 201, issued.text
        token = self.http.post("/wallet/dev/token", data={"id_number": self.id_number})
        assert token.status_code == 200, token.text
        self.citizen = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def consent(self, **ask: Any) -> str:
        body = {
            "id_number": self.id_number,
            "purpose": PURPOSE["code"],
            "licence_types": PURPOSE["licence_types"],
            "fields": PURPOSE["fields"],
            **ask,
        }
        party = {"Authorization": f"Bearer {self.party_key}"}
        request = self.http.post("/sharing/requests", json=body, headers=party)
        assert request.status_code == 201, request.text
        approved = self.http.post(
            f"/wallet/sharing/requests/{request.json()['id']}/approve", headers=self.citizen
        )
        assert approved.status_code == 200, approved.text
        consent_id: str = approved.json()["consent_id"]
        return consent_id

    def fetches_logged(self, consent_id: str) -> int:
        log = self.http.get("/wallet/sharing/access-log", headers=self.citizen)
        assert log.status_code == 200, log.text
        return sum(1 for a in log.json()["accesses"] if a["consent_id"] == consent_id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("served") / "data"
    env = service_env(data_dir, ELICENCE_ENVIRONMENT="development", ELICENCE_DEV_IDP="true")
    run_cli(env, "init")
    log = data_dir.parent / "server.log"
    with Served(env, free_port(), WORKERS, log, ELICENCE_INLINE) as served:
        served.wait_ready()
        world = World(served)
        try:
            yield world
        finally:
            world.http.close()
    assert "Traceback" not in Path(log).read_text(errors="replace")


def _race(world: World, consent_id: str, during: Callable[[int], None] | None = None) -> list[Any]:
    """``CLIENTS`` fetches of ``consent_id``, each from a new connection, released together;
    ``during(i)`` runs in client ``i`` right before its fetch. Returns (status, error, sent
    at, answered at) per client."""
    barrier = threading.Barrier(CLIENTS)
    results: list[Any] = [None] * CLIENTS
    headers = {"Authorization": f"Bearer {world.party_key}"}

    def client(i: int) -> None:
        with httpx.Client(base_url=world.served.url, headers=headers, timeout=60) as http:
            http.get("/healthz")  # the connection is open before the race starts
            barrier.wait()
            if during is not None:
                during(i)
            sent = dt.datetime.now(dt.UTC)
            answer = http.get(f"/sharing/consents/{consent_id}/data")
            error = answer.json().get("error") if answer.status_code != 200 else None
            results[i] = (answer.status_code, error, sent, dt.datetime.now(dt.UTC))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in results)
    return results


def test_concurrent_fetches_of_a_one_time_consent_give_exactly_one_200(world: World) -> None:
    for _ in range(ROUNDS):
        consent_id = world.consent(kind="one_time")
        outcomes = sorted((status, error) for status, error, _, _ in _race(world, consent_id))
        assert outcomes == [(200, None)] + [(403, "consent_used")] * (CLIENTS - 1)
        assert world.fetches_logged(consent_id) == 1


def test_a_revocation_during_concurrent_fetches_refuses_every_later_one(world: World) -> None:
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5)).isoformat()
    consent_id = world.consent(kind="standing", until=until)
    revoked_at: list[dt.datetime] = []

    def revoke_halfway(i: int) -> None:
        if i == CLIENTS // 2:
            answer = world.http.post(
                f"/wallet/sharing/consents/{consent_id}/revoke", headers=world.citizen
            )
            assert answer.status_code == 200, answer.text
            revoked_at.append(dt.datetime.now(dt.UTC))

    results = _race(world, consent_id, revoke_halfway)
    (revoked,) = revoked_at
    assert {(status, error) for status, error, _, _ in results} <= {
        (200, None),
        (403, "consent_revoked"),
    }
    # the client that revoked fetched after the revocation's answer: refused, like any later one
    assert all(status == 403 for status, _, sent, _ in results if sent > revoked)
    assert any(status == 403 for status, _, _, _ in results)
    answered = sum(1 for status, _, _, _ in results if status == 200)
    assert world.fetches_logged(consent_id) == answered
    after = httpx.get(
        f"{world.served.url}/sharing/consents/{consent_id}/data",
        headers={"Authorization": f"Bearer {world.party_key}"},
    )
    assert after.status_code == 403 and after.json()["error"] == "consent_revoked"
