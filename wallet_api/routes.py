"""Citizen routes, mounted at ``/wallet``. Every licence route needs a citizen bearer token."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from registry.errors import error_responses
from registry.models import Licence
from registry.openid4vci import NewOffer
from registry.settings import Settings

from . import dev_idp, schemas, service
from .auth import Citizen
from .errors import DevIdpDisabled
from .qr import render_png, render_svg
from .runtime import CitizenDep, ReadSessionDep, RuntimeDep, SettingsDep, WalletRuntime
from .sharing_directory import router as sharing_directory_router
from .sharing_routes import router as sharing_router

# Every route signs the citizen in first: 401 without a valid token, 503 when an external
# identity provider's keys cannot be fetched.
router = APIRouter(tags=["wallet"], responses=error_responses(401, 503))
_OWN_LICENCE = error_responses(422, described={404: "No such licence of the signed-in citizen"})
_SHOWN_LICENCE = error_responses(
    422,
    described={
        404: "No such licence of the signed-in citizen",
        409: "The licence cannot be presented: revoked, suspended, expired or without a holder key",
    },
)
_NO_STORE = {"Cache-Control": "no-store"}

ChallengeQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="The verifier's challenge to bind to"),
]
ModeQuery = Annotated[
    schemas.QrMode, Query(description="presentation (default) or static (printable copy)")
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _own_licence(
    licence_id: str, citizen: CitizenDep, session: ReadSessionDep, runtime: RuntimeDep
) -> Licence:
    return service.get_licence(
        session=session,
        id_index=runtime.vault.blind_index(citizen.id_number.value),
        licence_id=licence_id,
    )


OwnLicence = Annotated[Licence, Depends(_own_licence)]


@router.get("/licences", response_model=schemas.LicenceList, responses=error_responses(422))
async def my_licences(
    citizen: CitizenDep,
    runtime: RuntimeDep,
    response: Response,
    identifier: Annotated[
        str | None,
        Query(max_length=256, description="Only the licence with this licence identifier"),
    ] = None,
) -> schemas.LicenceList:
    """Every licence any department issued to the signed-in citizen ("one number"); with
    ``identifier`` (GB/T 36904), only that one. A malformed identifier is a 422 naming the
    wrong segment."""
    response.headers.update(_NO_STORE)
    now = _now()
    index = runtime.vault.blind_index(citizen.id_number.value)

    def listed(session: Session) -> schemas.LicenceList:
        rows = service.list_licences(session=session, id_index=index, identifier=identifier)
        return schemas.LicenceList(licences=[service.summary(row, now=now) for row in rows])

    return await runtime.database.read(listed)


@router.get("/licences/{licence_id}", response_model=schemas.LicenceDetail, responses=_OWN_LICENCE)
def licence_detail(
    citizen: CitizenDep, licence: OwnLicence, response: Response
) -> schemas.LicenceDetail:
    """One licence in full, to its holder (the only response with the full ID number)."""
    response.headers.update(_NO_STORE)
    return service.detail(licence, id_number=citizen.id_number.value, now=_now())


def _payload(
    *,
    mode: schemas.QrMode,
    licence: Licence,
    session: ReadSessionDep,
    runtime: WalletRuntime,
    settings: Settings,
    challenge: str | None,
) -> schemas.Presentation:
    now = _now()
    if mode == "static":
        return service.static_copy(licence, now=now)
    return service.presentation(
        session=session,
        box=runtime.box,
        licence=licence,
        now=now,
        ttl=settings.presentation_ttl,
        challenge=challenge,
    )


@router.get(
    "/licences/{licence_id}/presentation",
    response_model=schemas.Presentation,
    responses=_SHOWN_LICENCE,
)
async def licence_presentation(
    licence_id: str,
    citizen: CitizenDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    response: Response,
    challenge: ChallengeQuery = None,
) -> schemas.Presentation:
    """A fresh presentation payload (credential + holder proof) and when it expires."""
    response.headers.update(_NO_STORE)
    return await _shown(
        licence_id=licence_id,
        citizen=citizen,
        runtime=runtime,
        settings=settings,
        mode="presentation",
        challenge=challenge,
    )


async def _shown(
    *,
    licence_id: str,
    citizen: Citizen,
    runtime: WalletRuntime,
    settings: Settings,
    mode: schemas.QrMode,
    challenge: str | None,
) -> schemas.Presentation:
    # The phone asks for one on every QR refresh: the licence, the holder key and the signing
    # in one read, one thread hop (as a sync route with its dependencies: five).
    index = runtime.vault.blind_index(citizen.id_number.value)

    def shown(session: Session) -> schemas.Presentation:
        licence = service.get_licence(session=session, id_index=index, licence_id=licence_id)
        return _payload(
            mode=mode,
            licence=licence,
            session=session,
            runtime=runtime,
            settings=settings,
            challenge=challenge,
        )

    return await runtime.database.read(shown)


async def shown_payload(
    licence_id: str,
    citizen: CitizenDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    mode: ModeQuery = "presentation",
    challenge: ChallengeQuery = None,
) -> schemas.Presentation:
    """Dependency: the payload a QR route shows (presentation by default, or the static copy)."""
    return await _shown(
        licence_id=licence_id,
        citizen=citizen,
        runtime=runtime,
        settings=settings,
        mode=mode,
        challenge=challenge,
    )


ShownPayload = Annotated[schemas.Presentation, Depends(shown_payload)]


@router.get(
    "/licences/{licence_id}/qr", response_model=schemas.Presentation, responses=_SHOWN_LICENCE
)
async def licence_qr_payload(payload: ShownPayload, response: Response) -> schemas.Presentation:
    """The QR payload text, for apps that draw the QR code themselves."""
    response.headers.update(_NO_STORE)
    return payload


# The times of the presentation an image shows, so a page needs no second, JSON request (and no
# second signature) to know when to show a fresh one.
_PRESENTATION_HEADERS = {
    "X-Presentation-Presented-At": {
        "description": "When the holder proof was signed (Unix seconds); absent for a static copy",
        "schema": {"type": "integer"},
    },
    "X-Presentation-Expires": {
        "description": "When to show a fresh one (Unix seconds); absent for a static copy",
        "schema": {"type": "integer"},
    },
}


def _image_headers(payload: schemas.Presentation) -> dict[str, str]:
    headers = dict(_NO_STORE)
    if payload.presented_at is not None:
        headers["X-Presentation-Presented-At"] = str(payload.presented_at)
    if payload.expires_at is not None:
        headers["X-Presentation-Expires"] = str(payload.expires_at)
    return headers


@router.get(
    "/licences/{licence_id}/qr.png",
    response_class=Response,
    responses={
        200: {
            "description": "The QR code",
            "content": {"image/png": {}},
            "headers": _PRESENTATION_HEADERS,
        },
        **_SHOWN_LICENCE,
    },
)
def licence_qr_png(payload: ShownPayload) -> Response:
    """The QR code as PNG (error correction M, quiet zone 4, about 640 px wide), with the
    presentation's times in `X-Presentation-Presented-At` and `X-Presentation-Expires`."""
    return Response(
        render_png(payload.payload), media_type="image/png", headers=_image_headers(payload)
    )


@router.get(
    "/licences/{licence_id}/qr.svg",
    response_class=Response,
    responses={
        200: {
            "description": "The QR code",
            "content": {"image/svg+xml": {}},
            "headers": _PRESENTATION_HEADERS,
        },
        **_SHOWN_LICENCE,
    },
)
def licence_qr_svg(payload: ShownPayload) -> Response:
    """The QR code as SVG (error correction M, quiet zone 4), with the presentation's times in
    `X-Presentation-Presented-At` and `X-Presentation-Expires`."""
    return Response(
        render_svg(payload.payload), media_type="image/svg+xml", headers=_image_headers(payload)
    )


@router.get(
    "/licences/{licence_id}/checks",
    response_model=schemas.VerificationCheckList,
    responses=_OWN_LICENCE,
)
def licence_checks(
    licence: OwnLicence, session: ReadSessionDep, response: Response
) -> schemas.VerificationCheckList:
    """Who checked this licence online: verifier, purpose, time, outcome (newest first)."""
    response.headers.update(_NO_STORE)
    rows = service.list_checks(session=session, licence=licence)
    return schemas.VerificationCheckList(
        checks=[
            schemas.VerificationCheckRead(
                verifier=row.verifier_name,
                purpose=row.purpose,
                checked_at=service.utc(row.checked_at),
                outcome=row.outcome,
            )
            for row in rows
        ]
    )


@router.post(
    "/licences/{licence_id}/credential-offer",
    response_model=schemas.CredentialOfferRead,
    status_code=201,
    responses=_SHOWN_LICENCE,
)
async def licence_credential_offer(
    licence: OwnLicence, runtime: RuntimeDep, settings: SettingsDep, response: Response
) -> schemas.CredentialOfferRead:
    """An OpenID4VCI credential offer of the licence, for another wallet app ("add to another
    wallet"): the offer URI and its QR code with a one-time pre-authorized code (10 minutes),
    and the transaction code the citizen types into that app."""
    response.headers.update(_NO_STORE)
    licence_id, now = licence.id, _now()

    def offer(session: Session) -> NewOffer:
        return service.make_credential_offer(session=session, licence_id=licence_id, now=now)

    made = await runtime.database.write(offer)
    return await run_in_threadpool(
        service.credential_offer_read,
        made,
        licence_id=licence_id,
        credential_issuer=settings.public_base_url,
    )


_DEV_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Development sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>Development sign-in</h1>
<p>For local runs only: signs a token for any valid ID number.</p>
<form id="sign-in" method="post" action="/wallet/dev/token">
<label>ID number <input name="id_number" autocomplete="off" maxlength="18" required></label>
<button type="submit">Sign in</button>
</form>
<pre id="result"></pre>
<script>
document.getElementById("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch(event.target.action, {method: "POST", body: form});
  const body = await response.json();
  if (response.ok) {
    sessionStorage.setItem("elicence.token", body.access_token);
    document.getElementById("result").textContent = body.access_token;
  } else {
    document.getElementById("result").textContent = body.detail;
  }
});
</script>
</body></html>
"""


@router.get("/dev/sign-in", response_class=HTMLResponse, include_in_schema=False)
def dev_sign_in_page(settings: SettingsDep) -> HTMLResponse:
    """Development identity provider: a sign-in page (404 unless enabled)."""
    if not dev_idp.dev_idp_enabled(settings):
        raise DevIdpDisabled()
    return HTMLResponse(_DEV_PAGE, headers=_NO_STORE)


@router.post("/dev/token", include_in_schema=False)
def dev_token(
    settings: SettingsDep,
    id_number: Annotated[str, Form(max_length=32)],
    response: Response,
) -> dict[str, str | int]:
    """Development identity provider: a token for the ID number in the form body."""
    response.headers.update(_NO_STORE)
    token = dev_idp.issue_dev_token(settings, id_number)
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": dev_idp.DEV_TOKEN_LIFETIME,
    }


router.include_router(sharing_router)
router.include_router(sharing_directory_router)
