"""What sharing keeps per app, made once at start-up: settings, the database, the ID vault, the
decrypted platform root signer (it signs every data package) and the per-party rate limiter;
and the FastAPI dependencies that hand them to routes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from credential import KeyState
from keys import LocalSigner
from registry.database import Database
from registry.errors import ServiceError
from registry.models import SigningKey
from registry.settings import Settings
from registry.signing_keys import load_signer, root_signing_key
from registry.vault import CitizenIdVault

from .limits import RateLimiter


class NoRootKey(ServiceError):
    """There is no platform root key to sign with: run ``elicence init``."""

    status_code = 503
    code = "no_root_key"


class SharingRuntime:
    """Sharing's part of the app context."""

    def __init__(
        self, *, settings: Settings, database: Database, vault: CitizenIdVault, key_secret: bytes
    ) -> None:
        self.settings = settings
        self.database = database
        self.vault = vault
        self._key_secret = key_secret
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.limiter = RateLimiter(
            rate=settings.relying_party_rate,
            burst=settings.relying_party_burst,
            path=settings.data_dir / "relying-party-rates",  # shared by the worker processes
        )
        self._signers: dict[str, LocalSigner] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "SharingRuntime()"

    def close(self) -> None:
        self.limiter.close()

    def root_signer(self, session: Session) -> LocalSigner:
        """The current platform root key's signer (decrypted once per key and process: the
        current kid is one prebuilt read). Raises ``NoRootKey``."""
        kid = session.connection().execute(_ROOT_KID).scalar()
        signer = self._signers.get(kid) if kid is not None else None
        if signer is not None:
            return signer
        row = root_signing_key(session)
        if row is None:
            raise NoRootKey()
        signer = load_signer(row, key_secret=self._key_secret)
        with self._lock:
            self._signers[row.kid] = signer
        return signer


# The kid of the key ``root_signing_key`` picks (the newest active platform key), built once.
_ROOT_KID = (
    select(SigningKey.kid)
    .where(SigningKey.department_id.is_(None), SigningKey.state == KeyState.ACTIVE)
    .order_by(SigningKey.not_before.desc(), SigningKey.id.desc())
    .limit(1)
)


async def get_sharing_runtime(request: Request) -> SharingRuntime:
    """FastAPI dependency: the ``SharingRuntime`` made at start-up (``app.state.sharing``)."""
    runtime: SharingRuntime = request.app.state.sharing
    return runtime


RuntimeDep = Annotated[SharingRuntime, Depends(get_sharing_runtime)]


def read_session(runtime: RuntimeDep) -> Iterator[Session]:
    """FastAPI dependency: a read-only transaction; writes go through ``runtime.database.write``."""
    with runtime.database.reading() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]
