"""``elicence verify``, run as the operator runs it (a real subprocess of the console script, a
bundle synced over HTTP), prints the whole licence identifier (GB/T 36904) that it rebuilds from
the credential's serial and version and the trust list's codes, for an ES256 and an SM2 issuer;
a credential without an identifier prints no identifier line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from credential import (
    CredentialClaims,
    LicenceClaims,
    StatusList,
    StatusReference,
    encode_presentation_qr,
    identifier_credential_id,
    kid_text,
    make_licence_identifier,
    new_licence_serial,
    public_key_to_jwk,
    sign_credential,
    sign_holder_proof,
    sign_status_list_token,
    sign_trust_list,
)
from keys import LocalSigner, generate_signing_key
from tests.verifier._server import DocumentServer
from verifier import sync_bundle

ELICENCE = str(Path(sys.executable).parent / "elicence")
CREDIT = "11430000006122244L"  # the department's unified social credit code
CATALOGUE = "11100000000013338W011"  # the driving licence type's 21-character code
NOW = int(time.time())
DAY = 86_400


def _signer(alg: str) -> LocalSigner:
    return LocalSigner(generate_signing_key(alg))


class Published:
    """A root, one department with a credit code, an ES256 and an SM2 key, a catalogued type."""

    def __init__(self) -> None:
        self.root = _signer("ES256")
        self.keys = {"ES256": _signer("ES256"), "SM2": _signer("SM2")}
        self.status = StatusList(2, 1024)

    def documents(self) -> dict[str, str]:
        trust = {
            "iss": "platform",
            "iat": NOW - 3600,
            "exp": NOW + 7 * DAY,
            "ttl": 3600,
            "departments": [
                {
                    "code": "transport",
                    "name": "Transport Bureau",
                    "credit_code": CREDIT,
                    "licence_types": [
                        {"code": "DL", "name": "Driving licence", "catalogue_code": CATALOGUE}
                    ],
                    "status_lists": ["12"],
                    "keys": [
                        {
                            "kid": kid_text(key.kid),
                            "jwk": public_key_to_jwk(key.public_key),
                            "alg": alg,
                            "not_before": NOW - 300 * DAY,
                            "not_after": None,
                            "state": "active",
                            "licence_types": ["DL"],
                        }
                        for alg, key in self.keys.items()
                    ],
                }
            ],
        }
        status = sign_status_list_token(
            self.status,
            self.keys["ES256"],
            uri="12",
            issued_at=NOW - 600,
            expires_at=NOW + 7 * DAY,
            ttl=3600,
        )
        return {"/trust-list": sign_trust_list(trust, self.root), "/status-lists/12": status}

    def presentation(self, alg: str, credential_id: bytes, holder_alg: str = "ES256") -> str:
        holder = _signer(holder_alg)
        claims = CredentialClaims(
            issuer="transport",
            issued_at=NOW - 30 * DAY,
            not_before=NOW - 30 * DAY,
            expires_at=NOW + 365 * DAY,
            credential_id=credential_id,
            holder_key=holder.public_key,
            status=StatusReference("12", 7),
            licence=LicenceClaims(
                type_code="DL",
                number="DL-2026-000123",
                holder_name="王小明",
                masked_id="110105********002X",
                categories=("C1",),
                fields={},
            ),
        )
        credential = sign_credential(claims, self.keys[alg])
        proof = sign_holder_proof(credential, holder, presented_at=NOW - 5)
        return encode_presentation_qr(credential, proof)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Published, Path]:
    world = Published()
    bundle = tmp_path_factory.mktemp("identifier") / "bundle"
    server = DocumentServer()
    server.documents.update(world.documents())
    server.start()
    try:
        sync_bundle(source=server.url, bundle_dir=bundle, root_key=world.root.public_key)
    finally:
        server.stop()
    return world, bundle


def _verify(bundle: Path, payload: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELICENCE_")}
    return subprocess.run(
        [ELICENCE, "verify", payload, "--bundle", str(bundle), "--now", str(NOW)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(
    ("alg", "holder_alg"), [("ES256", "ES256"), ("SM2", "ES256"), ("SM2", "SM2")]
)
def test_verify_prints_the_licence_identifier(
    published: tuple[Published, Path], alg: str, holder_alg: str
) -> None:
    world, bundle = published
    serial = new_licence_serial()
    cti = identifier_credential_id(serial, 2)
    assert cti is not None
    expected = make_licence_identifier(
        type_code=CATALOGUE, issuer_code=CREDIT, serial=serial, version=2
    )
    done = _verify(bundle, world.presentation(alg, cti, holder_alg))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "VALID: holder presentation"
    assert f"  identifier  {expected}" in lines
    assert str(expected).endswith(f".{CREDIT}.{serial}.002.{expected.check}")
    assert "FAIL" not in done.stdout


def test_verify_prints_no_identifier_for_a_licence_without_one(
    published: tuple[Published, Path],
) -> None:
    world, bundle = published
    done = _verify(bundle, world.presentation("SM2", os.urandom(8)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID: holder presentation")
    assert "holder      王小明" in done.stdout
    assert "identifier" not in done.stdout
