"""Schemathesis against the whole app's OpenAPI document, in process (ASGI), with real credentials.

The world: a migrated SQLite file, a platform root key, a transport bureau with an API key and a
driving-licence type, and licences issued to one citizen (one of them revoked, one suspended).
Every operation is called with the credential its audience holds: the platform administrator's
token under ``/issuer/admin`` and ``/sharing/admin``, the department's API key under ``/issuer``,
a relying party's API key under ``/sharing``, a citizen token from the development identity
provider under ``/wallet``; licence ids in paths are drawn from the
real licences as often as from Hypothesis, except in a case generated to break its path (or, for
``/verify``, its body): pointed at a real licence, such a case would be valid again but still
counted as one that must be refused. Every answer must be documented: no 5xx, a status
code the operation lists, the content type and schema it documents for that code.

Bounded and deterministic: at most ``MAX_EXAMPLES`` generated cases per operation (besides the
schema's examples and schemathesis's coverage cases), ``derandomize`` (Hypothesis draws from a
fixed seed) with no example database, no per-example deadline (a busy machine must not fail
it). About a minute for the 28 operations.
"""

from __future__ import annotations

import os
import secrets
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis import AuthContext, Case, checks
from schemathesis.core.parameters import ParameterLocation

from keys import encode_master_key, generate_signing_key
from registry.migrate import upgrade
from registry.settings import Settings
from registry.signing_keys import store_signing_key
from wallet_api.dev_idp import issue_dev_token

CITIZEN = "11010519491231002X"
OTHER_CITIZEN = "440524188001010014"
MAX_EXAMPLES = 25
# Every check that applies to single answers. Left out: positive_data_acceptance (a
# schema-valid body can still break a rule JSON Schema cannot say: an ID number's check
# character, a licence type the department lacks) and the stateful ones (use_after_free,
# ensure_resource_availability, object_level_authorization: no API link to follow).
CHECKS = [
    getattr(checks, name)
    for name in (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "ignored_auth",
    )
]


@schemathesis.serializer("application/x-ndjson")
def _json_lines_upload(_context: Any, value: Any) -> bytes | None:
    """``POST /issuer/imports`` takes the file itself as the body (JSON Lines among its types),
    which schemathesis has no serializer for: send the generated value's bytes as they are."""
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode()


@dataclass(frozen=True)
class World:
    """What the fuzzer needs to speak as each caller and to point cases at real licences."""

    admin_token: str
    api_key: str
    party_key: str
    citizen_token: str
    licence_ids: tuple[str, ...]
    payloads: tuple[str, ...]

    def bearer_tokens(self) -> dict[str, str]:
        """The bearer token of the caller each path prefix is for (most specific first)."""
        return {
            "/issuer/admin/": self.admin_token,
            "/issuer/": self.api_key,
            "/sharing/admin/": self.admin_token,
            "/sharing/": self.party_key,
            "/wallet/": self.citizen_token,
        }


def fuzz_settings(tmp_path: Path, admin_token: str) -> Settings:
    """Development settings (dev identity provider on) over a fresh migrated SQLite file."""
    database_url = f"sqlite:///{tmp_path / 'elicence.db'}"
    upgrade(database_url)
    return Settings(
        environment="development",
        data_dir=tmp_path / "data",
        database_url=database_url,
        master_key=encode_master_key(os.urandom(32)),
        admin_token=SecretStr(admin_token),
        dev_idp=True,
    )


def populate(app: FastAPI, client: Any, admin_token: str) -> World:
    """A platform root key, a department with an API key and a licence type, four licences
    (three to ``CITIZEN``: one valid, one revoked, one suspended), made through the API."""
    context = app.state.context
    with context.database.writing() as session:
        store_signing_key(
            session,
            private_key=generate_signing_key(),
            key_secret=context.key_secret,
            department_id=None,
        )
    admin = {"Authorization": f"Bearer {admin_token}"}
    r = client.post(
        "/issuer/admin/departments",
        json={"code": "TRANSPORT", "name": "Municipal Transport Bureau"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = client.post("/issuer/admin/departments/TRANSPORT/api-keys", headers=admin)
    assert r.status_code == 201, r.text
    api_key = r.json()["api_key"]
    r = client.post(
        "/issuer/admin/departments/TRANSPORT/licence-types",
        json={
            "code": "DRIVING",
            "name": "Driving licence",
            "fields": [
                {"name": "licence_class", "type": "choice", "choices": ["A", "B", "C"]},
                {"name": "first_issued", "type": "date"},
                {"name": "points", "type": "int", "required": False},
            ],
            "validity_days": 3650,
            "categories": ["A1", "B1", "C1"],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    department = {"Authorization": f"Bearer {api_key}"}
    issued = []
    for holder in (CITIZEN, CITIZEN, CITIZEN, OTHER_CITIZEN):
        r = client.post(
            "/issuer/licences",
            json={
                "licence_type": "DRIVING",
                "id_number": holder,
                "holder_name": "张三",
                "fields": {"licence_class": "B", "first_issued": "2020-05-01"},
                "categories": ["B1"],
            },
            headers=department,
        )
        assert r.status_code == 201, r.text
        issued.append(r.json())
    r = client.post(
        f"/issuer/licences/{issued[1]['id']}/revoke", json={"reason": "fraud"}, headers=department
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/issuer/licences/{issued[2]['id']}/suspend",
        json={"reason": "investigation"},
        headers=department,
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/sharing/admin/relying-parties",
        json={"code": "CITY_BANK", "name": "City Bank", "kind": "bank", "contact": "-"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/sharing/admin/relying-parties/CITY_BANK/purposes",
        json={
            "code": "ACCOUNT_OPENING",
            "text_zh": "开户",
            "text_en": "Account opening",
            "licence_types": ["TRANSPORT/DRIVING"],
            "fields": ["holder_name", "licence_class"],
            "max_days": 30,
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = client.post("/sharing/admin/relying-parties/CITY_BANK/api-keys", headers=admin)
    assert r.status_code == 201, r.text
    return World(
        admin_token=admin_token,
        api_key=api_key,
        party_key=r.json()["api_key"],
        citizen_token=issue_dev_token(context.settings, CITIZEN),
        licence_ids=tuple(licence["id"] for licence in issued),
        payloads=tuple(licence["static_qr"] for licence in issued),
    )


class WorldApp:
    """The ASGI app under test, stood in for until the ``world`` fixture has made it.

    Schemathesis binds its schema to an app at import, before any fixture runs. It starts the
    app's lifespan itself on the first request (and keeps it to the end of the process), so the
    fixture only populates the database through a lifespan of its own, then hands the app over.
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.bearer_tokens: dict[str, str] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the world fixture has not run"
        await self.app(scope, receive, send)


WORLD_APP = WorldApp()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from elicence.app import create_app

    admin_token = secrets.token_urlsafe(32)
    app = create_app(fuzz_settings(tmp_path_factory.mktemp("fuzz"), admin_token))
    with TestClient(app) as client:
        made = populate(app, client, admin_token)
    WORLD_APP.app = app
    WORLD_APP.bearer_tokens = made.bearer_tokens()
    try:
        yield made
    finally:
        WORLD_APP.bearer_tokens = {}


def _document() -> dict[str, Any]:
    """The OpenAPI document the app serves (building the app opens nothing: that is its
    lifespan's work)."""
    from elicence.app import create_app

    document: dict[str, Any] = create_app(Settings(environment="development")).openapi()
    return document


schema = schemathesis.openapi.from_dict(_document())
schema.app = WORLD_APP  # as ``from_asgi`` binds it, but to the app the fixture makes


@schema.auth(refresh_interval=None)
class CallerCredentials:
    """Speaks as the caller a path is for. Through schemathesis rather than by hand, so the
    cases that test refusal (a missing or forged token) keep their own header."""

    def get(self, case: Case, context: AuthContext) -> str | None:
        tokens = WORLD_APP.bearer_tokens.items()
        return next((token for prefix, token in tokens if case.path.startswith(prefix)), None)

    def set(self, case: Case, data: str, context: AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _pick(case: Case) -> int:
    """A number from 0 to 7 drawn from the generated values themselves (so as deterministic
    as they are): below ``len(licence_ids)`` the case is pointed at a real licence."""
    return zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode()) % 8


def _broken_on_purpose(case: Case, location: ParameterLocation) -> bool:
    """Whether Hypothesis generated this part of the case to break the schema."""
    return case.meta is not None and case.meta.is_negative_at(location)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented(case: Case, world: World) -> None:
    """No 5xx; every status code, content type, header and body as the document says."""
    pick = _pick(case)
    if (
        pick < len(world.licence_ids)
        and "licence_id" in (case.path_parameters or {})
        and not _broken_on_purpose(case, ParameterLocation.PATH)
    ):
        case.path_parameters["licence_id"] = world.licence_ids[pick]
    if (
        case.path == "/verify"
        and case.media_type == "application/json"
        and pick < len(world.payloads)
        and isinstance(case.body, dict)
        and not _broken_on_purpose(case, ParameterLocation.BODY)
    ):
        case.body = {**case.body, "payload": world.payloads[pick]}
    case.call_and_validate(checks=CHECKS)
