"""What the wallet keeps per app, made once at start-up: settings, the database, the ID vault,
the holder-key box and the citizen authenticator (with its JWKS caches); and the FastAPI
dependencies that hand them to routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from registry.database import Database
from registry.holder_keys import HolderKeyBox
from registry.settings import Settings
from registry.vault import CitizenIdVault

from .auth import Authenticator, Citizen, JwksFile, JwksSource, JwksUrl, TokenVerifier
from .dev_idp import dev_idp_enabled, dev_token_verifier
from .errors import MissingToken


def authenticator_for(settings: Settings) -> Authenticator:
    """The providers ``settings`` configure: the external one and, in development, the dev one
    (whose key file is created here, at start-up, when missing)."""
    verifiers: list[TokenVerifier] = []
    if settings.idp_issuer and settings.idp_audience:
        source: JwksSource | None = None
        if settings.idp_jwks_file is not None:
            source = JwksFile(settings.idp_jwks_file)
        elif settings.idp_jwks_url:
            source = JwksUrl(settings.idp_jwks_url)
        if source is not None:
            verifiers.append(
                TokenVerifier(
                    issuer=settings.idp_issuer,
                    audience=settings.idp_audience,
                    jwks=source,
                    id_claim=settings.idp_id_claim,
                )
            )
    if dev_idp_enabled(settings):
        verifiers.append(dev_token_verifier(settings))
    return Authenticator(verifiers)


class WalletRuntime:
    """The wallet's part of the app context."""

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        vault: CitizenIdVault,
        key_secret: bytes,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.vault = vault
        self.box = HolderKeyBox(key_secret)
        self.authenticator = authenticator or authenticator_for(settings)

    def __repr__(self) -> str:
        return "WalletRuntime()"


async def get_wallet_runtime(request: Request) -> WalletRuntime:
    """FastAPI dependency: the ``WalletRuntime`` made at start-up (``app.state.wallet``);
    ``async``, so FastAPI does not hop to a worker thread for it."""
    runtime: WalletRuntime = request.app.state.wallet
    return runtime


RuntimeDep = Annotated[WalletRuntime, Depends(get_wallet_runtime)]


async def get_settings_of_app(runtime: RuntimeDep) -> Settings:
    """FastAPI dependency: the settings the app was made with."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]


def read_session(runtime: RuntimeDep) -> Iterator[Session]:
    """FastAPI dependency: a read-only transaction (the wallet only reads)."""
    with runtime.database.reading() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A token from the identity provider")


async def current_citizen(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Citizen:
    """FastAPI dependency: the signed-in citizen, or 401. A token seen lately is answered from
    memory; a new one is checked in a worker thread (its JWKS may be fetched)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingToken()
    token = credentials.credentials
    citizen = runtime.authenticator.remembered(token)
    if citizen is None:
        citizen = await run_in_threadpool(runtime.authenticator.authenticate, token)
    return citizen


CitizenDep = Annotated[Citizen, Depends(current_citizen)]
