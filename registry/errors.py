"""Service errors that are not wire-format errors (those live in ``credential.errors``).

Each carries an HTTP ``status_code`` and a short ``code``; ``elicence.app.add_exception_handlers``
renders them as ``{"error": code, "detail": message}``. Services raise them; routes don't catch.
"""

from __future__ import annotations

from credential.errors import ElicenceError


class ServiceError(ElicenceError):
    """Base of service errors."""

    status_code = 400
    code = "bad_request"


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
