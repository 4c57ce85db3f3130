"""``GET /trust-list`` and ``GET /root-key``: what verifiers pin and sync."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from registry.errors import error_responses

from ..runtime import ReadSessionDep, RuntimeDep
from ..status_lists.routes import etag_matches
from .schemas import RootKeyRead
from .service import root_public_key, trust_list_token

router = APIRouter(tags=["public documents"])
MEDIA_TYPE = "application/trustlist+jwt"
_NO_ROOT_KEY = "No platform root key yet (`elicence init` makes it)"


@router.get(
    "/trust-list",
    response_class=Response,
    responses={
        200: {
            "description": "The trust list token: a JWS (`typ` trustlist+jwt) by the root key",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        304: {"description": "Not modified: the `If-None-Match` names the current ETag"},
        **error_responses(422, described={400: _NO_ROOT_KEY}),
    },
)
def get_trust_list(
    session: ReadSessionDep,
    runtime: RuntimeDep,
    if_none_match: Annotated[
        str | None, Header(description="The ETag of a copy the caller holds")
    ] = None,
) -> Response:
    """The trust list signed by the platform root key: departments, keys, licence types."""
    served = trust_list_token(session=session, runtime=runtime)
    headers = {"ETag": served.etag, "Cache-Control": f"public, max-age={served.ttl}"}
    if if_none_match is not None and etag_matches(if_none_match, served.etag):
        return Response(status_code=304, headers=headers)
    return Response(served.token, media_type=MEDIA_TYPE, headers=headers)


@router.get(
    "/root-key",
    response_model=RootKeyRead,
    responses=error_responses(described={400: _NO_ROOT_KEY}),
)
def get_root_key(session: ReadSessionDep) -> dict[str, Any]:
    """The platform root public key (JWK), its kid and RFC 7638 thumbprint, for pinning."""
    return root_public_key(session=session)
