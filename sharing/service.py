"""The rules of sharing (授权用证). Services take keyword arguments and a session, ``flush`` and
never commit (the route's write, or the CLI's transaction, commits once).

- The administrator registers relying parties, their API keys and purposes (audited).
- A relying party asks (``create_request``); the citizen approves or refuses before the request
  expires (``answer_request``); an approved request is a consent the party fetches data with
  (``read_for_fetch`` and ``prepare_package``, then ``record_access``), which the citizen sees
  in the access log and may revoke.
- A request for a citizen who holds no licence of the types asked for is stored and answered
  exactly like any other (201, ``pending``): whether a citizen holds a licence is the citizen's
  to share. Approved, it yields a package with no licences.
- Another party's request or consent, and another citizen's, is indistinguishable from one that
  does not exist (404).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import and_, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from credential import (
    DATA_PACKAGE_ISSUER,
    LicenceStatus,
    Signer,
    mask_id_number,
    sign_data_package,
)
from registry.api_keys import NewApiKey
from registry.audit import append_audit
from registry.errors import Conflict
from registry.models import (
    Consent,
    ConsentKind,
    Department,
    Licence,
    LicenceType,
    RelyingParty,
    RelyingPartyApiKey,
    SharingAccess,
    SharingPurpose,
    ShowToken,
    UseRequest,
    UseRequestState,
    VerificationCheck,
)

from . import schemas
from .auth import KEY_COLUMNS, RelyingPartyCaller, new_api_key
from .errors import (
    ConsentNotFound,
    ConsentNotRevocable,
    ConsentNotUsable,
    FieldNotAllowed,
    InvalidSharingRequest,
    LicenceNotFound,
    LicenceTypeNotAllowed,
    RelyingPartyNotFound,
    RequestAnswered,
    RequestNotFound,
    ShowTokenNotUsable,
    UnknownPurpose,
)

# Fields every licence has; a purpose may also name the fields of its licence types.
CORE_FIELDS = ("holder_name", "number", "categories", "valid_from", "valid_until", "issued_at")
# How long a citizen has to answer a request.
REQUEST_ANSWER_WINDOW = dt.timedelta(days=3)
# A one-time consent without an end asks for this long (capped by the purpose's max_days).
ONE_TIME_DEFAULT = dt.timedelta(days=1)
# A one-time authorisation shown at a counter must be redeemed within this.
SHOW_TOKEN_LIFETIME = dt.timedelta(minutes=5)
LIST_LIMIT = 200


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _epoch(value: dt.datetime) -> int:
    return int(_utc(value).timestamp())


# --- the administrator: relying parties, keys, purposes ------------------------------------------


def get_relying_party(*, session: Session, code: str) -> RelyingParty:
    """The relying party with ``code``. Raises ``RelyingPartyNotFound``."""
    party = session.scalars(select(RelyingParty).where(RelyingParty.code == code)).first()
    if party is None:
        raise RelyingPartyNotFound(f"no relying party {code!r}")
    return party


def list_relying_parties(*, session: Session) -> Sequence[RelyingParty]:
    return session.scalars(select(RelyingParty).order_by(RelyingParty.code)).all()


def create_relying_party(
    *, session: Session, party_in: schemas.RelyingPartyCreate, actor: str
) -> RelyingParty:
    """Register a relying party. Raises ``Conflict`` if the code is taken."""
    if session.scalars(select(RelyingParty.id).where(RelyingParty.code == party_in.code)).first():
        raise Conflict(f"relying party {party_in.code!r} already exists")
    party = RelyingParty(
        code=party_in.code, name=party_in.name, kind=party_in.kind, contact=party_in.contact
    )
    session.add(party)
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="relying_party.create",
        object_type="relying_party",
        object_id=party.code,
        detail={"name": party.name, "kind": party.kind.value, "contact": party.contact},
    )
    return party


def create_api_key(
    *, session: Session, party_code: str, actor: str
) -> tuple[RelyingParty, NewApiKey]:
    """A new API key for the party; only its prefix and secret hash are kept."""
    party = get_relying_party(session=session, code=party_code)
    key = new_api_key()
    session.add(
        RelyingPartyApiKey(
            relying_party_id=party.id, prefix=key.prefix, secret_hash=key.secret_hash.hex()
        )
    )
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="relying_party.api_key.create",
        object_type="relying_party_api_key",
        object_id=key.prefix,
        detail={"relying_party": party.code},
    )
    return party, key


def list_api_keys(
    *, session: Session, party_code: str
) -> tuple[RelyingParty, Sequence[RelyingPartyApiKey]]:
    party = get_relying_party(session=session, code=party_code)
    keys = session.scalars(
        select(RelyingPartyApiKey)
        .where(RelyingPartyApiKey.relying_party_id == party.id)
        .order_by(RelyingPartyApiKey.id)
    ).all()
    return party, keys


def revoke_api_key(
    *, session: Session, party_code: str, prefix: str, actor: str, now: dt.datetime
) -> RelyingPartyApiKey:
    """Revoke one of the party's keys: refused from the next request on. Raises ``NotFound``
    (no such key of this party) or ``Conflict`` (already revoked)."""
    party = get_relying_party(session=session, code=party_code)
    key = session.scalars(  # locked: of two revocations at once the second gets Conflict
        select(RelyingPartyApiKey)
        .where(RelyingPartyApiKey.relying_party_id == party.id, RelyingPartyApiKey.prefix == prefix)
        .with_for_update()
    ).first()
    if key is None:
        raise RelyingPartyNotFound(f"{party.code} has no API key {prefix}")
    if key.revoked_at is not None:
        raise Conflict(f"API key {prefix} is already revoked")
    key.revoked_at = now
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="relying_party.api_key.revoke",
        object_type="relying_party_api_key",
        object_id=prefix,
        detail={"relying_party": party.code},
    )
    return key


def _licence_types(session: Session, refs: Iterable[str]) -> dict[str, LicenceType]:
    """The licence types named ``DEPARTMENT/TYPE`` that exist, by reference."""
    wanted = {tuple(ref.split("/", 1)) for ref in refs}
    rows = session.execute(
        select(Department.code, LicenceType)
        .join(LicenceType, LicenceType.department_id == Department.id)
        .where(Department.code.in_({d for d, _ in wanted}))
    ).all()
    return {f"{d}/{t.code}": t for d, t in rows if (d, t.code) in wanted}


def create_purpose(
    *, session: Session, party_code: str, purpose_in: schemas.PurposeCreate, actor: str
) -> SharingPurpose:
    """Register a purpose of the party. Raises ``RelyingPartyNotFound``, ``Conflict`` (code
    taken by the party) or ``InvalidSharingRequest`` (a licence type that does not exist, a
    field none of its licence types has)."""
    party = get_relying_party(session=session, code=party_code)
    taken = session.scalars(
        select(SharingPurpose.id).where(
            SharingPurpose.relying_party_id == party.id, SharingPurpose.code == purpose_in.code
        )
    ).first()
    if taken:
        raise Conflict(f"{party.code} already has a purpose {purpose_in.code!r}")
    types = _licence_types(session, purpose_in.licence_types)
    missing = [ref for ref in purpose_in.licence_types if ref not in types]
    if missing:
        raise InvalidSharingRequest(
            f"no such licence type: {', '.join(missing)}", code="unknown_licence_type"
        )
    known = set(CORE_FIELDS) | {spec["name"] for t in types.values() for spec in t.fields}
    unknown = [name for name in purpose_in.fields if name not in known]
    if unknown:
        raise InvalidSharingRequest(
            f"no licence type of the purpose has the field(s) {', '.join(unknown)}",
            code="unknown_field",
        )
    purpose = SharingPurpose(
        relying_party_id=party.id,
        code=purpose_in.code,
        text_zh=purpose_in.text_zh,
        text_en=purpose_in.text_en,
        licence_types=list(purpose_in.licence_types),
        fields=list(purpose_in.fields),
        max_days=purpose_in.max_days,
    )
    session.add(purpose)
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="purpose.create",
        object_type="purpose",
        object_id=f"{party.code}/{purpose.code}"[:64],
        detail={
            "text_zh": purpose.text_zh,
            "text_en": purpose.text_en,
            "licence_types": purpose.licence_types,
            "fields": purpose.fields,
            "max_days": purpose.max_days,
        },
    )
    return purpose


def list_purposes(*, session: Session, relying_party_id: int) -> Sequence[SharingPurpose]:
    return session.scalars(
        select(SharingPurpose)
        .where(SharingPurpose.relying_party_id == relying_party_id)
        .order_by(SharingPurpose.code)
    ).all()


def purpose_read(party_code: str, purpose: SharingPurpose) -> schemas.PurposeRead:
    return schemas.PurposeRead(
        code=purpose.code,
        relying_party=party_code,
        text_zh=purpose.text_zh,
        text_en=purpose.text_en,
        licence_types=list(purpose.licence_types),
        fields=list(purpose.fields),
        max_days=purpose.max_days,
    )


# --- states ---------------------------------------------------------------------------------------


def request_state(request: UseRequest, *, now: dt.datetime) -> schemas.RequestState:
    """A pending request past its answer deadline is ``expired``."""
    if request.state == UseRequestState.PENDING and _utc(request.expires_at) <= now:
        return "expired"
    return request.state.value


def consent_state(consent: Any, *, now: dt.datetime) -> schemas.ConsentState:
    """revoked, used (a one-time consent fetched once), expired, else active (of a ``Consent``
    or a row with its ``revoked_at``, ``kind``, ``used_at`` and ``valid_until``)."""
    if consent.revoked_at is not None:
        return "revoked"
    if consent.kind == ConsentKind.ONE_TIME and consent.used_at is not None:
        return "used"
    if _utc(consent.valid_until) <= now:
        return "expired"
    return "active"


def _purpose_shown(purpose: SharingPurpose) -> schemas.PurposeShown:
    return schemas.PurposeShown(code=purpose.code, text_zh=purpose.text_zh, text_en=purpose.text_en)


def _party_shown(party: RelyingParty) -> schemas.PartyShown:
    return schemas.PartyShown(code=party.code, name=party.name, kind=party.kind)


# --- the relying party: requests and consents -----------------------------------------------------


def own_purpose(*, session: Session, caller: RelyingPartyCaller, code: str) -> SharingPurpose:
    """The caller's purpose ``code``. Raises ``UnknownPurpose`` (also for another party's)."""
    purpose = session.scalars(
        select(SharingPurpose).where(
            SharingPurpose.relying_party_id == caller.relying_party_id,
            SharingPurpose.code == code,
        )
    ).first()
    if purpose is None:
        raise UnknownPurpose(f"{caller.code} has no registered purpose {code!r}")
    return purpose


def _consent_end(
    *, kind: ConsentKind, until: dt.datetime | None, max_days: int, now: dt.datetime
) -> dt.datetime:
    longest = now + dt.timedelta(days=max_days)
    if until is None:
        if kind == ConsentKind.STANDING:
            raise InvalidSharingRequest("a standing consent needs `until`", code="until_required")
        return min(now + ONE_TIME_DEFAULT, longest)
    if until.tzinfo is None:
        raise InvalidSharingRequest("`until` needs a time zone (e.g. 2027-01-31T00:00:00Z)")
    if until <= now:
        raise InvalidSharingRequest("`until` is in the past", code="until_in_past")
    if until > longest:
        raise InvalidSharingRequest(
            f"`until` is beyond the purpose's longest consent ({max_days} days)",
            code="consent_too_long",
        )
    return until.astimezone(dt.UTC)


def create_request(
    *,
    session: Session,
    caller: RelyingPartyCaller,
    id_index: str,
    request_in: schemas.UseRequestCreate,
    now: dt.datetime,
) -> UseRequest:
    """Store a use request for the citizen whose blind index is ``id_index`` (the route parses
    the ID number first). Raises ``UnknownPurpose``, ``LicenceTypeNotAllowed``,
    ``FieldNotAllowed`` or ``InvalidSharingRequest``; nothing is stored then."""
    purpose = own_purpose(session=session, caller=caller, code=request_in.purpose)
    outside_types = [t for t in request_in.licence_types if t not in purpose.licence_types]
    if outside_types:
        raise LicenceTypeNotAllowed(
            f"purpose {purpose.code} does not allow {', '.join(outside_types)}"
        )
    outside_fields = [f for f in request_in.fields if f not in purpose.fields]
    if outside_fields:
        raise FieldNotAllowed(f"purpose {purpose.code} does not allow {', '.join(outside_fields)}")
    until = _consent_end(
        kind=request_in.kind, until=request_in.until, max_days=purpose.max_days, now=now
    )
    request = UseRequest(
        id=str(uuid.uuid4()),
        relying_party_id=caller.relying_party_id,
        purpose_id=purpose.id,
        id_index=id_index,
        licence_types=list(request_in.licence_types),
        fields=list(request_in.fields),
        kind=request_in.kind,
        until=until,
        state=UseRequestState.PENDING,
        created_at=now,
        expires_at=min(now + REQUEST_ANSWER_WINDOW, until),
    )
    session.add(request)
    session.flush()
    append_audit(
        session,
        actor=caller.actor,
        act="use_request.create",
        object_type="use_request",
        object_id=request.id,
        detail={
            "purpose": purpose.code,
            "licence_types": request.licence_types,
            "fields": request.fields,
            "kind": request.kind.value,
        },
    )
    return request


def _consent_of_request(session: Session, request_id: str) -> str | None:
    return session.scalar(select(Consent.id).where(Consent.request_id == request_id))


def request_read(
    session: Session, request: UseRequest, *, now: dt.datetime
) -> schemas.UseRequestRead:
    return schemas.UseRequestRead(
        id=request.id,
        purpose=_purpose_shown(request.purpose),
        licence_types=list(request.licence_types),
        fields=list(request.fields),
        kind=request.kind,
        until=_utc(request.until),
        state=request_state(request, now=now),
        created_at=_utc(request.created_at),
        expires_at=_utc(request.expires_at),
        answered_at=request.answered_at,
        consent_id=_consent_of_request(session, request.id),
    )


# A party's own requests or consents: the same two look-ups for either.
_Own = TypeVar("_Own", UseRequest, Consent)


def _own_rows(
    session: Session, model: type[_Own], caller: RelyingPartyCaller, newest: Any
) -> Sequence[_Own]:
    return session.scalars(
        select(model)
        .options(selectinload(model.purpose))
        .where(model.relying_party_id == caller.relying_party_id)
        .order_by(newest.desc(), model.id)
        .limit(LIST_LIMIT)
    ).all()


def _own_row(
    session: Session,
    model: type[_Own],
    caller: RelyingPartyCaller,
    row_id: str,
    missing: type[Exception],
) -> _Own:
    row = session.scalars(
        select(model).where(model.id == row_id, model.relying_party_id == caller.relying_party_id)
    ).first()
    if row is None:
        raise missing()
    return row


def party_requests(*, session: Session, caller: RelyingPartyCaller) -> Sequence[UseRequest]:
    """The caller's own requests, newest first."""
    return _own_rows(session, UseRequest, caller, UseRequest.created_at)


def party_request(*, session: Session, caller: RelyingPartyCaller, request_id: str) -> UseRequest:
    """One of the caller's requests. Raises ``RequestNotFound`` (also for another party's)."""
    return _own_row(session, UseRequest, caller, request_id, RequestNotFound)


def _consent_shown(consent: Consent, now: dt.datetime) -> dict[str, Any]:
    """What the party's and the citizen's views of a consent both show."""
    return {
        "id": consent.id,
        "purpose": _purpose_shown(consent.purpose),
        "licence_types": list(consent.licence_types),
        "fields": list(consent.fields),
        "kind": consent.kind,
        "state": consent_state(consent, now=now),
        "granted_at": _utc(consent.granted_at),
        "valid_until": _utc(consent.valid_until),
        "used_at": consent.used_at,
        "revoked_at": consent.revoked_at,
    }


def consent_read(consent: Consent, *, now: dt.datetime) -> schemas.ConsentRead:
    return schemas.ConsentRead(request_id=consent.request_id, **_consent_shown(consent, now))


def party_consents(*, session: Session, caller: RelyingPartyCaller) -> Sequence[Consent]:
    """The caller's own consents, newest first."""
    return _own_rows(session, Consent, caller, Consent.granted_at)


def party_consent(*, session: Session, caller: RelyingPartyCaller, consent_id: str) -> Consent:
    """One of the caller's consents. Raises ``ConsentNotFound`` (also for another party's)."""
    return _own_row(session, Consent, caller, consent_id, ConsentNotFound)


# --- fetching data under a consent ----------------------------------------------------------------

_Superseding = aliased(Licence)
# A licence no correction has replaced.
_CURRENT = ~exists().where(_Superseding.replaces_id == Licence.id)
# What a package (and the citizen's view of a request) shows of a licence.
_LICENCE_COLUMNS = (
    Licence.id,
    Licence.number,
    Licence.identifier,
    Licence.holder_name,
    Licence.fields,
    Licence.categories,
    Licence.valid_from,
    Licence.valid_until,
    Licence.issued_at,
    Licence.status,
    Department.code.label("department"),
    Department.name.label("department_name"),
    LicenceType.code.label("type_code"),
    LicenceType.name.label("type_name"),
)
# What a fetch reads of the consent and its purpose.
_CONSENT_COLUMNS = (
    Consent.id,
    Consent.kind,
    Consent.id_index,
    Consent.licence_types,
    Consent.fields,
    Consent.licence_id,
    Consent.valid_until,
    Consent.used_at,
    Consent.revoked_at,
    Consent.purpose_id,
    SharingPurpose.code.label("purpose"),
    SharingPurpose.text_zh,
    SharingPurpose.text_en,
)
# Built once (see registry.audit on prebuilt statements). The covering rule (types, one
# licence) is applied in Python over a citizen's few licences, so the statements have no
# per-consent shape.
_CITIZEN_LICENCES = (
    select(*_LICENCE_COLUMNS)
    .join(Department, Department.id == Licence.department_id)
    .join(LicenceType, LicenceType.id == Licence.licence_type_id)
    .where(Licence.id_index == bindparam("id_index"), _CURRENT)
    .order_by(Licence.issued_at, Licence.id)
)
# Everything a fetch reads, in one statement: the presented key and its party, the party's
# consent (none: another party's or no such consent) with its purpose, and the citizen's current
# licences (one row each; one row of nulls when there are none). Four queries before (key,
# root key, consent, licences): each a GIL release and a Core execution on the hot path.
_FETCH = (
    select(*KEY_COLUMNS, *_CONSENT_COLUMNS, *_LICENCE_COLUMNS)
    .select_from(RelyingPartyApiKey)
    .join(RelyingParty, RelyingParty.id == RelyingPartyApiKey.relying_party_id)
    .outerjoin(
        Consent,
        and_(Consent.id == bindparam("consent_id"), Consent.relying_party_id == RelyingParty.id),
    )
    .outerjoin(SharingPurpose, SharingPurpose.id == Consent.purpose_id)
    .outerjoin(Licence, and_(Licence.id_index == Consent.id_index, _CURRENT))
    .outerjoin(Department, Department.id == Licence.department_id)
    .outerjoin(LicenceType, LicenceType.id == Licence.licence_type_id)
    .where(RelyingPartyApiKey.prefix == bindparam("prefix"))
    .order_by(Licence.issued_at, Licence.id)
)
# The parts of a ``_FETCH`` row, by position (names repeat across the parts: id, fields, ...),
# as tuples with the parts' own column names.
_FetchedConsent: Any = cast(
    Any, namedtuple("_FetchedConsent", select(*_CONSENT_COLUMNS).selected_columns.keys())
)
_FetchedLicence: Any = cast(
    Any, namedtuple("_FetchedLicence", select(*_LICENCE_COLUMNS).selected_columns.keys())
)
_CONSENT_PART = slice(len(KEY_COLUMNS), len(KEY_COLUMNS) + len(_CONSENT_COLUMNS))
_LICENCE_PART = slice(len(KEY_COLUMNS) + len(_CONSENT_COLUMNS), None)


def _covers(licence: Any, licence_types: set[str], licence_id: str | None) -> bool:
    """Whether a consent or request of ``licence_types`` (or of the one licence ``licence_id``)
    covers ``licence``."""
    return f"{licence.department}/{licence.type_code}" in licence_types and (
        licence_id is None or licence.id == licence_id
    )


def covered_licences(
    session: Session,
    *,
    id_index: str,
    licence_types: Sequence[str],
    licence_id: str | None = None,
) -> list[Any]:
    """The citizen's current licences a consent or request covers (rows of
    ``_CITIZEN_LICENCES``): of its licence types (or its one licence), not superseded by a
    correction; revoked, suspended and expired ones too."""
    wanted = set(licence_types)
    return [
        row
        for row in session.connection().execute(_CITIZEN_LICENCES, {"id_index": id_index})
        if _covers(row, wanted, licence_id)
    ]


def shown_status(licence: Any, *, now: dt.datetime) -> str:
    """Its status in a package: revoked and suspended first, then expired / not yet valid."""
    if licence.status != LicenceStatus.VALID:
        return str(licence.status.value)
    if _utc(licence.valid_until) <= now:
        return "expired"
    if _utc(licence.valid_from) > now:
        return "not_yet_valid"
    return "valid"


def _field_value(licence: Any, name: str) -> tuple[bool, Any]:
    if name == "holder_name":
        return True, licence.holder_name
    if name == "number":
        return True, licence.number
    if name == "categories":
        return True, [str(c) for c in licence.categories]
    if name in ("valid_from", "valid_until", "issued_at"):
        moment: dt.datetime = getattr(licence, name)
        return True, _utc(moment).isoformat().replace("+00:00", "Z")
    if name in licence.fields:
        return True, licence.fields[name]
    return False, None


def shared_licence(licence: Any, fields: Sequence[str], *, now: dt.datetime) -> dict[str, Any]:
    """One licence of a package: identity and status always, then the consented fields it has."""
    values = {}
    for name in fields:
        present, value = _field_value(licence, name)
        if present:
            values[name] = value
    return {
        "identifier": licence.identifier,
        "licence_type": f"{licence.department}/{licence.type_code}",
        "licence_type_name": licence.type_name,
        "department": licence.department,
        "department_name": licence.department_name,
        "status": shown_status(licence, now=now),
        "fields": values,
    }


@dataclass(frozen=True, slots=True)
class PreparedPackage:
    """A signed package waiting for its access to be recorded (``record_access``): nothing is
    released before the access is stored."""

    access_id: str
    consent_id: str
    consent_kind: ConsentKind
    relying_party_id: int
    purpose_id: int
    id_index: str
    fields: list[str]
    licence_ids: list[str]
    token: str
    content: dict[str, Any]


def read_for_fetch(*, session: Session, key_prefix: str, consent_id: str) -> Sequence[Any]:
    """The rows of ``_FETCH``: empty when no key has ``key_prefix``; the first row carries the
    key (``sharing.auth.admit_relying_party`` checks it before anything else is used)."""
    return (
        session.connection().execute(_FETCH, {"prefix": key_prefix, "consent_id": consent_id}).all()
    )


def prepare_package(
    *,
    rows: Sequence[Any],
    caller: RelyingPartyCaller,
    signer: Signer,
    now: dt.datetime,
) -> PreparedPackage:
    """Build and sign the package of one of the caller's consents from ``read_for_fetch``'s
    rows (the caller admitted from the first). Raises ``ConsentNotFound`` or
    ``ConsentNotUsable``."""
    consent = _FetchedConsent._make(rows[0][_CONSENT_PART])
    if consent.id is None:
        raise ConsentNotFound()
    state = consent_state(consent, now=now)
    if state != "active":
        raise ConsentNotUsable(state)
    wanted = set(consent.licence_types)
    licences = [
        licence
        for licence in (_FetchedLicence._make(row[_LICENCE_PART]) for row in rows)
        if licence.id is not None and _covers(licence, wanted, consent.licence_id)
    ]
    access_id = str(uuid.uuid4())
    payload = {
        "iss": DATA_PACKAGE_ISSUER,
        "iat": _epoch(now),
        "jti": access_id,
        "consent": {
            "id": consent.id,
            "kind": consent.kind.value,
            "until": _epoch(consent.valid_until),
        },
        "relying_party": {"code": caller.code, "name": caller.name},
        "purpose": {"code": consent.purpose, "zh": consent.text_zh, "en": consent.text_en},
        "fields": list(consent.fields),
        "licences": [shared_licence(licence, consent.fields, now=now) for licence in licences],
    }
    return PreparedPackage(
        access_id=access_id,
        consent_id=consent.id,
        consent_kind=consent.kind,
        relying_party_id=caller.relying_party_id,
        purpose_id=consent.purpose_id,
        id_index=consent.id_index,
        fields=list(consent.fields),
        licence_ids=[licence.id for licence in licences],
        token=sign_data_package(payload, signer),
        content=payload,
    )


# Built once: every fetch runs one of them (inside the writer's transaction). A standing
# consent's access is recorded by one statement that inserts it only while the consent is
# unrevoked and unexpired (one statement where a check and an insert were two); a one-time
# consent is spent first by an UPDATE that only one fetch can win (on PostgreSQL the row lock
# makes a concurrent one wait, then find it spent).
_STILL_ACTIVE = exists().where(
    Consent.id == bindparam("consent_id"),
    Consent.revoked_at.is_(None),
    Consent.valid_until > bindparam("accessed_at"),
)
_RECORD_IF_ACTIVE = (
    insert(SharingAccess)
    .from_select(
        list(SharingAccess.__table__.columns),
        # Typed parameters, one per column: PostgreSQL would take a bare one in a SELECT list for
        # text (SQLAlchemy renders a cast there, e.g. ``::JSON``).
        select(*(bindparam(c.name, type_=c.type) for c in SharingAccess.__table__.columns)).where(
            _STILL_ACTIVE
        ),
    )
    .returning(SharingAccess.id)
)  # says whether it went in (rowcount is -1 there on PostgreSQL)
_USE_ONCE = (
    update(Consent)
    .where(
        Consent.id == bindparam("consent_id"),
        Consent.used_at.is_(None),
        Consent.revoked_at.is_(None),
        Consent.valid_until > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
)
_INSERT_ACCESS = insert(SharingAccess)


def record_access(*, session: Session, prepared: PreparedPackage, now: dt.datetime) -> None:
    """Store the access (and spend a one-time consent) in the writer's transaction, checking
    the consent again there: a revocation or a use committed since ``prepare_package`` wins.
    Raises ``ConsentNotUsable`` (nothing stored)."""
    connection = session.connection()
    access = {
        "id": prepared.access_id,
        "consent_id": prepared.consent_id,
        "relying_party_id": prepared.relying_party_id,
        "purpose_id": prepared.purpose_id,
        "id_index": prepared.id_index,
        "fields": prepared.fields,
        "licence_ids": prepared.licence_ids,
        "accessed_at": now,
    }
    if prepared.consent_kind == ConsentKind.ONE_TIME:
        values = {"consent_id": prepared.consent_id, "now": now}
        recorded = connection.execute(_USE_ONCE, values).rowcount == 1
        if recorded:
            connection.execute(_INSERT_ACCESS, access)
    else:
        recorded = connection.execute(_RECORD_IF_ACTIVE, access).first() is not None
    if not recorded:
        consent = session.get(Consent, prepared.consent_id, populate_existing=True)
        raise ConsentNotUsable(consent_state(consent, now=now) if consent else "revoked")


# --- the citizen ----------------------------------------------------------------------------------


def citizen_actor(id_number: str) -> str:
    """The audit actor of a citizen's act (the masked number: never the full one)."""
    return f"citizen:{mask_id_number(id_number)}"


def _type_shown(session: Session, refs: Sequence[str], fields: Sequence[str]) -> list[Any]:
    types = _licence_types(session, refs)
    shown = []
    for ref in refs:
        licence_type = types.get(ref)
        labels = {
            spec["name"]: spec.get("label")
            for spec in (licence_type.fields if licence_type else [])
        }
        shown.append(
            schemas.RequestedLicenceType(
                licence_type=ref,
                name=licence_type.name if licence_type else None,
                department_name=licence_type.department.name if licence_type else None,
                fields=[
                    schemas.FieldShown(name=name, label=labels.get(name))
                    for name in fields
                    if name in CORE_FIELDS or name in labels
                ],
            )
        )
    return shown


def citizen_request_read(
    session: Session, request: UseRequest, *, now: dt.datetime
) -> schemas.CitizenUseRequest:
    return schemas.CitizenUseRequest(
        id=request.id,
        relying_party=_party_shown(request.relying_party),
        purpose=_purpose_shown(request.purpose),
        licence_types=_type_shown(session, request.licence_types, request.fields),
        licences=[
            schemas.HeldLicence(
                id=licence.id,
                number=licence.number,
                identifier=licence.identifier,
                licence_type=f"{licence.department}/{licence.type_code}",
                status=shown_status(licence, now=now),
            )
            for licence in covered_licences(
                session, id_index=request.id_index, licence_types=request.licence_types
            )
        ],
        kind=request.kind,
        until=_utc(request.until),
        state=request_state(request, now=now),
        created_at=_utc(request.created_at),
        expires_at=_utc(request.expires_at),
        answered_at=request.answered_at,
        consent_id=_consent_of_request(session, request.id),
    )


def citizen_requests(*, session: Session, id_index: str) -> Sequence[UseRequest]:
    """The requests for the citizen, newest first."""
    return session.scalars(
        select(UseRequest)
        .options(selectinload(UseRequest.purpose), selectinload(UseRequest.relying_party))
        .where(UseRequest.id_index == id_index)
        .order_by(UseRequest.created_at.desc(), UseRequest.id)
        .limit(LIST_LIMIT)
    ).all()


def citizen_request(
    *, session: Session, id_index: str, request_id: str, for_update: bool = False
) -> UseRequest:
    """A request for the citizen. Raises ``RequestNotFound`` (also for another citizen's).
    ``for_update``: its row stays locked until the commit (PostgreSQL), so two answers given at
    once see each other's."""
    query = select(UseRequest).where(UseRequest.id == request_id, UseRequest.id_index == id_index)
    request = session.scalars(query.with_for_update() if for_update else query).first()
    if request is None:
        raise RequestNotFound()
    return request


def answer_request(
    *,
    session: Session,
    id_index: str,
    request_id: str,
    approve: bool,
    actor: str,
    now: dt.datetime,
) -> UseRequest:
    """Approve (a consent is made) or refuse a pending request of the citizen. Raises
    ``RequestNotFound`` or ``RequestAnswered`` (answered already, or expired)."""
    request = citizen_request(
        session=session, id_index=id_index, request_id=request_id, for_update=True
    )
    state = request_state(request, now=now)
    if state != "pending":
        raise RequestAnswered(f"the request is {state}")
    request.state = UseRequestState.APPROVED if approve else UseRequestState.REFUSED
    request.answered_at = now
    if approve:
        session.add(_consent_for(request, now=now))
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="use_request.approve" if approve else "use_request.refuse",
        object_type="use_request",
        object_id=request.id,
    )
    return request


def _consent_for(
    request: UseRequest, *, now: dt.datetime, licence_id: str | None = None
) -> Consent:
    return Consent(
        id=str(uuid.uuid4()),
        request_id=request.id,
        relying_party_id=request.relying_party_id,
        purpose_id=request.purpose_id,
        id_index=request.id_index,
        licence_types=list(request.licence_types),
        fields=list(request.fields),
        kind=request.kind,
        licence_id=licence_id,
        granted_at=now,
        valid_until=request.until,
    )


def citizen_consent_read(consent: Consent, *, now: dt.datetime) -> schemas.CitizenConsent:
    return schemas.CitizenConsent(
        relying_party=_party_shown(consent.relying_party), **_consent_shown(consent, now)
    )


def citizen_consents(*, session: Session, id_index: str) -> Sequence[Consent]:
    """The citizen's consents, newest first."""
    return session.scalars(
        select(Consent)
        .options(selectinload(Consent.purpose), selectinload(Consent.relying_party))
        .where(Consent.id_index == id_index)
        .order_by(Consent.granted_at.desc(), Consent.id)
        .limit(LIST_LIMIT)
    ).all()


def revoke_consent(
    *, session: Session, id_index: str, consent_id: str, actor: str, now: dt.datetime
) -> Consent:
    """Revoke one of the citizen's active consents: the next fetch under it is refused.
    Raises ``ConsentNotFound`` or ``ConsentNotRevocable``."""
    consent = session.scalars(  # locked: two revocations at once revoke it once (PostgreSQL)
        select(Consent)
        .where(Consent.id == consent_id, Consent.id_index == id_index)
        .with_for_update()
    ).first()
    if consent is None:
        raise ConsentNotFound()
    state = consent_state(consent, now=now)
    if state != "active":
        raise ConsentNotRevocable(f"the consent is {state}")
    consent.revoked_at = now
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="consent.revoke",
        object_type="consent",
        object_id=consent.id,
    )
    return consent


def access_log(*, session: Session, id_index: str) -> list[schemas.AccessShown]:
    """Every fetch of the citizen's data and every authenticated check of their licences,
    newest first, with the party's registered name and the purpose."""
    parties = {p.id: p for p in session.scalars(select(RelyingParty))}
    fetches = session.scalars(
        select(SharingAccess)
        .where(SharingAccess.id_index == id_index)
        .order_by(SharingAccess.accessed_at.desc())
        .limit(LIST_LIMIT)
    ).all()
    checks = session.execute(
        select(VerificationCheck, Licence.number)
        .join(Licence, Licence.id == VerificationCheck.licence_id)
        .where(Licence.id_index == id_index, VerificationCheck.relying_party_id.is_not(None))
        .order_by(VerificationCheck.checked_at.desc())
        .limit(LIST_LIMIT)
    ).all()
    purpose_ids = {a.purpose_id for a in fetches} | {c.purpose_id for c, _ in checks}
    purposes = {
        p.id: p
        for p in session.scalars(select(SharingPurpose).where(SharingPurpose.id.in_(purpose_ids)))
    }
    licence_ids = {i for a in fetches for i in a.licence_ids}
    numbers: dict[str, str] = {
        row.id: row.number
        for row in session.execute(
            select(Licence.id, Licence.number).where(Licence.id.in_(licence_ids))
        )
    }
    shown = [
        schemas.AccessShown(
            kind="fetch",
            at=_utc(a.accessed_at),
            relying_party=_party_shown(parties[a.relying_party_id]),
            purpose=_purpose_shown(purposes[a.purpose_id]),
            fields=list(a.fields),
            licences=[numbers.get(i, i) for i in a.licence_ids],
            consent_id=a.consent_id,
            outcome=None,
        )
        for a in fetches
    ]
    for check, number in checks:
        assert check.relying_party_id is not None and check.purpose_id is not None
        shown.append(
            schemas.AccessShown(
                kind="check",
                at=_utc(check.checked_at),
                relying_party=_party_shown(parties[check.relying_party_id]),
                purpose=_purpose_shown(purposes[check.purpose_id]),
                fields=None,
                licences=[number],
                consent_id=None,
                outcome=check.outcome,
            )
        )
    shown.sort(key=lambda a: a.at, reverse=True)
    return shown[:LIST_LIMIT]


# --- 亮证: a one-time authorisation shown at a counter ------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_show_token(
    *,
    session: Session,
    id_index: str,
    licence_id: str,
    party_code: str | None,
    purpose_code: str | None,
    now: dt.datetime,
) -> tuple[str, ShowToken]:
    """A one-time authorisation for one of the citizen's licences, bound to ``party_code`` and
    its ``purpose_code`` (both, or neither: a generic one the scanning party claims). Returns the
    token text (shown once, as a QR; only its hash is stored). Raises ``NotFound`` (licence,
    party), ``UnknownPurpose`` or ``LicenceTypeNotAllowed``."""
    licence = session.scalars(
        select(Licence).where(Licence.id == licence_id, Licence.id_index == id_index)
    ).first()
    if licence is None:
        raise LicenceNotFound("no such licence of the signed-in citizen")
    party_id = purpose_id = None
    if (party_code is None) != (purpose_code is None):
        raise InvalidSharingRequest("name both a relying party and its purpose, or neither")
    if party_code is not None and purpose_code is not None:
        party = get_relying_party(session=session, code=party_code)
        caller = RelyingPartyCaller(party.id, party.code, party.name, "-")
        purpose = own_purpose(session=session, caller=caller, code=purpose_code)
        _check_shown_type(purpose, licence)
        party_id, purpose_id = party.id, purpose.id
    token = secrets.token_urlsafe(24)
    row = ShowToken(
        token_hash=_token_hash(token),
        id_index=id_index,
        licence_id=licence.id,
        relying_party_id=party_id,
        purpose_id=purpose_id,
        created_at=now,
        expires_at=now + SHOW_TOKEN_LIFETIME,
    )
    session.add(row)
    session.flush()
    return token, row


def _check_shown_type(purpose: SharingPurpose, licence: Licence) -> None:
    ref = f"{licence.department.code}/{licence.licence_type.code}"
    if ref not in purpose.licence_types:
        raise LicenceTypeNotAllowed(f"purpose {purpose.code} does not allow {ref}")


def redeem_show_token(
    *,
    session: Session,
    caller: RelyingPartyCaller,
    token: str,
    purpose_code: str,
    now: dt.datetime,
) -> Consent:
    """Turn a shown authorisation into an approved one-time consent of the caller for that one
    licence and the purpose's fields. Raises ``ShowTokenNotUsable`` (unknown, redeemed, older
    than 5 minutes, or bound to another party or purpose), ``UnknownPurpose`` or
    ``LicenceTypeNotAllowed``; nothing is stored then."""
    purpose = own_purpose(session=session, caller=caller, code=purpose_code)
    row = session.scalars(  # locked: two scans at once redeem it once (PostgreSQL)
        select(ShowToken).where(ShowToken.token_hash == _token_hash(token)).with_for_update()
    ).first()
    if (
        row is None
        or row.redeemed_at is not None
        or _utc(row.expires_at) <= now
        or (row.relying_party_id is not None and row.relying_party_id != caller.relying_party_id)
        or (row.purpose_id is not None and row.purpose_id != purpose.id)
    ):
        raise ShowTokenNotUsable()
    licence = session.get(Licence, row.licence_id)
    assert licence is not None
    _check_shown_type(purpose, licence)
    fields = list(purpose.fields)
    request = UseRequest(
        id=str(uuid.uuid4()),
        relying_party_id=caller.relying_party_id,
        purpose_id=purpose.id,
        id_index=row.id_index,
        licence_types=[f"{licence.department.code}/{licence.licence_type.code}"],
        fields=fields,
        kind=ConsentKind.ONE_TIME,
        until=min(now + ONE_TIME_DEFAULT, now + dt.timedelta(days=purpose.max_days)),
        state=UseRequestState.APPROVED,
        created_at=now,
        expires_at=now,
        answered_at=now,
    )
    session.add(request)
    session.flush()  # rows in the order their references need (no ORM relationship says it)
    consent = _consent_for(request, now=now, licence_id=licence.id)
    session.add(consent)
    session.flush()  # the consent row first: the token points at it
    row.redeemed_at = now
    row.consent_id = consent.id
    session.flush()
    append_audit(
        session,
        actor=caller.actor,
        act="show_token.redeem",
        object_type="consent",
        object_id=consent.id,
        detail={"purpose": purpose.code},
    )
    return consent
