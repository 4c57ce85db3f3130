"""Issuing licences and finding them: the credential, its status index, the stored row and the
audit entry land in one transaction (the route's)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from credential import (
    CredentialClaims,
    KeyState,
    LicenceClaims,
    LicenceIdentifier,
    LicenceStatus,
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
)
from credential.errors import InvalidIdNumber, InvalidLicenceIdentifier
from registry.audit import append_audit
from registry.db import insert_unless_taken
from registry.errors import Conflict, NotFound, ServiceError
from registry.holder_keys import PreparedHolderKey, holder_public_key, prepare_holder_key
from registry.models import Department, Licence, LicenceType, SigningKey, utcnow

from ..auth import DepartmentCaller
from ..errors import InvalidRequest
from ..runtime import IssuerRuntime
from ..status_lists.service import allocate_index
from .schemas import LicenceCreate, LicenceRead, LicenceSearch

_MAX_TEXT_FIELD = 200
MAX_IDENTIFIER_VERSION = 999
_ALLOCATION_ATTEMPTS = 5


def parse_citizen_id(text: str) -> str:
    """The normalised 18-character ID number. Raises ``InvalidRequest`` (invalid_id_number)."""
    try:
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


def prepare_citizen(*, runtime: IssuerRuntime, id_number: str) -> PreparedCitizen | None:
    """``PreparedCitizen`` for an ID number, or ``None`` if it is invalid (``issue_licence``
    then reports it in its usual order, after authentication and the licence type)."""
    try:
        normalised = parse_id_number(id_number).value
    except InvalidIdNumber:
        return None
    id_index = runtime.vault.blind_index(normalised)
    return PreparedCitizen(
        id_number=normalised,
        id_index=id_index,
        id_ciphertext=runtime.vault.encrypt(normalised),
        masked_id=mask_id_number(normalised),
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
    # (catalogue code, issuing department's credit code): its licences get identifiers
    identifier_codes: tuple[str, str] | None = None


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


# Built once: issuance runs these on every request (see registry.audit).
_LICENCE_TYPE = (
    select(
        LicenceType.id,
        LicenceType.code,
        LicenceType.fields,
        LicenceType.categories,
        LicenceType.default_validity_days,
        LicenceType.catalogue_code,
        Department.credit_code,
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
    return TypeRules(row.id, row.code, row.fields, row.categories, row.default_validity_days, codes)


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
    made it ahead. Raises ``InvalidRequest``, ``NotFound`` or ``Conflict``.
    """
    licence_type = find_licence_type(
        session=session, department_id=caller.department_id, code=licence_in.licence_type
    )
    id_number = parse_citizen_id(licence_in.id_number)
    if citizen is None or citizen.id_number != id_number:
        citizen = prepare_citizen(runtime=runtime, id_number=id_number)
        assert citizen is not None  # parsed above
    id_index = citizen.id_index

    def earlier_licence() -> Licence | None:  # the first licence of this Idempotency-Key
        if idempotency_key is None:
            return None
        return _idempotent_replay(
            session=session,
            caller=caller,
            key=idempotency_key,
            licence_type_id=licence_type.id,
            id_index=id_index,
        )

    first = earlier_licence()
    if first is not None:
        return first, True
    now = utcnow().replace(microsecond=0)
    fields = check_fields(licence_type, licence_in.fields)
    categories = check_categories(licence_type, licence_in.categories)
    valid_from, valid_until = check_validity(
        licence_type, licence_in.valid_from, licence_in.valid_until, now
    )
    connection = session.connection()
    key = connection.execute(_ACTIVE_KEY, {"department_id": caller.department_id}).first()
    if key is None:
        raise ServiceError("your department has no active signing key; ask the platform operator")
    if key.allowed_types is not None and licence_type.code not in key.allowed_types:
        raise ServiceError(f"the current key may not sign licence type {licence_type.code!r}")
    signer = runtime.signer_by_kid(session=session, kid=key.kid, key_id=key.id)
    holder_key = holder_public_key(
        session=session, box=runtime.holder_box, id_index=id_index, prepared=citizen.holder_key
    )
    masked = citizen.masked_id
    size = max(runtime.settings.status_list_size, 131072)
    tried: set[tuple[int, int]] = set()
    for _attempt in range(_ALLOCATION_ATTEMPTS):
        number = f"{caller.code}-{licence_type.code}-{secrets.token_hex(5).upper()}"
        identifier, credential_id, carried = _identifier(licence_type, replaces)
        list_id, index = allocate_index(
            session=session, department_id=caller.department_id, size=size, avoid=tried
        )
        claims = CredentialClaims(
            issuer=caller.code,
            issued_at=int(now.timestamp()),
            not_before=int(valid_from.timestamp()),
            expires_at=int(valid_until.timestamp()),
            credential_id=credential_id,
            holder_key=holder_key,
            status=StatusReference(uri=str(list_id), index=index),
            licence=LicenceClaims(
                type_code=licence_type.code,
                number=number,
                holder_name=licence_in.holder_name,
                masked_id=masked,
                categories=tuple(categories),
                fields=fields,
                identifier=carried,
            ),
        )
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "department_id": caller.department_id,
            "licence_type_id": licence_type.id,
            "number": number,
            "identifier": identifier,
            "holder_name": licence_in.holder_name,
            "id_index": id_index,
            "id_ciphertext": citizen.id_ciphertext,
            "fields": fields,
            "categories": categories,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "issued_at": now,
            "status": LicenceStatus.VALID,
            "status_reason": None,
            "status_list_id": list_id,
            "status_index": index,
            "credential": sign_credential(claims, signer),
            "kid": key.kid,
            "replaces_id": replaces.id if replaces is not None else None,
            "idempotency_key": idempotency_key,
        }
        # A concurrent issuer (PostgreSQL) may take the same status index, number,
        # Idempotency-Key or identifier serial between the probe and this insert: try again.
        if insert_unless_taken(connection, Licence, row):
            break
        tried.add((list_id, index))
        first = earlier_licence()  # a concurrent request with the same key won the race
        if first is not None:
            return first, True
    else:
        raise Conflict("could not allocate a status index; retry the request")
    detail: dict[str, Any] = {
        "number": number,
        "identifier": row["identifier"],
        "licence_type": licence_type.code,
        "masked_id": masked,
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
    licence_type: TypeRules, replaces: Licence | None
) -> tuple[str | None, bytes, tuple[str, int] | None]:
    """(identifier, cti, ``lic/7`` value) of a new licence: a fresh serial at version 1, or the
    next version of the licence it corrects; no identifier without the type's catalogue code
    and the department's credit code. Raises ``Conflict`` after version 999."""
    if licence_type.identifier_codes is None:
        return None, secrets.token_bytes(8), None
    type_code, issuer_code = licence_type.identifier_codes
    serial, version = new_licence_serial(), 1
    if replaces is not None and replaces.identifier is not None:
        previous = parse_licence_identifier(replaces.identifier)
        if previous.version >= MAX_IDENTIFIER_VERSION:
            raise Conflict("the licence has had 999 versions: issue a new licence instead")
        serial, version = previous.serial, previous.version + 1
    identifier = make_licence_identifier(
        type_code=type_code, issuer_code=issuer_code, serial=serial, version=version
    )
    credential_id = identifier_credential_id(serial, version)
    if credential_id is None:  # a serial the cti cannot carry (an imported licence's)
        return str(identifier), secrets.token_bytes(8), (serial, version)
    return str(identifier), credential_id, None


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


def get_licence(*, session: Session, caller: DepartmentCaller, licence_id: str) -> Licence:
    """One of the caller's licences. Raises ``NotFound`` (also for another department's)."""
    licence = session.get(Licence, licence_id) if len(licence_id) <= 36 else None
    if licence is None or licence.department_id != caller.department_id:
        raise NotFound("no such licence")
    return licence


def search_licences(
    *, session: Session, runtime: IssuerRuntime, caller: DepartmentCaller, query: LicenceSearch
) -> Sequence[Licence]:
    """The caller's licences for an ID number (optionally one type or status)."""
    id_index = runtime.vault.blind_index(parse_citizen_id(query.id_number))
    statement = select(Licence).where(
        Licence.department_id == caller.department_id, Licence.id_index == id_index
    )
    if query.licence_type is not None:
        statement = statement.join(LicenceType).where(LicenceType.code == query.licence_type)
    if query.status is not None:
        statement = statement.where(Licence.status == query.status)
    return session.scalars(statement.order_by(Licence.issued_at, Licence.number)).all()


def licence_read(
    *,
    session: Session | None,
    licence: Licence,
    department_code: str | None = None,
    licence_type_code: str | None = None,
    masked_id: str | None = None,
    fresh: bool = False,
) -> LicenceRead:
    """The response body of a licence (masked ID number only). ``fresh``: just issued, so
    nothing replaces it yet; then, given both codes, it needs no session (``None``).
    ``masked_id``: the holder's masked ID number when known (else read from the credential)."""
    replaced_by = None
    if not fresh:
        if session is None:
            raise ValueError("a session is needed for a licence that is not fresh")
        replaced_by = session.scalar(select(Licence.id).where(Licence.replaces_id == licence.id))
    if masked_id is None:
        masked_id = read_credential(licence.credential).claims.licence.masked_id
    return LicenceRead(
        id=licence.id,  # type: ignore[arg-type]
        number=licence.number,
        identifier=licence.identifier,
        department=department_code or licence.department.code,
        licence_type=licence_type_code or licence.licence_type.code,
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
        replaced_by=replaced_by,  # type: ignore[arg-type]
        static_qr=encode_static_qr(licence.credential),
    )
