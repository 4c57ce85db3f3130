"""Sign-in: tokens from the configured provider (JWKS from a file and from a URL on 127.0.0.1),
rejected when expired, wrongly signed, for another audience or issuer, or when the ID number
fails GB 11643; the development identity provider only in development."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from typer.testing import CliRunner

from registry.migrate import upgrade
from tests.wallet_api.conftest import BAD_CHECK_DIGIT, LI, ZHANG, settings_for
from wallet_api import errors
from wallet_api.auth import (
    VERIFIED_TOKEN_SECONDS,
    Authenticator,
    JwksFile,
    JwksUrl,
    TokenVerifier,
)
from wallet_api.dev_idp import DEV_KEY_FILE, issue_dev_token

ISSUER = "https://idp.gov.example"
AUDIENCE = "elicence-wallet"


def sign(key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "citizen-1",
        "iat": now,
        "exp": now + 600,
        "id_number": ZHANG,
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    alg = "RS256" if isinstance(key, RSAKey) else "ES256"
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


@pytest.fixture
def provider_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True)


@pytest.fixture
def jwks_file(tmp_path: Path, provider_key: ECKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(provider_key)))
    return path


def verifier_for(source: Any) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=source, id_claim="id_number")


class _JwksServer:
    """A JWKS document served over HTTP on 127.0.0.1, replaceable while running."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server(provider_key: ECKey) -> Iterator[_JwksServer]:
    server = _JwksServer(jwks(provider_key))
    try:
        yield server
    finally:
        server.close()


def test_token_checked_against_jwks_file(jwks_file: Path, provider_key: ECKey) -> None:
    citizen = verifier_for(JwksFile(jwks_file)).authenticate(sign(provider_key))
    assert citizen.id_number.value == ZHANG
    assert ZHANG not in repr(citizen)


def test_jwks_file_is_reread_after_key_rotation(jwks_file: Path, provider_key: ECKey) -> None:
    verifier = verifier_for(JwksFile(jwks_file))
    verifier.authenticate(sign(provider_key))
    new_key = RSAKey.generate_key(2048, auto_kid=True)
    jwks_file.write_text(json.dumps(jwks(new_key)))
    os.utime(jwks_file, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert verifier.authenticate(sign(new_key)).id_number.value == ZHANG
    with pytest.raises(errors.BadTokenSignature):
        verifier.authenticate(sign(provider_key))


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _remembering(jwks_file: Path) -> tuple[_Clock, Authenticator]:
    """An authenticator over ``jwks_file`` and the clock it and its provider read."""
    clock = _Clock()
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks=JwksFile(jwks_file), id_claim="id_number", now=clock
    )
    return clock, Authenticator([verifier], now=clock)


def test_a_verified_token_is_remembered_until_it_expires(
    jwks_file: Path, provider_key: ECKey
) -> None:
    clock, authenticator = _remembering(jwks_file)
    token = sign(provider_key, exp=int(clock.now) + 40)
    assert authenticator.remembered(token) is None  # never seen
    assert authenticator.authenticate(token).id_number.value == ZHANG
    remembered = authenticator.remembered(token)
    assert remembered is not None and remembered.id_number.value == ZHANG
    clock.now += 40 + 31  # past exp and the 30 s leeway: forgotten, and refused when checked
    assert authenticator.remembered(token) is None
    with pytest.raises(errors.TokenExpired):
        authenticator.authenticate(token)


def test_a_long_lived_token_is_checked_again_after_a_minute(
    jwks_file: Path, provider_key: ECKey
) -> None:
    clock, authenticator = _remembering(jwks_file)
    token = sign(provider_key, exp=int(clock.now) + 3600)
    authenticator.authenticate(token)
    clock.now += VERIFIED_TOKEN_SECONDS - 1
    assert authenticator.remembered(token) is not None
    clock.now += 2
    assert authenticator.remembered(token) is None
    # the provider withdrew its key meanwhile: the next check refuses the token
    jwks_file.write_text(json.dumps(jwks(ECKey.generate_key("P-256", auto_kid=True))))
    with pytest.raises(errors.BadTokenSignature):
        authenticator.authenticate(token)
    assert authenticator.remembered(token) is None


def test_a_refused_token_is_not_remembered(jwks_file: Path, provider_key: ECKey) -> None:
    _, authenticator = _remembering(jwks_file)
    for token in (
        sign(provider_key, aud="another-service"),
        sign(ECKey.generate_key("P-256", auto_kid=True)),
        sign(provider_key, id_number=BAD_CHECK_DIGIT),
    ):
        with pytest.raises(errors.Unauthorized):
            authenticator.authenticate(token)
        assert authenticator.remembered(token) is None


def test_token_checked_against_jwks_url(jwks_server: _JwksServer, provider_key: ECKey) -> None:
    verifier = verifier_for(JwksUrl(jwks_server.url))
    assert verifier.authenticate(sign(provider_key)).id_number.value == ZHANG
    assert verifier.authenticate(sign(provider_key, id_number=LI)).id_number.value == LI
    assert jwks_server.hits == 1  # cached


def test_jwks_url_is_refetched_for_an_unknown_key(
    jwks_server: _JwksServer, provider_key: ECKey
) -> None:
    clock = [1000.0]
    verifier = verifier_for(JwksUrl(jwks_server.url, clock=lambda: clock[0]))
    verifier.authenticate(sign(provider_key))
    rotated = ECKey.generate_key("P-256", auto_kid=True)
    jwks_server.document = jwks(provider_key, rotated)
    clock[0] += 60  # past the minimum refresh interval
    assert verifier.authenticate(sign(rotated)).id_number.value == ZHANG
    assert jwks_server.hits == 2


def test_unreachable_jwks_url_is_503(provider_key: ECKey) -> None:
    verifier = verifier_for(JwksUrl("http://127.0.0.1:9/jwks.json"))
    with pytest.raises(errors.IdentityProviderUnreachable) as caught:
        verifier.authenticate(sign(provider_key))
    assert caught.value.status_code == 503


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"exp": int(time.time()) - 120}, errors.TokenExpired),
        ({"exp": None}, errors.InvalidTokenClaims),
        ({"aud": "another-app"}, errors.WrongAudience),
        ({"aud": None}, errors.InvalidTokenClaims),
        ({"iss": "https://evil.example"}, errors.WrongIssuer),
        ({"nbf": int(time.time()) + 3600}, errors.TokenNotYetValid),
        ({"id_number": BAD_CHECK_DIGIT}, errors.InvalidTokenIdNumber),
        ({"id_number": "99010519491231002X"}, errors.InvalidTokenIdNumber),
        ({"id_number": "1101051949123100"}, errors.InvalidTokenIdNumber),
        ({"id_number": None}, errors.InvalidTokenClaims),
        ({"id_number": 110105}, errors.InvalidTokenClaims),
    ],
)
def test_bad_claims_are_rejected(
    jwks_file: Path, provider_key: ECKey, overrides: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        verifier_for(JwksFile(jwks_file)).authenticate(sign(provider_key, **overrides))


def test_wrong_signature_is_rejected(jwks_file: Path, provider_key: ECKey) -> None:
    verifier = verifier_for(JwksFile(jwks_file))
    impostor = ECKey.import_key(
        {**ECKey.generate_key("P-256").as_dict(private=True), "kid": provider_key.kid}
    )
    with pytest.raises(errors.BadTokenSignature):
        verifier.authenticate(sign(impostor))
    header, payload, signature = sign(provider_key).split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(errors.BadTokenSignature):
        verifier.authenticate(f"{header}.{payload}.{flipped}")
    unknown = ECKey.generate_key("P-256", auto_kid=True)
    with pytest.raises(errors.BadTokenSignature):
        verifier.authenticate(sign(unknown))


def test_http_401_for_every_bad_token(
    tmp_path: Path, sqlite_url: str, jwks_file: Path, provider_key: ECKey
) -> None:
    from elicence.app import create_app

    upgrade(sqlite_url)
    settings = settings_for(
        tmp_path / "data",
        sqlite_url,
        dev_idp=False,
        idp_issuer=ISSUER,
        idp_audience=AUDIENCE,
        idp_jwks_file=jwks_file,
    )
    with TestClient(create_app(settings)) as client:
        cases = {
            "missing_token": None,
            "malformed_token": "not-a-jwt",
            "token_expired": sign(provider_key, exp=int(time.time()) - 120),
            "bad_token_signature": sign(ECKey.generate_key("P-256", auto_kid=True)),
            "wrong_audience": sign(provider_key, aud="other"),
            "wrong_issuer": sign(provider_key, iss="https://evil.example"),
            "invalid_id_number": sign(provider_key, id_number=BAD_CHECK_DIGIT),
        }
        for code, token in cases.items():
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            for path in ("/wallet/licences", "/wallet/licences/x/presentation"):
                response = client.get(path, headers=headers)
                assert response.status_code == 401, (code, path)
                assert response.json()["error"] == code
                assert set(response.json()) == {"error", "detail"}
                assert BAD_CHECK_DIGIT not in response.text
        ok = client.get(
            "/wallet/licences", headers={"Authorization": f"Bearer {sign(provider_key)}"}
        )
        assert ok.status_code == 200 and ok.json() == {"licences": []}
        # The dev provider is off here: its pages are 404 and its tokens are not accepted.
        assert client.get("/wallet/dev/sign-in").status_code == 404
        assert client.post("/wallet/dev/token", data={"id_number": ZHANG}).status_code == 404


def test_dev_idp_issues_tokens_in_development(tmp_path: Path, sqlite_url: str) -> None:
    from elicence.app import create_app

    upgrade(sqlite_url)
    settings = settings_for(tmp_path / "data", sqlite_url)
    with TestClient(create_app(settings)) as client:
        page = client.get("/wallet/dev/sign-in")
        assert page.status_code == 200 and 'action="/wallet/dev/token"' in page.text
        issued = client.post("/wallet/dev/token", data={"id_number": ZHANG})
        assert issued.status_code == 200
        token = issued.json()["access_token"]
        listed = client.get("/wallet/licences", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200
        refused = client.post("/wallet/dev/token", data={"id_number": BAD_CHECK_DIGIT})
        assert refused.status_code == 422
        assert refused.json()["error"] == "invalid_id_number"
        assert BAD_CHECK_DIGIT not in refused.text
        # A dev token that has expired is refused like any other.
        old = issue_dev_token(settings, ZHANG, now=int(time.time()) - 7200)
        expired = client.get("/wallet/licences", headers={"Authorization": f"Bearer {old}"})
        assert expired.json()["error"] == "token_expired"
    key_file = settings.data_dir / DEV_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_dev_token_command(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from elicence.app import create_app
    from elicence.cli import app as cli

    data = tmp_path / "data"
    monkeypatch.setenv("ELICENCE_DATA_DIR", str(data))
    monkeypatch.setenv("ELICENCE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ELICENCE_DEV_IDP", "1")
    runner = CliRunner()
    result = runner.invoke(cli, ["dev-token", ZHANG])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.count(".") == 2

    upgrade(sqlite_url)
    with TestClient(create_app(settings_for(data, sqlite_url))) as client:
        response = client.get("/wallet/licences", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200

    asked = runner.invoke(cli, ["dev-token"], input=f"{ZHANG}\n")  # kept out of shell history
    assert asked.exit_code == 0, asked.output
    assert ZHANG not in asked.output  # not echoed back either
    assert asked.stdout.strip().splitlines()[-1].count(".") == 2

    bad = runner.invoke(cli, ["dev-token", BAD_CHECK_DIGIT])
    assert bad.exit_code == 1
    assert "invalid_id_number" in bad.output and "Traceback" not in bad.output

    monkeypatch.setenv("ELICENCE_DEV_IDP", "0")
    off = runner.invoke(cli, ["dev-token", ZHANG])
    assert off.exit_code == 1 and "off" in off.output

    monkeypatch.setenv("ELICENCE_DEV_IDP", "1")
    monkeypatch.setenv("ELICENCE_ENVIRONMENT", "production")
    production = runner.invoke(cli, ["dev-token", ZHANG])
    assert production.exit_code == 1 and "Traceback" not in production.output
