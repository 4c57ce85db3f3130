"""Trust list and key rotation (item 6), CLI for departments and types (item 1), audit (item 8)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credential import decode_qr, jwk_to_public_key, read_credential, read_trust_list
from credential.errors import BadSignature, KeyCompromised
from elicence.cli import app as cli
from keys import generate_signing_key
from tests.issuer.conftest import Issuer


def _trust_list(issuer: Issuer):  # type: ignore[no-untyped-def]
    root = issuer.client.get("/root-key").json()
    return read_trust_list(issuer.client.get("/trust-list").text, jwk_to_public_key(root["jwk"]))


def test_trust_list_is_signed_by_root_and_lists_departments_keys_and_types(issuer: Issuer) -> None:
    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    licence = issuer.issue(key)
    r = issuer.client.get("/trust-list")
    assert r.headers["content-type"] == "application/trustlist+jwt"
    assert (
        issuer.client.get("/trust-list", headers={"If-None-Match": r.headers["etag"]}).status_code
        == 304
    )
    trust = _trust_list(issuer)
    entry = trust.department("TRANSPORT")
    assert entry is not None and entry.name == "Transport"
    assert [t.code for t in entry.licence_types] == ["DRIVING"]
    assert entry.status_lists == (licence["status_list"],)
    credential = read_credential(decode_qr(licence["static_qr"]).credential)
    trusted = trust.authorise(
        kid=credential.kid,
        issuer="TRANSPORT",
        type_code="DRIVING",
        issued_at=credential.claims.issued_at,
    )
    assert trusted.state == "active" and trusted.not_after is None
    credential.verify_signature(trusted.public_key)
    with pytest.raises(BadSignature):
        read_trust_list(r.text, generate_signing_key().public_key())


def test_rotation_keeps_old_credentials_verifiable_and_compromise_rejects_them(
    issuer_any: Issuer,
) -> None:
    issuer = issuer_any
    key = issuer.department("TRANSPORT")
    issuer.licence_type("TRANSPORT")
    before = read_credential(decode_qr(issuer.issue(key)["static_qr"]).credential)
    audit = issuer.audit_count()
    r = issuer.client.post("/issuer/admin/departments/TRANSPORT/keys/rotate", headers=issuer.admin)
    assert r.status_code == 201
    new_kid = r.json()["kid"]
    assert issuer.audit_count() == audit + 1
    after = read_credential(decode_qr(issuer.issue(key)["static_qr"]).credential)
    assert after.kid != before.kid
    trust = _trust_list(issuer)
    old = trust.authorise(
        kid=before.kid, issuer="TRANSPORT", type_code="DRIVING", issued_at=before.claims.issued_at
    )
    assert old.state == "retired" and old.not_after is not None
    before.verify_signature(old.public_key)
    assert trust.keys[after.kid].state == "active"
    old_kid = issuer.client.get("/trust-list").text and old.kid
    from credential import kid_text

    r = issuer.client.post(
        f"/issuer/admin/departments/TRANSPORT/keys/{kid_text(old_kid)}/compromise",
        headers=issuer.admin,
    )
    assert r.status_code == 200 and r.json()["state"] == "compromised"
    with pytest.raises(KeyCompromised):
        _trust_list(issuer).authorise(
            kid=before.kid,
            issuer="TRANSPORT",
            type_code="DRIVING",
            issued_at=before.claims.issued_at,
        )
    assert _trust_list(issuer).keys[after.kid].state == "active"
    assert kid_text(after.kid) == new_kid


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ELICENCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("ELICENCE_MASTER_KEY", raising=False)
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    return tmp_path / "data" / "elicence.db"


def test_cli_departments_types_keys_and_audit(cli_env: Path) -> None:
    run = CliRunner()
    r = run.invoke(cli, ["department", "add", "TRANSPORT", "--name", "Transport bureau"])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["department", "add", "TRANSPORT", "--name", "Again"])
    assert r.exit_code == 1 and "already exists" in r.output and "Traceback" not in r.output
    r = run.invoke(cli, ["department", "key", "TRANSPORT"])
    assert r.exit_code == 0
    api_key = r.output.strip().splitlines()[-1]
    assert api_key.startswith("elk_")
    with sqlite3.connect(cli_env) as db:
        stored = db.execute("SELECT prefix, secret_hash FROM department_api_keys").fetchall()
    assert len(stored) == 1 and stored[0][0] == api_key.split("_")[1]
    assert api_key.split("_", 2)[2] not in stored[0][1]
    r = run.invoke(
        cli,
        [
            "licence-type",
            "add",
            "TRANSPORT",
            "DRIVING",
            "--name",
            "Driving licence",
            "--field",
            "licence_class:choice=A|B|C",
            "--field",
            "points:int:optional",
            "--validity-days",
            "3650",
            "--categories",
            "A1,B1",
        ],
    )
    assert r.exit_code == 0, r.output
    with sqlite3.connect(cli_env) as db:
        (fields,) = db.execute("SELECT fields FROM licence_types").fetchone()
    assert '"required": false' in fields and '"choices": ["A", "B", "C"]' in fields
    for bad in (["--field", "x:float"], ["--field", "x:choice"], ["--validity-days", "0"]):
        args = ["licence-type", "add", "TRANSPORT", "OTHER", "--name", "O", "--validity-days", "5"]
        r = run.invoke(cli, args + bad)
        assert r.exit_code == 1 and r.output.startswith("error:") and "Traceback" not in r.output
    r = run.invoke(
        cli, ["licence-type", "add", "NOPE", "X1", "--name", "n", "--validity-days", "5"]
    )
    assert r.exit_code == 1 and "not_found" in r.output
    r = run.invoke(cli, ["keys", "rotate", "TRANSPORT"])
    assert r.exit_code == 0 and "new active key" in r.output
    r = run.invoke(cli, ["keys", "compromise", "TRANSPORT", "nosuchkid"])
    assert r.exit_code == 1
    r = run.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 0 and r.output.startswith("OK: ")
    head = r.output.split("head ")[1].strip()
    with sqlite3.connect(cli_env) as db:
        acts = [a for (a,) in db.execute("SELECT act FROM audit_entries ORDER BY id")]
        assert db.execute("SELECT max(id) FROM audit_entries").fetchone() == (5,)
        assert db.execute("SELECT hash FROM audit_entries WHERE id = 5").fetchone() == (head,)
    assert acts == [
        "department.create",
        "key.create",
        "api_key.create",
        "licence_type.create",
        "key.rotate",
    ]
    with sqlite3.connect(cli_env) as db:  # someone edits the third row behind our back
        db.execute("UPDATE audit_entries SET actor = 'someone-else' WHERE id = 3")
    r = run.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 1 and "BROKEN at audit entry 3" in r.output
    with sqlite3.connect(cli_env) as db:
        db.execute(
            "UPDATE audit_entries SET actor = "
            "(SELECT actor FROM audit_entries WHERE id = 1) WHERE id = 3"
        )
        db.execute("DELETE FROM audit_entries WHERE id = 2")
    r = run.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 1 and "BROKEN at audit entry 3" in r.output


def test_cli_audit_anchor_catches_a_cut_tail(cli_env: Path) -> None:
    run = CliRunner()
    assert run.invoke(cli, ["department", "add", "TRANSPORT", "--name", "T"]).exit_code == 0
    first = run.invoke(cli, ["audit", "verify"])
    anchor = first.output.split("head ")[1].strip()
    assert run.invoke(cli, ["keys", "rotate", "TRANSPORT"]).exit_code == 0
    assert run.invoke(cli, ["audit", "verify", "--anchor", anchor]).exit_code == 0
    with sqlite3.connect(cli_env) as db:  # the newest two rows go: the rest is still a chain
        db.execute("DELETE FROM audit_entries WHERE id >= 2")
    assert run.invoke(cli, ["audit", "verify"]).exit_code == 0
    cut = run.invoke(cli, ["audit", "verify", "--anchor", anchor])
    assert cut.exit_code == 1 and "BROKEN at the end" in cut.output
    assert "removed" in cut.output and "Traceback" not in cut.output


def test_cli_lists_and_revokes_department_api_keys(cli_env: Path) -> None:
    from issuer.auth import authenticate_department
    from registry.db import make_engine, make_session_factory
    from registry.errors import Unauthorized

    run = CliRunner()
    assert run.invoke(cli, ["department", "add", "TRANSPORT", "--name", "T"]).exit_code == 0
    assert run.invoke(cli, ["department", "add", "MARKET", "--name", "M"]).exit_code == 0
    r = run.invoke(cli, ["department", "keys", "TRANSPORT"])
    assert r.exit_code == 0 and "no API keys" in r.output
    old, new, market = (
        run.invoke(cli, ["department", "key", code]).output.strip().splitlines()[-1]
        for code in ("TRANSPORT", "TRANSPORT", "MARKET")
    )
    prefix = old.split("_")[1]

    r = run.invoke(cli, ["department", "keys", "TRANSPORT"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [prefix, new.split("_")[1]]
    assert all(line.endswith("\tactive") for line in lines)
    with sqlite3.connect(cli_env) as db:
        hashes = [h for (h,) in db.execute("SELECT secret_hash FROM department_api_keys")]
    for leaked in [*hashes, old.split("_", 2)[2], new.split("_", 2)[2]]:
        assert leaked not in r.output

    r = run.invoke(cli, ["department", "revoke-key", "TRANSPORT", prefix])
    assert r.exit_code == 0 and f"API key {prefix} revoked at" in r.output, r.output
    r = run.invoke(cli, ["department", "keys", "TRANSPORT"])
    first, second = r.output.strip().splitlines()
    assert first.split("\t")[2].startswith("revoked 20") and second.endswith("\tactive")

    # The revoked key is refused; the department's other key and the market's still work.
    engine = make_engine(f"sqlite:///{cli_env}")
    try:
        with make_session_factory(engine)() as session:
            with pytest.raises(Unauthorized):
                authenticate_department(session=session, authorization=f"Bearer {old}")
            for key, code in ((new, "TRANSPORT"), (market, "MARKET")):
                caller = authenticate_department(session=session, authorization=f"Bearer {key}")
                assert caller.code == code
    finally:
        engine.dispose()

    # Twice, unknown, another department's, unknown department, the whole key: exit 1, no trace.
    with sqlite3.connect(cli_env) as db:
        before = db.execute("SELECT count(*) FROM audit_entries").fetchone()
    for args, expected in (
        (["TRANSPORT", prefix], "already revoked"),
        (["TRANSPORT", "ZZZZ9999"], "not_found"),
        (["TRANSPORT", market.split("_")[1]], "not_found"),
        (["NOPE", prefix], "not_found"),
        (["TRANSPORT", new], "invalid_prefix"),
    ):
        r = run.invoke(cli, ["department", "revoke-key", *args])
        assert r.exit_code == 1 and expected in r.output, (args, r.output)
        assert "Traceback" not in r.output and new.split("_", 2)[2] not in r.output
    with sqlite3.connect(cli_env) as db:
        assert db.execute("SELECT count(*) FROM audit_entries").fetchone() == before
        revoked = db.execute(
            "SELECT prefix FROM department_api_keys WHERE revoked_at IS NOT NULL"
        ).fetchall()
        audit = db.execute(
            "SELECT actor, object_type, object_id FROM audit_entries WHERE act = 'api_key.revoke'"
        ).fetchall()
    assert revoked == [(prefix,)]
    assert (
        len(audit) == 1
        and audit[0][0].startswith("cli:")
        and audit[0][1:]
        == (
            "api_key",
            prefix,
        )
    )
    r = run.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 0 and r.output.startswith("OK: ")


def test_cli_help_for_every_command() -> None:
    run = CliRunner()
    for args in (
        ["department", "add"],
        ["department", "key"],
        ["department", "keys"],
        ["department", "revoke-key"],
        ["licence-type", "add"],
        ["keys", "rotate"],
        ["keys", "compromise"],
        ["audit", "verify"],
    ):
        r = run.invoke(cli, [*args, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, args
