"""Who is calling: a department by its API key, or the platform administrator by the admin token.

Department API keys look like ``elk_<prefix>_<secret>``. Only the prefix (for look-up) and
SHA-256 of the secret are stored; the comparison is constant-time. The admin token is
``ELICENCE_ADMIN_TOKEN`` from the settings.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from registry.errors import Unauthorized
from registry.models import Department, DepartmentApiKey

from .runtime import ReadSessionDep, RuntimeDep

API_KEY_SCHEME = "elk"
API_KEY_PREFIX = r"[A-Za-z0-9]{8}"  # the public part, by which keys are found and revoked
_API_KEY = re.compile(rf"^elk_({API_KEY_PREFIX})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly made API key: ``text`` is shown once, only ``prefix`` and ``secret_hash`` kept."""

    text: str
    prefix: str
    secret_hash: bytes

    def __repr__(self) -> str:  # the full key must never reach a log
        return f"NewApiKey(prefix={self.prefix!r})"

    __str__ = __repr__


def hash_secret(secret: str) -> bytes:
    """SHA-256 of an API key's secret part."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def new_api_key() -> NewApiKey:
    """A new random department API key."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(8))
    secret = secrets.token_urlsafe(32)
    return NewApiKey(f"{API_KEY_SCHEME}_{prefix}_{secret}", prefix, hash_secret(secret))


def parse_api_key(text: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed API key, else ``None``."""
    match = _API_KEY.match(text)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    """Constant-time check of a presented secret against the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass(frozen=True, slots=True)
class DepartmentCaller:
    """An authenticated department: its id, code and the API key prefix (the audit actor)."""

    department_id: int
    code: str
    key_prefix: str

    @property
    def actor(self) -> str:
        return f"department:{self.code}/key:{self.key_prefix}"


def current_department(
    session: ReadSessionDep, authorization: Annotated[str | None, Header()] = None
) -> DepartmentCaller:
    """FastAPI dependency: the department whose API key is presented. Raises ``Unauthorized``."""
    return authenticate_department(session=session, authorization=authorization)


def presented_api_key(authorization: str | None) -> tuple[str, str]:
    """``(prefix, secret)`` of the well-formed API key in ``authorization``, checked without the
    database (so a request without one is refused before any other work). Raises
    ``Unauthorized``."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("a department API key is required (Authorization: Bearer elk_...)")
    parsed = parse_api_key(token)
    if parsed is None:
        raise Unauthorized("malformed API key")
    return parsed


def authenticate_department(*, session: Session, authorization: str | None) -> DepartmentCaller:
    """The department whose API key is in ``authorization``. Raises ``Unauthorized``."""
    prefix, secret = presented_api_key(authorization)
    row = session.connection().execute(_API_KEY_BY_PREFIX, {"prefix": prefix}).first()
    # Compare even when the prefix is unknown so timing does not tell which prefixes exist.
    stored = bytes.fromhex(row.secret_hash) if row is not None else _NO_KEY
    if not secret_matches(secret, stored) or row is None or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked API key")
    return DepartmentCaller(department_id=row.id, code=row.code, key_prefix=prefix)


async def require_admin(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """FastAPI dependency: the platform administrator's token. Returns the audit actor."""
    configured = runtime.settings.admin_token
    if configured is None:
        raise Unauthorized("the admin API is disabled (ELICENCE_ADMIN_TOKEN is not set)")
    token = bearer_token(authorization)
    if token is None or not hmac.compare_digest(
        token.encode("utf-8"), configured.get_secret_value().encode("utf-8")
    ):
        raise Unauthorized("a valid admin token is required")
    return "admin"


# Built once: every department request runs it (see registry.audit).
_API_KEY_BY_PREFIX = (
    select(
        DepartmentApiKey.secret_hash,
        DepartmentApiKey.revoked_at,
        Department.id,
        Department.code,
    )
    .join(Department, Department.id == DepartmentApiKey.department_id)
    .where(DepartmentApiKey.prefix == bindparam("prefix"))
)

DepartmentDep = Annotated[DepartmentCaller, Depends(current_department)]
AdminDep = Annotated[str, Depends(require_admin)]
_NO_KEY = bytes(32)
