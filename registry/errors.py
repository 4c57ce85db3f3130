"""Service errors that are not wire-format errors (those live in ``credential.errors``).

Each carries an HTTP ``status_code`` and a short ``code``; ``elicence.app.add_exception_handlers``
renders them as ``{"error": code, "detail": message}``. Services raise them; routes don't catch.
``ErrorBody`` is that answer's schema and ``error_responses`` documents it per route (plain
``responses=`` dicts: no web framework here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from credential.errors import ElicenceError


class ServiceError(ElicenceError):
    """Base of service errors."""

    status_code = 400
    code = "bad_request"

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries (``Retry-After`` of a 429)."""
        return {}


class BadRequest(ServiceError):
    """The request cannot be processed."""


class Unauthorized(ServiceError):
    """Missing or invalid credentials."""

    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    """Not allowed for this caller."""

    status_code = 403
    code = "forbidden"


class NotFound(ServiceError):
    """No such object."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The request conflicts with the current state."""

    status_code = 409
    code = "conflict"


class IdNumberInText(ServiceError, ValueError):
    """A full resident ID number may not be kept in a name or a note; use the masked form."""

    status_code = 422
    code = "id_number_in_text"


class ErrorBody(BaseModel):
    """What every refused request answers (4xx, and the rare 5xx): a code and a sentence."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error": "not_found", "detail": "no such licence"}]}
    )

    error: str = Field(
        description="A short machine code: `invalid_request`, `unauthorized`, `not_found`, "
        "`conflict`, `too_large`, ... or the domain's own (`revoked`, `invalid_id_number`)",
        examples=["not_found"],
    )
    detail: str = Field(
        description="What is wrong, for people; never echoes a submitted ID number or secret",
        examples=["no such licence"],
    )


ERROR_MEANINGS: dict[int, str] = {
    400: "The body cannot be parsed, or the request cannot be served as the system stands",
    401: "Missing, malformed, unknown or revoked credentials",
    403: "Not allowed for this caller",
    404: "No such object (or not one of the caller's)",
    405: "Method not allowed here (the `Allow` header lists those that are)",
    409: "Conflicts with the current state",
    413: "The request body is too large",
    415: "Unsupported content type",
    422: "A value is not acceptable: the detail names the field and the rule",
    429: "Too many requests",
    503: "A service this one depends on is unreachable",
}


def error_responses(
    *codes: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error answers a route gives, each an ``ErrorBody``.

    ``codes`` get their general meaning; ``described`` adds codes with the route's own words
    (``error_responses(401, 422, described={409: "the licence is already revoked"})``)."""
    meanings = {code: ERROR_MEANINGS[code] for code in codes} | dict(described or {})
    return {
        code: {"model": ErrorBody, "description": meaning}
        for code, meaning in sorted(meanings.items())
    }
