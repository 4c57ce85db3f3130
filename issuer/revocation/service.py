"""Revoke, suspend, reinstate and correct licences; each writes the status list and the audit."""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry.audit import append_audit
from registry.errors import Conflict
from registry.models import Licence

from ..auth import DepartmentCaller
from ..licences.schemas import LicenceCreate
from ..licences.service import get_licence, issue_licence
from ..runtime import IssuerRuntime
from ..status_lists.service import set_status
from .schemas import CorrectRequest


def _change(
    *,
    session: Session,
    caller: DepartmentCaller,
    licence: Licence,
    status: str,
    act: str,
    reason: str,
    note: str | None,
) -> Licence:
    previous = licence.status
    set_status(session=session, licence=licence, status=status)
    licence.status_reason = reason
    session.flush()
    detail = {"number": licence.number, "reason": reason, "from": previous, "to": status}
    if note:
        detail["note"] = note
    append_audit(
        session,
        actor=caller.actor,
        act=act,
        object_type="licence",
        object_id=licence.id,
        detail=detail,
    )
    return licence


def revoke(
    *, session: Session, caller: DepartmentCaller, licence_id: str, reason: str, note: str | None
) -> Licence:
    """Revoke for good (also a suspended licence). Raises ``Conflict`` if already revoked."""
    licence = get_licence(session=session, caller=caller, licence_id=licence_id)
    if licence.status == "revoked":
        raise Conflict("the licence is already revoked")
    return _change(
        session=session,
        caller=caller,
        licence=licence,
        status="revoked",
        act="licence.revoke",
        reason=reason,
        note=note,
    )


def suspend(
    *, session: Session, caller: DepartmentCaller, licence_id: str, reason: str, note: str | None
) -> Licence:
    """Suspend a valid licence. Raises ``Conflict`` unless it is valid."""
    licence = get_licence(session=session, caller=caller, licence_id=licence_id)
    if licence.status != "valid":
        raise Conflict(f"only a valid licence can be suspended (this one is {licence.status})")
    return _change(
        session=session,
        caller=caller,
        licence=licence,
        status="suspended",
        act="licence.suspend",
        reason=reason,
        note=note,
    )


def reinstate(
    *, session: Session, caller: DepartmentCaller, licence_id: str, reason: str, note: str | None
) -> Licence:
    """Lift a suspension. Raises ``Conflict`` unless suspended (a revocation is final)."""
    licence = get_licence(session=session, caller=caller, licence_id=licence_id)
    if licence.status != "suspended":
        raise Conflict(f"only a suspended licence can be reinstated (this one is {licence.status})")
    return _change(
        session=session,
        caller=caller,
        licence=licence,
        status="valid",
        act="licence.reinstate",
        reason=reason,
        note=note,
    )


def correct(
    *,
    session: Session,
    runtime: IssuerRuntime,
    caller: DepartmentCaller,
    licence_id: str,
    correction: CorrectRequest,
) -> tuple[Licence, Licence]:
    """Issue a corrected licence that replaces this one, and revoke this one (``superseded``).

    Returns (new licence, old licence). Raises ``Conflict`` for a revoked licence.
    """
    old = get_licence(session=session, caller=caller, licence_id=licence_id)
    if old.status == "revoked":
        raise Conflict("a revoked licence cannot be corrected")
    licence_in = LicenceCreate(
        licence_type=old.licence_type.code,
        id_number=runtime.vault.decrypt(old.id_ciphertext),
        holder_name=correction.holder_name or old.holder_name,
        fields=correction.fields if correction.fields is not None else dict(old.fields),
        categories=(
            correction.categories if correction.categories is not None else list(old.categories)
        ),
        valid_from=old.valid_from,
        valid_until=correction.valid_until or old.valid_until,
    )
    new, _ = issue_licence(
        session=session,
        runtime=runtime,
        caller=caller,
        licence_in=licence_in,
        replaces=old,
        audit_detail={"replaces": old.id, "reason": correction.reason},
    )
    _change(
        session=session,
        caller=caller,
        licence=old,
        status="revoked",
        act="licence.revoke",
        reason="superseded",
        note=f"corrected by {new.number}" + (f": {correction.note}" if correction.note else ""),
    )
    stored = session.get(Licence, new.id)  # issue_licence wrote it with a Core insert
    if stored is None:  # the same transaction has just written it
        raise RuntimeError("the corrected licence was not stored")
    return stored, old
