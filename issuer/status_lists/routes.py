"""``GET /status-lists/{id}``: the signed Token Status List, cacheable, public."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response

from registry.errors import error_responses

from ..runtime import RuntimeDep
from .service import status_list_token

router = APIRouter(tags=["public documents"])
MEDIA_TYPE = "application/statuslist+jwt"


@router.get(
    "/status-lists/{list_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The status list token: a JWS (`typ` statuslist+jwt)",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        304: {"description": "Not modified: the `If-None-Match` names the current ETag"},
        **error_responses(
            422,
            described={
                400: "The department has no active signing key to sign the list with",
                404: "No status list with this id",
            },
        ),
    },
)
async def get_status_list(
    list_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The status list's number")],
    runtime: RuntimeDep,
    if_none_match: Annotated[
        str | None, Header(description="The ETag of a copy the caller holds")
    ] = None,
) -> Response:
    """The status list token (2 bits per licence: 0 valid, 1 revoked, 2 suspended)."""
    # Every wallet and offline counter polls this: one read, one thread hop.
    served = await runtime.database.read(
        lambda session: status_list_token(session=session, runtime=runtime, list_id=list_id)
    )
    headers = {"ETag": served.etag, "Cache-Control": f"public, max-age={served.ttl}"}
    if if_none_match is not None and etag_matches(if_none_match, served.etag):
        return Response(status_code=304, headers=headers)
    return Response(served.token, media_type=MEDIA_TYPE, headers=headers)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag``, compared weakly (RFC 9110 13.1.2)."""
    tags = {t.strip() for t in if_none_match.split(",")}
    return etag in tags | {f"W/{t}" for t in tags if not t.startswith("W/")}
