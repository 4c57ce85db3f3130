"""Revoke, suspend, reinstate and correct licences; each writes the status list and the audit.

The three status changes are one table (``TRANSITIONS``) read by one function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy.orm import Session

from credential import LicenceStatus
from registry.audit import append_audit
from registry.errors import Conflict
from registry.models import Licence

from ..auth import DepartmentCaller
from ..errors import InvalidRequest
from ..licences.schemas import LicenceCreate
from ..licences.service import get_licence, issue_licence
from ..runtime import IssuerRuntime
from ..status_lists.service import lock_status_list, set_status
from .schemas import CorrectRequest, ReinstateReason, RevokeReason, SuspendReason


@dataclass(frozen=True, slots=True)
class Transition:
    """One status change: the states it starts from, the state it leads to, the reasons a
    department may give and the audit act."""

    act: str
    from_states: frozenset[LicenceStatus]
    to: LicenceStatus
    reasons: frozenset[str]
    refusal: str  # why it is refused from any other state


Verb = Literal["revoke", "suspend", "reinstate"]
V, R, S = LicenceStatus.VALID, LicenceStatus.REVOKED, LicenceStatus.SUSPENDED
TRANSITIONS: dict[str, Transition] = {
    "revoke": Transition(
        "licence.revoke",
        frozenset({V, S}),
        R,
        frozenset(get_args(RevokeReason)),
        "the licence is already revoked (a revocation is final)",
    ),
    "suspend": Transition(
        "licence.suspend",
        frozenset({V}),
        S,
        frozenset(get_args(SuspendReason)),
        "only a valid licence can be suspended",
    ),
    "reinstate": Transition(
        "licence.reinstate",
        frozenset({S}),
        V,
        frozenset(get_args(ReinstateReason)),
        "only a suspended licence can be reinstated",
    ),
}


def change_status(
    *,
    session: Session,
    caller: DepartmentCaller,
    licence_id: str,
    verb: Verb,
    reason: str,
    note: str | None,
) -> Licence:
    """Revoke, suspend or reinstate one of the caller's licences as ``TRANSITIONS`` says:
    write its status list and the audit. Raises ``NotFound``, ``InvalidRequest`` for a reason
    the transition does not allow, ``Conflict`` from a state it does not start from."""
    transition = TRANSITIONS[verb]
    if reason not in transition.reasons:
        raise InvalidRequest(f"{reason!r} is not a reason to {verb} a licence")
    licence = get_licence(session=session, caller=caller, licence_id=licence_id, for_update=True)
    return _apply(
        session=session, caller=caller, licence=licence, verb=verb, reason=reason, note=note
    )


def _apply(
    *,
    session: Session,
    caller: DepartmentCaller,
    licence: Licence,
    verb: Verb,
    reason: str,
    note: str | None,
) -> Licence:
    transition = TRANSITIONS[verb]
    previous = licence.status
    if previous not in transition.from_states:
        raise Conflict(f"{transition.refusal} (this one is {previous})")
    licence.status = transition.to
    licence.status_reason = reason
    session.flush()  # the licence row (locked already) before the list's: see lock_status_list
    set_status(session=session, licence=licence, status=transition.to)
    detail = {"number": licence.number, "reason": reason, "from": previous, "to": transition.to}
    if note:
        detail["note"] = note
    append_audit(
        session,
        actor=caller.actor,
        act=transition.act,
        object_type="licence",
        object_id=licence.id,
        detail=detail,
    )
    return licence


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
    old = get_licence(session=session, caller=caller, licence_id=licence_id, for_update=True)
    if old.status == LicenceStatus.REVOKED:
        raise Conflict("a revoked licence cannot be corrected")
    # The new licence's audit entry comes before the old one's revocation: its list first.
    lock_status_list(session=session, list_id=old.status_list_id)
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
    _apply(
        session=session,
        caller=caller,
        licence=old,
        verb="revoke",
        reason="superseded",
        note=f"corrected by {new.number}" + (f": {correction.note}" if correction.note else ""),
    )
    stored = session.get(Licence, new.id)  # issue_licence wrote it with a Core insert
    if stored is None:  # the same transaction has just written it
        raise RuntimeError("the corrected licence was not stored")
    return stored, old
