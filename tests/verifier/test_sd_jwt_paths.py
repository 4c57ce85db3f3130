"""SD-JWT VC presentations through every door of the verifier: a synced bundle (which records the
credential issuer URL), ``POST /verify`` offline, ``elicence verify`` as a real subprocess, and
``POST /verify`` in the combined app over a real registry (online status, revocation at once,
the holder's "who checked" list)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from credential import (
    STATUS_REVOKED,
    StatusReference,
    present_sd_jwt,
    read_credential,
    sd_jwt_vc_of_licence,
)
from keys import LocalSigner, generate_signing_key
from registry.models import Department as DepartmentRow
from registry.models import SigningKey
from tests.verifier._server import serving
from tests.verifier._world import NOW, STATUS_URI, World
from tests.wallet_api.conftest import ZHANG, Wallet, driving_licence, no_id_number_in_logs, wallet
from verifier import Bundle, sync_bundle
from verifier.api import create_app
from verifier.cli import app as verifier_cli

__all__ = ["no_id_number_in_logs", "wallet"]  # fixtures of the wallet tests, used here

BASE = "https://licences.example.gov.cn"
AUDIENCE = "https://bank.example.cn/verifier"
NONCE = "nonce-4f1c"
ROOT = Path(__file__).resolve().parents[2]
ELICENCE = str(Path(sys.executable).parent / "elicence")


@pytest.fixture(scope="module")
def world() -> World:
    world = World()
    world.statuses[STATUS_URI].set(8, STATUS_REVOKED)
    return world


@pytest.fixture(scope="module")
def bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synced from a document server on 127.0.0.1 whose public name is ``BASE``."""
    bundle_dir = tmp_path_factory.mktemp("sd-jwt") / "bundle"
    with serving(world) as server:
        sync_bundle(
            source=server.url,
            bundle_dir=bundle_dir,
            root_key=world.root.public_key,
            credential_issuer=BASE + "/",
        )
    return bundle_dir


def presentation(world: World, *, index: int = 7, **kb: str) -> str:
    claims = world.claims(status=StatusReference(STATUS_URI, index))
    issued = sd_jwt_vc_of_licence(claims, world.active, public_base_url=BASE)
    options = {"audience": AUDIENCE, "nonce": NONCE, **kb}
    return present_sd_jwt(
        issued,
        world.holder,
        disclose=["holder_name", "categories"],
        presented_at=NOW - 3,
        audience=options["audience"],
        nonce=options["nonce"],
    )


def test_the_bundle_records_the_credential_issuer(
    world: World, bundle: Path, tmp_path: Path
) -> None:
    assert Bundle.load(bundle).credential_issuer == BASE
    with serving(world) as server:
        sync_bundle(source=server.url + "/", bundle_dir=tmp_path, root_key=world.root.public_key)
    assert Bundle.load(tmp_path).credential_issuer == server.url  # by default: where it synced


# --- POST /verify from a bundle -----------------------------------------------------------------
def test_post_verify_offline(world: World, bundle: Path) -> None:
    client = TestClient(create_app(bundle, now=lambda: NOW))
    body = {"payload": presentation(world), "challenge": NONCE, "audience": AUDIENCE}
    answer = client.post("/verify", json=body)
    assert answer.status_code == 200
    data = answer.json()
    assert data["valid"] is True and data["kind"] == "presentation", data
    assert data["credential_id"] is None and data["presented_at"] == NOW - 3
    assert data["licence"]["holder_name"] == "王小明" and data["licence"]["masked_id"] is None
    assert data["licence"]["categories"] == ["C1"]
    assert [c["name"] for c in data["checks"]][3:5] == ["issuer_signature", "disclosures"]

    refused = {
        "wrong_audience": {**body, "audience": "https://another.example"},
        "challenge_mismatch": {**body, "challenge": "another-nonce"},
        "revoked": {**body, "payload": presentation(world, index=8)},
        "missing_key_binding": {**body, "payload": body["payload"].rsplit("~", 1)[0] + "~"},
    }
    for code, refused_body in refused.items():
        answer = client.post("/verify", json=refused_body)
        assert answer.status_code == 200 and answer.json()["outcome"] == code


def test_post_verify_refuses_bad_audience_input(world: World, bundle: Path) -> None:
    client = TestClient(create_app(bundle, now=lambda: NOW))
    for audience in (["a list"], "x" * 201):
        answer = client.post("/verify", json={"payload": presentation(world), "audience": audience})
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"
        assert "audience" in answer.json()["detail"]


def test_openapi_names_the_audience(bundle: Path) -> None:
    client = TestClient(create_app(bundle))
    body = client.get("/openapi.json").json()["paths"]["/verify"]["post"]["requestBody"]
    assert "audience" in body["content"]["application/json"]["schema"]["properties"]
    assert "audience" in body["content"]["multipart/form-data"]["schema"]["properties"]


# --- elicence verify, a real subprocess ---------------------------------------------------------
def _elicence(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELICENCE_")}
    return subprocess.run(
        [ELICENCE, *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_elicence_verify_subprocess(world: World, bundle: Path) -> None:
    text = presentation(world)
    common = ["--bundle", str(bundle), "--now", str(NOW)]
    done = _elicence(
        "verify", text, *common, "--challenge", NONCE, "--audience", AUDIENCE, "--json"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["valid"] is True and data["licence"]["department_name"] == "Transport Bureau"
    assert "Traceback" not in done.stderr

    done = _elicence("verify", "-", *common, stdin=text)  # on stdin, no nonce or aud given
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID: holder presentation")
    assert "王小明 ((not disclosed))" in done.stdout and "[ok ] disclosures" in done.stdout

    done = _elicence("verify", text, *common, "--challenge", "another-nonce")
    assert done.returncode == 1 and done.stdout.startswith("INVALID: challenge_mismatch")
    assert "[FAIL] challenge: challenge_mismatch" in done.stdout
    done = _elicence("verify", text[:-20] + "A" * 20, *common)  # KB-JWT signature broken
    assert done.returncode == 1 and "holder_signature" in done.stdout.splitlines()[0]
    done = _elicence("verify", "a~b~c", *common)
    assert done.returncode == 1 and done.stdout.startswith("INVALID: malformed_sd_jwt")
    assert "Traceback" not in done.stderr


def test_sync_refuses_a_credential_issuer_that_is_no_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        verifier_cli,
        [
            *("verifier", "sync", "--from", "http://127.0.0.1:9", "--bundle", str(tmp_path)),
            *("--credential-issuer", "licences.example.gov.cn"),
        ],
    )
    assert result.exit_code == 2 and "--credential-issuer" in result.stderr


# --- online: the combined app over a real registry ----------------------------------------------
def _issued_sd_jwt_vc(wallet: Wallet, licence_id: str, holder: LocalSigner) -> str:
    """The SD-JWT VC of a licence of the registry, signed by its department's key with the values
    of its stored credential (as the OpenID4VCI credential endpoint issues it)."""
    row = wallet.licence_row(licence_id)
    claims = read_credential(row.credential).claims
    with wallet.database.reading() as session:
        department_id = session.query(DepartmentRow.id).filter_by(code="TRANSPORT").scalar()
        key = session.query(SigningKey).filter_by(department_id=department_id).one()
        signer = wallet.issuer.signer(key)
    bound = replace(claims, holder_key=holder.public_key)
    return sd_jwt_vc_of_licence(bound, signer, public_base_url=wallet.settings.public_base_url)


def test_online_post_verify_with_status_and_the_holders_check_list(wallet: Wallet) -> None:
    licence_id = wallet.issue("TRANSPORT", **driving_licence(ZHANG))
    holder = LocalSigner(generate_signing_key("ES256"))
    issued = _issued_sd_jwt_vc(wallet, licence_id, holder)

    def fresh(nonce: str) -> str:
        return present_sd_jwt(
            issued,
            holder,
            disclose=["holder_name"],
            audience=AUDIENCE,
            nonce=nonce,
            presented_at=int(time.time()),
        )

    # The check is listed for a relying party signed in with its key and naming its purpose.
    bank = wallet.relying_party("BANK", "Bank branch 12", {"ACCOUNT": "开户核验"})
    party = {"Authorization": f"Bearer {bank}"}
    body = {
        "payload": fresh("n-1"),
        "challenge": "n-1",
        "audience": AUDIENCE,
        "verifier": {"purpose": "ACCOUNT"},
    }
    answer = wallet.client.post("/verify", json=body, headers=party).json()
    assert answer["valid"] is True, answer
    assert answer["licence"]["holder_name"] == "张秀英" and answer["licence"]["masked_id"] is None

    wallet.revoke("TRANSPORT", licence_id, "holder_request")
    again = wallet.client.post(
        "/verify", json={**body, "payload": fresh("n-2"), "challenge": "n-2"}, headers=party
    )
    assert again.json()["outcome"] == "revoked"  # the same status entry as the QR credential

    checks = wallet.get(f"/wallet/licences/{licence_id}/checks", ZHANG).json()["checks"]
    assert sorted((c["verifier"], c["outcome"]) for c in checks) == [
        ("Bank branch 12", "revoked"),
        ("Bank branch 12", "valid"),
    ]
    foreign = sd_jwt_vc_of_licence(
        read_credential(wallet.licence_row(licence_id).credential).claims,
        LocalSigner(generate_signing_key("ES256")),
        public_base_url="https://elsewhere.example",
    )
    text = present_sd_jwt(
        foreign, holder, disclose=[], audience=AUDIENCE, nonce="n", presented_at=int(time.time())
    )
    assert wallet.client.post("/verify", json={"payload": text}).json()["outcome"] == (
        "unknown_issuer"
    )
