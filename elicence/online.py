"""The verifier online: ``POST /verify`` in the combined app verifies against the registry's own
trust list and status lists (signed exactly as served) and records checks for the citizen's
"who checked my licence" list (only for a relying party signed in with its API key and naming
one of its purposes: ``sharing.auth.verifying_party``). Offline counters use a synced bundle
instead.
SD-JWT VC presentations must name the registry's public base URL
(``ELICENCE_PUBLIC_BASE_URL``) as ``iss`` and their status lists under it.

Verification reads parsed documents from memory only. ``OnlineDocuments.refresh`` runs before
each verification: it compares the registry's change counter (``Database.changes``, bumped by
every commit that changes a status list, key, department or licence type, in any process) and
the documents' age with what it loaded, and only when they differ reloads them in a worker
thread. So a revocation shows on the very next scan, and the event loop never waits for the
database. A reload after a status change (``Database.trust_changes`` unchanged) keeps the parsed
trust list and rereads only the status lists; a list whose token did not change keeps its
parsed snapshot.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from credential import TrustList, errors, jwk_to_public_key, read_trust_list
from issuer.runtime import IssuerRuntime
from issuer.status_lists.service import status_list_token
from issuer.trust_list.service import root_public_key, trust_list_token
from registry.database import Database
from registry.errors import ServiceError
from registry.models import Department, Licence, VerificationCheck
from sharing.auth import PurposeRef, RelyingPartyCaller
from verifier import StatusSnapshot, read_status_snapshot
from verifier.api import VerifierContext


@dataclass(frozen=True, slots=True)
class _Loaded:
    """The documents as of change number ``generation`` (and trust-list change number
    ``trust_generation``), loaded at ``loaded_at`` (the trust list at ``trust_loaded_at``)."""

    generation: int
    trust_generation: int
    loaded_at: float
    trust_loaded_at: float
    trust_token: str | None = None
    trust_list: TrustList | None = None
    status_tokens: dict[str, str] = field(default_factory=dict)
    status: dict[str, StatusSnapshot] = field(default_factory=dict)


class OnlineDocuments:
    """The registry's trust list and status lists, parsed and checked, for ``POST /verify``:
    a ``TrustSource`` and a ``StatusSource`` that answer from memory."""

    def __init__(
        self,
        *,
        database: Database,
        runtime: IssuerRuntime,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database = database
        self._runtime = runtime
        self._clock = clock
        # Signed tokens are re-signed when half their ttl has passed: reload as often.
        self._max_age = max(1, runtime.settings.status_list_ttl // 2)
        self._loaded: _Loaded | None = None
        self._loading = asyncio.Lock()

    def trust_list(self) -> TrustList | None:
        loaded = self._loaded
        return loaded.trust_list if loaded is not None else None

    def status_list(self, uri: str) -> StatusSnapshot | None:
        loaded = self._loaded
        return loaded.status.get(uri) if loaded is not None else None

    def _current(self, loaded: _Loaded | None, generation: int) -> bool:
        return (
            loaded is not None
            and loaded.generation == generation
            and self._clock() - loaded.loaded_at < self._max_age
        )

    async def refresh(self) -> None:
        """Make the documents current: a memory read when nothing changed, else a reload in a
        worker thread (one at a time; concurrent callers wait for it)."""
        generation = self._database.changes.value()
        if self._current(self._loaded, generation):
            return
        async with self._loading:
            generation = self._database.changes.value()
            if not self._current(self._loaded, generation):
                self._loaded = await asyncio.to_thread(self.load, generation)

    def load(self, generation: int) -> _Loaded:
        """Read and check the documents as they are now (blocking: call it in a thread).
        ``generation``: the change counter read before, so a change after it reloads again."""
        # Read before the snapshot below, like ``generation``: a trust-list change after this
        # read bumps ``changes`` after it too, and the next scan reloads.
        trust_generation = self._database.trust_changes.value()
        previous = self._loaded
        now = self._clock()
        with self._database.reading() as session:
            trust_list: TrustList | None
            if (
                previous is not None
                and previous.trust_list is not None
                and previous.trust_generation == trust_generation
                and now - previous.trust_loaded_at < self._max_age
            ):  # only status lists changed since
                trust_token, trust_list = previous.trust_token, previous.trust_list
                trust_loaded_at = previous.trust_loaded_at
            else:
                trust_loaded_at = now
                try:
                    root = jwk_to_public_key(root_public_key(session=session)["jwk"])
                    trust_token = trust_list_token(session=session, runtime=self._runtime).token
                except ServiceError:  # no root key yet (`elicence init` may run after start)
                    return _Loaded(generation, trust_generation, now, now)
                if previous is not None and previous.trust_token == trust_token:
                    trust_list = previous.trust_list
                else:
                    trust_list = read_trust_list(trust_token, root)
            assert trust_list is not None
            tokens, snapshots = self._status_lists(session, trust_list, previous)
        return _Loaded(
            generation,
            trust_generation,
            now,
            trust_loaded_at,
            trust_token,
            trust_list,
            tokens,
            snapshots,
        )

    def _status_lists(
        self, session: Session, trust_list: TrustList, previous: _Loaded | None
    ) -> tuple[dict[str, str], dict[str, StatusSnapshot]]:
        tokens: dict[str, str] = {}
        snapshots: dict[str, StatusSnapshot] = {}
        for department in trust_list.departments:
            for uri in department.status_lists:
                try:
                    token = status_list_token(
                        session=session, runtime=self._runtime, list_id=int(uri)
                    ).token
                except ServiceError:  # e.g. the department has no active key
                    continue
                tokens[uri] = token
                if (
                    previous is not None
                    and previous.trust_list is trust_list
                    and previous.status_tokens.get(uri) == token
                ):
                    snapshots[uri] = previous.status[uri]
                    continue
                try:
                    snapshots[uri] = read_status_snapshot(token, trust_list, uri=uri)
                except errors.CredentialError:
                    continue  # unavailable: the verifier answers status_unavailable
        return tokens, snapshots


# One statement, no ORM flush: the check goes in only for a licence of that number and department
# (a credential of another registry records nothing). Its writer work was 3.4 ms of CPU a scan as
# a select, an ORM add and a flush (issue 11).
_CHECK_COLUMNS = (
    "verifier_name",
    "purpose",
    "outcome",
    "checked_at",
    "relying_party_id",
    "purpose_id",
)
_CHECKS = VerificationCheck.__table__
_RECORD_CHECK = insert(VerificationCheck).from_select(
    ["licence_id", *_CHECK_COLUMNS],
    select(
        Licence.id,
        *(bindparam(name, type_=_CHECKS.c[name].type) for name in _CHECK_COLUMNS),
    )
    .join(Department, Licence.department_id == Department.id)
    .where(Licence.number == bindparam("number"), Department.code == bindparam("department")),
)


def _record_check(
    session: Session,
    *,
    credential_id: str | None,
    licence_number: str,
    department: str,
    party: RelyingPartyCaller,
    purpose: PurposeRef,
    outcome: str,
    checked_at: int,
) -> None:
    session.connection().execute(
        _RECORD_CHECK,
        {
            "number": licence_number,
            "department": department,
            "verifier_name": party.name,
            "purpose": purpose.text_zh[:200],
            "outcome": outcome,
            "checked_at": dt.datetime.fromtimestamp(checked_at, dt.UTC),
            "relying_party_id": party.relying_party_id,
            "purpose_id": purpose.id,
        },
    )


def online_verifier_context(*, database: Database, runtime: IssuerRuntime) -> VerifierContext:
    """A ``VerifierContext`` over the registry: documents from ``OnlineDocuments``, checks
    recorded through the database's writer."""
    documents = OnlineDocuments(database=database, runtime=runtime)

    async def record_check(**check: Any) -> None:
        await database.write(lambda session: _record_check(session, **check))

    return VerifierContext(
        trust=documents,
        status=documents,
        record_check=record_check,
        prepare=documents.refresh,
        credential_issuer=runtime.settings.public_base_url,
    )
