"""The hash-chained audit log of administrative acts (issue, revoke, suspend, correct, rotate).

``hash = sha256(prev_hash || canonical JSON of at, actor, act, object_type, object_id, detail)``
with ``prev_hash`` of the first row ``"0" * 64``. Editing, deleting or reordering rows breaks the
chain. Deleting only the newest rows cannot be seen from the table alone: record the head hash
that ``verify_audit_chain`` reports somewhere else (``elicence audit verify`` prints it) and pass it
back as an anchor later; a chain cut before that row no longer holds it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from credential import check_character

from .errors import IdNumberInText
from .models import AuditEntry, utcnow

GENESIS_HASH = "0" * 64
# Arbitrary constant: the PostgreSQL advisory lock that serialises appends to the chain.
_AUDIT_LOCK_KEY = 0x656C6963_61756474  # "elicaudt"
_ID_NUMBER = re.compile(r"(?<![0-9])([0-9]{17})([0-9Xx])(?![0-9])")


@dataclasses.dataclass(frozen=True, slots=True)
class AuditReport:
    """Outcome of ``verify_audit_chain``; ``problem`` (and ``first_bad_id`` when one row is to
    blame) set when not ``ok``; ``head_hash``: the newest row's hash, to record as an anchor."""

    ok: bool
    rows_checked: int
    first_bad_id: int | None = None
    problem: str | None = None
    head_hash: str | None = None


def _canonical(entry: AuditEntry) -> bytes:
    body = {
        "act": entry.act,
        "actor": entry.actor,
        "at": entry.at.isoformat(timespec="microseconds"),
        "detail": entry.detail,
        "object_id": entry.object_id,
        "object_type": entry.object_type,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    """The hash a row must carry given its ``prev_hash`` and fields."""
    return hashlib.sha256(entry.prev_hash.encode("ascii") + _canonical(entry)).hexdigest()


# Built once: a statement object made per call costs more than running it (SQLAlchemy caches the
# compiled form under the statement's cache key, which a prebuilt statement computes once).
_CHAIN_HEAD = select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
_APPEND = insert(AuditEntry)
_PG_LOCKED_HEAD = "SELECT pg_advisory_xact_lock({}); {}".format(
    _AUDIT_LOCK_KEY,
    _CHAIN_HEAD.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}),
)


def _locked_chain_head(connection: Connection) -> str | None:
    """PostgreSQL: take the chain's advisory lock (held to the commit), then read the head, in
    one round trip: two statements in one simple query, each with its own snapshot (READ
    COMMITTED), so the head read after the lock sees every append committed before it. As two
    round trips, every audited write held the lock (and, for a status change, its list's row
    lock) one round trip longer (issue 11)."""
    with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(_PG_LOCKED_HEAD)  # no parameters: the simple query protocol
        cursor.nextset()
        row = cursor.fetchone()
    return None if row is None else str(row[0])


# A SHA-256 in hex (a bulk import names its file and its licences by one each) holds a run of
# 18 decimal digits with a right check character about once in 7,700 digests: an import of a
# million rows (2,000 batches) would fail on one in four runs. Digests are not text anyone wrote.
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def _holds_full_id_number(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_full_id_number(k) or _holds_full_id_number(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_full_id_number(item) for item in value)
    if isinstance(value, str) and _HEX_DIGEST.fullmatch(value):
        return False
    blob = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return any(check_character(m.group(1)) == m.group(2).upper() for m in _ID_NUMBER.finditer(blob))


def append_audit(
    session: Session,
    *,
    actor: str,
    act: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one row to the chain (the caller's transaction commits it); the returned entry is
    not attached to the session.

    Safe under concurrent writers: PostgreSQL takes a transaction-level advisory lock before
    reading the chain head; SQLite transactions begin IMMEDIATE (``registry.db``) so writers are
    already serialised. Raises ``IdNumberInText`` (a ``ValueError``, answered 422) if ``detail``
    holds a full citizen ID number (use ``credential.mask_id_number``).
    """
    if detail is not None and _holds_full_id_number(detail):
        raise IdNumberInText(
            "a full ID number may not be kept in the audit log (in a name or a note); "
            "use the masked form"
        )
    if session.new or session.dirty or session.deleted:
        session.flush()  # rows this act describes go out first, as the ORM's autoflush would
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        head = _locked_chain_head(connection)
    else:
        head = connection.execute(_CHAIN_HEAD).scalar()
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        act=act,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
        prev_hash=head or GENESIS_HASH,
    )
    entry.hash = entry_hash(entry)
    # A Core insert: the entry is not added to the session (nothing reads it back there).
    result = connection.execute(
        _APPEND,
        {
            "at": entry.at,
            "actor": entry.actor,
            "act": entry.act,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "detail": entry.detail,
            "prev_hash": entry.prev_hash,
            "hash": entry.hash,
        },
    )
    inserted = result.inserted_primary_key
    if inserted is None:
        raise RuntimeError("the database returned no id for the audit entry")
    entry.id = inserted[0]
    return entry


def verify_audit_chain(
    session: Session, *, batch_size: int = 1000, anchors: Collection[str] = ()
) -> AuditReport:
    """Walk the chain in id order; report the first row that was edited, removed or moved, or
    an ``anchors`` hash (a head recorded earlier) that is no longer in the chain."""
    expected_prev = GENESIS_HASH
    missing = {anchor.strip().lower() for anchor in anchors}
    checked = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(batch_size)
            .execution_options(populate_existing=True)
        ).all()
        if not rows:
            break
        for row in rows:
            checked += 1
            if row.prev_hash != expected_prev:
                return AuditReport(
                    False,
                    checked,
                    row.id,
                    "previous hash does not match: a row was removed or moved",
                )
            if entry_hash(row) != row.hash:
                return AuditReport(False, checked, row.id, "row content does not match its hash")
            expected_prev = row.hash
            missing.discard(row.hash)
            last_id = row.id
    head = expected_prev if checked else None
    if missing:
        return AuditReport(
            False,
            checked,
            None,
            f"anchored entry {min(missing)[:16]}... is not in the chain: "
            "newer rows were removed (or the anchor is from another database)",
            head,
        )
    return AuditReport(ok=True, rows_checked=checked, head_hash=head)
