"""``GET /trust-list`` and ``GET /root-key``: what verifiers pin and sync."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from ..runtime import ReadSessionDep, RuntimeDep
from ..status_lists.routes import etag_matches
from .service import root_public_key, trust_list_token

router = APIRouter(tags=["public documents"])
MEDIA_TYPE = "application/trustlist+jwt"


@router.get(
    "/trust-list",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {}}}, 304: {"description": "Not modified"}},
)
def get_trust_list(
    session: ReadSessionDep,
    runtime: RuntimeDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The trust list signed by the platform root key: departments, keys, licence types."""
    served = trust_list_token(session=session, runtime=runtime)
    headers = {"ETag": served.etag, "Cache-Control": f"public, max-age={served.ttl}"}
    if if_none_match is not None and etag_matches(if_none_match, served.etag):
        return Response(status_code=304, headers=headers)
    return Response(served.token, media_type=MEDIA_TYPE, headers=headers)


@router.get("/root-key")
def get_root_key(session: ReadSessionDep) -> dict[str, Any]:
    """The platform root public key (JWK), its kid and RFC 7638 thumbprint, for pinning."""
    return root_public_key(session=session)
