"""Interop with software no one here wrote, against a real ``elicence serve`` on 127.0.0.1:

- the npm OpenID4VCI client ``@openid4vc/openid4vci`` (with ``@openid4vc/oauth2``) takes the
  citizen's offer through the whole pre-authorized code flow, and ``@sd-jwt/sd-jwt-vc`` verifies
  the credential it got (signature with the ``jwt-vc-issuer`` key, disclosures, the status list
  token and the licence's entry) and presents it with a KB-JWT (``tests/interop/openid4vci/
  wallet.mjs``, installed by ``./scripts/setup`` with ``npm ci``, run by Node here);
- the Python reference implementation ``sd-jwt`` verifies the same credential and the npm
  library's presentation, with the issuer key taken from ``/.well-known/jwt-vc-issuer``;
- the status list is decoded a third time here with zlib, and a revocation shows in every form.
"""

from __future__ import annotations

import base64
import json
import subprocess
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from tests._postgres import free_port
from tests._served import (
    ELICENCE_INLINE,
    ROOT,
    Served,
    driving_licence,
    id_number,
    run_cli,
    service_env,
)

WALLET = ROOT / "tests" / "interop" / "openid4vci"
NODE = "node"
HOLDER = id_number(4242)
AUDIENCE = "https://bank.example.cn/verifier"


def run_wallet(request: dict[str, Any]) -> dict[str, Any]:
    """Run ``wallet.mjs`` with ``request`` on stdin; its JSON answer."""
    done = subprocess.run(
        [NODE, str(WALLET / "wallet.mjs")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=WALLET,
    )
    answer: dict[str, Any] = json.loads(done.stdout) if done.stdout else {}
    assert done.returncode == 0, f"{answer or done.stdout}\n{done.stderr[-3000:]}"
    return answer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    """A served app whose public base URL is where it listens, with a department, its
    driving-licence type and one licence issued; the served app and the licence id."""
    assert (WALLET / "node_modules" / "@openid4vc" / "openid4vci").is_dir(), (
        "run ./scripts/setup (npm ci in tests/interop/openid4vci)"
    )
    work = tmp_path_factory.mktemp("openid4vci-interop")
    port = free_port()
    env = service_env(
        work / "data",
        ELICENCE_DEV_IDP="true",
        ELICENCE_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    run_cli(env, "init")
    with Served(env, port, workers=1, log=work / "serve.log", command=ELICENCE_INLINE) as server:
        server.wait_ready()
        api_key = server.prepare_department()
        answer = httpx.post(
            f"{server.url}/issuer/licences",
            json=driving_licence(HOLDER),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        yield server, answer.json()["id"]
        assert HOLDER not in (work / "serve.log").read_text(errors="replace")


def _citizen(server: Served) -> dict[str, str]:
    token = httpx.post(f"{server.url}/wallet/dev/token", data={"id_number": HOLDER}, timeout=30)
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _offer(server: Served, licence_id: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.url}/wallet/licences/{licence_id}/credential-offer",
        headers=_citizen(server),
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    offer: dict[str, Any] = answer.json()
    return offer


def _issuer_jwk(server: Served, kid: str) -> JWK:
    keys = httpx.get(f"{server.url}/.well-known/jwt-vc-issuer", timeout=30).json()["jwks"]["keys"]
    (key,) = [k for k in keys if k["kid"] == kid]
    return JWK(**key)


def _b64json(part: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


def _status_entry(uri: str, index: int) -> int:
    """The entry at ``index`` of the status list token at ``uri``, decoded with zlib alone."""
    token = httpx.get(uri, timeout=30).text
    status_list = _b64json(token.split(".")[1])["status_list"]
    lst = status_list["lst"]
    raw = zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
    bits = status_list["bits"]
    return (raw[index * bits // 8] >> ((index * bits) % 8)) & ((1 << bits) - 1)


def test_npm_wallet_with_a_wrong_tx_code_gets_nothing(served: tuple[Served, str]) -> None:
    server, licence_id = served
    offer = _offer(server, licence_id)
    wrong = f"{(int(offer['tx_code']) + 1) % 10**6:06d}"
    done = subprocess.run(
        [NODE, str(WALLET / "wallet.mjs")],
        input=json.dumps(
            {"mode": "issue", "offer_uri": offer["credential_offer_uri"], "tx_code": wrong}
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=WALLET,
    )
    assert done.returncode == 1
    assert "invalid_grant" in json.loads(done.stdout)["error"]


def test_npm_wallet_gets_a_credential_that_every_verifier_accepts_until_revoked(
    served: tuple[Served, str],
) -> None:
    server, licence_id = served
    offer = _offer(server, licence_id)
    got = run_wallet(
        {
            "mode": "issue",
            "offer_uri": offer["credential_offer_uri"],
            "tx_code": offer["tx_code"],
            "kb_audience": AUDIENCE,
        }
    )
    # the client read this issuer as OpenID4VCI 1.0 and sent a jwt proof of its key
    assert got["metadata_version"] == "V1"
    assert got["configuration_id"] == "TRANSPORT.DRIVING"
    assert got["proof_header"]["typ"] == "openid4vci-proof+jwt"
    credential = got["credential"]
    issuer_jwt = credential.split("~")[0]
    header, payload = _b64json(issuer_jwt.split(".")[0]), _b64json(issuer_jwt.split(".")[1])
    assert header["typ"] == "dc+sd-jwt"
    assert payload["cnf"]["jwk"]["x"] == got["wallet_jwk"]["x"]
    assert payload["iss"] == server.url
    assert payload["vct"] == f"{server.url}/vct/TRANSPORT/DRIVING"
    reference = payload["status"]["status_list"]
    assert reference["uri"].startswith(f"{server.url}/status-lists/")

    # @sd-jwt/sd-jwt-vc: verified (status included) and its claims are the licence's
    claims = got["claims"]
    assert claims["holder_name"] == "张三"
    assert claims["masked_id_number"].startswith(HOLDER[:6]) and HOLDER not in credential
    assert claims["categories"] == ["B1"]
    assert claims["fields"] == {"licence_class": "B", "first_issued": "2020-05-01"}
    assert got["verified_payload"]["status"] == payload["status"]
    assert got["presented_claims"]["holder_name"] == "张三"
    assert "masked_id_number" not in got["presented_claims"]
    assert got["presentation_kb"]["aud"] == AUDIENCE

    # sd-jwt (the Python reference implementation): every disclosure verifies, both ways
    issuer_key = _issuer_jwk(server, header["kid"])
    seen: list[str] = []

    def get_key(iss: str, jwt_header: dict[str, Any]) -> JWK:
        seen.append(iss)
        return issuer_key

    verified = SDJWTVerifier(credential, get_key).get_verified_payload()
    assert seen == [server.url]
    assert {k: verified[k] for k in ("holder_name", "categories", "fields")} == {
        "holder_name": "张三",
        "categories": ["B1"],
        "fields": {"licence_class": "B", "first_issued": "2020-05-01"},
    }
    assert verified["masked_id_number"] == claims["masked_id_number"]
    presented = SDJWTVerifier(
        got["presentation"], get_key, expected_aud=AUDIENCE, expected_nonce=got["kb_nonce"]
    ).get_verified_payload()
    assert presented["holder_name"] == "张三" and presented["fields"] == {"licence_class": "B"}
    with pytest.raises(ValueError, match="nonce"):
        SDJWTVerifier(got["presentation"], get_key, expected_aud=AUDIENCE, expected_nonce="x")

    # the status list, decoded here with zlib alone: the licence's entry, valid
    licence = httpx.get(
        f"{server.url}/wallet/licences/{licence_id}", headers=_citizen(server), timeout=30
    ).json()
    assert licence["status"] == "valid"
    assert _status_entry(reference["uri"], reference["idx"]) == 0

    # a revocation of the licence revokes this form too: one status entry
    api_key_headers = _department_headers(server)
    answer = httpx.post(
        f"{server.url}/issuer/licences/{licence_id}/revoke",
        json={"reason": "court_order"},
        headers=api_key_headers,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert _status_entry(reference["uri"], reference["idx"]) == 1
    again = run_wallet({"mode": "verify", "credential": credential, "issuer": server.url})
    assert again["ok"] is False and "status" in again["reason"].lower()


def _department_headers(server: Served) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {server.env['ELICENCE_ADMIN_TOKEN']}"}
    answer = httpx.post(
        f"{server.url}/issuer/admin/departments/TRANSPORT/api-keys", json={}, headers=admin
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['api_key']}"}
