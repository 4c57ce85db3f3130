"""API keys of callers that are organisations (departments, relying parties) and the platform
administrator's token: made, parsed and checked here once, for every service.

A key looks like ``<scheme>_<prefix>_<secret>`` (``elk`` for departments, ``erp`` for relying
parties). Only the prefix (for look-up) and SHA-256 of the secret are stored; the comparison is
constant-time. The admin token is ``ELICENCE_ADMIN_TOKEN`` from the settings. No web framework:
each service wraps these in its own dependencies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import cache

from .errors import Unauthorized
from .settings import Settings

API_KEY_PREFIX = r"[A-Za-z0-9]{8}"  # the public part, by which keys are found and revoked
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Compared against when a prefix is unknown, so timing does not tell which prefixes exist.
NO_KEY_HASH = bytes(32)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly made API key: ``text`` is shown once, only ``prefix`` and ``secret_hash`` kept."""

    text: str
    prefix: str
    secret_hash: bytes

    def __repr__(self) -> str:  # the full key must never reach a log
        return f"NewApiKey(prefix={self.prefix!r})"

    __str__ = __repr__


def hash_secret(secret: str) -> bytes:
    """SHA-256 of an API key's secret part."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def new_api_key(scheme: str) -> NewApiKey:
    """A new random API key of ``scheme`` (``elk``, ``erp``)."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    secret = secrets.token_urlsafe(32)
    return NewApiKey(f"{scheme}_{prefix}_{secret}", prefix, hash_secret(secret))


@cache
def _key_pattern(scheme: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(scheme)}_({API_KEY_PREFIX})_([A-Za-z0-9_-]{{43}})$")


def parse_api_key(text: str, scheme: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed API key of ``scheme``, else ``None``."""
    match = _key_pattern(scheme).match(text)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    """Constant-time check of a presented secret against the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def presented_api_key(authorization: str | None, *, scheme: str, who: str) -> tuple[str, str]:
    """``(prefix, secret)`` of the well-formed ``scheme`` key in ``authorization``, checked
    without the database (so a request without one is refused before any other work). ``who``
    names the caller in the message ("a department"). Raises ``Unauthorized``."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized(f"{who} API key is required (Authorization: Bearer {scheme}_...)")
    parsed = parse_api_key(token, scheme)
    if parsed is None:
        raise Unauthorized("malformed API key")
    return parsed


def check_admin_token(settings: Settings, authorization: str | None) -> str:
    """The audit actor (``admin``) when ``authorization`` carries the platform administrator's
    token. Raises ``Unauthorized`` (also when no admin token is configured)."""
    configured = settings.admin_token
    if configured is None:
        raise Unauthorized("the admin API is disabled (ELICENCE_ADMIN_TOKEN is not set)")
    token = bearer_token(authorization)
    if token is None or not hmac.compare_digest(
        token.encode("utf-8"), configured.get_secret_value().encode("utf-8")
    ):
        raise Unauthorized("a valid admin token is required")
    return "admin"
