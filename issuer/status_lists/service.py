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

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, defer

from credential import StatusList as StatusBits
from credential import sign_status_list_token
from registry.errors import NotFound, ServiceError
from registry.models import Licence, StatusList

from ..departments.service import active_signing_key
from ..runtime import IssuerRuntime, SignedDocument

STATUS_CODES = {"valid": 0, "revoked": 1, "suspended": 2}
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


def current_list(*, session: Session, department_id: int, size: int) -> StatusList:
    """The department's newest status list, made when it has none (its bit array is loaded
    only when read: issuing never needs it)."""
    status_list = session.scalars(
        select(StatusList)
        .options(defer(StatusList.data))
        .where(StatusList.department_id == department_id)
        .order_by(StatusList.id.desc())
        .limit(1)
    ).first()
    return status_list or _new_list(session=session, department_id=department_id, size=size)


def _taken(session: Session, list_id: int, index: int) -> bool:
    return bool(
        session.scalar(
            select(exists().where(Licence.status_list_id == list_id, Licence.status_index == index))
        )
    )


def allocate_index(
    *, session: Session, department_id: int, size: int, avoid: set[tuple[int, int]] | None = None
) -> tuple[StatusList, int]:
    """A random free (status list, index) of the department; a full list starts a new one."""
    status_list = current_list(session=session, department_id=department_id, size=size)
    while True:
        for _ in range(_PROBES):
            index = secrets.randbelow(status_list.size)
            if avoid and (status_list.id, index) in avoid:
                continue
            if not _taken(session, status_list.id, index):
                return status_list, index
        used = session.scalar(select(func.count()).where(Licence.status_list_id == status_list.id))
        if (used or 0) >= status_list.size:
            status_list = _new_list(session=session, department_id=department_id, size=size)


def set_status(*, session: Session, licence: Licence, status: str) -> None:
    """Write a licence's status into its list (row-locked) and bump the list version."""
    status_list = session.scalars(
        select(StatusList)
        .where(StatusList.id == licence.status_list_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    bits = StatusBits(status_list.bits, status_list.size, status_list.data)
    bits.set(licence.status_index, STATUS_CODES[status])
    status_list.data = bits.to_bytes()
    status_list.version = status_list.version + 1
    licence.status = status
    session.flush()


@dataclass(frozen=True, slots=True)
class ServedToken:
    token: str
    etag: str
    ttl: int


def etag_for(list_id: int, version: int, kid: str) -> str:
    """The weak ETag of a status list's content as signed by ``kid``."""
    return f'W/"sl-{list_id}-{version}-{kid}"'


def status_list_token(
    *, session: Session, runtime: IssuerRuntime, list_id: int, now: int | None = None
) -> ServedToken:
    """The signed ``statuslist+jwt`` of a list, from cache while it is current."""
    status_list = session.get(StatusList, list_id)
    if status_list is None:
        raise NotFound(f"no status list {list_id}")
    key = active_signing_key(session=session, department_id=status_list.department_id)
    if key is None:
        raise ServiceError("the department has no active signing key")
    ttl = runtime.settings.status_list_ttl
    now = int(time.time()) if now is None else now
    etag = etag_for(status_list.id, status_list.version, key.kid)
    cache_key = f"status-list/{status_list.id}"
    cached = runtime.documents.get(cache_key)
    if cached is not None and cached.fingerprint == etag and now - cached.issued_at < ttl // 2:
        return ServedToken(cached.token, etag, ttl)
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
