"""The platform administrator registers relying parties, their API keys and purposes (用证事由):
admin API and CLI, every act in the audit log, nothing stored for a refused call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from registry.audit import verify_audit_chain
from registry.models import AuditEntry, RelyingParty, RelyingPartyApiKey, SharingPurpose
from tests.sharing.conftest import BANK_PURPOSE, Sharing, bearer


def test_admin_registers_a_party_with_purposes_and_keys_all_audited(sharing: Sharing) -> None:
    before = sharing.audit_count()
    key = sharing.party("CITY_BANK", "城市商业银行 City Bank", "bank", [BANK_PURPOSE])

    assert key.startswith("erp_")
    listed = sharing.client.get("/sharing/admin/relying-parties", headers=sharing.admin).json()
    assert [(p["code"], p["name"], p["kind"]) for p in listed] == [
        ("CITY_BANK", "城市商业银行 City Bank", "bank")
    ]
    own = sharing.client.get("/sharing/purposes", headers=bearer(key))
    assert own.status_code == 200
    assert [(p["code"], p["licence_types"], p["max_days"]) for p in own.json()] == [
        ("ACCOUNT_OPENING", ["TRANSPORT/DL"], 30)
    ]
    with sharing.database.reading() as session:
        acts = [e.act for e in session.query(AuditEntry).order_by(AuditEntry.id)][before:]
        assert verify_audit_chain(session).ok
        stored = session.query(RelyingPartyApiKey).one()
    assert acts == ["relying_party.create", "purpose.create", "relying_party.api_key.create"]
    # only the secret's hash is kept
    _, prefix, secret = key.split("_", 2)  # the secret itself may hold "_"
    assert secret not in stored.secret_hash and stored.prefix == prefix


def test_a_revoked_key_is_refused_from_the_next_request_on(sharing: Sharing) -> None:
    key = sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    prefix = key.split("_")[1]
    assert sharing.client.get("/sharing/purposes", headers=bearer(key)).status_code == 200

    revoked = sharing.client.post(
        f"/sharing/admin/relying-parties/CITY_BANK/api-keys/{prefix}/revoke",
        headers=sharing.admin,
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = sharing.client.get("/sharing/purposes", headers=bearer(key))
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    again = sharing.client.post(
        f"/sharing/admin/relying-parties/CITY_BANK/api-keys/{prefix}/revoke",
        headers=sharing.admin,
    )
    assert again.status_code == 409


def test_refused_admin_calls_store_nothing_and_audit_nothing(sharing: Sharing) -> None:
    sharing.party("CITY_BANK", "City Bank", "bank", [BANK_PURPOSE])
    parties, purposes, audit = (
        sharing.count(RelyingParty),
        sharing.count(SharingPurpose),
        sharing.audit_count(),
    )
    body = {"code": "EMPLOYER", "name": "E", "kind": "employer", "contact": "c"}
    cases = [
        ("/sharing/admin/relying-parties", body, {}, 401, "unauthorized"),
        ("/sharing/admin/relying-parties", body, bearer("wrong-token"), 401, "unauthorized"),
        (
            "/sharing/admin/relying-parties",
            {**body, "kind": "church"},
            sharing.admin,
            422,
            "invalid_request",
        ),
        (
            "/sharing/admin/relying-parties",
            {**body, "code": "CITY_BANK"},
            sharing.admin,
            409,
            "conflict",
        ),
        (
            "/sharing/admin/relying-parties/CITY_BANK/purposes",
            {**BANK_PURPOSE, "code": "OTHER", "licence_types": ["TRANSPORT/NOPE"]},
            sharing.admin,
            422,
            "unknown_licence_type",
        ),
        (
            "/sharing/admin/relying-parties/CITY_BANK/purposes",
            {**BANK_PURPOSE, "code": "OTHER", "fields": ["scope"]},  # a business-licence field
            sharing.admin,
            422,
            "unknown_field",
        ),
        (
            "/sharing/admin/relying-parties/CITY_BANK/purposes",
            BANK_PURPOSE,
            sharing.admin,
            409,
            "conflict",
        ),
        (
            "/sharing/admin/relying-parties/NOBODY/purposes",
            BANK_PURPOSE,
            sharing.admin,
            404,
            "relying_party_not_found",
        ),
        ("/sharing/admin/relying-parties/NOBODY/api-keys", None, sharing.admin, 404, None),
    ]
    for path, json, headers, status, error in cases:
        response = sharing.client.post(path, json=json, headers=headers)
        assert response.status_code == status, (path, response.text)
        if error is not None:
            assert response.json()["error"] == error, response.text
    assert (
        sharing.count(RelyingParty),
        sharing.count(SharingPurpose),
        sharing.audit_count(),
    ) == (parties, purposes, audit)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "elicence"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_operator_cli_registers_parties_purposes_and_keys(
    sharing: Sharing, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ELICENCE_DATABASE_URL": sharing.settings.database_url,
        "ELICENCE_DATA_DIR": str(sharing.settings.data_dir),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    added = _cli(
        env, "relying-party", "add", "HR_CO", "--name", "某人力资源公司", "--kind", "employer",
        "--contact", "hr@x.cn",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    purpose = _cli(
        env, "relying-party", "purpose", "HR_CO", "HIRING", "--zh", "入职核验", "--en", "Hiring",
        "--type", "TRANSPORT/DL", "--field", "holder_name", "--field", "valid_until",
        "--max-days", "7",
    )  # fmt: skip
    assert purpose.returncode == 0, purpose.stderr
    key = _cli(env, "relying-party", "key", "HR_CO")
    assert key.returncode == 0, key.stderr
    api_key = key.stdout.strip().splitlines()[-1]
    assert sharing.client.get("/sharing/purposes", headers=bearer(api_key)).json()[0]["code"] == (
        "HIRING"
    )
    listed = _cli(env, "relying-party", "keys", "HR_CO")
    _, prefix, secret = api_key.split("_", 2)
    assert prefix in listed.stdout and secret not in listed.stdout

    bad = _cli(
        env, "relying-party", "purpose", "HR_CO", "OTHER", "--zh", "x", "--en", "x",
        "--type", "TRANSPORT/DL", "--field", "salary", "--max-days", "7",
    )  # fmt: skip
    assert bad.returncode == 1 and "unknown_field" in bad.stderr and "Traceback" not in bad.stderr
    revoked = _cli(env, "relying-party", "revoke-key", "HR_CO", api_key.split("_")[1])
    assert revoked.returncode == 0, revoked.stderr
    assert sharing.client.get("/sharing/purposes", headers=bearer(api_key)).status_code == 401
    with sharing.database.reading() as session:
        acts = [e.actor for e in session.query(AuditEntry).filter(AuditEntry.act.like("%relying%"))]
    assert acts and all(actor.startswith("cli:") for actor in acts)
