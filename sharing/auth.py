"""Who is calling sharing: a relying party by its API key (``erp_<prefix>_<secret>``, made and
checked by ``registry.api_keys`` like a department's), or the platform administrator.

Every authenticated relying-party request spends one request of the party's rate limit
(``sharing.limits``): above it, 429 with ``Retry-After``. A refused request stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from registry import api_keys
from registry.api_keys import NO_KEY_HASH, NewApiKey, secret_matches
from registry.errors import Unauthorized
from registry.models import RelyingParty, RelyingPartyApiKey, SharingPurpose

from .errors import UnknownPurpose
from .limits import RateLimiter
from .runtime import ReadSessionDep, RuntimeDep, SharingRuntime, sharing_runtime

API_KEY_SCHEME = "erp"
_WHO = "a relying party"
AUTHORIZATION_DESCRIPTION = "`Bearer erp_<prefix>_<secret>`: the relying party's API key"
AuthorizationHeader = Annotated[str | None, Header(description=AUTHORIZATION_DESCRIPTION)]


def new_api_key() -> NewApiKey:
    """A new random relying-party API key."""
    return api_keys.new_api_key(API_KEY_SCHEME)


@dataclass(frozen=True, slots=True)
class PurposeRef:
    """A registered purpose as a check names it."""

    id: int
    code: str
    text_zh: str
    text_en: str


@dataclass(frozen=True, slots=True)
class RelyingPartyCaller:
    """An authenticated relying party: its registered code and name, the key it used, and (for
    ``POST /verify``) its purposes by code."""

    relying_party_id: int
    code: str
    name: str
    key_prefix: str
    purposes: Mapping[str, PurposeRef] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"relying_party:{self.code}/key:{self.key_prefix}"

    def admit(self, purpose: str | None) -> PurposeRef:
        """The party's own purpose ``purpose``. Raises ``Forbidden`` (``unknown_purpose``)."""
        found = self.purposes.get(purpose) if purpose is not None else None
        if found is None:
            raise UnknownPurpose(
                "name one of this relying party's registered purposes (verifier.purpose)"
            )
        return found


def presented_party_key(authorization: str | None) -> tuple[str, str]:
    """``(prefix, secret)`` of the relying-party key in ``authorization``, checked without the
    database. Raises ``Unauthorized``."""
    return api_keys.presented_api_key(authorization, scheme=API_KEY_SCHEME, who=_WHO)


def admit_relying_party(
    row: Any, *, prefix: str, secret: str, limiter: RateLimiter
) -> RelyingPartyCaller:
    """The relying party of a row read with ``KEY_COLUMNS`` (``None``: no key with that prefix)
    if ``secret`` is its key's and the key is not revoked, its rate limit spent. Raises
    ``Unauthorized`` or ``RateLimited``."""
    stored = bytes.fromhex(row.secret_hash) if row is not None else NO_KEY_HASH
    if not secret_matches(secret, stored) or row is None or row.key_revoked_at is not None:
        raise Unauthorized("unknown or revoked API key")
    limiter.take(row.party_id)
    return RelyingPartyCaller(row.party_id, row.party, row.party_name, prefix)


def authenticate_relying_party(
    *, session: Session, runtime: SharingRuntime, authorization: str | None
) -> RelyingPartyCaller:
    """The relying party whose API key is in ``authorization``, its rate limit spent.
    Raises ``Unauthorized`` or ``RateLimited``."""
    prefix, secret = presented_party_key(authorization)
    row = session.connection().execute(_KEY_BY_PREFIX, {"prefix": prefix}).first()
    return admit_relying_party(row, prefix=prefix, secret=secret, limiter=runtime.limiter)


def current_relying_party(
    session: ReadSessionDep, runtime: RuntimeDep, authorization: AuthorizationHeader = None
) -> RelyingPartyCaller:
    """FastAPI dependency: the relying party whose API key is presented (401, 429)."""
    return authenticate_relying_party(session=session, runtime=runtime, authorization=authorization)


async def verifying_party(request: Request) -> RelyingPartyCaller | None:
    """The caller of ``POST /verify`` (``verifier.api.PartyOf``): ``None`` for an anonymous
    caller (no ``Authorization``: no database, no worker thread), else the authenticated party
    with its purposes (401, 429)."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        return None
    runtime = sharing_runtime(request)
    prefix, secret = presented_party_key(authorization)  # 401 before the database
    rows = await runtime.database.read(
        lambda session: session.connection().execute(_KEY_WITH_PURPOSES, {"prefix": prefix}).all()
    )
    caller = admit_relying_party(
        rows[0] if rows else None, prefix=prefix, secret=secret, limiter=runtime.limiter
    )
    purposes = {
        row.purpose: PurposeRef(row.purpose_id, row.purpose, row.text_zh, row.text_en)
        for row in rows
        if row.purpose_id is not None
    }
    return RelyingPartyCaller(
        caller.relying_party_id, caller.code, caller.name, caller.key_prefix, purposes
    )


async def require_admin(runtime: RuntimeDep, authorization: AuthorizationHeader = None) -> str:
    """FastAPI dependency: the platform administrator's token. Returns the audit actor."""
    return api_keys.check_admin_token(runtime.settings, authorization)


# What ``admit_relying_party`` reads of a key and its party: a statement joins
# ``relying_party_api_keys`` to ``relying_parties`` and selects these (the fetch adds its consent).
KEY_COLUMNS = (
    RelyingPartyApiKey.secret_hash,
    RelyingPartyApiKey.revoked_at.label("key_revoked_at"),
    RelyingParty.id.label("party_id"),
    RelyingParty.code.label("party"),
    RelyingParty.name.label("party_name"),
)
# Built once: every relying-party request runs it.
_KEY_BY_PREFIX = (
    select(*KEY_COLUMNS)
    .join(RelyingParty, RelyingParty.id == RelyingPartyApiKey.relying_party_id)
    .where(RelyingPartyApiKey.prefix == bindparam("prefix"))
)
# A signed-in ``POST /verify``: the key, its party and the party's purposes (one row each; one
# with null purpose columns for a party without any) in one statement, where two were.
_KEY_WITH_PURPOSES = (
    select(
        *KEY_COLUMNS,
        SharingPurpose.id.label("purpose_id"),
        SharingPurpose.code.label("purpose"),
        SharingPurpose.text_zh,
        SharingPurpose.text_en,
    )
    .join(RelyingParty, RelyingParty.id == RelyingPartyApiKey.relying_party_id)
    .outerjoin(SharingPurpose, SharingPurpose.relying_party_id == RelyingParty.id)
    .where(RelyingPartyApiKey.prefix == bindparam("prefix"))
)

RelyingPartyDep = Annotated[RelyingPartyCaller, Depends(current_relying_party)]
AdminDep = Annotated[str, Depends(require_admin)]
