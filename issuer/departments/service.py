"""Departments, their API keys, licence types and signing keys (rotation, compromise)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from credential import ALG_ES256, KeyState
from keys import PrivateKey, UnknownSigningAlgorithm, generate_signing_key
from registry.audit import append_audit
from registry.errors import Conflict, NotFound
from registry.models import Department, DepartmentApiKey, LicenceType, SigningKey, utcnow
from registry.signing_keys import store_signing_key

from ..auth import NewApiKey, new_api_key
from ..errors import InvalidRequest
from .schemas import API_KEY_PREFIX_PATTERN, LicenceTypeCreate

_API_KEY_PREFIX = re.compile(API_KEY_PREFIX_PATTERN)


def get_department(*, session: Session, code: str, for_update: bool = False) -> Department:
    """The department with ``code``. Raises ``NotFound``. ``for_update``: its row stays locked
    until the commit (PostgreSQL), so its key changes run one after the other."""
    query = select(Department).where(Department.code == code)
    department = session.scalars(query.with_for_update() if for_update else query).first()
    if department is None:
        raise NotFound(f"no department {code!r}")
    return department


def list_departments(*, session: Session) -> Sequence[Department]:
    """All departments by code."""
    return session.scalars(select(Department).order_by(Department.code)).all()


def active_signing_key(*, session: Session, department_id: int) -> SigningKey | None:
    """The department's current signing key (newest active)."""
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.department_id == department_id, SigningKey.state == KeyState.ACTIVE)
        .order_by(SigningKey.not_before.desc(), SigningKey.id.desc())
        .limit(1)
    ).first()


def create_department(
    *,
    session: Session,
    code: str,
    name: str,
    actor: str,
    key_secret: bytes,
    credit_code: str | None = None,
    jurisdiction_code: str | None = None,
    alg: str = ALG_ES256,
) -> Department:
    """Add a department with its first signing key (``alg``). Raises ``Conflict`` if the code
    or the credit code is taken, ``InvalidRequest`` for an unknown algorithm."""
    if session.scalars(select(Department.id).where(Department.code == code)).first():
        raise Conflict(f"department {code!r} already exists")
    if credit_code is not None:
        holder = session.scalars(
            select(Department.code).where(Department.credit_code == credit_code)
        ).first()
        if holder is not None:
            raise Conflict(f"department {holder} already has credit code {credit_code}")
    private_key = _generate(alg)
    department = Department(
        code=code, name=name, credit_code=credit_code, jurisdiction_code=jurisdiction_code
    )
    session.add(department)
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="department.create",
        object_type="department",
        object_id=code,
        detail={"name": name, "credit_code": credit_code, "jurisdiction_code": jurisdiction_code},
    )
    key = store_signing_key(
        session, private_key=private_key, key_secret=key_secret, department_id=department.id
    )
    append_audit(
        session,
        actor=actor,
        act="key.create",
        object_type="signing_key",
        object_id=key.kid,
        detail={"department": code, "alg": key.alg},
    )
    return department


def _generate(alg: str) -> PrivateKey:
    """A fresh private key for ``alg``. Raises ``InvalidRequest`` naming an unknown one."""
    try:
        return generate_signing_key(alg)
    except UnknownSigningAlgorithm as exc:
        raise InvalidRequest(str(exc), code="unknown_algorithm") from None


def create_api_key(
    *, session: Session, department_code: str, actor: str
) -> tuple[Department, NewApiKey]:
    """A new API key for the department; only its prefix and secret hash are stored."""
    department = get_department(session=session, code=department_code)
    key = new_api_key()
    session.add(
        DepartmentApiKey(
            department_id=department.id, prefix=key.prefix, secret_hash=key.secret_hash.hex()
        )
    )
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="api_key.create",
        object_type="department",
        object_id=department.code,
        detail={"prefix": key.prefix},
    )
    return department, key


def list_api_keys(
    *, session: Session, department_code: str
) -> tuple[Department, Sequence[DepartmentApiKey]]:
    """The department's API keys, oldest first, revoked ones included. Raises ``NotFound``."""
    department = get_department(session=session, code=department_code)
    keys = session.scalars(
        select(DepartmentApiKey)
        .where(DepartmentApiKey.department_id == department.id)
        .order_by(DepartmentApiKey.created_at, DepartmentApiKey.id)
    ).all()
    return department, keys


def revoke_api_key(
    *, session: Session, department_code: str, prefix: str, actor: str
) -> DepartmentApiKey:
    """Revoke the department's API key with ``prefix`` (the public part of the key): it is
    refused from the next request on. Raises ``NotFound`` if the department has no such key
    (another department's prefix included), ``Conflict`` if it is already revoked and
    ``InvalidRequest`` if ``prefix`` is not 8 letters or digits."""
    if not _API_KEY_PREFIX.fullmatch(prefix):
        # Not echoed: an operator may have pasted the whole key.
        raise InvalidRequest(
            "an API key prefix is 8 letters or digits (the part after elk_), not the whole key",
            code="invalid_prefix",
        )
    department = get_department(session=session, code=department_code)
    # FOR UPDATE (PostgreSQL; SQLite writers are serialised anyway): of two concurrent
    # revocations the second waits, sees revoked_at and gets Conflict, so one audit row.
    key = session.scalars(
        select(DepartmentApiKey)
        .where(DepartmentApiKey.department_id == department.id, DepartmentApiKey.prefix == prefix)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if key is None:
        raise NotFound(f"department {department.code} has no API key {prefix!r}")
    if key.revoked_at is not None:
        raise Conflict(
            f"API key {prefix} of {department.code} was already revoked at "
            f"{key.revoked_at.isoformat(timespec='seconds')}"
        )
    key.revoked_at = utcnow()
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="api_key.revoke",
        object_type="api_key",
        object_id=prefix,
        detail={"department": department.code},
    )
    return key


def create_licence_type(
    *, session: Session, department_code: str, licence_type_in: LicenceTypeCreate, actor: str
) -> LicenceType:
    """Add a licence type to a department. Raises ``NotFound`` or ``Conflict``."""
    department = get_department(session=session, code=department_code)
    taken = session.scalars(
        select(LicenceType.id).where(
            LicenceType.department_id == department.id, LicenceType.code == licence_type_in.code
        )
    ).first()
    if taken:
        raise Conflict(f"licence type {licence_type_in.code!r} already exists in {department.code}")
    licence_type = LicenceType(
        department_id=department.id,
        code=licence_type_in.code,
        name=licence_type_in.name,
        fields=[f.model_dump(exclude_none=True) for f in licence_type_in.fields],
        categories=list(licence_type_in.categories) or None,
        default_validity_days=licence_type_in.validity_days,
        catalogue_code=licence_type_in.catalogue_code,
        defining_body_name=licence_type_in.defining_body_name,
        holder_code_type=licence_type_in.holder_code_type,
        single_valid=licence_type_in.single_valid,
    )
    session.add(licence_type)
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="licence_type.create",
        object_type="licence_type",
        object_id=f"{department.code}/{licence_type.code}",
        detail={
            "name": licence_type.name,
            "validity_days": licence_type.default_validity_days,
            "catalogue_code": licence_type.catalogue_code,
        },
    )
    return licence_type


def list_licence_types(*, session: Session, department_id: int) -> Sequence[LicenceType]:
    """A department's licence types by code."""
    return session.scalars(
        select(LicenceType)
        .where(LicenceType.department_id == department_id)
        .order_by(LicenceType.code)
    ).all()


def rotate_key(
    *,
    session: Session,
    department_code: str,
    actor: str,
    key_secret: bytes,
    alg: str = ALG_ES256,
) -> SigningKey:
    """A new active key (``alg``) signs from now on; the old ones retire (``not_after`` = now)
    and still verify what they signed. Raises ``NotFound``, ``InvalidRequest`` for an unknown
    algorithm."""
    department = get_department(session=session, code=department_code, for_update=True)
    private_key = _generate(alg)
    now = utcnow()
    retired = _retire_active(session=session, department_id=department.id, now=now)
    key = store_signing_key(
        session,
        private_key=private_key,
        key_secret=key_secret,
        department_id=department.id,
        not_before=now,
    )
    append_audit(
        session,
        actor=actor,
        act="key.rotate",
        object_type="signing_key",
        object_id=key.kid,
        detail={"department": department.code, "retired": retired, "alg": key.alg},
    )
    return key


def compromise_key(
    *, session: Session, department_code: str, kid: str, actor: str, key_secret: bytes
) -> tuple[SigningKey, SigningKey | None]:
    """Mark a key compromised (verifiers reject all it signed). If it was the active key, a new
    one replaces it. Returns (compromised key, replacement or None). Raises ``NotFound``."""
    department = get_department(session=session, code=department_code, for_update=True)
    key = session.scalars(
        select(SigningKey).where(SigningKey.department_id == department.id, SigningKey.kid == kid)
    ).first()
    if key is None:
        raise NotFound(f"department {department.code} has no key {kid!r}")
    if key.state == KeyState.COMPROMISED:
        raise Conflict(f"key {kid} is already marked compromised")
    was_active = key.state == KeyState.ACTIVE
    now = utcnow()
    key.state = KeyState.COMPROMISED
    if key.not_after is None:
        key.not_after = now
    session.flush()
    append_audit(
        session,
        actor=actor,
        act="key.compromise",
        object_type="signing_key",
        object_id=key.kid,
        detail={"department": department.code},
    )
    replacement = None
    if was_active and active_signing_key(session=session, department_id=department.id) is None:
        replacement = store_signing_key(  # the same algorithm as the key it replaces
            session,
            private_key=_generate(key.alg),
            key_secret=key_secret,
            department_id=department.id,
            not_before=now,
        )
        append_audit(
            session,
            actor=actor,
            act="key.create",
            object_type="signing_key",
            object_id=replacement.kid,
            detail={"department": department.code, "replaces": key.kid},
        )
    return key, replacement


def _retire_active(*, session: Session, department_id: int, now: dt.datetime) -> list[str]:
    retired = []
    for old in session.scalars(
        select(SigningKey).where(
            SigningKey.department_id == department_id, SigningKey.state == KeyState.ACTIVE
        )
    ):
        old.state = KeyState.RETIRED
        old.not_after = now
        retired.append(old.kid)
    session.flush()
    return retired
