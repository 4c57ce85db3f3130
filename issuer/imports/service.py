"""Bulk import of licences a department already issued (存量证照).

Each row goes through what issuance does (``issuer.licences.service``): the ID number checked
and normalised (15-digit numbers upgraded), the fields and categories checked against the type,
the type's duplicates policy, a holder key per citizen, a random status index, a signed
credential, the ID number blind-indexed and encrypted. What differs: a row keeps its original
dates (``valid_from`` in the past is normal) and status (a suspended or revoked licence is
written into the status list as such), and carries the department's own number of the licence,
its *record key*, unique per licence type.

Rows go in batches, one transaction each (``Database.writing()``), with one audit entry per batch
naming the file's SHA-256, the batch's line range and a hash over the licence ids it created. A
killed import loses at most its open batch; run again, it skips every row whose record key is
already stored (counted as already present) and finishes the file. Rows that cannot be imported
go to the rejects file with a reason code; they never stop the others.

A row may bring the licence's existing identifier (电子证照标识, column ``identifier``): it is
validated (``invalid_identifier_<segment>``), must name the licence type's catalogue code and, as
its issuer, the department's credit code or, in older data, its 6-digit jurisdiction (division)
code (``identifier_type_mismatch``, ``identifier_issuer_mismatch``), must be new to the registry
and to the file (``identifier_taken``), and is kept: the credential carries its serial and
version, and says when the issuer segment is the division code (the trust list carries both).
An empty one gets a fresh identifier, as issuance gives.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import functools
import hashlib
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, NoReturn

import cbor2
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from credential import (
    LicenceIdentifier,
    LicenceStatus,
    PublicKey,
    cose_key_to_public_key,
    mask_id_number,
    parse_licence_identifier,
)
from credential.errors import InvalidLicenceIdentifier
from keys import LocalSigner, decrypt_private_key
from registry.audit import append_audit
from registry.database import Database
from registry.db import (
    analyze_if_outgrown,
    bind_values,
    insert_bound_unless_taken,
    one_of,
    padded,
    table_order,
)
from registry.errors import NotFound, ServiceError
from registry.holder_keys import (
    HolderKeyBox,
    PreparedHolderKey,
    prepare_holder_key,
    store_sealed_holder_keys,
    stored_holder_cose_keys,
)
from registry.models import Department, HolderKey, Licence, SigningKey, utcnow
from registry.vault import CitizenIdVault

from ..errors import AlreadyHeld, InvalidRequest
from ..licences.gbt import CHINA_STANDARD_TIME
from ..licences.service import (
    CitizenIds,
    IssuingKey,
    LicenceDraft,
    LicenceTarget,
    PreparedCitizen,
    TypeRules,
    check_single_valid,
    draft_licence,
    find_licence_type,
    issuing_key,
    parse_citizen_id,
    prepare_checked_citizen,
    signed_licence_row,
    status_list_size,
    store_licence,
    store_licences,
)
from ..runtime import IssuerRuntime
from ..status_lists.service import StatusListNeeded, allocate_indices, set_status
from .pool import WorkerPool
from .rejects import RejectsFile
from .schemas import ImportSummary
from .source import SourceFile, SourceRow

# Rows per batch (one transaction, one audit entry, one checkpoint) unless the caller chooses.
# Most of a batch's write is its commit and the random inserts into the licence indices (id,
# number, status index, blind index, identifier); fewer, larger transactions cost less a row.
# 200,000 rows on the 2-core machine, one after the other: SQLite 6,334 / 6,883 / 7,125
# licences/s with 500 / 1,000 / 2,000 rows, PostgreSQL 5,730 / 6,083 / 6,462. On SQLite a
# batch's transaction holds the database's one write lock, which a service's own writes wait
# behind (about 0.1 s for 1,000 rows there); PostgreSQL locks rows, so it takes the larger size.
BATCH_SIZES = {"sqlite": 1000, "postgresql": 2000}


def default_batch_size(dialect: str) -> int:
    """Rows per batch on a database of this dialect (``BATCH_SIZES``)."""
    return BATCH_SIZES.get(dialect, min(BATCH_SIZES.values()))


FIRST_STATISTICS = 1024  # licences (see _Importer.keep_statistics)
RECORD_KEY_MAX = 64
REASON_MAX = 200
# Columns besides the licence type's own fields.
REQUIRED_COLUMNS = frozenset({"record_key", "id_number", "holder_name", "valid_from"})
OPTIONAL_COLUMNS = frozenset(
    {"categories", "issued_at", "valid_until", "status", "status_reason", "identifier"}
)
IMPORT_STATUSES = ("valid", "suspended", "revoked")
_CATEGORY_SEPARATORS = re.compile(r"[,;|\s]+")
_INTEGER = re.compile(r"-?[0-9]{1,18}")

_STORED_KEYS = select(Licence.record_key, Licence.id_index).where(
    Licence.department_id == bindparam("department_id"),
    Licence.licence_type_id == bindparam("licence_type_id"),
    one_of(Licence.record_key, "record_keys"),
)
# Any department's: an identifier is unique in the registry.
_TAKEN_IDENTIFIERS = select(Licence.identifier).where(one_of(Licence.identifier, "identifiers"))


def columns_of(licence_type: TypeRules) -> tuple[set[str], set[str]]:
    """(known, required) column names of an import file for ``licence_type``."""
    own = {spec["name"] for spec in licence_type.fields}
    required = {spec["name"] for spec in licence_type.fields if spec.get("required", True)}
    return (own | REQUIRED_COLUMNS | OPTIONAL_COLUMNS), (required | REQUIRED_COLUMNS)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A row that passed every check that needs no database."""

    line: int
    id_number: str
    draft: LicenceDraft
    original: list[str]

    def __repr__(self) -> str:
        return f"ImportRow(line={self.line})"

    @property
    def record_key(self) -> str:
        assert self.draft.record_key is not None
        return self.draft.record_key


@dataclass(frozen=True, slots=True)
class Checked:
    """A row that passed ``check_row``, with what the record-key and identifier steps read:
    ``payload`` is its ``ImportRow`` (one process) or its row and worker answer (pool)."""

    line: int
    original: list[str]
    record_key: str
    id_index: str
    identifier: str | None
    payload: Any

    def __repr__(self) -> str:
        return f"Checked(line={self.line})"


# What became of a row in its batch's transaction: (line, original, the licence id created or
# None when it was there already, the error that rejected it).
Outcome = tuple[int, list[str], str | None, ServiceError | None]


def _text(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    if type(value) is str:  # what a CSV row holds: the common case first
        return value.strip() or None
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidRequest(f"{name} must be text", code=f"invalid_{name}")
    text = str(value).strip()
    return text or None


def _moment(values: dict[str, Any], name: str, *, end_of_day: bool = False) -> dt.datetime | None:
    text = _text(values, name)
    if text is None:
        return None
    return _parse_moment(text, end_of_day, name)


@functools.lru_cache(maxsize=4096)
def _parse_moment(text: str, end_of_day: bool, name: str) -> dt.datetime:
    """A date or date and time of an import file (cached: a file's rows share few dates, and
    parsing them was 4% of an import's CPU time under cProfile). Raises ``InvalidRequest``."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            if end_of_day:
                day += dt.timedelta(days=1)
            return dt.datetime.combine(day, dt.time(), CHINA_STANDARD_TIME)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be an ISO date (YYYY-MM-DD) or date and time", code="invalid_date"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_STANDARD_TIME)


def _categories(values: dict[str, Any]) -> list[str]:
    value = values.get("categories")
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return [c.strip() for c in value if c.strip()]
    if isinstance(value, str):
        return [c for c in _CATEGORY_SEPARATORS.split(value) if c]
    raise InvalidRequest("categories must be text or a list of text", code="invalid_category")


def _fields(licence_type: TypeRules, values: dict[str, Any], from_text: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in licence_type.fields:
        name = spec["name"]
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # absent: check_fields says whether it is required
        if from_text and spec.get("type") == "int" and isinstance(value, str):
            text = value.strip()
            value = int(text) if _INTEGER.fullmatch(text) else text
        fields[name] = value
    return fields


def _kept_identifier(licence_type: TypeRules, values: dict[str, Any]) -> LicenceIdentifier | None:
    """The row's own licence identifier, checked against the type and department; ``None``
    when empty (a fresh one is assigned). Raises ``InvalidRequest``."""
    text = _text(values, "identifier")
    if text is None:
        return None
    try:
        identifier = parse_licence_identifier(text)
    except InvalidLicenceIdentifier as exc:
        raise InvalidRequest(
            f"identifier: {exc.detail} ({exc.reason})", code=f"invalid_identifier_{exc.reason}"
        ) from None
    if licence_type.identifier_codes is None:
        raise InvalidRequest(
            f"licence type {licence_type.code} has no catalogue code or the department no credit "
            "code: its licences have no identifiers (leave the column empty)",
            code="identifier_not_catalogued",
        )
    type_code, credit_code = licence_type.identifier_codes
    if identifier.type_code != type_code:
        raise InvalidRequest(
            f"the identifier's type code {identifier.type_code} is not licence type "
            f"{licence_type.code}'s catalogue code {type_code}",
            code="identifier_type_mismatch",
        )
    if identifier.issuer_is_division_code:
        if identifier.issuer_code != licence_type.division_code:
            raise InvalidRequest(
                f"the identifier's issuer code {identifier.issuer_code} is not the department's "
                f"jurisdiction code {licence_type.division_code or '(none)'}",
                code="identifier_issuer_mismatch",
            )
    elif identifier.issuer_code != credit_code:
        raise InvalidRequest(
            f"the identifier's issuer code {identifier.issuer_code} is not the department's "
            f"credit code {credit_code}",
            code="identifier_issuer_mismatch",
        )
    return identifier


def check_row(
    licence_type: TypeRules, row: SourceRow, *, now: dt.datetime, from_text: bool
) -> ImportRow:
    """Every check of a row that needs no database. Raises ``InvalidRequest`` (its ``code`` is
    the reject reason)."""
    if row.malformed is not None:
        raise InvalidRequest(row.malformed, code="malformed_row")
    values = row.values
    record_key = _text(values, "record_key")
    if record_key is None or len(record_key) > RECORD_KEY_MAX:
        raise InvalidRequest(
            f"record_key must be 1-{RECORD_KEY_MAX} characters", code="invalid_record_key"
        )
    id_text = _text(values, "id_number")
    if id_text is None:
        raise InvalidRequest("id_number is empty", code="invalid_id_number")
    id_number = parse_citizen_id(id_text)
    holder_name = _text(values, "holder_name")
    if holder_name is None or len(holder_name) > 100:
        raise InvalidRequest("holder_name must be 1-100 characters", code="invalid_holder_name")
    status = (_text(values, "status") or "valid").lower()
    if status not in IMPORT_STATUSES:
        raise InvalidRequest(
            f"status must be one of {', '.join(IMPORT_STATUSES)}", code="invalid_status"
        )
    reason = _text(values, "status_reason")
    if status != "valid" and reason is None:
        raise InvalidRequest(f"a {status} licence needs a status_reason", code="missing_reason")
    if reason is not None and len(reason) > REASON_MAX:
        raise InvalidRequest(
            f"status_reason is over {REASON_MAX} characters", code="invalid_reason"
        )
    valid_from = _moment(values, "valid_from")
    if valid_from is None:
        raise InvalidRequest("valid_from is empty", code="invalid_date")
    identifier = _kept_identifier(licence_type, values)
    draft = draft_licence(
        licence_type,
        holder_name=holder_name,
        fields=_fields(licence_type, values, from_text),
        categories=_categories(values),
        valid_from=valid_from,
        valid_until=_moment(values, "valid_until", end_of_day=True),
        issued_at=_moment(values, "issued_at") or valid_from,
        now=now,
        status=status,
        status_reason=reason if status != "valid" else None,
        record_key=record_key,
        identifier=identifier,
    )
    if draft.issued_at > now:
        raise InvalidRequest("issued_at is in the future", code="invalid_date")
    return ImportRow(row.line, id_number, draft, row.original)


@dataclass(slots=True)
class ImportCounts:
    """How far an import got: rows read, and what became of them."""

    rows: int = 0
    imported: int = 0
    already_present: int = 0
    rejected: int = 0
    batches: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def copy(self) -> ImportCounts:
        return dataclasses.replace(self, reasons=dict(self.reasons))


@dataclass(frozen=True, slots=True)
class ImportCheckpoint:
    """Where an import stands after a committed batch: the file's last line in it, the counts
    then and the rejects file's length then. An import given one goes on after that line."""

    line: int
    counts: ImportCounts
    rejects_bytes: int


class ImportStopped(Exception):
    """The import was asked to stop (between two batches); what was committed stays."""


# Called inside each batch's write transaction (after its licences and audit entry) with where
# the import will stand once that transaction commits.
Checkpoint = Callable[[Session, ImportCheckpoint], None]


@dataclass(frozen=True, slots=True)
class ImportTarget:
    """The department and licence type an import writes to."""

    department_id: int
    department_code: str
    licence_type: TypeRules


def find_target(*, session: Session, department_code: str, licence_type_code: str) -> ImportTarget:
    """The department and its licence type. Raises ``NotFound``."""
    department_id = session.scalar(select(Department.id).where(Department.code == department_code))
    if department_id is None:
        raise NotFound(f"no department {department_code!r}")
    licence_type = find_licence_type(
        session=session, department_id=department_id, code=licence_type_code
    )
    return ImportTarget(department_id, department_code, licence_type)


@dataclass(frozen=True, slots=True)
class ImportJob:
    """What one import is: which department and type, from which file, by whom."""

    target: ImportTarget
    source: SourceFile
    actor: str
    batch_size: int
    dry_run: bool = False
    resume: ImportCheckpoint | None = None


def _batches(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    batch: list[SourceRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Importer:
    def __init__(
        self,
        *,
        database: Database,
        runtime: IssuerRuntime,
        job: ImportJob,
        rejects: RejectsFile,
        checkpoint: Checkpoint | None,
    ) -> None:
        self.database = database
        self.runtime = runtime
        self.job = job
        self.rejects = rejects
        self.checkpoint = checkpoint
        self.department_id = job.target.department_id
        self.licence_type = job.target.licence_type
        self.counts = job.resume.counts.copy() if job.resume is not None else ImportCounts()
        # kept identifiers of this run's rows so far (earlier runs' are in the database)
        self.identifiers: set[str] = set()
        # licences imported before this run, and when this run's next looks at the statistics
        self.imported_before = self.counts.imported
        self.next_statistics = FIRST_STATISTICS

    def reject(
        self,
        line: int,
        original: list[str],
        code: str,
        message: str,
        counts: ImportCounts | None = None,
    ) -> None:
        counts = counts or self.counts
        counts.rejected += 1
        counts.reasons[code] = counts.reasons.get(code, 0) + 1
        self.rejects.add(line, original, code, message)

    def save(self, session: Session, line: int, counts: ImportCounts) -> None:
        """The checkpoint of the batch ending at ``line``, in its transaction."""
        if self.checkpoint is not None:
            self.checkpoint(session, ImportCheckpoint(line, counts, self.rejects.flush()))

    def checked(self, batch: list[SourceRow], now: dt.datetime) -> list[ImportRow]:
        from_text = self.job.source.format == "csv"
        good: list[ImportRow] = []
        for row in batch:
            try:
                good.append(check_row(self.licence_type, row, now=now, from_text=from_text))
            except InvalidRequest as exc:
                self.reject(row.line, row.original, exc.code, exc.detail)
        return good

    def stored_keys(self, session: Session, record_keys: list[str]) -> dict[str, str]:
        """Record key -> holder blind index of those already stored."""
        if not record_keys:
            return {}
        result = session.connection().execute(
            _STORED_KEYS,
            {
                "department_id": self.department_id,
                "licence_type_id": self.licence_type.id,
                "record_keys": padded(sorted(set(record_keys))),
            },
        )
        return {key: id_index for key, id_index in result if key is not None}

    def new_rows(self, rows: list[Checked], stored: dict[str, str]) -> list[Checked]:
        """The rows not stored yet; a stored record key counts as already present when it has
        the same holder, else the row is rejected. A key twice in the file: the first wins."""
        fresh: list[Checked] = []
        seen = dict(stored)
        for row in rows:
            holder = seen.get(row.record_key)
            if holder is None:
                seen[row.record_key] = row.id_index
                fresh.append(row)
            elif holder == row.id_index:
                self.counts.already_present += 1
            else:
                self.reject(
                    row.line,
                    row.original,
                    "record_key_taken",
                    f"record key {row.record_key!r} is already used for another holder",
                )
        return fresh

    def landed_meanwhile(self, session: Session, record_key: str, identifier: str | None) -> bool:
        """Whether another import of the same record (or identifier) committed meanwhile
        (PostgreSQL): a conflict on the row's own unique value, so it is already present."""
        if self.stored_keys(session, [record_key]):
            return True
        return identifier is not None and bool(self.taken_identifiers(session, [identifier]))

    def taken_identifiers(self, session: Session, identifiers: list[str]) -> set[str]:
        """Those of ``identifiers`` a stored licence (of any department) has."""
        if not identifiers:
            return set()
        result = session.connection().execute(
            _TAKEN_IDENTIFIERS, {"identifiers": padded(sorted(set(identifiers)))}
        )
        return {identifier for identifier in result.scalars() if identifier is not None}

    def new_identifiers(self, session: Session, rows: list[Checked]) -> list[Checked]:
        """The rows whose kept identifier (if any) is new to the registry and to the file;
        the others are rejected."""
        kept = [row.identifier for row in rows if row.identifier is not None]
        if not kept:
            return rows
        taken = self.taken_identifiers(session, kept) | self.identifiers
        fresh: list[Checked] = []
        for row in rows:
            identifier = row.identifier
            if identifier is None:
                fresh.append(row)
            elif identifier in taken:
                self.reject(
                    row.line,
                    row.original,
                    "identifier_taken",
                    f"identifier {identifier} is already another licence's",
                )
            else:
                taken.add(identifier)
                self.identifiers.add(identifier)
                fresh.append(row)
        return fresh

    def dry_run(self, session: Session, rows: list[Checked], now: dt.datetime) -> None:
        for row in rows:
            if row.payload.draft.status == "valid":
                try:
                    check_single_valid(
                        session=session,
                        licence_type=self.licence_type,
                        id_index=row.id_index,
                        now=now,
                    )
                except AlreadyHeld as exc:
                    self.reject(row.line, row.original, exc.code, exc.detail)
                    continue
            self.counts.imported += 1

    def write(self, store: Callable[[Session], list[Outcome]], line: int) -> None:
        """Run ``store`` (a batch's rows and audit entry) in one write transaction with the
        batch's checkpoint, and count what became of each row once it committed."""
        # Through the one writer (group commit in a service; the CLI's is the only write).
        self.counts = self.database.write_now(self.batch_work(store, line))
        self.keep_statistics()

    def keep_statistics(self) -> None:
        """After a batch committed: once this run's licences reach the next power of two
        (from ``FIRST_STATISTICS``), the licence and holder-key tables' planner statistics are
        taken again if they predate most of those rows (``analyze_if_outgrown``)."""
        added = self.counts.imported - self.imported_before
        if added >= self.next_statistics and self.database.dialect == "postgresql":
            self.next_statistics = 1 << added.bit_length()
            self.database.write_now(
                lambda session: analyze_if_outgrown(
                    session.connection(), [Licence, HolderKey], added
                )
            )

    def batch_work(
        self, store: Callable[[Session], list[Outcome]], line: int
    ) -> Callable[[Session], ImportCounts]:
        """A batch's write (``write``): its rows and audit entry, the rejects and counts once it
        commits, its checkpoint; it returns the counts then."""

        def work(session: Session) -> ImportCounts:
            outcome = store(session)
            # Counted once committed (an interrupted batch counts nothing): on a copy until then.
            counts = self.counts.copy()
            counts.batches += 1
            for line, original, licence_id, held in outcome:
                if held is not None:
                    self.reject(line, original, held.code, held.detail, counts)
                elif licence_id is None:
                    counts.already_present += 1
                else:
                    counts.imported += 1
            self.save(session, line, counts)
            return counts

        return work

    def store(
        self,
        session: Session,
        rows: list[tuple[ImportRow, PreparedCitizen]],
        now: dt.datetime,
        lines: tuple[int, int],
    ) -> list[Outcome]:
        """Store a batch's rows and its audit entry; what became of each row."""
        outcome: list[Outcome] = []
        # Read again inside the write transaction: the type or key may have changed.
        licence_type = find_licence_type(
            session=session,
            department_id=self.department_id,
            code=self.licence_type.code,
        )
        key = issuing_key(
            session=session,
            runtime=self.runtime,
            department_id=self.department_id,
            licence_type=licence_type,
        )
        target = LicenceTarget(
            self.department_id, self.job.target.department_code, licence_type, key
        )

        def landed_meanwhile(draft: LicenceDraft) -> bool:
            kept = draft.identifier
            return self.landed_meanwhile(
                session, draft.record_key or "", None if kept is None else str(kept)
            )

        if licence_type.single_valid:
            # One at a time: each row's check must see the rows stored before it.
            for row, citizen in rows:
                if row.draft.status == "valid":
                    try:
                        check_single_valid(
                            session=session,
                            licence_type=licence_type,
                            id_index=citizen.id_index,
                            now=now,
                        )
                    except AlreadyHeld as exc:
                        outcome.append((row.line, row.original, None, exc))
                        continue
                stored = store_licence(
                    session=session,
                    runtime=self.runtime,
                    target=target,
                    citizen=citizen,
                    draft=row.draft,
                    conflict_is_final=functools.partial(landed_meanwhile, row.draft),
                )
                outcome.append((row.line, row.original, stored["id"] if stored else None, None))
        else:
            stored_rows = store_licences(
                session=session,
                runtime=self.runtime,
                target=target,
                licences=[(citizen, row.draft) for row, citizen in rows],
                conflict_is_final=landed_meanwhile,
            )
            for (row, _), stored in zip(rows, stored_rows, strict=True):
                outcome.append((row.line, row.original, stored["id"] if stored else None, None))
        self.audit(session, outcome, lines, licence_type, key)
        return outcome

    def audit(
        self,
        session: Session,
        outcome: list[Outcome],
        lines: tuple[int, int],
        licence_type: TypeRules,
        key: IssuingKey,
    ) -> None:
        """The batch's ``licence.import`` entry (none when it created nothing)."""
        created = [licence_id for _, _, licence_id, _ in outcome if licence_id is not None]
        if created:
            first, last = lines
            append_audit(
                session,
                actor=self.job.actor,
                act="licence.import",
                object_type="import",
                object_id=self.job.source.sha256,
                detail={
                    "file_sha256": self.job.source.sha256,
                    "licence_type": licence_type.code,
                    "lines": [first, last],
                    "created": len(created),
                    "licence_ids_sha256": licence_ids_hash(created),
                    "kid": key.kid,
                },
            )

    def rows(self) -> Iterator[SourceRow]:
        """The file's rows, after the checkpoint's line when resuming."""
        rows = self.job.source.rows()
        if self.job.resume is None:
            return rows
        after = self.job.resume.line
        return (row for row in rows if row.line > after)

    def run(self, progress: Callable[[int], None], stop: Callable[[], bool]) -> None:
        for batch in _batches(self.rows(), self.job.batch_size):
            if stop():
                raise ImportStopped
            now = utcnow().replace(microsecond=0)
            self.counts.rows += len(batch)
            checked = [
                Checked(
                    row.line,
                    row.original,
                    row.record_key,
                    self.runtime.vault.blind_index(row.id_number),
                    str(row.draft.identifier) if row.draft.identifier is not None else None,
                    row,
                )
                for row in self.checked(batch, now)
            ]
            with self.database.reading() as session:
                stored = self.stored_keys(session, [row.record_key for row in checked])
                rows = self.new_identifiers(session, self.new_rows(checked, stored))
                if self.job.dry_run:
                    self.dry_run(session, rows, now)
            if rows and not self.job.dry_run:
                # The crypto that needs no database (holder key pair, ID number encryption)
                # runs before the write transaction, as in issuance; the ID number was
                # normalised by check_row and blind-indexed above.
                prepared = [
                    (
                        row.payload,
                        prepare_checked_citizen(
                            runtime=self.runtime,
                            id_number=row.payload.id_number,
                            id_index=row.id_index,
                        ),
                    )
                    for row in rows
                ]
                lines = (batch[0].line, batch[-1].line)
                self.write(
                    functools.partial(self.store, rows=prepared, now=now, lines=lines), lines[1]
                )
            elif self.checkpoint is not None and not self.job.dry_run:
                # Nothing to store: the checkpoint moves on its own.
                self.database.write_now(
                    functools.partial(self.save, line=batch[-1].line, counts=self.counts.copy())
                )
            progress(len(batch))


# --- The pool (``elicence import --workers N``) ---------------------------------------------
#
# The importing process reads the file, looks up which rows' record keys are stored and which
# citizens have a holder key, allocates the status indices (each batch's kept apart from those
# of batches still in the workers) and sends the batch to a worker; the worker checks each row
# (``check_row``), encrypts the ID number, makes holder key pairs and signs the credentials, and
# answers with the rows ready to insert. The importing process then does what it did before the
# signing: the record-key and identifier steps, and the batch's one write transaction. What
# the worker assumed is checked there again: a row whose holder key, status index or signing key
# changed meanwhile (a concurrent writer, a key rotation) is signed again in the importing
# process, as the one-process path signs every row.

_REJECTED, _CHECKED, _SIGNED = 0, 1, 2
# A signed licence row's columns, as a worker converts them for the database.
_LICENCE_COLUMNS = table_order(
    Licence,
    {
        "id",
        "department_id",
        "licence_type_id",
        "number",
        "identifier",
        "holder_name",
        "id_index",
        "id_ciphertext",
        "fields",
        "categories",
        "valid_from",
        "valid_until",
        "issued_at",
        "status",
        "status_reason",
        "status_list_id",
        "status_index",
        "credential",
        "kid",
        "replaces_id",
        "idempotency_key",
        "record_key",
    },
)
_STORED_IDS = select(Licence.id).where(one_of(Licence.id, "ids"))
_KEY_BLOB = select(SigningKey.encrypted_private_key).where(SigningKey.id == bindparam("key_id"))


class ImportCrypto:
    """What a worker process encrypts and signs with: the ID number vault, the holder-key box
    and the private-key encryption key (which opens the signing key's stored blob). It reaches
    the workers by ``fork``, never by pickling."""

    __slots__ = ("holder_box", "key_secret", "vault")

    def __init__(self, *, vault: CitizenIdVault, key_secret: bytes) -> None:
        self.vault = vault
        self.holder_box = HolderKeyBox(key_secret)
        self.key_secret = key_secret

    def __repr__(self) -> str:
        return "ImportCrypto()"

    def __reduce__(self) -> NoReturn:
        raise TypeError("ImportCrypto is not picklable: it holds key material")


ImportPool = WorkerPool[ImportCrypto]


@dataclass(frozen=True, slots=True)
class _BatchRequest:
    """A batch for a worker: its rows' cells, what the database said of them, the signing key
    still encrypted, and a status index for each row to sign."""

    dialect: str  # the database's: the rows come back converted for it
    licence_type: TypeRules
    department_id: int
    department_code: str
    key: tuple[int, str, bytes]  # id, kid, encrypted private key (as stored)
    from_text: bool
    now: dt.datetime
    rows: list[tuple[int, dict[str, Any], str | None]]  # line, values, malformed
    id_indexes: list[str | None]  # blind index when the importing process could read it
    sign: list[bool]  # false: its record key is stored (check it only)
    holder_keys: dict[str, bytes]  # blind index -> stored public COSE_Key
    indices: list[tuple[int, int]]  # one per row to sign, in order

    def __repr__(self) -> str:
        return f"_BatchRequest(rows={len(self.rows)})"


_WORKER_SIGNERS: dict[str, LocalSigner] = {}


def sign_batch(crypto: ImportCrypto, request: _BatchRequest) -> list[tuple[Any, ...]]:
    """In a worker: each row of the batch checked and, unless stored already, signed. One
    answer per row: ``(_REJECTED, code, detail)``, ``(_CHECKED, record_key, id_index,
    identifier)``, or ``(_SIGNED, record_key, id_index, identifier, the row's values converted
    for the database (``_LICENCE_COLUMNS``), sealed private key or None, public COSE_Key,
    licence id, status, status list id, status index)``."""
    key_id, kid, blob = request.key
    signer = _WORKER_SIGNERS.get(kid)
    if signer is None:
        signer = _WORKER_SIGNERS[kid] = LocalSigner(decrypt_private_key(blob, crypto.key_secret))
    target = LicenceTarget(
        request.department_id,
        request.department_code,
        request.licence_type,
        IssuingKey(key_id, kid, signer),
    )
    public: dict[str, PublicKey] = {}
    made: dict[str, PreparedHolderKey] = {}  # a citizen twice in the batch: one key pair
    indices = iter(request.indices)
    answers: list[tuple[Any, ...]] = []
    for (line, values, malformed), id_index, sign in zip(
        request.rows, request.id_indexes, request.sign, strict=True
    ):
        status_list = next(indices) if sign else None
        try:
            row = check_row(
                request.licence_type,
                SourceRow(line, values, [], malformed),
                now=request.now,
                from_text=request.from_text,
            )
        except InvalidRequest as exc:
            answers.append((_REJECTED, exc.code, exc.detail))
            continue
        if id_index is None:
            id_index = crypto.vault.blind_index(row.id_number)
        identifier = str(row.draft.identifier) if row.draft.identifier is not None else None
        if status_list is None:
            answers.append((_CHECKED, row.record_key, id_index, identifier))
            continue
        cose = request.holder_keys.get(id_index)
        sealed: bytes | None = None
        if cose is None:
            fresh = made.get(id_index)
            if fresh is None:
                fresh = made[id_index] = prepare_holder_key(
                    box=crypto.holder_box, id_index=id_index
                )
            cose, sealed, holder_key = (
                fresh.public_cose_key,
                fresh.encrypted_private_key,
                fresh.public_key,
            )
        else:
            holder_key = public.get(id_index) or public.setdefault(
                id_index, cose_key_to_public_key(cbor2.loads(cose))
            )
        citizen = CitizenIds(
            id_index, crypto.vault.encrypt(row.id_number), mask_id_number(row.id_number)
        )
        licence = signed_licence_row(
            target, citizen=citizen, draft=row.draft, holder_key=holder_key, status_list=status_list
        )
        answers.append(
            (
                _SIGNED,
                row.record_key,
                id_index,
                identifier,
                bind_values(request.dialect, Licence, _LICENCE_COLUMNS, licence),
                sealed,
                cose,
                licence["id"],
                licence["status"].value,
                *status_list,
            )
        )
    return answers


def _hints(vault: CitizenIdVault, row: SourceRow) -> tuple[str | None, str | None]:
    """(record key, holder blind index) of a row as ``check_row`` will read them; ``None``
    where it cannot (the worker's check rejects the row, or finds them itself)."""
    if row.malformed is not None:
        return None, None
    try:
        record_key = _text(row.values, "record_key")
        id_text = _text(row.values, "id_number")
        id_index = vault.blind_index(parse_citizen_id(id_text)) if id_text else None
    except InvalidRequest:
        return None, None
    return record_key, id_index


class _PooledImporter(_Importer):
    """``_Importer`` with the per-row work in worker processes (see above)."""

    def __init__(self, *, pool: ImportPool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool = pool
        self.from_text = self.job.source.format == "csv"
        self.signing_key: tuple[int, str, bytes] | None = None
        self.spare_indices: list[tuple[int, int]] = []  # see allocate_indices
        # The batch write under way (see run): its commit's counts, its rows, its indices.
        self.writing: tuple[Future[ImportCounts], int, list[tuple[int, int]]] | None = None
        self.progress: Callable[[int], None] = lambda _rows: None

    def settle(self) -> None:
        """Wait for the batch write under way, if any: the counts its commit says become the
        import's, and its rows are reported."""
        if self.writing is not None:
            future, rows, _ = self.writing
            self.writing = None
            self.counts = future.result()
            self.progress(rows)
            self.keep_statistics()

    def read_signing_key(self, session: Session, key: IssuingKey) -> tuple[int, str, bytes]:
        if self.signing_key is None or self.signing_key[1] != key.kid:
            blob = session.connection().execute(_KEY_BLOB, {"key_id": key.id}).scalar_one()
            self.signing_key = (key.id, key.kid, blob)
        return self.signing_key

    def request(
        self, batch: list[SourceRow], now: dt.datetime, avoid: set[tuple[int, int]]
    ) -> _BatchRequest:
        hints = [_hints(self.runtime.vault, row) for row in batch]
        record_keys = [key for key, _ in hints if key is not None]
        id_indexes = [id_index for _, id_index in hints if id_index is not None]
        with self.database.reading() as session:
            stored = self.stored_keys(session, record_keys)
            holder_keys = stored_holder_cose_keys(session=session, id_indexes=id_indexes)
            sign = [key is None or key not in stored for key, _ in hints]
            if self.signing_key is None:
                self.read_signing_key(
                    session,
                    issuing_key(
                        session=session,
                        runtime=self.runtime,
                        department_id=self.department_id,
                        licence_type=self.licence_type,
                    ),
                )
            allocate = functools.partial(
                allocate_indices,
                department_id=self.department_id,
                size=status_list_size(self.runtime),
                count=sum(sign),
                avoid=avoid,
                spare=self.spare_indices,
            )
            try:
                indices = allocate(session=session, create=False)
            except StatusListNeeded:  # a new list is a write of its own
                indices = self.database.write_now(lambda writing: allocate(session=writing))
        assert self.signing_key is not None
        return _BatchRequest(
            dialect=self.database.dialect,
            licence_type=self.licence_type,
            department_id=self.department_id,
            department_code=self.job.target.department_code,
            key=self.signing_key,
            from_text=self.from_text,
            now=now,
            rows=[(row.line, row.values, row.malformed) for row in batch],
            id_indexes=[id_index for _, id_index in hints],
            sign=sign,
            holder_keys=holder_keys,
            indices=indices,
        )

    def finish(
        self,
        batch: list[SourceRow],
        request: _BatchRequest,
        answers: list[tuple[Any, ...]],
    ) -> None:
        """A batch back from its worker: the record-key and identifier steps, then its write
        (left under way: see ``run``)."""
        # The write before must have committed: this batch's reads see its rows, and the rejects
        # and counts are this import's from here on (its checkpoint recorded theirs before).
        self.settle()
        self.counts.rows += len(batch)
        checked: list[Checked] = []
        for row, answer in zip(batch, answers, strict=True):
            if answer[0] == _REJECTED:
                self.reject(row.line, row.original, answer[1], answer[2])
            else:
                checked.append(
                    Checked(row.line, row.original, answer[1], answer[2], answer[3], (row, answer))
                )
        with self.database.reading() as session:
            stored = self.stored_keys(session, [row.record_key for row in checked])
            rows = self.new_identifiers(session, self.new_rows(checked, stored))
        lines = (batch[0].line, batch[-1].line)
        if rows:
            work = self.batch_work(
                functools.partial(self.store_signed, rows=rows, request=request, lines=lines),
                lines[1],
            )
            self.writing = (self.database.submit(work), len(batch), request.indices)
            return
        if self.checkpoint is not None:
            self.database.write_now(
                functools.partial(self.save, line=lines[1], counts=self.counts.copy())
            )
        self.progress(len(batch))

    def store_signed(
        self,
        session: Session,
        rows: list[Checked],
        request: _BatchRequest,
        lines: tuple[int, int],
    ) -> list[Outcome]:
        """``store`` for rows a worker signed: their holder keys, rows and audit entry; a row
        whose holder key, status index or signing key changed meanwhile is signed again here."""
        connection = session.connection()
        licence_type = find_licence_type(
            session=session, department_id=self.department_id, code=self.licence_type.code
        )
        key = issuing_key(
            session=session,
            runtime=self.runtime,
            department_id=self.department_id,
            licence_type=licence_type,
        )
        self.read_signing_key(session, key)  # the next batches are signed with the new key
        target = LicenceTarget(
            self.department_id, self.job.target.department_code, licence_type, key
        )
        current = licence_type == request.licence_type and key.kid == request.key[1]
        signed = [row for row in rows if row.payload[1][0] == _SIGNED]
        fresh_keys: dict[str, tuple[bytes, bytes]] = {}
        for row in signed:
            answer = row.payload[1]
            if answer[5] is not None:
                fresh_keys.setdefault(row.id_index, (answer[5], answer[6]))
        holder_keys = store_sealed_holder_keys(
            session=session, keys=fresh_keys, wanted=[row.id_index for row in signed]
        )
        ready: dict[int, tuple[Any, ...]] = {}  # by line: the answers of rows signed as they are
        for row in signed:
            answer = row.payload[1]
            if current and holder_keys.get(row.id_index) == answer[6]:
                ready[row.line] = answer

        def landed_meanwhile(row: Checked) -> bool:
            return self.landed_meanwhile(session, row.record_key, row.identifier)

        def sign_here(row: Checked) -> str | None:
            source, _ = row.payload
            checked = check_row(
                request.licence_type, source, now=request.now, from_text=self.from_text
            )
            citizen = prepare_checked_citizen(
                runtime=self.runtime, id_number=checked.id_number, id_index=row.id_index
            )
            stored = store_licence(
                session=session,
                runtime=self.runtime,
                target=target,
                citizen=citizen,
                draft=checked.draft,
                conflict_is_final=functools.partial(landed_meanwhile, row),
            )
            return stored["id"] if stored else None

        def inserted(answer: tuple[Any, ...]) -> str:
            licence_id, status, list_id, index = answer[7:11]
            if status != LicenceStatus.VALID:
                set_status(
                    session=session,
                    licence=Licence(status_list_id=list_id, status_index=index),
                    status=LicenceStatus(status),
                )
            return str(licence_id)

        outcome: list[Outcome] = []
        if licence_type.single_valid:
            # One at a time: each row's check must see the rows stored before it.
            for row in rows:
                presigned = ready.get(row.line)
                if presigned is not None:
                    status = LicenceStatus(presigned[8])
                else:
                    status = check_row(
                        request.licence_type,
                        row.payload[0],
                        now=request.now,
                        from_text=self.from_text,
                    ).draft.status
                if status == LicenceStatus.VALID:
                    try:
                        check_single_valid(
                            session=session,
                            licence_type=licence_type,
                            id_index=row.id_index,
                            now=request.now,
                        )
                    except AlreadyHeld as exc:
                        outcome.append((row.line, row.original, None, exc))
                        continue
                if presigned is not None and insert_bound_unless_taken(
                    connection, Licence, _LICENCE_COLUMNS, [presigned[4]]
                ):
                    outcome.append((row.line, row.original, inserted(presigned), None))
                elif presigned is not None and landed_meanwhile(row):
                    outcome.append((row.line, row.original, None, None))
                else:
                    outcome.append((row.line, row.original, sign_here(row), None))
        else:
            batch = list(ready.values())
            missed: set[str] = set()
            landed = insert_bound_unless_taken(
                connection, Licence, _LICENCE_COLUMNS, [answer[4] for answer in batch]
            )
            if landed < len(batch):
                # some hit a taken value: which went in (ids are fresh uuid4s: a stored one is ours)
                ids = [answer[7] for answer in batch]
                stored_ids = connection.execute(_STORED_IDS, {"ids": padded(ids)}).scalars()
                missed = set(ids) - set(stored_ids)
            for row in rows:
                presigned = ready.get(row.line)
                if presigned is not None and presigned[7] not in missed:
                    outcome.append((row.line, row.original, inserted(presigned), None))
                elif presigned is not None and landed_meanwhile(row):
                    outcome.append((row.line, row.original, None, None))
                else:
                    outcome.append((row.line, row.original, sign_here(row), None))
        self.audit(session, outcome, lines, licence_type, key)
        return outcome

    def run(self, progress: Callable[[int], None], stop: Callable[[], bool]) -> None:
        # Each worker has a batch in hand and one waiting, while this process writes another.
        # A batch's write transaction runs in the database's writer thread while this one takes
        # the next batch's answers and sends another batch (its reads and status indices): the
        # next batch's own steps wait for it to commit (``finish``), so the writes, rejects and
        # checkpoints follow the file as before. (Waiting for each write here left this process
        # waiting on the database half the time: py-spy, 20,000 rows on PostgreSQL.)
        self.progress = progress
        in_flight: deque[tuple[list[SourceRow], _BatchRequest]] = deque()

        def finish_oldest() -> None:
            batch, request = in_flight.popleft()
            self.finish(batch, request, self.pool.result())

        try:
            for batch in _batches(self.rows(), self.job.batch_size):
                if stop():
                    raise ImportStopped
                avoid = {index for _, request in in_flight for index in request.indices}
                if self.writing is not None:  # not stored yet either
                    avoid.update(self.writing[2])
                request = self.request(batch, utcnow().replace(microsecond=0), avoid)
                self.pool.submit(request)
                in_flight.append((batch, request))
                if len(in_flight) > 2 * self.pool.size:
                    finish_oldest()
            while in_flight:
                finish_oldest()
        except BaseException:
            # The write under way ends (commits or fails) before the import stops: its caller
            # then sees the state of the last checkpoint; the error raised is this one.
            if self.writing is not None:
                concurrent.futures.wait([self.writing[0]])
            raise
        self.settle()


def licence_ids_hash(licence_ids: list[str]) -> str:
    """SHA-256 over the ids a batch created, in the order created (one per line): an audit
    entry names a batch's licences without listing them."""
    return hashlib.sha256("".join(f"{i}\n" for i in licence_ids).encode("ascii")).hexdigest()


def import_licences(
    *,
    database: Database,
    runtime: IssuerRuntime,
    job: ImportJob,
    rejects: RejectsFile,
    progress: Callable[[int], None] = lambda _rows: None,
    checkpoint: Checkpoint | None = None,
    stop: Callable[[], bool] = lambda: False,
    pool: ImportPool | None = None,
) -> ImportSummary:
    """Import ``job.source`` (checked by ``open_source``), after ``job.resume`` if given. Rows
    that fail go to ``rejects``; ``progress(rows)`` after each batch; ``checkpoint`` in each
    batch's transaction; ``stop()`` before each batch. Raises ``ServiceError`` when the
    department has no usable signing key (before the first row), ``ImportStopped`` when
    ``stop()`` said so. With ``pool`` (not for a dry run), its worker processes check and sign
    the rows."""
    started = time.monotonic()
    target = job.target
    if not job.dry_run:
        with database.reading() as session:
            issuing_key(
                session=session,
                runtime=runtime,
                department_id=target.department_id,
                licence_type=target.licence_type,
            )
    importer = (
        _PooledImporter(
            pool=pool,
            database=database,
            runtime=runtime,
            job=job,
            rejects=rejects,
            checkpoint=checkpoint,
        )
        if pool is not None and not job.dry_run
        else _Importer(
            database=database, runtime=runtime, job=job, rejects=rejects, checkpoint=checkpoint
        )
    )
    importer.run(progress, stop)
    counts = importer.counts
    return ImportSummary(
        file=job.source.path.name,
        file_sha256=job.source.sha256,
        format=job.source.format,
        department=target.department_code,
        licence_type=target.licence_type.code,
        dry_run=job.dry_run,
        rows=counts.rows,
        imported=counts.imported,
        already_present=counts.already_present,
        rejected=counts.rejected,
        reject_reasons=dict(sorted(counts.reasons.items())),
        batches=counts.batches,
        rejects_file=str(rejects.path),
        seconds=round(time.monotonic() - started, 3),
    )
