"""Status lists: random index allocation (herd privacy), status changes and the signed token.

The bit array lives in ``StatusList.data``; issuing never touches it (a fresh entry is 0, valid),
revoking or suspending rewrites it under a row lock and bumps ``version``. The signed token is
cached per (list, version, signing key) and re-signed when half its ``ttl`` has passed, so a status
change shows in the very next fetch.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Integer, LargeBinary, bindparam, func, literal, select, update
from sqlalchemy.orm import Session

from credential import LicenceStatus, sign_status_list_token
from credential import StatusList as StatusBits
from registry.database import mark_status_bits_changed
from registry.db import one_of
from registry.errors import NotFound, ServiceError
from registry.models import Licence, StatusList

from ..departments.service import active_signing_key
from ..runtime import IssuerRuntime, SignedDocument

BITS = 2
# Random probes before counting whether the list is full; a miss is only likely when nearly full.
_PROBES = 16
# How long a served token stays valid for offline verifiers; ``ttl`` says when to refetch.
TOKEN_LIFETIME = 24 * 3600


def _new_list(*, session: Session, department_id: int, size: int) -> StatusList:
    status_list = StatusList(
        department_id=department_id, bits=BITS, size=size, data=bytes(size * BITS // 8)
    )
    session.add(status_list)
    session.flush()
    return status_list


# Built once: issuance runs these on every request (see registry.audit).
_CURRENT_LIST = (
    select(StatusList.id, StatusList.size)
    .where(StatusList.department_id == bindparam("department_id"))
    .order_by(StatusList.id.desc())
    .limit(1)
)
_INDEX_TAKEN = (
    select(Licence.id)
    .where(Licence.status_list_id == bindparam("list_id"))
    .where(Licence.status_index == bindparam("index"))
    .limit(1)
)
_ENTRIES_USED = select(func.count()).where(Licence.status_list_id == bindparam("list_id"))


class StatusListNeeded(Exception):
    """An allocation told not to write needs a new status list (``create=False``)."""


def current_list(
    *, session: Session, department_id: int, size: int, create: bool = True
) -> tuple[int, int]:
    """``(id, size)`` of the department's newest status list, made when it has none (unless
    ``create`` is false: then ``StatusListNeeded``)."""
    row = session.connection().execute(_CURRENT_LIST, {"department_id": department_id}).first()
    if row is not None:
        return row.id, row.size
    if not create:
        raise StatusListNeeded
    status_list = _new_list(session=session, department_id=department_id, size=size)
    return status_list.id, status_list.size


def allocate_index(
    *, session: Session, department_id: int, size: int, avoid: set[tuple[int, int]] | None = None
) -> tuple[int, int]:
    """A random free ``(status list id, index)`` of the department; a full list starts a new
    one. Random, so an index tells nothing about when or to whom a licence was issued."""
    connection = session.connection()
    list_id, list_size = current_list(session=session, department_id=department_id, size=size)
    while True:
        for _ in range(_PROBES):
            index = secrets.randbelow(list_size)
            if avoid and (list_id, index) in avoid:
                continue
            taken = connection.execute(_INDEX_TAKEN, {"list_id": list_id, "index": index})
            if taken.first() is None:
                return list_id, index
        used = connection.execute(_ENTRIES_USED, {"list_id": list_id}).scalar()
        if (used or 0) >= list_size:
            status_list = _new_list(session=session, department_id=department_id, size=size)
            list_id, list_size = status_list.id, status_list.size


_INDICES_TAKEN = select(Licence.status_index).where(
    Licence.status_list_id == bindparam("list_id"),
    one_of(Licence.status_index, "indices"),
)
_ALL_TAKEN = select(Licence.status_index).where(Licence.status_list_id == bindparam("list_id"))
# A probe finding under 1/_NEARLY_FULL of its candidates free: the list is nearly full, so what
# is left of it is read at once.
_NEARLY_FULL = 16
_MAX_PROBE = 16384  # candidates in one query (SQLite allows 32,766 parameters)


def _free_indices(
    connection: Connection, list_id: int, list_size: int, mine: set[int]
) -> list[int]:
    """The list's indices neither stored nor in ``mine``, in order. The stored ones are marked
    in a byte per index as the rows stream past: as a set of Python ints, the 120,000-odd
    indices of a nearly full list grew a bulk import's memory by 18 MB for good (the freed
    ints' memory stays with the process), issue 13's 1,000,000-row import over its 50 MB."""
    taken = bytearray(list_size)
    for (index,) in connection.execute(_ALL_TAKEN, {"list_id": list_id}):
        taken[index] = 1
    for index in mine:
        taken[index] = 1
    return [index for index, used in enumerate(taken) if not used]


def allocate_indices(
    *,
    session: Session,
    department_id: int,
    size: int,
    count: int,
    avoid: set[tuple[int, int]] | None = None,
    create: bool = True,
    spare: list[tuple[int, int]] | None = None,
) -> list[tuple[int, int]]:
    """``count`` distinct random free ``(status list id, index)`` of the department (bulk
    import), each uniform over the free indices as ``allocate_index`` draws it: one probe of
    random candidates for the lot while the list has room; once a probe finds it nearly full
    (under 1/16 of the candidates free), its free indices are read at once and shuffled,
    and a full list starts a new one. (Probing one index at a time there took thousands of
    queries per batch as a list filled up.) A probe draws as many candidates as the share of
    free indices the last one found says it takes.

    ``avoid``: indices counted as taken besides the stored ones (a pooled import's batches
    allocated but not yet written). ``create`` false: a read-only session; a new list needed
    raises ``StatusListNeeded`` (allocate again in a write transaction). ``spare``: the
    caller's list of free indices read from a nearly full list and not handed out yet, used
    first and refilled by the next read (a bulk import reads the list once, not once per
    batch: 131,072 indices read per batch grew a 200,000-licence import's memory by 60 MB);
    one taken meanwhile by another writer makes its insert conflict, as a probed one can."""
    connection = session.connection()
    list_id, list_size = current_list(
        session=session, department_id=department_id, size=size, create=create
    )
    allocated: list[tuple[int, int]] = []
    draw = secrets.SystemRandom()
    free_share = 1.0
    avoid = avoid or set()
    while spare and len(allocated) < count:
        kept = spare.pop()
        if kept[0] == list_id and kept not in avoid:
            allocated.append(kept)
    while len(allocated) < count:
        need = count - len(allocated)
        mine = {index for allocated_list, index in allocated if allocated_list == list_id}
        mine.update(index for avoided_list, index in avoid if avoided_list == list_id)
        # a power of two: sqlite3 caches each statement text it prepares (128 of them), and a
        # probe's IN list of each length was one more, up to 16,384 placeholders long, which
        # grew a 200,000-licence import's memory by tens of MB as its first list filled
        wanted = min(1 << (int((need + need // 8) / free_share) + 8).bit_length(), _MAX_PROBE)
        free: list[int] = []
        if 2 * wanted <= list_size - len(mine):
            candidates: set[int] = set()
            while len(candidates) < wanted:
                index = secrets.randbelow(list_size)
                if index not in mine:
                    candidates.add(index)
            probed = connection.execute(
                _INDICES_TAKEN, {"list_id": list_id, "indices": sorted(candidates)}
            )
            free = list(candidates - set(probed.scalars()))
            free_share = max(len(free) / len(candidates), 1 / _NEARLY_FULL)
            if len(free) * _NEARLY_FULL < len(candidates):
                free = []  # nearly full: read what is left below
        read_whole = not free
        if read_whole:
            free = _free_indices(connection, list_id, list_size, mine)
            if not free:
                if not create:
                    raise StatusListNeeded
                status_list = _new_list(session=session, department_id=department_id, size=size)
                list_id, list_size = status_list.id, status_list.size
                free_share = 1.0
                continue
        draw.shuffle(free)  # a set's order is not random enough to show
        allocated.extend((list_id, index) for index in free[:need])
        if spare is not None and read_whole:
            spare[:] = [(list_id, index) for index in free[need:]]
    return allocated


# SQLite: two Core statements, read the bits and write them back with the next version (as ORM
# loads and flushes, a status change's writer CPU was 1.5 ms more, issue 11). SQLite's one writer
# holds the database between them.
_LIST_BITS = select(StatusList.bits, StatusList.size, StatusList.data).where(
    StatusList.id == bindparam("list_id")
)
_WRITE_BITS = (
    update(StatusList)
    .where(StatusList.id == bindparam("list_id"))
    .values(data=bindparam("data"), version=StatusList.version + 1)
)
# PostgreSQL: one statement sets the entry's bits in place (the layout of ``StatusBits``:
# ``bits``-wide entries, LSB first in each byte), so the list's row lock is held from this
# statement to the commit only, and the 32 KiB list neither comes to the client nor goes back.
# (Read ``FOR UPDATE`` and written back, the lock spanned two more round trips and every status
# change of a department queued on it: under the mixed load the lock wait was most of a slow
# change, issue 11.)
_INDEX = bindparam("index", type_=Integer)
_CODE = bindparam("code", type_=Integer)
_ENTRY_BYTE = _INDEX * StatusList.bits // 8
_ENTRY_SHIFT = _INDEX * StatusList.bits % 8
_ALL_ONES = (literal(1).op("<<", return_type=Integer)(StatusList.bits)) - 1
_ENTRY_MASK = _ALL_ONES.op("<<", return_type=Integer)(_ENTRY_SHIFT)
_SET_ENTRY = (
    update(StatusList)
    .where(StatusList.id == bindparam("list_id"), StatusList.size > _INDEX, _CODE <= _ALL_ONES)
    .values(
        data=func.set_byte(
            StatusList.data,
            _ENTRY_BYTE,
            func.get_byte(StatusList.data, _ENTRY_BYTE)
            .op("&", return_type=Integer)(_ENTRY_MASK.op("#", return_type=Integer)(255))
            .op("|", return_type=Integer)(_CODE.op("<<", return_type=Integer)(_ENTRY_SHIFT)),
            type_=LargeBinary,
        ),
        version=StatusList.version + 1,
    )
)


_NO_ENTRY = "status list {} has no entry {}"
_LOCK_LIST = select(StatusList.id).where(StatusList.id == bindparam("list_id")).with_for_update()


def lock_status_list(*, session: Session, list_id: int) -> None:
    """Lock a status list's row until the commit (PostgreSQL), for a write that will change it
    after appending to the audit chain: locks are taken in the order licence row, status list
    row, audit chain, or two writers can each hold what the other waits for."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_LIST, {"list_id": list_id})


def set_status(*, session: Session, licence: Licence, status: LicenceStatus) -> None:
    """Write a licence's status into its list and bump the list version (the list's row stays
    locked until the commit on PostgreSQL). The licence row's own ``status`` is the caller's."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        changed = connection.execute(
            _SET_ENTRY,
            {"list_id": licence.status_list_id, "index": licence.status_index, "code": status.code},
        )
        if changed.rowcount != 1:
            raise ServiceError(_NO_ENTRY.format(licence.status_list_id, licence.status_index))
    else:
        listed = connection.execute(_LIST_BITS, {"list_id": licence.status_list_id}).one()
        bits = StatusBits(listed.bits, listed.size, listed.data)
        try:
            bits.set(licence.status_index, status.code)
        except IndexError as exc:
            raise ServiceError(
                _NO_ENTRY.format(licence.status_list_id, licence.status_index)
            ) from exc
        connection.execute(
            _WRITE_BITS, {"list_id": licence.status_list_id, "data": bits.to_bytes()}
        )
    mark_status_bits_changed(session)


@dataclass(frozen=True, slots=True)
class ServedToken:
    token: str
    etag: str
    ttl: int


_LIST_VERSION = select(StatusList.department_id, StatusList.version).where(
    StatusList.id == bindparam("list_id")
)


def etag_for(list_id: int, version: int, kid: str) -> str:
    """The weak ETag of a status list's content as signed by ``kid``."""
    return f'W/"sl-{list_id}-{version}-{kid}"'


def status_list_token(
    *, session: Session, runtime: IssuerRuntime, list_id: int, now: int | None = None
) -> ServedToken:
    """The signed ``statuslist+jwt`` of a list, from cache while it is current (its bit array,
    up to tens of KB, is read only to sign it anew)."""
    listed = session.execute(_LIST_VERSION, {"list_id": list_id}).first()
    if listed is None:
        raise NotFound(f"no status list {list_id}")
    key = active_signing_key(session=session, department_id=listed.department_id)
    if key is None:
        raise ServiceError("the department has no active signing key")
    ttl = runtime.settings.status_list_ttl
    now = int(time.time()) if now is None else now
    etag = etag_for(list_id, listed.version, key.kid)
    cache_key = f"status-list/{list_id}"
    cached = runtime.documents.get(cache_key)
    if cached is not None and cached.fingerprint == etag and now - cached.issued_at < ttl // 2:
        return ServedToken(cached.token, etag, ttl)
    status_list = session.get(StatusList, list_id)
    if status_list is None:
        raise NotFound(f"no status list {list_id}")
    etag = etag_for(list_id, status_list.version, key.kid)  # as of the bits signed
    bits = StatusBits(status_list.bits, status_list.size, status_list.data)
    token = sign_status_list_token(
        bits,
        runtime.signer(key),
        uri=str(status_list.id),
        issued_at=now,
        expires_at=now + TOKEN_LIFETIME,
        ttl=ttl,
    )
    runtime.documents[cache_key] = SignedDocument(etag, token, now)
    return ServedToken(token, etag, ttl)
