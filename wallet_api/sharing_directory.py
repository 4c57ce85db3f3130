"""What the wallet page needs for 亮证 beyond ``sharing_routes``, mounted at ``/wallet/sharing``:

- ``GET /relying-parties``: the register of relying parties and their purposes, so the citizen
  can bind a one-time authorisation to one party and purpose (``sharing.profile.directory``);
- ``POST /show-tokens/qr.png``: the picture of an authorisation's QR. The token travels in the
  body (an ``<img>`` URL would put it in logs and history) and comes back drawn by the same
  writer as the licence QRs (``wallet_api.qr``); nothing is stored or looked up.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from registry.errors import error_responses
from sharing.profile import DirectoryParty, directory

from .qr import render_png
from .runtime import CitizenDep, ReadSessionDep

router = APIRouter(prefix="/sharing", tags=["wallet sharing"], responses=error_responses(401, 503))
# What sharing.service.create_show_token hands out: secrets.token_urlsafe(24).
SHOW_CODE_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


@router.get("/relying-parties")
def relying_parties(citizen: CitizenDep, session: ReadSessionDep) -> list[DirectoryParty]:
    """Registered relying parties with their purposes (what each may ask for): the citizen
    picks one party and purpose to bind a one-time authorisation to."""
    return directory(session=session)


class ShowTokenPicture(BaseModel):
    """The authorisation to draw."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"token": "q2Zr7s0cYb3l4Wn8dE1xT5uV9aK6mJhP"}]},
    )

    token: str = Field(pattern=SHOW_CODE_PATTERN, description="From POST /show-tokens")


@router.post(
    "/show-tokens/qr.png",
    response_class=Response,
    responses={
        200: {"description": "The QR code", "content": {"image/png": {}}},
        **error_responses(400, 422),
    },
)
def show_token_qr(body: ShowTokenPicture, citizen: CitizenDep) -> Response:
    """The QR code of a one-time authorisation (PNG, error correction M, about 640 px wide)."""
    return Response(
        render_png(body.token), media_type="image/png", headers={"Cache-Control": "no-store"}
    )
