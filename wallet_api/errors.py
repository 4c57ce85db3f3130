"""Wallet errors, rendered as ``{"error": code, "detail": message}``; none holds an ID number."""

from __future__ import annotations

from registry.errors import Conflict, NotFound, ServiceError, Unauthorized


class MissingToken(Unauthorized):
    """Sign in first: send ``Authorization: Bearer <token>``."""

    code = "missing_token"


class MalformedToken(Unauthorized):
    """The bearer token is not a signed JWT."""

    code = "malformed_token"


class BadTokenSignature(Unauthorized):
    """The token is not signed by a key of the identity provider."""

    code = "bad_token_signature"


class TokenExpired(Unauthorized):
    """The token has expired; sign in again."""

    code = "token_expired"


class TokenNotYetValid(Unauthorized):
    """The token is not valid yet."""

    code = "token_not_yet_valid"


class WrongIssuer(Unauthorized):
    """The token was not issued by the configured identity provider."""

    code = "wrong_issuer"


class WrongAudience(Unauthorized):
    """The token was issued for another audience."""

    code = "wrong_audience"


class InvalidTokenClaims(Unauthorized):
    """The token lacks a required claim or has one of the wrong form."""

    code = "invalid_token_claims"


class InvalidTokenIdNumber(Unauthorized):
    """The ID number in the token is not a valid resident identity number."""

    code = "invalid_id_number"


class SignInUnavailable(Unauthorized):
    """No identity provider is configured, so nobody can sign in."""

    code = "sign_in_unavailable"


class IdentityProviderUnreachable(ServiceError):
    """The identity provider's keys could not be fetched."""

    status_code = 503
    code = "idp_unreachable"


class LicenceNotFound(NotFound):
    """No such licence."""

    code = "licence_not_found"


class DevIdpDisabled(NotFound):
    """Not found."""

    code = "not_found"


class LicenceUnusable(Conflict):
    """This licence cannot be presented."""

    code = "unusable"


class LicenceRevoked(LicenceUnusable):
    """This licence has been revoked."""

    code = "revoked"


class LicenceSuspended(LicenceUnusable):
    """This licence is suspended."""

    code = "suspended"


class LicenceExpired(LicenceUnusable):
    """This licence has expired."""

    code = "expired"


class HolderKeyMissing(Conflict):
    """This licence has no holder key to sign presentations with."""

    code = "holder_key_missing"
