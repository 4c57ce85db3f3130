"""Who is calling: a department by its API key, or the platform administrator by the admin token.

Department API keys look like ``elk_<prefix>_<secret>``; making, parsing and checking keys and
the admin token live in ``registry.api_keys`` (relying parties use the same).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Header
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from registry import api_keys
from registry.api_keys import API_KEY_PREFIX, NO_KEY_HASH, NewApiKey, secret_matches
from registry.errors import Unauthorized
from registry.models import Department, DepartmentApiKey

from .runtime import ReadSessionDep, RuntimeDep

API_KEY_SCHEME = "elk"
T = TypeVar("T")

__all__ = [
    "API_KEY_PREFIX",
    "API_KEY_SCHEME",
    "AdminDep",
    "ApiKeyHeader",
    "DepartmentCaller",
    "DepartmentDep",
    "NewApiKey",
    "as_department",
    "authenticate_department",
    "current_department",
    "new_api_key",
    "presented_api_key",
    "require_admin",
]


def new_api_key() -> NewApiKey:
    """A new random department API key."""
    return api_keys.new_api_key(API_KEY_SCHEME)


@dataclass(frozen=True, slots=True)
class DepartmentCaller:
    """An authenticated department: its id, code and the API key prefix (the audit actor)."""

    department_id: int
    code: str
    key_prefix: str

    @property
    def actor(self) -> str:
        return f"department:{self.code}/key:{self.key_prefix}"


# The header a route that authenticates inside its own database work declares (documented as the
# dependency's is).
ApiKeyHeader = Annotated[
    str | None, Header(description="The department's API key: `Bearer elk_...`")
]


def as_department(
    authorization: str | None, act: Callable[[Session, DepartmentCaller], T]
) -> Callable[[Session], T]:
    """``act`` as database work (for ``Database.read`` or ``write``) done as the department
    whose API key is in ``authorization``. A missing or malformed key is refused (401) here, at
    once; the key itself is checked inside the work, in its own transaction (one thread hop
    for the lot, where a key dependency with its own read session took three more)."""
    presented_api_key(authorization)

    def work(session: Session) -> T:
        return act(session, authenticate_department(session=session, authorization=authorization))

    return work


def current_department(
    session: ReadSessionDep, authorization: Annotated[str | None, Header()] = None
) -> DepartmentCaller:
    """FastAPI dependency: the department whose API key is presented. Raises ``Unauthorized``."""
    return authenticate_department(session=session, authorization=authorization)


def presented_api_key(authorization: str | None) -> tuple[str, str]:
    """``(prefix, secret)`` of the well-formed department API key in ``authorization``, checked
    without the database. Raises ``Unauthorized``."""
    return api_keys.presented_api_key(authorization, scheme=API_KEY_SCHEME, who="a department")


def authenticate_department(*, session: Session, authorization: str | None) -> DepartmentCaller:
    """The department whose API key is in ``authorization``. Raises ``Unauthorized``."""
    prefix, secret = presented_api_key(authorization)
    row = session.connection().execute(_API_KEY_BY_PREFIX, {"prefix": prefix}).first()
    # Compare even when the prefix is unknown so timing does not tell which prefixes exist.
    stored = bytes.fromhex(row.secret_hash) if row is not None else NO_KEY_HASH
    if not secret_matches(secret, stored) or row is None or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked API key")
    return DepartmentCaller(department_id=row.id, code=row.code, key_prefix=prefix)


async def require_admin(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """FastAPI dependency: the platform administrator's token. Returns the audit actor."""
    return api_keys.check_admin_token(runtime.settings, authorization)


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
