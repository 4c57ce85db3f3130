"""What sharing keeps per app, made once at start-up: settings, the database, the ID vault, the
decrypted platform root signer (it signs every data package) and the per-party rate limiter;
and the FastAPI dependencies that hand them to routes.

The root signer is not looked up per fetch: it is kept with the database's change counter
(``Database.changes``, bumped by every commit that adds or changes a signing key, in any process
on the machine), like the online verifier's documents, and looked up again when the counter
moved or ``ROOT_KEY_RECHECK_SECONDS`` passed (the counter is per machine: on PostgreSQL another
machine's rotation shows within that time). It was one query of four per fetch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


# Longest a cached root signer is used without looking the current root key up again.
ROOT_KEY_RECHECK_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class _RootSigner:
    """The root signer as of change number ``generation``, looked up at ``checked_at``."""

    signer: LocalSigner
    generation: int
    checked_at: float


class SharingRuntime:
    """Sharing's part of the app context."""

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        vault: CitizenIdVault,
        key_secret: bytes,
        clock: Callable[[], float] = time.monotonic,
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
        self._clock = clock
        self._signers: dict[str, LocalSigner] = {}
        self._root: _RootSigner | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "SharingRuntime()"

    def close(self) -> None:
        self.limiter.close()

    def root_signer(self, session: Session) -> LocalSigner:
        """The current platform root key's signer: from memory while no key changed (a read of
        the change counter), else looked up (decrypted once per key and process). Raises
        ``NoRootKey``."""
        generation = self.database.changes.value()  # before the look-up: a later change shows
        now = self._clock()
        root = self._root
        if (
            root is not None
            and root.generation == generation
            and now - root.checked_at < ROOT_KEY_RECHECK_SECONDS
        ):
            return root.signer
        kid = session.connection().execute(_ROOT_KID).scalar()
        signer = self._signers.get(kid) if kid is not None else None
        if signer is None:
            row = root_signing_key(session)
            if row is None:
                raise NoRootKey()
            signer = load_signer(row, key_secret=self._key_secret)
            with self._lock:
                self._signers[row.kid] = signer
        self._root = _RootSigner(signer, generation, now)
        return signer


# The kid of the key ``root_signing_key`` picks (the newest active platform key), built once.
_ROOT_KID = (
    select(SigningKey.kid)
    .where(SigningKey.department_id.is_(None), SigningKey.state == KeyState.ACTIVE)
    .order_by(SigningKey.not_before.desc(), SigningKey.id.desc())
    .limit(1)
)


def sharing_runtime(request: Request) -> SharingRuntime:
    """The ``SharingRuntime`` made at start-up (``app.state.sharing``)."""
    runtime: SharingRuntime = request.app.state.sharing
    return runtime


async def get_sharing_runtime(request: Request) -> SharingRuntime:
    """FastAPI dependency: ``sharing_runtime``."""
    return sharing_runtime(request)


RuntimeDep = Annotated[SharingRuntime, Depends(get_sharing_runtime)]


def read_session(runtime: RuntimeDep) -> Iterator[Session]:
    """FastAPI dependency: a read-only transaction; writes go through ``runtime.database.write``."""
    with runtime.database.reading() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]
