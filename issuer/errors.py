"""Errors of the department service beyond ``registry.errors`` (rendered by the same handler)."""

from __future__ import annotations

from registry.errors import Conflict, ServiceError


class InvalidRequest(ServiceError):
    """The request is well-formed but not acceptable (unknown field, past validity, ...)."""

    status_code = 422
    code = "invalid_request"

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(detail)


class AlreadyHeld(Conflict):
    """The holder already has a valid licence of a type that allows one per holder."""

    code = "already_holds_valid"
