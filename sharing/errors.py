"""Errors of sharing beyond ``registry.errors`` (rendered by the app's one handler). Another
party's request or consent is indistinguishable from one that does not exist (404)."""

from __future__ import annotations

from registry.errors import Conflict, Forbidden, NotFound, ServiceError


class UnknownPurpose(Forbidden):
    """The relying party has no registered purpose with this code."""

    code = "unknown_purpose"


class LicenceTypeNotAllowed(Forbidden):
    """The purpose does not allow a licence type asked for."""

    code = "licence_type_not_allowed"


class FieldNotAllowed(Forbidden):
    """The purpose does not allow a field asked for."""

    code = "field_not_allowed"


class InvalidSharingRequest(ServiceError):
    """A value is not acceptable (an end in the past or beyond the purpose's longest consent,
    a field or licence type that does not exist)."""

    status_code = 422
    code = "invalid_request"

    def __init__(self, detail: str, *, code: str = "invalid_request") -> None:
        self.code = code
        super().__init__(detail)


class RequestNotFound(NotFound):
    """No such use request (or not one of the caller's)."""

    code = "request_not_found"


class RequestAnswered(Conflict):
    """The use request has been answered or has expired."""

    code = "request_closed"


class ConsentNotFound(NotFound):
    """No such consent (or not one of the caller's)."""

    code = "consent_not_found"


class ConsentNotUsable(Forbidden):
    """The consent no longer allows a fetch: used (one-time), expired or revoked."""

    def __init__(self, state: str) -> None:
        self.code = f"consent_{state}"
        super().__init__(f"the consent is {state}: no data is shared under it")


class ConsentNotRevocable(Conflict):
    """Only an active consent can be revoked."""

    code = "consent_not_active"


class RelyingPartyNotFound(NotFound):
    """No relying party with this code."""

    code = "relying_party_not_found"


class ShowTokenNotUsable(Forbidden):
    """The authorisation token is unknown, used, expired or bound to another relying party."""

    code = "show_token_not_usable"


class LicenceNotFound(NotFound):
    """No such licence of the signed-in citizen."""

    code = "licence_not_found"
