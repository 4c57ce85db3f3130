"""Per-process state of the department service, made once at start-up: settings, the database,
the ID vault, the holder-key box and caches of decrypted signers and signed documents
(decrypting a PKCS#8 key costs tens of milliseconds, so each signing key is decrypted once per
process)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from keys import LocalSigner
from registry.database import Database
from registry.holder_keys import HolderKeyBox
from registry.models import SigningKey
from registry.settings import Settings
from registry.signing_keys import load_signer
from registry.vault import CitizenIdVault


@dataclass(slots=True)
class SignedDocument:
    """A signed token kept for re-serving while its content and key are unchanged."""

    fingerprint: str
    token: str
    issued_at: int


class IssuerRuntime:
    """What the issuer keeps in memory between requests (one per app)."""

    def __init__(
        self, *, settings: Settings, database: Database, vault: CitizenIdVault, key_secret: bytes
    ) -> None:
        self.settings = settings
        self.database = database
        self.vault = vault
        self.holder_box = HolderKeyBox(key_secret)
        self._key_secret = key_secret
        self._signers: dict[str, LocalSigner] = {}
        self._lock = threading.Lock()
        self.documents: dict[str, SignedDocument] = {}

    def __repr__(self) -> str:
        return "IssuerRuntime()"

    @property
    def key_secret(self) -> bytes:
        return self._key_secret

    def signer(self, row: SigningKey) -> LocalSigner:
        """The decrypted signer of a stored key, cached by kid."""
        signer = self._signers.get(row.kid)
        if signer is None:
            signer = load_signer(row, key_secret=self._key_secret)
            with self._lock:
                self._signers[row.kid] = signer
        return signer

    def signer_by_kid(self, *, session: Session, kid: str, key_id: int) -> LocalSigner:
        """The decrypted signer of key ``kid`` (row id ``key_id``); the row is loaded only
        when the key is not cached yet."""
        signer = self._signers.get(kid)
        if signer is not None:
            return signer
        row = session.get(SigningKey, key_id)
        if row is None or row.kid != kid:
            raise LookupError(f"no signing key {kid}")
        return self.signer(row)


async def get_runtime(request: Request) -> IssuerRuntime:
    """FastAPI dependency: the ``IssuerRuntime`` the app made at start-up (``app.state.issuer``);
    ``async``, so FastAPI does not hop to a worker thread for it."""
    runtime: IssuerRuntime = request.app.state.issuer
    return runtime


RuntimeDep = Annotated[IssuerRuntime, Depends(get_runtime)]


def read_session(runtime: RuntimeDep) -> Iterator[Session]:
    """FastAPI dependency: a read-only transaction (never SQLite's write lock), ended after the
    endpoint returns. Writes go through ``runtime.database.write``."""
    with runtime.database.reading() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]
