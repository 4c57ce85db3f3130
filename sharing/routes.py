"""Sharing routes, mounted at ``/sharing``: the relying party's API (its API key) and the
platform administrator's (``/sharing/admin``, the admin token).

Reads run in read-only transactions (``ReadSessionDep``); writes go through
``runtime.database.write``; a fetch reads and signs in a worker thread, then records the access
through the writer before the package is released.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from credential import b64url_decode, parse_id_number
from registry.errors import error_responses
from registry.models import RelyingParty

from . import schemas, service
from .auth import (
    AdminDep,
    AuthorizationHeader,
    RelyingPartyDep,
    admit_relying_party,
    presented_party_key,
)
from .runtime import ReadSessionDep, RuntimeDep, SharingRuntime, sharing_runtime

_NO_STORE = {"Cache-Control": "no-store"}
ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
RequestIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="The request's id")]
ConsentIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="The consent's id")]
CodePath = Annotated[
    str, Path(pattern=schemas.CODE_PATTERN, description="The relying party's code")
]
PrefixPath = Annotated[
    str, Path(pattern=schemas.API_KEY_PREFIX_PATTERN, description="The key's prefix: erp_<prefix>_")
]

# Every relying-party route authenticates first: 401 without a valid key, 429 over its rate.
router = APIRouter(tags=["sharing"], responses=error_responses(401, 422, 429))
admin_router = APIRouter(
    prefix="/admin", tags=["sharing admin"], responses=error_responses(401, 422)
)
_NO_PARTY = {404: "No relying party with this code"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- the administrator ---------------------------------------------------------------------------


def _party_read(party: RelyingParty) -> schemas.RelyingPartyRead:
    return schemas.RelyingPartyRead(
        code=party.code,
        name=party.name,
        kind=party.kind,
        contact=party.contact,
        created_at=party.created_at,
    )


@admin_router.post(
    "/relying-parties",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 413, described={409: "A relying party with this code exists"}),
)
async def create_relying_party(
    body: schemas.RelyingPartyCreate, actor: AdminDep, runtime: RuntimeDep
) -> schemas.RelyingPartyRead:
    """Register a relying party (a department, bank, employer or other body)."""

    def work(session: Session) -> schemas.RelyingPartyRead:
        party = service.create_relying_party(session=session, party_in=body, actor=actor)
        return _party_read(party)

    return await runtime.database.write(work)


@admin_router.get("/relying-parties")
def list_relying_parties(
    session: ReadSessionDep, actor: AdminDep
) -> list[schemas.RelyingPartyRead]:
    """Every relying party, by code."""
    return [_party_read(p) for p in service.list_relying_parties(session=session)]


@admin_router.post(
    "/relying-parties/{code}/api-keys",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(413, described=_NO_PARTY),
)
async def create_api_key(
    code: CodePath, actor: AdminDep, runtime: RuntimeDep
) -> schemas.PartyApiKeyRead:
    """A new API key for the relying party, shown only in this response."""

    def work(session: Session) -> schemas.PartyApiKeyRead:
        party, key = service.create_api_key(session=session, party_code=code, actor=actor)
        return schemas.PartyApiKeyRead(
            relying_party=party.code, prefix=key.prefix, api_key=key.text
        )

    return await runtime.database.write(work)


@admin_router.get(
    "/relying-parties/{code}/api-keys", responses=error_responses(described=_NO_PARTY)
)
def list_api_keys(
    code: CodePath, session: ReadSessionDep, actor: AdminDep
) -> list[schemas.PartyApiKeySummary]:
    """The party's API keys (prefix, created, revoked), oldest first; never a secret."""
    _, keys = service.list_api_keys(session=session, party_code=code)
    return [
        schemas.PartyApiKeySummary(
            prefix=k.prefix, created_at=k.created_at, revoked_at=k.revoked_at
        )
        for k in keys
    ]


@admin_router.post(
    "/relying-parties/{code}/api-keys/{prefix}/revoke",
    responses=error_responses(
        413,
        described={
            404: "No such relying party, or it has no API key with this prefix",
            409: "The key is already revoked",
        },
    ),
)
async def revoke_api_key(
    code: CodePath, prefix: PrefixPath, actor: AdminDep, runtime: RuntimeDep
) -> schemas.PartyApiKeySummary:
    """Revoke one of the party's API keys: refused from the next request on."""

    def work(session: Session) -> schemas.PartyApiKeySummary:
        key = service.revoke_api_key(
            session=session, party_code=code, prefix=prefix, actor=actor, now=_now()
        )
        return schemas.PartyApiKeySummary(
            prefix=key.prefix, created_at=key.created_at, revoked_at=key.revoked_at
        )

    return await runtime.database.write(work)


@admin_router.post(
    "/relying-parties/{code}/purposes",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        400, 413, described={**_NO_PARTY, 409: "The party has a purpose with this code"}
    ),
)
async def create_purpose(
    code: CodePath, body: schemas.PurposeCreate, actor: AdminDep, runtime: RuntimeDep
) -> schemas.PurposeRead:
    """Register a purpose (用证事由) of the party: its texts, licence types, fields and the
    longest consent it may ask for. Unknown licence types or fields are a 422."""

    def work(session: Session) -> schemas.PurposeRead:
        purpose = service.create_purpose(
            session=session, party_code=code, purpose_in=body, actor=actor
        )
        return service.purpose_read(code, purpose)

    return await runtime.database.write(work)


@admin_router.get(
    "/relying-parties/{code}/purposes", responses=error_responses(described=_NO_PARTY)
)
def list_party_purposes(
    code: CodePath, session: ReadSessionDep, actor: AdminDep
) -> list[schemas.PurposeRead]:
    """The party's registered purposes."""
    party = service.get_relying_party(session=session, code=code)
    return [
        service.purpose_read(code, p)
        for p in service.list_purposes(session=session, relying_party_id=party.id)
    ]


# --- the relying party ---------------------------------------------------------------------------


# The hot route, first in the router (routes are matched in order). Authentication, the reads
# and the signature take one hop to a worker thread (``Database.read``), then the write goes
# through the writer; the answer's JSON is put together from the signed token (the response
# model would validate and serialise again).
@router.get(
    "/consents/{consent_id}/data",
    response_model=schemas.DataPackageRead,
    responses=error_responses(
        503,
        described={
            403: "The consent is used (one-time), expired or revoked (`consent_used`, "
            "`consent_expired`, `consent_revoked`): nothing is shared",
            404: "No such consent of the caller",
        },
    ),
)
async def fetch_data(
    consent_id: ConsentIdPath, request: Request, authorization: AuthorizationHeader = None
) -> Response:
    """The consented fields of the citizen's current licences (with their identifiers and
    statuses, revoked and suspended ones included) and the purpose, as a `licence-data+jwt`
    signed by the platform root key (docs/wire-format.md section 17). The access is recorded
    in the citizen's access log before the package is answered."""
    runtime = sharing_runtime(request)
    now = _now()
    prepared = await runtime.database.read(
        lambda session: prepare_fetch(
            session, runtime=runtime, authorization=authorization, consent_id=consent_id, now=now
        )
    )
    await runtime.database.write(
        lambda s: service.record_access(session=s, prepared=prepared, now=now)
    )
    return Response(_package_json(prepared), media_type="application/json", headers=_NO_STORE)


def prepare_fetch(
    session: Session,
    *,
    runtime: SharingRuntime,
    authorization: str | None,
    consent_id: str,
    now: dt.datetime,
) -> service.PreparedPackage:
    """A fetch's work before its write, in the read-only transaction ``session``: the key
    checked (401, 429), then the consent (404, 403), the package signed."""
    prefix, secret = presented_party_key(authorization)  # 401 before any statement
    rows = service.read_for_fetch(session=session, key_prefix=prefix, consent_id=consent_id)
    caller = admit_relying_party(
        rows[0] if rows else None, prefix=prefix, secret=secret, limiter=runtime.limiter
    )
    return service.prepare_package(
        rows=rows, caller=caller, signer=runtime.root_signer(session), now=now
    )


def _package_json(prepared: service.PreparedPackage) -> bytes:
    """``DataPackageRead`` as JSON. Its ``content`` is the token's payload as signed (decoded
    from the token, not serialised a second time): the copy is the signed JSON, byte for byte."""
    payload = b64url_decode(prepared.token.split(".")[1])
    return b'{"package":"' + prepared.token.encode("ascii") + b'","content":' + payload + b"}"


@router.get("/purposes")
def my_purposes(session: ReadSessionDep, caller: RelyingPartyDep) -> list[schemas.PurposeRead]:
    """The caller's registered purposes: what it may ask for, and for how long."""
    return [
        service.purpose_read(caller.code, p)
        for p in service.list_purposes(session=session, relying_party_id=caller.relying_party_id)
    ]


@router.post(
    "/requests",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        400,
        413,
        described={
            403: "The purpose is not the caller's, or does not allow a licence type or field "
            "asked for (`unknown_purpose`, `licence_type_not_allowed`, `field_not_allowed`)",
        },
    ),
)
async def create_request(
    body: schemas.UseRequestCreate,
    caller: RelyingPartyDep,
    runtime: RuntimeDep,
    response: Response,
) -> schemas.UseRequestRead:
    """Ask to use a citizen's licence data for one of the caller's purposes. The citizen
    answers in the wallet before `expires_at`. Whether the citizen holds any licence is not
    told: the answer is the same either way (a `pending` request)."""
    response.headers.update(_NO_STORE)
    id_number = parse_id_number(body.id_number)  # 422 invalid_id_number, before anything
    id_index = runtime.vault.blind_index(id_number.value)
    now = _now()

    def work(session: Session) -> schemas.UseRequestRead:
        request = service.create_request(
            session=session, caller=caller, id_index=id_index, request_in=body, now=now
        )
        return service.request_read(session, request, now=now)

    return await runtime.database.write(work)


@router.get("/requests")
def my_requests(session: ReadSessionDep, caller: RelyingPartyDep) -> list[schemas.UseRequestRead]:
    """The caller's own requests (the newest 200) and their states."""
    now = _now()
    return [
        service.request_read(session, r, now=now)
        for r in service.party_requests(session=session, caller=caller)
    ]


@router.get(
    "/requests/{request_id}",
    responses=error_responses(described={404: "No such request of the caller"}),
)
def my_request(
    request_id: RequestIdPath, session: ReadSessionDep, caller: RelyingPartyDep
) -> schemas.UseRequestRead:
    """One of the caller's requests: pending, approved (with its consent), refused or expired."""
    request = service.party_request(session=session, caller=caller, request_id=request_id)
    return service.request_read(session, request, now=_now())


@router.get("/consents")
def my_consents(session: ReadSessionDep, caller: RelyingPartyDep) -> list[schemas.ConsentRead]:
    """The caller's consents (the newest 200): active, used, expired or revoked."""
    now = _now()
    return [
        service.consent_read(c, now=now)
        for c in service.party_consents(session=session, caller=caller)
    ]


@router.get(
    "/consents/{consent_id}",
    responses=error_responses(described={404: "No such consent of the caller"}),
)
def my_consent(
    consent_id: ConsentIdPath, session: ReadSessionDep, caller: RelyingPartyDep
) -> schemas.ConsentRead:
    """One of the caller's consents."""
    consent = service.party_consent(session=session, caller=caller, consent_id=consent_id)
    return service.consent_read(consent, now=_now())


class ShowTokenRedeem(BaseModel):
    """A one-time authorisation scanned at the counter, and the purpose it is used for."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": "q2Zr7s0cYb3l4Wn8dE1xT5uV9aK6mJhP", "purpose": "COUNTER_CHECK"}]
        },
    )

    token: str = Field(min_length=16, max_length=64, description="The text of the citizen's QR")
    purpose: str = Field(pattern=schemas.PURPOSE_PATTERN, description="One of the caller's")


@router.post(
    "/show-tokens/redeem",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        400,
        413,
        described={
            403: "The token is unknown, used, expired (5 minutes) or bound to another party or "
            "purpose (`show_token_not_usable`); or the purpose is not the caller's or does not "
            "allow the licence's type",
        },
    ),
)
async def redeem_show_token(
    body: ShowTokenRedeem, caller: RelyingPartyDep, runtime: RuntimeDep
) -> schemas.ConsentRead:
    """Redeem a citizen's one-time authorisation (亮证): an approved one-time consent for the
    shown licence and the purpose's fields, to fetch at `/sharing/consents/{id}/data`."""
    now = _now()

    def work(session: Session) -> schemas.ConsentRead:
        consent = service.redeem_show_token(
            session=session, caller=caller, token=body.token, purpose_code=body.purpose, now=now
        )
        session.refresh(consent)
        return service.consent_read(consent, now=now)

    return await runtime.database.write(work)
