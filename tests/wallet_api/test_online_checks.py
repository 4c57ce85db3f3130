"""``POST /verify`` in the combined app: online sources from the registry, and the citizen's
"who checked my licence" list filled only by checks of relying parties signed in with their API
key and naming one of their purposes (a typed name is recorded nowhere)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.registry.test_database import another_writer, wait_for
from tests.wallet_api.conftest import DRIVING, LI, ZHANG, Wallet, driving_licence


def _present(wallet: Wallet, licence_id: str, id_number: str) -> str:
    response = wallet.get(f"/wallet/licences/{licence_id}/presentation", id_number)
    assert response.status_code == 200
    payload: str = response.json()["payload"]
    return payload


def _hotel(wallet: Wallet) -> dict[str, str]:
    key = wallet.relying_party("HOTEL", "某酒店前台 Hotel front desk", {"CHECK_IN": "入住登记"})
    return {"Authorization": f"Bearer {key}"}


def test_online_check_is_recorded_for_the_holder(wallet: Wallet) -> None:
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)
    hotel = _hotel(wallet)

    anonymous = wallet.client.post("/verify", json={"payload": payload})
    typed = wallet.client.post(
        "/verify", json={"payload": payload, "verifier": {"name": "公安局", "purpose": "x"}}
    )
    signed_in = wallet.client.post(
        "/verify",
        json={"payload": payload, "verifier": {"name": "typed", "purpose": "CHECK_IN"}},
        headers=hotel,
    )

    assert anonymous.status_code == 200 and anonymous.json()["valid"] is True
    assert typed.status_code == 200 and typed.json()["valid"] is True
    assert signed_in.status_code == 200 and signed_in.json()["outcome"] == "valid"
    checks = wallet.get(f"/wallet/licences/{licence_id}/checks", ZHANG).json()["checks"]
    assert [(c["verifier"], c["purpose"], c["outcome"]) for c in checks] == [
        ("某酒店前台 Hotel front desk", "入住登记", "valid")
    ]
    # another citizen sees nothing of it
    assert wallet.get(f"/wallet/licences/{licence_id}/checks", LI).status_code == 404


def test_online_verify_sees_a_revocation_at_once(wallet: Wallet) -> None:
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)
    assert wallet.client.post("/verify", json={"payload": payload}).json()["valid"] is True

    hotel = _hotel(wallet)
    wallet.revoke("TRANSPORT", licence_id, "holder_request")
    again = wallet.client.post(
        "/verify", json={"payload": payload, "verifier": {"purpose": "CHECK_IN"}}, headers=hotel
    )

    assert again.json()["valid"] is False
    assert again.json()["outcome"] == "revoked"
    checks = wallet.get(f"/wallet/licences/{licence_id}/checks", ZHANG).json()["checks"]
    assert [c["outcome"] for c in checks] == ["revoked"]


def test_forged_payload_records_nothing(wallet: Wallet) -> None:
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)
    forged = payload[:-6] + ("AAAAAA" if not payload.endswith("AAAAAA") else "BBBBBB")

    response = wallet.client.post(
        "/verify",
        json={"payload": forged, "verifier": {"purpose": "CHECK_IN"}},
        headers=_hotel(wallet),
    )

    assert response.status_code in (200, 400)
    assert response.json().get("valid") is not True
    assert wallet.get(f"/wallet/licences/{licence_id}/checks", ZHANG).json()["checks"] == []


def test_a_named_scan_waits_for_the_writer_and_the_service_goes_on(wallet: Wallet) -> None:
    """The freeze of issue 11: a counter's check is recorded through the one writer, so while
    another process holds the write lock the scan waits for it, and every other request (reads,
    anonymous scans) is answered meanwhile; then the scan answers and its check is listed."""
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)
    named: dict[str, Any] = {}
    counter = wallet.relying_party("COUNTER", "Counter 3", {"TRANSFER": "过户"})

    def scan() -> None:
        body = {"payload": payload, "verifier": {"purpose": "TRANSFER"}}
        headers = {"Authorization": f"Bearer {counter}"}
        named["response"] = wallet.client.post("/verify", json=body, headers=headers)

    with another_writer(wallet.database.url):
        thread = threading.Thread(target=scan)
        thread.start()
        wait_for(lambda: wallet.database.writes_waiting == 1)
        assert wallet.client.get("/healthz").status_code == 200
        assert wallet.get("/wallet/licences", ZHANG).status_code == 200
        anonymous = wallet.client.post("/verify", json={"payload": payload})
        assert anonymous.json()["outcome"] == "valid"
        assert "response" not in named  # recorded before it answers
    thread.join(10)
    assert named["response"].json()["outcome"] == "valid"
    checks = wallet.get(f"/wallet/licences/{licence_id}/checks", ZHANG).json()["checks"]
    assert [c["verifier"] for c in checks] == ["Counter 3"]


def test_a_revocation_by_another_worker_shows_on_the_next_scan(wallet: Wallet) -> None:
    """Two apps on one SQLite file are two worker processes: each caches the parsed documents,
    and a change committed by either is seen by the other's very next scan."""
    from elicence.app import create_app

    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)
    with TestClient(create_app(wallet.settings)) as other_worker:
        assert other_worker.post("/verify", json={"payload": payload}).json()["valid"] is True
        wallet.suspend("TRANSPORT", licence_id, "investigation")
        after = other_worker.post("/verify", json={"payload": payload}).json()
        assert after["outcome"] == "suspended"
        wallet.revoke("TRANSPORT", licence_id, "holder_request")
        assert other_worker.post("/verify", json={"payload": payload}).json()["outcome"] == (
            "revoked"
        )


def test_scans_read_nothing_from_the_database_while_nothing_changes(wallet: Wallet) -> None:
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)
    assert wallet.client.post("/verify", json={"payload": payload}).json()["valid"] is True
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        for _ in range(5):
            assert wallet.client.post("/verify", json={"payload": payload}).json()["valid"]
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert statements == []


def _statements_during(action: Any) -> list[str]:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        action()
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    return statements


def test_a_status_change_rereads_the_status_lists_and_keeps_the_trust_list(
    wallet: Wallet,
) -> None:
    """After a suspension the next scan answers "suspended" having reread the status lists
    only: nothing the trust list is made of (departments, keys, licence types) is read."""
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)
    assert wallet.client.post("/verify", json={"payload": payload}).json()["valid"] is True
    wallet.suspend("TRANSPORT", licence_id, "investigation")
    answers: list[dict[str, Any]] = []
    statements = _statements_during(
        lambda: answers.append(wallet.client.post("/verify", json={"payload": payload}).json())
    )
    assert answers[0]["outcome"] == "suspended"
    read = " ".join(statements)
    assert "FROM status_lists" in read
    assert "FROM departments" not in read
    assert "FROM licence_types" not in read


def test_a_department_registered_after_a_scan_is_trusted_on_the_next_scan(
    wallet: Wallet,
) -> None:
    """A trust-list change (a new department, its key and status list) is not mistaken for a
    status change: the next scan rereads the trust list and verifies the new department's
    licence."""
    first = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    assert wallet.client.post("/verify", json={"payload": _present(wallet, first, ZHANG)}).json()[
        "valid"
    ]
    wallet.department("HEALTH", "Health Commission", [DRIVING])
    licence_id = wallet.issue("HEALTH", **driving_licence(LI))
    answer = wallet.client.post("/verify", json={"payload": _present(wallet, licence_id, LI)})
    assert answer.json()["outcome"] == "valid", answer.json()
