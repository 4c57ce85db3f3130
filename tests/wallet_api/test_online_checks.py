"""``POST /verify`` in the combined app: online sources from the registry, and the citizen's
"who checked my licence" list filled by checks whose verifier names itself."""

from __future__ import annotations

from tests.wallet_api.conftest import LI, ZHANG, Wallet, driving_licence


def _present(wallet: Wallet, licence_id: str, id_number: str) -> str:
    response = wallet.get(f"/wallet/licences/{licence_id}/presentation", id_number)
    assert response.status_code == 200
    payload: str = response.json()["payload"]
    return payload


def test_online_check_is_recorded_for_the_holder(wallet: Wallet) -> None:
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)

    anonymous = wallet.client.post("/verify", json={"payload": payload})
    named = wallet.client.post(
        "/verify",
        json={"payload": payload, "verifier": {"name": "Hotel front desk", "purpose": "check-in"}},
    )

    assert anonymous.status_code == 200 and anonymous.json()["valid"] is True
    assert named.status_code == 200 and named.json()["outcome"] == "valid"
    checks = wallet.get(f"/wallet/licences/{licence_id}/checks", ZHANG).json()["checks"]
    assert [(c["verifier"], c["purpose"], c["outcome"]) for c in checks] == [
        ("Hotel front desk", "check-in", "valid")
    ]
    # another citizen sees nothing of it
    assert wallet.get(f"/wallet/licences/{licence_id}/checks", LI).status_code == 404


def test_online_verify_sees_a_revocation_at_once(wallet: Wallet) -> None:
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    payload = _present(wallet, licence_id, ZHANG)
    assert wallet.client.post("/verify", json={"payload": payload}).json()["valid"] is True

    wallet.revoke("TRANSPORT", licence_id, "holder_request")
    again = wallet.client.post(
        "/verify", json={"payload": payload, "verifier": {"name": "Traffic police 12"}}
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
        "/verify", json={"payload": forged, "verifier": {"name": "Somebody"}}
    )

    assert response.status_code in (200, 400)
    assert response.json().get("valid") is not True
    assert wallet.get(f"/wallet/licences/{licence_id}/checks", ZHANG).json()["checks"] == []
