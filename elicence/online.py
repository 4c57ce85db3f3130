"""The verifier online: ``POST /verify`` in the combined app reads the trust list and status lists
straight from the registry (signed exactly as served) and records checks for the citizen's
"who checked my licence" list. Offline counters use a synced bundle instead."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from credential import PublicKey, TrustList, jwk_to_public_key
from issuer.runtime import IssuerRuntime
from issuer.status_lists.service import status_list_token
from issuer.trust_list.service import root_public_key, trust_list_token
from registry.errors import ServiceError
from registry.models import Department, Licence, VerificationCheck
from verifier import TokenStatusSource, TokenTrustSource
from verifier.api import VerifierContext


class _RegistryDocuments:
    """Token suppliers for the verifier's sources, each in its own short session."""

    def __init__(self, session_factory: sessionmaker[Session], runtime: IssuerRuntime) -> None:
        self._sessions = session_factory
        self._runtime = runtime

    def trust_list(self) -> str | None:
        with self._sessions() as session:
            try:
                return trust_list_token(session=session, runtime=self._runtime).token
            except ServiceError:
                return None

    def status_list(self, uri: str) -> str | None:
        if not uri.isdecimal() or len(uri) > 12:
            return None
        with self._sessions() as session:
            try:
                return status_list_token(
                    session=session, runtime=self._runtime, list_id=int(uri)
                ).token
            except ServiceError:
                return None

    def root_key(self) -> PublicKey | None:
        with self._sessions() as session:
            try:
                return jwk_to_public_key(root_public_key(session=session)["jwk"])
            except ServiceError:
                return None

    def record_check(
        self,
        *,
        credential_id: str,
        licence_number: str,
        department: str,
        verifier_name: str,
        purpose: str | None,
        outcome: str,
        checked_at: int,
    ) -> None:
        with self._sessions() as session, session.begin():
            licence_id = session.scalar(
                select(Licence.id)
                .join(Department, Licence.department_id == Department.id)
                .where(Licence.number == licence_number, Department.code == department)
            )
            if licence_id is None:
                return
            session.add(
                VerificationCheck(
                    licence_id=licence_id,
                    verifier_name=verifier_name,
                    purpose=purpose,
                    outcome=outcome,
                    checked_at=dt.datetime.fromtimestamp(checked_at, dt.UTC),
                )
            )


class _LazyRootTrust:
    """Pins the root key on first use (``elicence init`` may run after the app starts)."""

    def __init__(self, documents: _RegistryDocuments) -> None:
        self._documents = documents
        self._source: TokenTrustSource | None = None
        self._lock = threading.Lock()

    def trust_list(self) -> TrustList | None:
        if self._source is None:
            root = self._documents.root_key()
            if root is None:
                return None
            with self._lock:
                self._source = self._source or TokenTrustSource(self._documents.trust_list, root)
        return self._source.trust_list()


def online_verifier_context(state: Any) -> VerifierContext:
    """A ``VerifierContext`` over the registry for the app whose ``state`` is given."""
    runtime = getattr(state, "issuer_runtime", None)
    if runtime is None:
        runtime = IssuerRuntime(
            settings=state.settings, vault=state.vault, key_secret=state.key_secret
        )
        state.issuer_runtime = runtime
    documents = _RegistryDocuments(state.session_factory, runtime)
    trust = _LazyRootTrust(documents)
    return VerifierContext(
        trust=trust,
        status=TokenStatusSource(documents.status_list, trust),
        record_check=documents.record_check,
    )
