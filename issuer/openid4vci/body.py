"""Reading the body of an OpenID4VCI request by hand, with a size cap and a content-type check,
so that every malformed, oversized or mistyped request is an ``OAuthError`` in the OAuth shape
(FastAPI's own body parsing answers in the house shape and reads without a cap)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from .errors import INVALID_REQUEST, OAuthError

# A credential request with one key proof is about 1 KiB; 64 KiB leaves room and no more.
MAX_BODY_BYTES = 64 * 1024
# A parameter name is repeated in an answer only when it looks like one (never a value that
# landed in the name, such as an ID number).
_NAME_LIKE = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def _unknown(name: str) -> str:
    return f"unknown parameter {name!r}" if _NAME_LIKE.fullmatch(name) else "unknown parameter"


def refuse_query(request: Request) -> None:
    """These endpoints take nothing in the URL: an access token there (RFC 6750 section 2.3,
    which leaks it into logs and histories) or any other parameter is refused."""
    if request.url.query:
        if any(name == "access_token" for name, _ in parse_qsl(request.url.query)):
            raise OAuthError(
                INVALID_REQUEST,
                "an access token may not travel in the URL; send it in the Authorization header",
            )
        raise OAuthError(INVALID_REQUEST, "this endpoint takes no query parameters")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(
    request: Request, *, media_type: str | None, error: str = INVALID_REQUEST
) -> bytes:
    """The body, if it is of ``media_type`` (any when ``None``) and at most
    ``MAX_BODY_BYTES``; else ``OAuthError`` (415, 413) with ``error``."""
    if media_type is not None and _media_type(request) != media_type:
        raise OAuthError(error, f"the body must be {media_type}", status=415)
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise OAuthError(error, f"the body may be at most {MAX_BODY_BYTES} bytes", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise OAuthError(error, f"the body may be at most {MAX_BODY_BYTES} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request, *, allowed: frozenset[str]) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (RFC 6749 section 3.2) of ``allowed``
    parameters, each at most once; empty values count as absent."""
    body = await read_body(request, media_type="application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(INVALID_REQUEST, "the body is not a UTF-8 form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            raise OAuthError(INVALID_REQUEST, _unknown(name))
        if name in form:
            raise OAuthError(
                INVALID_REQUEST, f"parameter {name!r} given more than once"
            )  # a known name
        if value:
            form[name] = value
    return form


async def read_json_object(
    request: Request, *, allowed: frozenset[str], error: str
) -> dict[str, Any]:
    """An ``application/json`` body holding one object with ``allowed`` members only; else
    ``OAuthError`` with ``error``."""
    body = await read_body(request, media_type="application/json", error=error)
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise OAuthError(error, "the body is not JSON") from None
    if not isinstance(value, dict):
        raise OAuthError(error, "the body must be a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise OAuthError(error, _unknown(unknown[0]))
    return value
