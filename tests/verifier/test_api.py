"""POST /verify through the real ASGI app: JSON and image uploads, 4xx for bad input, records."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import qrcode
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from PIL import Image

from credential import STATUS_REVOKED, StatusReference, encode_static_qr
from tests.verifier._server import serving
from tests.verifier._world import MARKET_STATUS_URI, NOW, STATUS_URI, World, signer
from verifier import TokenStatusSource, TokenTrustSource, sync_bundle
from verifier.api import AnonymousScans, VerifierContext, create_app, verify_router

JSON, UNSUPPORTED = "application/json", "unsupported_media_type"


def _png(text: str) -> bytes:
    out = io.BytesIO()
    qrcode.make(text).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle_dir = tmp_path_factory.mktemp("api") / "bundle"
    with serving(world) as server:
        sync_bundle(source=server.url, bundle_dir=bundle_dir, root_key=world.root.public_key)
    return bundle_dir


@pytest.fixture(scope="module")
def offline(bundle: Path) -> TestClient:
    return TestClient(create_app(bundle, now=lambda: NOW))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@dataclass(frozen=True)
class Party:
    """A signed-in relying party as the app's ``party_dependency`` hands it over."""

    name: str
    purposes: frozenset[str]

    def admit(self, purpose: str | None) -> str:
        if purpose not in self.purposes:
            raise HTTPException(403, "not one of its purposes")
        return purpose


COUNTER_3 = Party("Haidian counter 3", frozenset({"CAR_RENTAL"}))
BANK = Party("Bank", frozenset({"ACCOUNT_OPENING"}))
_PARTIES = {"Bearer counter-3": COUNTER_3, "Bearer bank": BANK}


async def signed_in_party(request: Request) -> Party | None:
    """The combined app authenticates API keys (``sharing.auth.verifying_party``); here two
    fixed keys stand for two registered parties."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        return None
    if authorization not in _PARTIES:
        raise HTTPException(401, "unknown key")
    return _PARTIES[authorization]


@pytest.fixture
def online() -> tuple[TestClient, Recorder, World]:
    """The way the combined app wires it: live tokens from the issuer, a check recorder, the
    caller from a party dependency."""
    world = World()
    world.statuses[STATUS_URI].set(8, STATUS_REVOKED)
    tokens = {STATUS_URI: world.status_token(), MARKET_STATUS_URI: world.status_token("40")}
    trust_token = world.trust_token()
    trust = TokenTrustSource(lambda: trust_token, world.root.public_key)
    recorder = Recorder()
    app = FastAPI()
    app.state.verifier_context = VerifierContext(
        trust=trust,
        status=TokenStatusSource(tokens.get, trust),
        now=lambda: NOW,
        record_check=recorder,
    )
    app.include_router(verify_router(signed_in_party))
    return TestClient(app), recorder, world


def test_json_payload_valid(offline: TestClient, world: World) -> None:
    response = offline.post("/verify", json={"payload": world.presentation_qr()})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True and body["outcome"] == "valid" and body["kind"] == "presentation"
    assert body["licence"]["masked_id"] == "110105********002X"
    assert body["licence"]["type_name"] == "Driving licence"
    assert body["status_age"] == 600


def test_failed_verification_is_an_answer_not_an_error(offline: TestClient, world: World) -> None:
    response = offline.post("/verify", json={"payload": world.static_qr(signer=signer())})
    assert response.status_code == 200
    assert response.json()["valid"] is False and response.json()["outcome"] == "unknown_kid"
    response = offline.post("/verify", json={"payload": "not a licence"})
    assert response.status_code == 200 and response.json()["outcome"] == "bad_prefix"


def test_challenge_in_json(offline: TestClient, world: World) -> None:
    text = world.presentation_qr(challenge="c-1")
    assert offline.post("/verify", json={"payload": text, "challenge": "c-1"}).json()["valid"]
    wrong = offline.post("/verify", json={"payload": text, "challenge": "c-2"}).json()
    assert wrong["outcome"] == "challenge_mismatch"


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"content": b"{not json", "headers": {"content-type": JSON}}, 400, "bad_json"),
        ({"content": b'{"payload": "\xff"}', "headers": {"content-type": JSON}}, 400, "bad_json"),
        ({"content": b'{"payload": NaN}', "headers": {"content-type": JSON}}, 400, "bad_json"),
        ({"content": b"", "headers": {"content-type": JSON}}, 400, "bad_json"),
        ({"json": {}}, 422, "invalid_request"),
        ({"json": {"payload": 12}}, 422, "invalid_request"),
        ({"json": ["EL1:"]}, 422, "invalid_request"),
        ({"json": {"payload": "EL1:X", "challenge": "c" * 65}}, 422, "invalid_request"),
        ({"json": {"payload": "EL1:X", "verifier": "me"}}, 422, "invalid_request"),
        ({"content": b"EL1:X", "headers": {"content-type": "text/plain"}}, 415, UNSUPPORTED),
        ({"json": {"payload": "A" * 70_000}}, 413, "too_large"),
        ({"files": {"photo": ("a.png", b"x", "image/png")}}, 422, "invalid_request"),
        ({"files": {"image": ("a.png", b"not an image", "image/png")}}, 422, "bad_image"),
    ],
)  # fmt: skip
def test_bad_input_is_a_4xx_with_a_reason(
    offline: TestClient, kwargs: dict[str, Any], status: int, error: str
) -> None:
    response = offline.post("/verify", **kwargs)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["detail"]


def test_image_upload(offline: TestClient, world: World) -> None:
    files = {"image": ("qr.png", _png(world.presentation_qr()), "image/png")}
    body = offline.post("/verify", files=files).json()
    assert body["valid"] is True and body["licence"]["number"] == "DL-2026-000123"
    expired = {"image": ("qr.png", _png(world.static_qr(expires_at=NOW - 3600)), "image/png")}
    assert offline.post("/verify", files=expired).json()["outcome"] == "expired"


def test_image_without_a_qr_code(offline: TestClient) -> None:
    blank = io.BytesIO()
    Image.new("L", (200, 200), 255).save(blank, format="JPEG")
    response = offline.post("/verify", files={"image": ("b.jpg", blank.getvalue(), "image/jpeg")})
    assert response.status_code == 422 and response.json()["error"] == "no_qr_code"


def test_offline_app_records_nothing_and_writes_nothing(bundle: Path, world: World) -> None:
    app = create_app(bundle, now=lambda: NOW)
    assert app.state.verifier_context.record_check is None
    before = sorted(str(p) for p in bundle.rglob("*"))
    client = TestClient(app)
    identified = {"payload": world.presentation_qr(), "verifier": {"name": "Counter 3"}}
    assert client.post("/verify", json=identified).json()["valid"] is True
    assert sorted(str(p) for p in bundle.rglob("*")) == before


def test_online_check_is_recorded_for_a_signed_in_party_naming_its_purpose(online) -> None:  # type: ignore[no-untyped-def]
    client, recorder, world = online
    body = {"payload": world.presentation_qr(), "verifier": {"purpose": "CAR_RENTAL"}}
    answer = client.post("/verify", json=body, headers={"Authorization": "Bearer counter-3"})
    assert answer.json()["valid"] is True
    assert recorder.calls == [
        {
            "credential_id": answer.json()["credential_id"],
            "licence_number": "DL-2026-000123",
            "department": "transport",
            "party": COUNTER_3,
            "purpose": "CAR_RENTAL",
            "outcome": "valid",
            "checked_at": NOW,
        }
    ]


def test_online_failed_check_is_recorded_with_its_outcome(online) -> None:  # type: ignore[no-untyped-def]
    client, recorder, world = online

    revoked = encode_static_qr(world.credential(status=StatusReference(STATUS_URI, 8)))
    files = {"image": ("qr.png", _png(revoked), "image/png")}
    data = {"verifier_name": "Typed name", "verifier_purpose": "ACCOUNT_OPENING"}
    body = client.post(
        "/verify", files=files, data=data, headers={"Authorization": "Bearer bank"}
    ).json()
    assert body["outcome"] == "revoked"
    assert [(c["party"].name, c["outcome"]) for c in recorder.calls] == [("Bank", "revoked")]


def test_online_check_not_recorded_for_a_typed_name_or_a_forgery(online) -> None:  # type: ignore[no-untyped-def]
    client, recorder, world = online
    typed = {"payload": world.presentation_qr(), "verifier": {"name": "公安局", "purpose": "x"}}
    assert client.post("/verify", json=typed).json()["valid"] is True
    forged = {"payload": world.static_qr(signer=signer()), "verifier": {"purpose": "CAR_RENTAL"}}
    answer = client.post("/verify", json=forged, headers={"Authorization": "Bearer counter-3"})
    assert answer.json()["outcome"] == "unknown_kid"
    assert recorder.calls == []


def test_a_signed_in_party_naming_another_purpose_is_refused_before_verifying(online) -> None:  # type: ignore[no-untyped-def]
    client, recorder, world = online
    body = {"payload": world.presentation_qr(), "verifier": {"purpose": "ACCOUNT_OPENING"}}
    answer = client.post("/verify", json=body, headers={"Authorization": "Bearer counter-3"})
    assert answer.status_code == 403
    unknown = client.post("/verify", json=body, headers={"Authorization": "Bearer nobody"})
    assert unknown.status_code == 401
    assert recorder.calls == []


def test_openapi_documents_both_bodies(offline: TestClient) -> None:
    operation = offline.get("/openapi.json").json()["paths"]["/verify"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}


def _route_only(bundle: Path) -> FastAPI:
    """The app of ``create_app`` without ``AnonymousScans``: every request reaches the route."""
    app = create_app(bundle, now=lambda: NOW)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not AnonymousScans]
    return app


def test_anonymous_scans_are_answered_by_the_middleware_as_the_route_answers_them(
    bundle: Path, world: World
) -> None:
    """The same requests, with and without ``AnonymousScans``: the same status and body, byte
    for byte (the middleware and the route share ``_json_input`` and ``_answer``)."""
    bodies = [
        {"payload": world.presentation_qr()},
        {"payload": world.presentation_qr(challenge="c-1"), "challenge": "c-1"},
        {"payload": world.presentation_qr(challenge="c-1"), "challenge": "c-2"},
        {"payload": world.static_qr()},
        {"payload": world.presentation_qr(presented_at=NOW - 3600)},
        {"payload": world.static_qr(expires_at=NOW - 3600)},
        {"payload": world.static_qr(signer=signer())},  # a foreign key
        {"payload": world.presentation_qr()[:-3] + "AAA"},  # tampered
        {"payload": "not a licence"},
        {"payload": "EL1:X", "challenge": "c" * 65},
        {"payload": "EL1:X", "verifier": "me"},
        {"payload": "A" * 70_000},
        {},
        ["EL1:"],
    ]
    raw = [json.dumps(body).encode() for body in bodies] + [b"{not json", b"", b'{"a": NaN}']
    with (
        TestClient(create_app(bundle, now=lambda: NOW)) as scans,
        TestClient(_route_only(bundle)) as route,
    ):
        for content in raw:
            headers = {"content-type": "application/json; charset=utf-8"}
            a = scans.post("/verify", content=content, headers=headers)
            b = route.post("/verify", content=content, headers=headers)
            assert (a.status_code, a.content) == (b.status_code, b.content), content[:80]
            assert a.headers["content-type"] == b.headers["content-type"]
        outcomes = [scans.post("/verify", content=c, headers=headers).json() for c in raw[:7]]
    assert [o["outcome"] for o in outcomes] == [
        "valid", "valid", "challenge_mismatch", "valid", "stale_presentation", "expired",
        "unknown_kid",
    ]  # fmt: skip


def test_only_anonymous_json_scans_stop_at_the_middleware(bundle: Path, world: World) -> None:
    """A scan with a key, an image or another method or path goes on to the app (here a route
    that fails, to tell them apart); an anonymous JSON scan never reaches it."""
    app = create_app(bundle, now=lambda: NOW)
    app.router.routes.clear()

    @app.post("/verify")
    def reached() -> None:
        raise RuntimeError("the route was reached")

    payload = {"payload": world.presentation_qr()}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/verify", json=payload).json()["valid"] is True
        keyed = client.post("/verify", json=payload, headers={"Authorization": "Bearer bank"})
        assert keyed.status_code == 500
        files = {"image": ("qr.png", _png(world.presentation_qr()), "image/png")}
        assert client.post("/verify", files=files).status_code == 500
        slash = client.post("/verify/", json=payload, follow_redirects=False)
        assert slash.status_code == 307 and slash.headers["location"].endswith("/verify")
        assert client.get("/verify").status_code == 405


def test_an_anonymous_scan_sent_in_chunks_is_read_whole_and_a_huge_one_is_refused(
    offline: TestClient, world: World
) -> None:
    body = json.dumps({"payload": world.presentation_qr()}).encode()
    chunks = iter([body[:10], body[10:200], body[200:]])
    answer = offline.post("/verify", content=chunks, headers={"content-type": JSON})
    assert answer.status_code == 200 and answer.json()["valid"] is True

    def huge() -> Any:  # 1 MB in 1 KB pieces
        for _ in range(1024):
            yield b" " * 1024

    answer = offline.post("/verify", content=huge(), headers={"content-type": JSON})
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"
