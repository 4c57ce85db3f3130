"""OAuth 2.0 / OpenID4VCI error answers: ``{"error", "error_description"}`` (RFC 6749 section
5.2, RFC 6750 section 3, OpenID4VCI 1.0 section 8.3.1.2), not the house ``{"error", "detail"}``,
because the callers are third-party wallets that read the standard shape."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

# OpenID4VCI 1.0 section 8.3.1.2 (credential endpoint)
INVALID_CREDENTIAL_REQUEST = "invalid_credential_request"
UNKNOWN_CREDENTIAL_CONFIGURATION = "unknown_credential_configuration"
UNKNOWN_CREDENTIAL_IDENTIFIER = "unknown_credential_identifier"
INVALID_PROOF = "invalid_proof"
INVALID_NONCE = "invalid_nonce"
CREDENTIAL_REQUEST_DENIED = "credential_request_denied"
# RFC 6749 section 5.2 (token endpoint) and RFC 6750 section 3.1 (bearer tokens)
INVALID_REQUEST = "invalid_request"
INVALID_GRANT = "invalid_grant"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
INVALID_TOKEN = "invalid_token"  # noqa: S105 (an error code, not a secret)

_NO_STORE = {"Cache-Control": "no-store"}


class OAuthErrorBody(BaseModel):
    """What the OpenID4VCI endpoints answer when they refuse (the OAuth shape wallets read)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": "invalid_nonce", "error_description": "the c_nonce has expired"}]
        }
    )

    error: str = Field(
        description="The OAuth / OpenID4VCI code: `invalid_request`, `invalid_grant`, "
        "`invalid_token`, `invalid_proof`, `invalid_nonce`, `unknown_credential_configuration`, "
        "`invalid_credential_request`, `credential_request_denied`, ...",
        examples=["invalid_proof"],
    )
    error_description: str = Field(
        description="What is wrong, for people; never repeats a submitted secret",
        examples=["key proof: aud must be this credential issuer"],
    )


class OAuthError(Exception):
    """A refused OAuth / OpenID4VCI request: HTTP ``status``, the standard ``error`` code and a
    sentence that never repeats a submitted secret."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


def bearer_error(error: str | None, description: str) -> OAuthError:
    """A 401 with the ``WWW-Authenticate: Bearer`` challenge (RFC 6750 section 3); ``error``
    ``None`` for a request that carried no token at all (no code in the challenge then)."""
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return OAuthError(
        error or INVALID_TOKEN, description, status=401, headers={"WWW-Authenticate": challenge}
    )


def oauth_error_response(error: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": error.error, "error_description": error.description},
        status_code=error.status,
        headers={**_NO_STORE, **error.headers},
    )


async def oauth_error_handler(_: Request, exc: Exception) -> JSONResponse:
    """The app's handler for ``OAuthError`` (``elicence.app`` registers it)."""
    assert isinstance(exc, OAuthError)
    return oauth_error_response(exc)
