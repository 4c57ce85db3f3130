"""A small real world for wallet tests: the whole app (issuer services, wallet routes) over a
migrated SQLite file, real department and holder keys, the dev identity provider for tokens,
and the verifier library fed with the issuer's signed trust and status lists.

Every test here also runs under a root-logger handler at DEBUG; after the test no captured log
line may contain an ID number used by these tests (``ID_NUMBERS``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from credential import jwk_to_public_key, read_trust_list
from issuer.auth import DepartmentCaller
from issuer.departments.schemas import LicenceTypeCreate
from issuer.departments.service import create_department, create_licence_type
from issuer.licences.schemas import LicenceCreate
from issuer.licences.service import issue_licence
from issuer.revocation.service import change_status
from issuer.status_lists.service import status_list_token
from issuer.trust_list.service import root_public_key, trust_list_token
from keys import generate_signing_key
from registry.migrate import upgrade
from registry.models import Department as DepartmentRow
from registry.models import Licence, LicenceType, VerificationCheck
from registry.settings import Settings
from registry.signing_keys import store_signing_key
from sharing.schemas import PurposeCreate, RelyingPartyCreate
from sharing.service import create_api_key, create_purpose, create_relying_party
from verifier import FixedTrust, Policy, TokenStatusSource, VerificationResult, verify_payload
from wallet_api.dev_idp import issue_dev_token

# Valid GB 11643 numbers (check characters computed) and one that fails the check digit.
ZHANG = "11010519491231002X"
LI = "440524188001010014"
WANG = "510104197503082312"
BAD_CHECK_DIGIT = "110105194912310021"
ID_NUMBERS = (ZHANG, LI, WANG, BAD_CHECK_DIGIT)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_id_number_in_logs() -> Iterator[_Capture]:
    """Capture every log record of the test (root, uvicorn, httpx, SQLAlchemy) and check it."""
    root = logging.getLogger()
    capture = _Capture()
    saved = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(saved)
    leaks = [line for line in capture.lines for n in ID_NUMBERS if n in line]
    assert not leaks, f"{len(leaks)} log line(s) carry an ID number"


@dataclass
class Department:
    code: str
    caller: DepartmentCaller


class Wallet:
    """The running app plus helpers to issue, revoke, sign in and verify."""

    def __init__(self, app: FastAPI, client: TestClient, settings: Settings) -> None:
        self.app = app
        self.client = client
        self.settings = settings
        self.context = app.state.context
        self.database = self.context.database
        self.issuer = self.context.issuer
        self.departments: dict[str, Department] = {}
        self.new_root_key()

    def new_root_key(self) -> None:
        """A new platform root key (the newest one signs from now on)."""
        with self.database.writing() as session:
            store_signing_key(
                session,
                private_key=generate_signing_key(),
                key_secret=self.context.key_secret,
                department_id=None,
            )

    def department(
        self, code: str, name: str, types: list[LicenceTypeCreate], **extra: Any
    ) -> Department:
        """A department (``extra``: credit_code, jurisdiction_code, alg) with ``types``."""
        with self.database.writing() as session:
            row = create_department(
                session=session,
                code=code,
                name=name,
                actor="test",
                key_secret=self.context.key_secret,
                **extra,
            )
            for licence_type in types:
                create_licence_type(
                    session=session,
                    department_code=code,
                    licence_type_in=licence_type,
                    actor="test",
                )
            department = Department(code, DepartmentCaller(row.id, code, "test"))
        self.departments[code] = department
        return department

    def issue(self, department: str, **licence: Any) -> str:
        with self.database.writing() as session:
            row, _ = issue_licence(
                session=session,
                runtime=self.issuer,
                caller=self.departments[department].caller,
                licence_in=LicenceCreate(**licence),
            )
            return row.id

    def revoke(self, department: str, licence_id: str, reason: str) -> None:
        with self.database.writing() as session:
            caller = self.departments[department].caller
            change_status(
                session=session,
                caller=caller,
                licence_id=licence_id,
                verb="revoke",
                reason=reason,
                note=None,
            )

    def suspend(self, department: str, licence_id: str, reason: str) -> None:
        with self.database.writing() as session:
            caller = self.departments[department].caller
            change_status(
                session=session,
                caller=caller,
                licence_id=licence_id,
                verb="suspend",
                reason=reason,
                note=None,
            )

    def record_check(self, licence_id: str, **values: Any) -> None:
        with self.database.writing() as session:
            session.add(VerificationCheck(licence_id=licence_id, **values))

    def relying_party(self, code: str, name: str, purposes: dict[str, str]) -> str:
        """A relying party registered as the operator would (``sharing.service``), with
        ``purposes`` (code: Chinese text) over every licence type; returns its new API key."""
        with self.database.writing() as session:
            party = create_relying_party(
                session=session,
                party_in=RelyingPartyCreate(code=code, name=name, kind="other", contact="-"),
                actor="test",
            )
            for purpose, text in purposes.items():
                create_purpose(
                    session=session,
                    party_code=party.code,
                    purpose_in=PurposeCreate(
                        code=purpose,
                        text_zh=text,
                        text_en=text,
                        licence_types=[f"{d}/{t}" for d, t in self.licence_types(session)],
                        fields=["holder_name"],
                        max_days=30,
                    ),
                    actor="test",
                )
            _, key = create_api_key(session=session, party_code=code, actor="test")
            return key.text

    @staticmethod
    def licence_types(session: Any) -> list[tuple[str, str]]:
        return [
            (d, t)
            for d, t in session.execute(
                select(DepartmentRow.code, LicenceType.code).join(
                    LicenceType, LicenceType.department_id == DepartmentRow.id
                )
            )
        ]

    def licence_row(self, licence_id: str) -> Licence:
        with self.database.reading() as session:
            row = session.get(Licence, licence_id)
            assert row is not None
            return row

    def token(self, id_number: str) -> str:
        return issue_dev_token(self.settings, id_number)

    def auth(self, id_number: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(id_number)}"}

    def get(self, path: str, id_number: str, **params: Any) -> Any:
        return self.client.get(path, headers=self.auth(id_number), params=params)

    def verify(
        self, payload: str, *, challenge: str | None = None, now: int | None = None
    ) -> VerificationResult:
        """Check a payload with the verifier library, as a synced counter would."""
        with self.database.reading() as session:
            root = jwk_to_public_key(root_public_key(session=session)["jwk"])
            trust = FixedTrust(
                read_trust_list(trust_list_token(session=session, runtime=self.issuer).token, root)
            )

            def fetch(uri: str) -> str | None:
                served = status_list_token(session=session, runtime=self.issuer, list_id=int(uri))
                return served.token

            status = TokenStatusSource(fetch, trust)
            at = int(dt.datetime.now(dt.UTC).timestamp()) if now is None else now
            return verify_payload(
                payload,
                trust=trust,
                status=status,
                now=lambda: at,
                policy=Policy(),
                challenge=challenge,
            )


DRIVING = LicenceTypeCreate(
    code="DL",
    name="Motor vehicle driving licence",
    validity_days=2190,
    categories=["A1", "A2", "B1", "B2", "C1", "C2"],
)
BUSINESS = LicenceTypeCreate(code="BL", name="Business licence", validity_days=3650)


def settings_for(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "development",
        "data_dir": data_dir,
        "database_url": database_url,
        "dev_idp": True,
        "presentation_ttl": 30,
        "master_key": None,
        "idp_issuer": None,
        "idp_jwks_file": None,
        "idp_jwks_url": None,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def wallet(tmp_path: Path, sqlite_url: str) -> Iterator[Wallet]:
    """The app over a migrated SQLite file with a transport bureau and a market regulator."""
    from elicence.app import create_app

    upgrade(sqlite_url)
    settings = settings_for(tmp_path / "data", sqlite_url)
    app = create_app(settings)
    with TestClient(app) as client:
        world = Wallet(app, client, settings)
        world.department("TRANSPORT", "Municipal Transport Bureau", [DRIVING])
        world.department("MARKET", "Market Regulation Administration", [BUSINESS])
        yield world


def driving_licence(id_number: str = ZHANG, **overrides: Any) -> dict[str, Any]:
    return {
        "licence_type": "DL",
        "id_number": id_number,
        "holder_name": "张秀英",
        "categories": ["C1"],
        **overrides,
    }
