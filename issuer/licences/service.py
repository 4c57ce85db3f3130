"""Issuing licences and finding them: the credential, its status index, the stored row and the
audit entry land in one transaction (the route's)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, or_, select, text
from sqlalchemy.orm import Session

from credential import (
    CredentialClaims,
    KeyState,
    LicenceClaims,
    LicenceIdentifier,
    LicenceStatus,
    PublicKey,
    StatusReference,
    encode_static_qr,
    identifier_credential_id,
    make_licence_identifier,
    mask_id_number,
    new_licence_serial,
    parse_id_number,
    parse_licence_identifier,
    read_credential,
    sign_credential,
    upgrade_15_digit,
)
from credential.errors import InvalidIdNumber, InvalidLicenceIdentifier
from keys import LocalSigner
from registry.audit import append_audit
from registry.db import insert_all_unless_taken, insert_unless_taken, one_of
from registry.errors import Conflict, NotFound, ServiceError
from registry.holder_keys import (
    PreparedHolderKey,
    holder_public_key,
    holder_public_keys,
    prepare_holder_key,
)
from registry.models import (
    LICENCE_WITH_LINKS,
    Department,
    Licence,
    LicenceType,
    SigningKey,
    utcnow,
)

from ..auth import DepartmentCaller
from ..errors import AlreadyHeld, InvalidRequest
from ..runtime import IssuerRuntime
from ..status_lists.service import allocate_index, allocate_indices, set_status
from .gbt import LicenceView, gbt_record
from .schemas import LicenceCreate, LicenceGbtRead, LicenceRead, LicenceSearch

_MAX_TEXT_FIELD = 200
MAX_IDENTIFIER_VERSION = 999
_ALLOCATION_ATTEMPTS = 5


def parse_citizen_id(text: str) -> str:
    """The normalised 18-character ID number; a first-generation 15-digit number is upgraded
    (GB 11643). Raises ``InvalidRequest`` (invalid_id_number)."""
    try:
        if len(text.strip()) == 15:
            return upgrade_15_digit(text).value
        return parse_id_number(text).value
    except InvalidIdNumber as exc:
        raise InvalidRequest(f"{exc.detail} ({exc.reason})", code="invalid_id_number") from None


@dataclass(frozen=True, slots=True)
class PreparedCitizen:
    """The per-citizen work of an issuance that needs no database: the normalised ID number,
    its blind index, ciphertext and masked form, and a fresh holder key pair (stored only if
    the citizen has none yet). Made before the write transaction to keep that transaction
    short."""

    id_number: str
    id_index: str
    id_ciphertext: bytes
    masked_id: str
    holder_key: PreparedHolderKey

    def __repr__(self) -> str:  # never the ID number
        return f"PreparedCitizen(masked_id={self.masked_id!r})"


@dataclass(frozen=True, slots=True)
class CitizenIds:
    """What a licence row and its credential hold of the citizen's ID number: its blind
    index, ciphertext and masked form (a bulk import's worker process signs with these)."""

    id_index: str
    id_ciphertext: bytes
    masked_id: str

    def __repr__(self) -> str:
        return f"CitizenIds(masked_id={self.masked_id!r})"


def prepare_citizen(*, runtime: IssuerRuntime, id_number: str) -> PreparedCitizen | None:
    """``PreparedCitizen`` for an ID number, or ``None`` if it is invalid (``issue_licence``
    then reports it in its usual order, after authentication and the licence type)."""
    try:
        normalised = parse_citizen_id(id_number)
    except InvalidRequest:
        return None
    return prepare_checked_citizen(runtime=runtime, id_number=normalised)


def prepare_checked_citizen(
    *, runtime: IssuerRuntime, id_number: str, id_index: str | None = None
) -> PreparedCitizen:
    """``PreparedCitizen`` for an ID number ``parse_citizen_id`` has normalised already, with
    its blind index if known (bulk import has both: each is computed once per row)."""
    if id_index is None:
        id_index = runtime.vault.blind_index(id_number)
    return PreparedCitizen(
        id_number=id_number,
        id_index=id_index,
        id_ciphertext=runtime.vault.encrypt(id_number),
        masked_id=mask_id_number(id_number),
        holder_key=prepare_holder_key(box=runtime.holder_box, id_index=id_index),
    )


def _utc(value: dt.datetime) -> dt.datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class TypeRules:
    """What issuance checks a request against: one licence type's definition."""

    id: int
    code: str
    fields: list[dict[str, Any]]
    categories: list[str] | None
    default_validity_days: int
    single_valid: bool = False
    # (catalogue code, issuing department's credit code): its licences get identifiers
    identifier_codes: tuple[str, str] | None = None
    # the department's jurisdiction (division) code: the issuer code of kept older identifiers
    division_code: str | None = None


def check_fields(licence_type: TypeRules, fields: dict[str, Any]) -> dict[str, str | int]:
    """The fields checked against the type's definition. Raises ``InvalidRequest``."""
    specs = {spec["name"]: spec for spec in licence_type.fields}
    unknown = sorted(set(fields) - set(specs))
    if unknown:
        raise InvalidRequest(
            f"unknown field(s) for {licence_type.code}: {', '.join(unknown)}", code="unknown_field"
        )
    checked: dict[str, str | int] = {}
    for name, spec in specs.items():
        if name not in fields:
            if spec.get("required", True):
                raise InvalidRequest(f"field {name!r} is required", code="missing_field")
            continue
        value, kind = fields[name], spec.get("type", "text")
        if kind == "int":
            if type(value) is not int:
                raise InvalidRequest(f"field {name!r} must be an integer", code="invalid_field")
        elif not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT_FIELD:
            raise InvalidRequest(f"field {name!r} must be non-empty text", code="invalid_field")
        elif kind == "date":
            try:
                value = dt.date.fromisoformat(value).isoformat()
            except ValueError:
                raise InvalidRequest(
                    f"field {name!r} must be an ISO date (YYYY-MM-DD)", code="invalid_field"
                ) from None
        elif kind == "choice" and value not in (spec.get("choices") or []):
            raise InvalidRequest(
                f"field {name!r} must be one of {spec.get('choices')}", code="invalid_field"
            )
        checked[name] = value
    return checked


def check_categories(licence_type: TypeRules, categories: Sequence[str]) -> list[str]:
    """The categories checked against the type's allowed ones. Raises ``InvalidRequest``."""
    allowed = licence_type.categories or []
    wrong = sorted({c for c in categories if c not in allowed})
    if wrong:
        raise InvalidRequest(
            f"categories not allowed for {licence_type.code}: {', '.join(wrong)}",
            code="invalid_category",
        )
    if len(set(categories)) != len(categories):
        raise InvalidRequest("categories repeat", code="invalid_category")
    return list(categories)


def check_validity(
    licence_type: TypeRules,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    now: dt.datetime,
) -> tuple[dt.datetime, dt.datetime]:
    """Validity window with the type's default length. Raises ``InvalidRequest``."""
    start = _utc(valid_from) if valid_from is not None else now
    end = (
        _utc(valid_until)
        if valid_until is not None
        else start + dt.timedelta(days=licence_type.default_validity_days)
    )
    if end <= now:
        raise InvalidRequest("valid_until is in the past", code="valid_until_in_past")
    if end <= start:
        raise InvalidRequest("valid_until must be after valid_from", code="invalid_validity")
    return start, end


@dataclass(frozen=True, slots=True)
class LicenceDraft:
    """The checked content of one licence, ready to be signed and stored: what issuance and bulk
    import (which keeps a licence's original dates and status) both store."""

    holder_name: str
    fields: dict[str, str | int]
    categories: list[str]
    valid_from: dt.datetime
    valid_until: dt.datetime
    issued_at: dt.datetime
    status: LicenceStatus = LicenceStatus.VALID
    status_reason: str | None = None
    record_key: str | None = None
    # an imported licence's own identifier, kept (checked against the type by the import)
    identifier: LicenceIdentifier | None = None
    # when its credential is signed: the credential's ``iat``. An imported licence keeps its
    # original ``issued_at`` in the register, but its credential is issued now, by a key whose
    # window began long after that date (a verifier refuses an ``iat`` outside the key's window)
    signed_at: dt.datetime | None = None


def draft_licence(
    licence_type: TypeRules,
    *,
    holder_name: str,
    fields: dict[str, Any],
    categories: Sequence[str],
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    now: dt.datetime,
    issued_at: dt.datetime | None = None,
    status: str = LicenceStatus.VALID,
    status_reason: str | None = None,
    record_key: str | None = None,
    identifier: LicenceIdentifier | None = None,
) -> LicenceDraft:
    """A licence's content checked against its type: fields, categories, validity window (the
    type's default length when ``valid_until`` is absent). ``issued_at`` defaults to ``now``.
    Raises ``InvalidRequest``."""
    checked_fields = check_fields(licence_type, fields)
    checked_categories = check_categories(licence_type, categories)
    start, end = check_validity(licence_type, valid_from, valid_until, now)
    return LicenceDraft(
        holder_name=holder_name,
        fields=checked_fields,
        categories=checked_categories,
        valid_from=start,
        valid_until=end,
        issued_at=_utc(issued_at) if issued_at is not None else now,
        status=LicenceStatus(status),
        status_reason=status_reason,
        record_key=record_key,
        identifier=identifier,
        signed_at=now,
    )


# Built once: issuance runs these on every request (see registry.audit).
_LICENCE_TYPE = (
    select(
        LicenceType.id,
        LicenceType.code,
        LicenceType.fields,
        LicenceType.categories,
        LicenceType.default_validity_days,
        LicenceType.single_valid,
        LicenceType.catalogue_code,
        Department.credit_code,
        Department.jurisdiction_code,
    )
    .join(Department, LicenceType.department_id == Department.id)
    .where(
        LicenceType.department_id == bindparam("department_id"),
        LicenceType.code == bindparam("code"),
    )
)
_ACTIVE_KEY = (
    select(SigningKey.id, SigningKey.kid, SigningKey.allowed_types)
    .where(
        SigningKey.department_id == bindparam("department_id"), SigningKey.state == KeyState.ACTIVE
    )
    .order_by(SigningKey.not_before.desc(), SigningKey.id.desc())
    .limit(1)
)
_VALID_OF_TYPE = (
    select(Licence.number)
    .where(
        Licence.licence_type_id == bindparam("licence_type_id"),
        Licence.id_index == bindparam("id_index"),
        Licence.status == "valid",
        Licence.valid_until > bindparam("now"),
    )
    .order_by(Licence.issued_at)
    .limit(1)
)
_PG_HOLDER_TYPE_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def find_licence_type(*, session: Session, department_id: int, code: str) -> TypeRules:
    """The caller's licence type ``code``. Raises ``NotFound`` (also for another's type)."""
    row = (
        session.connection()
        .execute(_LICENCE_TYPE, {"department_id": department_id, "code": code})
        .first()
    )
    if row is None:
        raise NotFound(f"your department has no licence type {code!r}")
    codes = (
        (row.catalogue_code, row.credit_code) if row.catalogue_code and row.credit_code else None
    )
    return TypeRules(
        row.id,
        row.code,
        row.fields,
        row.categories,
        row.default_validity_days,
        row.single_valid,
        codes,
        row.jurisdiction_code,
    )


def check_single_valid(
    *, session: Session, licence_type: TypeRules, id_index: str, now: dt.datetime
) -> None:
    """For a type whose holder may hold one valid licence only: raise ``AlreadyHeld`` (409)
    naming the holder's current one. On PostgreSQL it first takes a transaction lock on (type,
    holder), so two concurrent issuances cannot both pass (SQLite writers take turns anyway)."""
    if not licence_type.single_valid:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        digest = hashlib.sha256(f"{licence_type.id}:{id_index}".encode("ascii")).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        connection.execute(_PG_HOLDER_TYPE_LOCK, {"key": key})
    number = connection.execute(
        _VALID_OF_TYPE, {"licence_type_id": licence_type.id, "id_index": id_index, "now": now}
    ).scalar()
    if number is not None:
        raise AlreadyHeld(
            f"the holder already has a valid {licence_type.code} licence, {number}: a holder "
            "may hold one valid licence of this type (revoke or let it expire first)"
        )


@dataclass(frozen=True, slots=True)
class IssuingKey:
    """The department's current signing key, decrypted."""

    id: int
    kid: str
    signer: LocalSigner

    def __repr__(self) -> str:
        return f"IssuingKey(kid={self.kid!r})"


def issuing_key(
    *, session: Session, runtime: IssuerRuntime, department_id: int, licence_type: TypeRules
) -> IssuingKey:
    """The key that signs the department's new licences of ``licence_type``. Raises
    ``ServiceError`` when there is none or it may not sign this type."""
    key = session.connection().execute(_ACTIVE_KEY, {"department_id": department_id}).first()
    if key is None:
        raise ServiceError("your department has no active signing key; ask the platform operator")
    if key.allowed_types is not None and licence_type.code not in key.allowed_types:
        raise ServiceError(f"the current key may not sign licence type {licence_type.code!r}")
    return IssuingKey(
        key.id, key.kid, runtime.signer_by_kid(session=session, kid=key.kid, key_id=key.id)
    )


@dataclass(frozen=True, slots=True)
class LicenceTarget:
    """Where new licences go: the department and the type, and the key that signs them."""

    department_id: int
    department_code: str
    licence_type: TypeRules
    key: IssuingKey


def signed_licence_row(
    target: LicenceTarget,
    *,
    citizen: PreparedCitizen | CitizenIds,
    draft: LicenceDraft,
    holder_key: PublicKey,
    status_list: tuple[int, int],
    replaces: Licence | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """The row of a new licence with its signed credential (a fresh number and credential id;
    its licence identifier, the draft's kept one, a fresh serial or the next version of the
    licence it corrects)."""
    licence_type = target.licence_type
    list_id, index = status_list
    number = f"{target.department_code}-{licence_type.code}-{secrets.token_hex(5).upper()}"
    identifier, credential_id, carried = _identifier(licence_type, replaces, draft.identifier)
    claims = CredentialClaims(
        issuer=target.department_code,
        issued_at=int((draft.signed_at or draft.issued_at).timestamp()),
        not_before=int(draft.valid_from.timestamp()),
        expires_at=int(draft.valid_until.timestamp()),
        credential_id=credential_id,
        holder_key=holder_key,
        status=StatusReference(uri=str(list_id), index=index),
        licence=LicenceClaims(
            type_code=licence_type.code,
            number=number,
            holder_name=draft.holder_name,
            masked_id=citizen.masked_id,
            categories=tuple(draft.categories),
            fields=draft.fields,
            identifier=carried[:2] if carried is not None else None,
            identifier_division=carried is not None and carried[2],
        ),
    )
    return {
        "id": str(uuid.uuid4()),
        "department_id": target.department_id,
        "licence_type_id": licence_type.id,
        "number": number,
        "identifier": identifier,
        "holder_name": draft.holder_name,
        "id_index": citizen.id_index,
        "id_ciphertext": citizen.id_ciphertext,
        "fields": draft.fields,
        "categories": draft.categories,
        "valid_from": draft.valid_from,
        "valid_until": draft.valid_until,
        "issued_at": draft.issued_at,
        "status": draft.status,
        "status_reason": draft.status_reason,
        "status_list_id": list_id,
        "status_index": index,
        "credential": sign_credential(claims, target.key.signer),
        "kid": target.key.kid,
        "replaces_id": replaces.id if replaces is not None else None,
        "idempotency_key": idempotency_key,
        "record_key": draft.record_key,
    }


def status_list_size(runtime: IssuerRuntime) -> int:
    """Entries of a new status list (the setting, at least 131,072)."""
    return max(runtime.settings.status_list_size, 131072)


def store_licence(
    *,
    session: Session,
    runtime: IssuerRuntime,
    target: LicenceTarget,
    citizen: PreparedCitizen,
    draft: LicenceDraft,
    replaces: Licence | None = None,
    idempotency_key: str | None = None,
    conflict_is_final: Callable[[], bool] | None = None,
) -> dict[str, Any] | None:
    """Sign and store one licence: the citizen's holder key (made on first issuance), a random
    status index, the credential and the row; a draft that is not ``valid`` is also written
    into the status list. Returns the stored row (no audit entry: the caller writes one).

    A concurrent writer (PostgreSQL) may take the same status index, number or identifier serial
    between the probe
    and the insert: then it tries again, unless ``conflict_is_final()`` says the conflict is on
    the caller's own unique value (Idempotency-Key, record key), when it returns ``None``.
    Raises ``Conflict`` when no index could be allocated.
    """
    connection = session.connection()
    holder_key = holder_public_key(
        session=session,
        box=runtime.holder_box,
        id_index=citizen.id_index,
        prepared=citizen.holder_key,
    )
    tried: set[tuple[int, int]] = set()
    for _attempt in range(_ALLOCATION_ATTEMPTS):
        allocated = allocate_index(
            session=session,
            department_id=target.department_id,
            size=status_list_size(runtime),
            avoid=tried,
        )
        row = signed_licence_row(
            target,
            citizen=citizen,
            draft=draft,
            holder_key=holder_key,
            status_list=allocated,
            replaces=replaces,
            idempotency_key=idempotency_key,
        )
        if insert_unless_taken(connection, Licence, row):
            if draft.status != LicenceStatus.VALID:
                set_status(session=session, licence=Licence(**row), status=draft.status)
            return row
        tried.add(allocated)
        if conflict_is_final is not None and conflict_is_final():
            return None
    raise Conflict("could not allocate a status index; retry the request")


_STORED_IDS = select(Licence.id).where(one_of(Licence.id, "ids"))


def store_licences(
    *,
    session: Session,
    runtime: IssuerRuntime,
    target: LicenceTarget,
    licences: Sequence[tuple[PreparedCitizen, LicenceDraft]],
    conflict_is_final: Callable[[LicenceDraft], bool],
) -> list[dict[str, Any] | None]:
    """``store_licence`` for many licences at once (bulk import): the holder keys, the status
    indices and the rows each go in with a few statements for the whole batch instead of a few
    per licence. A row whose insert conflicted (a concurrent writer took its index or number,
    or ``conflict_is_final(draft)``: its own unique value) goes through ``store_licence``.
    Returns the stored rows (``None`` where ``conflict_is_final``), in order."""
    if not licences:
        return []
    holder_keys = holder_public_keys(
        session=session,
        box=runtime.holder_box,
        prepared=[citizen.holder_key for citizen, _ in licences],
    )
    indices = allocate_indices(
        session=session,
        department_id=target.department_id,
        size=status_list_size(runtime),
        count=len(licences),
    )
    rows = [
        signed_licence_row(
            target,
            citizen=citizen,
            draft=draft,
            holder_key=holder_keys[citizen.id_index],
            status_list=allocated,
        )
        for (citizen, draft), allocated in zip(licences, indices, strict=True)
    ]
    connection = session.connection()
    missed: set[str] = set()
    if insert_all_unless_taken(connection, Licence, rows) < len(rows):
        # some hit a taken value: which went in (ids are fresh uuid4s: a stored one is ours)
        ids = [row["id"] for row in rows]
        missed = set(ids) - set(connection.execute(_STORED_IDS, {"ids": ids}).scalars())
    stored: list[dict[str, Any] | None] = []
    for row, (citizen, draft) in zip(rows, licences, strict=True):
        if row["id"] in missed:
            stored.append(
                None
                if conflict_is_final(draft)
                else store_licence(
                    session=session,
                    runtime=runtime,
                    target=target,
                    citizen=citizen,
                    draft=draft,
                    conflict_is_final=functools.partial(conflict_is_final, draft),
                )
            )
            continue
        if draft.status != LicenceStatus.VALID:
            set_status(session=session, licence=Licence(**row), status=draft.status)
        stored.append(row)
    return stored


def _idempotent_replay(
    *, session: Session, caller: DepartmentCaller, key: str, licence_type_id: int, id_index: str
) -> Licence | None:
    first = session.scalars(
        select(Licence).where(
            Licence.department_id == caller.department_id, Licence.idempotency_key == key
        )
    ).first()
    if first is not None and (first.licence_type_id, first.id_index) != (licence_type_id, id_index):
        raise Conflict("this Idempotency-Key was used for a different licence")
    return first


def issue_licence(
    *,
    session: Session,
    runtime: IssuerRuntime,
    caller: DepartmentCaller,
    licence_in: LicenceCreate,
    idempotency_key: str | None = None,
    replaces: Licence | None = None,
    audit_detail: dict[str, Any] | None = None,
    citizen: PreparedCitizen | None = None,
) -> tuple[Licence, bool]:
    """Sign, allocate, store and audit a licence. Returns (licence, replayed).

    ``replayed`` is true when ``idempotency_key`` names an earlier licence, which is returned
    unchanged. ``citizen`` is ``prepare_citizen`` of ``licence_in.id_number`` when the caller
    made it ahead. Raises ``InvalidRequest``, ``NotFound``, ``Conflict`` or ``AlreadyHeld``
    (the type allows one valid licence per holder; a correction replaces it, so passes).
    """
    licence_type = find_licence_type(
        session=session, department_id=caller.department_id, code=licence_in.licence_type
    )
    id_number = parse_citizen_id(licence_in.id_number)
    if citizen is None or citizen.id_number != id_number:
        citizen = prepare_citizen(runtime=runtime, id_number=id_number)
        assert citizen is not None  # parsed above
    id_index = citizen.id_index
    replayed: list[Licence] = []

    def earlier_licence() -> bool:  # the first licence of this Idempotency-Key, if any
        if idempotency_key is None:
            return False
        first = _idempotent_replay(
            session=session,
            caller=caller,
            key=idempotency_key,
            licence_type_id=licence_type.id,
            id_index=id_index,
        )
        if first is not None:
            replayed.append(first)
        return first is not None

    if earlier_licence():
        return replayed[0], True
    now = utcnow().replace(microsecond=0)
    draft = draft_licence(
        licence_type,
        holder_name=licence_in.holder_name,
        fields=licence_in.fields,
        categories=licence_in.categories,
        valid_from=licence_in.valid_from,
        valid_until=licence_in.valid_until,
        now=now,
    )
    if replaces is None:
        check_single_valid(session=session, licence_type=licence_type, id_index=id_index, now=now)
    key = issuing_key(
        session=session,
        runtime=runtime,
        department_id=caller.department_id,
        licence_type=licence_type,
    )
    row = store_licence(
        session=session,
        runtime=runtime,
        target=LicenceTarget(caller.department_id, caller.code, licence_type, key),
        citizen=citizen,
        draft=draft,
        replaces=replaces,
        idempotency_key=idempotency_key,
        # a concurrent request with the same key won the race
        conflict_is_final=earlier_licence if idempotency_key is not None else None,
    )
    if row is None:
        return replayed[0], True
    detail: dict[str, Any] = {
        "number": row["number"],
        "identifier": row["identifier"],
        "licence_type": licence_type.code,
        "masked_id": citizen.masked_id,
        "kid": key.kid,
    }
    detail.update(audit_detail or {})
    append_audit(
        session,
        actor=caller.actor,
        act="licence.issue" if replaces is None else "licence.correct",
        object_type="licence",
        object_id=row["id"],
        detail=detail,
    )
    # Written with a Core insert, so the returned object is not in the session (transient):
    # ``session.get(Licence, licence.id)`` loads the stored row when relationships are needed.
    return Licence(**row), False


def _identifier(
    licence_type: TypeRules, replaces: Licence | None, kept: LicenceIdentifier | None = None
) -> tuple[str | None, bytes, tuple[str, int, bool] | None]:
    """(identifier, cti, ``lic/7`` value) of a new licence: ``kept`` (an imported licence's
    own), a fresh serial at version 1, or the next version of the licence it corrects (with
    its issuer segment: a kept identifier's division code stays); no identifier without the
    type's catalogue code and the department's credit code. Raises ``Conflict`` after version
    999."""
    if kept is None:
        if licence_type.identifier_codes is None:
            return None, secrets.token_bytes(8), None
        type_code, issuer_code = licence_type.identifier_codes
        serial, version = new_licence_serial(), 1
        if replaces is not None and replaces.identifier is not None:
            previous = parse_licence_identifier(replaces.identifier)
            if previous.version >= MAX_IDENTIFIER_VERSION:
                raise Conflict("the licence has had 999 versions: issue a new licence instead")
            serial, version = previous.serial, previous.version + 1
            if previous.issuer_is_division_code:
                issuer_code = previous.issuer_code
        kept = make_licence_identifier(
            type_code=type_code, issuer_code=issuer_code, serial=serial, version=version
        )
    division = kept.issuer_is_division_code
    credential_id = identifier_credential_id(kept.serial, kept.version, division=division)
    if credential_id is None:  # a serial the cti cannot carry (an imported licence's)
        return str(kept), secrets.token_bytes(8), (kept.serial, kept.version, division)
    return str(kept), credential_id, None


def find_by_identifier(*, session: Session, caller: DepartmentCaller, identifier: str) -> Licence:
    """One of the caller's licences by its identifier (any version). Raises
    ``InvalidRequest`` (invalid_licence_identifier) naming the wrong segment, ``NotFound``."""
    parsed = parse_identifier(identifier)
    licence = session.scalars(
        select(Licence).where(
            Licence.identifier == str(parsed), Licence.department_id == caller.department_id
        )
    ).first()
    if licence is None:
        raise NotFound("your department has no licence with this identifier")
    return licence


def parse_identifier(text: str) -> LicenceIdentifier:
    """A licence identifier from a request. Raises ``InvalidRequest``
    (invalid_licence_identifier) whose message ends with the wrong segment's name."""
    try:
        return parse_licence_identifier(text)
    except InvalidLicenceIdentifier as exc:
        raise InvalidRequest(f"{exc.detail} ({exc.reason})", code=exc.code) from None


def get_licence(
    *, session: Session, caller: DepartmentCaller, licence_id: str, for_update: bool = False
) -> Licence:
    """One of the caller's licences. Raises ``NotFound`` (also for another department's).

    ``for_update``: its row stays locked until the commit (PostgreSQL; SQLite's one writer holds
    the database anyway), so two changes of one licence see each other's outcome."""
    licence = (
        session.get(
            Licence,
            licence_id,
            options=LICENCE_WITH_LINKS,
            with_for_update={"of": Licence} if for_update else None,
        )
        if len(licence_id) <= 36
        else None
    )
    if licence is None or licence.department_id != caller.department_id:
        raise NotFound("no such licence")
    return licence


def find_by_number(
    *, session: Session, caller: DepartmentCaller, number: str, licence_type: str | None = None
) -> Licence:
    """One of the caller's licences by its printed number: the registry's number, or for an
    imported licence the department's own (its record key, unique per licence type, so
    ``licence_type`` picks one when several types use it). Raises ``NotFound`` or ``Conflict``
    (the record key is used by several types and none was given)."""
    if not number or len(number) > 64:
        raise NotFound("no licence with this number")
    statement = select(Licence).where(
        Licence.department_id == caller.department_id,
        or_(Licence.number == number, Licence.record_key == number),
    )
    if licence_type is not None:
        statement = statement.join(LicenceType).where(LicenceType.code == licence_type)
    found = session.scalars(statement.limit(10)).all()
    exact = [licence for licence in found if licence.number == number]
    if exact:
        return exact[0]
    if not found:
        raise NotFound("no licence with this number")
    if len(found) > 1:
        types = sorted(licence.licence_type.code for licence in found)
        raise Conflict(
            f"licences of several types have this number ({', '.join(types)}): "
            "name one with ?licence_type="
        )
    return found[0]


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The caller's licences of one holder, and the holder's masked ID number (every answer
    carries it: made from the number searched for, not read back from each credential)."""

    licences: Sequence[Licence]
    masked_id: str


def search_licences(
    *, session: Session, runtime: IssuerRuntime, caller: DepartmentCaller, query: LicenceSearch
) -> SearchResult:
    """The caller's licences for an ID number (optionally one type or status)."""
    id_number = parse_citizen_id(query.id_number)
    id_index = runtime.vault.blind_index(id_number)
    statement = select(Licence).where(
        Licence.department_id == caller.department_id, Licence.id_index == id_index
    )
    if query.licence_type is not None:
        statement = statement.join(LicenceType).where(LicenceType.code == query.licence_type)
    if query.status is not None:
        statement = statement.where(Licence.status == query.status)
    # Each answer names its department and type: loaded with the rows, not one by one.
    licences = session.scalars(
        statement.options(*LICENCE_WITH_LINKS).order_by(Licence.issued_at, Licence.number)
    ).all()
    return SearchResult(licences, mask_id_number(id_number))


@dataclass(frozen=True, slots=True)
class LicenceLinks:
    """What a licence's response body needs from the database besides the licence row."""

    department_code: str
    licence_type_code: str
    replaced_by: str | None


def licence_links(*, session: Session, licence: Licence) -> LicenceLinks:
    """Read a licence's department, type and replacement in ``session``, so that its body can be
    built after the session ends (a writer builds nothing while it holds the write lock)."""
    # Only a revoked licence can have been replaced (a correction revokes what it replaces).
    replaced_by = (
        session.scalar(select(Licence.id).where(Licence.replaces_id == licence.id))
        if licence.status == LicenceStatus.REVOKED
        else None
    )
    return LicenceLinks(licence.department.code, licence.licence_type.code, replaced_by)


def licence_read(
    *,
    session: Session | None,
    licence: Licence,
    department_code: str | None = None,
    licence_type_code: str | None = None,
    masked_id: str | None = None,
    fresh: bool = False,
    links: LicenceLinks | None = None,
) -> LicenceRead:
    """The response body of a licence (masked ID number only). ``fresh``: just issued, so
    nothing replaces it yet; then, given both codes, it needs no session (``None``). ``links``
    read earlier (``licence_links``) need no session either. ``masked_id``: the holder's masked
    ID number when known (else read from the credential)."""
    if links is None and fresh:
        links = LicenceLinks(
            department_code or licence.department.code,
            licence_type_code or licence.licence_type.code,
            None,
        )
    elif links is None:
        if session is None:
            raise ValueError("a session is needed for a licence that is not fresh")
        links = licence_links(session=session, licence=licence)
    if masked_id is None:
        masked_id = read_credential(licence.credential).claims.licence.masked_id
    return LicenceRead(
        id=licence.id,  # type: ignore[arg-type]
        number=licence.number,
        identifier=licence.identifier,
        record_key=licence.record_key,
        department=links.department_code,
        licence_type=links.licence_type_code,
        holder_name=licence.holder_name,
        masked_id=masked_id,
        categories=list(licence.categories),
        fields=dict(licence.fields),
        valid_from=licence.valid_from,
        valid_until=licence.valid_until,
        issued_at=licence.issued_at,
        status=licence.status,
        status_list=str(licence.status_list_id),
        status_index=licence.status_index,
        kid=licence.kid,
        replaces=licence.replaces_id,  # type: ignore[arg-type]
        replaced_by=links.replaced_by,  # type: ignore[arg-type]
        static_qr=encode_static_qr(licence.credential),
    )


def licence_gbt_read(*, licence: Licence) -> LicenceGbtRead:
    """The licence under the standard's names (``?view=gbt``; masked ID number only). Its
    department and type are loaded through the licence's session."""
    record = gbt_record(
        licence=licence,
        department=licence.department,
        licence_type=licence.licence_type,
        holder_code=read_credential(licence.credential).claims.licence.masked_id,
    )
    return LicenceGbtRead.model_validate({"id": licence.id, **record})


def licence_view(
    *, session: Session, licence: Licence, view: LicenceView
) -> LicenceRead | LicenceGbtRead:
    """The response body of a licence read in the view asked for."""
    if view is LicenceView.GBT:
        return licence_gbt_read(licence=licence)
    return licence_read(session=session, licence=licence)
