"""Citizen sign-in: bearer JWTs from the configured identity provider.

A token is accepted when its signature verifies against the provider's JWKS (from a file or a
URL), ``iss`` and ``aud`` match the configuration, ``exp`` is in the future (``nbf``/``iat`` are
checked when present) and the configured claim holds a valid GB 11643 ID number. The built-in
development identity provider (``wallet_api.dev_idp``) is one more provider, on only in
development with ``ELICENCE_DEV_IDP=1``.

A token that verified is remembered (``Authenticator.remembered``) until it expires, for at most
``VERIFIED_TOKEN_SECONDS``: a phone showing a licence sends the same token every few seconds, and
checking its signature again cost 0.3 ms of CPU and a hop to a worker thread a request. A key the
provider withdraws therefore stops working within that minute (a JWKS fetched over HTTP is kept
``JWKS_CACHE_SECONDS`` already).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from cachetools import TLRUCache
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from credential import IdNumber, parse_id_number
from credential.errors import InvalidIdNumber
from registry.errors import Unauthorized

from .errors import (
    BadTokenSignature,
    IdentityProviderUnreachable,
    InvalidTokenClaims,
    InvalidTokenIdNumber,
    MalformedToken,
    SignInUnavailable,
    TokenExpired,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
)

ACCEPTED_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192
JWKS_CACHE_SECONDS = 300
JWKS_MIN_REFRESH_SECONDS = 30
JWKS_FETCH_TIMEOUT_SECONDS = 5.0
VERIFIED_TOKEN_SECONDS = 60
VERIFIED_TOKENS_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Citizen:
    """A signed-in citizen. Its repr shows the masked ID number only."""

    id_number: IdNumber
    issuer: str

    def __repr__(self) -> str:
        return f"Citizen({self.id_number.masked!r})"

    __str__ = __repr__


class JwksSource(Protocol):
    """Where a provider's public keys come from."""

    def key_set(self, *, refresh: bool = False) -> KeySet: ...


class StaticJwks:
    """A key set held in memory (the development provider's own key)."""

    def __init__(self, key_set: KeySet) -> None:
        self._key_set = key_set

    def key_set(self, *, refresh: bool = False) -> KeySet:
        return self._key_set


class JwksFile:
    """A JWKS document in a file, reread when the file changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._key_set: KeySet | None = None

    def key_set(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            try:
                stat = self._path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
                if self._key_set is None or stamp != self._stamp:
                    self._key_set = _parse_jwks(self._path.read_bytes())
                    self._stamp = stamp
            except OSError as exc:
                raise IdentityProviderUnreachable(
                    "the identity provider's key file cannot be read"
                ) from exc
            return self._key_set


class JwksUrl:
    """A JWKS document fetched over HTTP, cached, refetched for a key id it does not know."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._url = url
        self._clock = clock
        self._lock = threading.Lock()
        self._fetched_at = float("-inf")
        self._key_set: KeySet | None = None

    def key_set(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            age = self._clock() - self._fetched_at
            stale = self._key_set is None or age > JWKS_CACHE_SECONDS
            if stale or (refresh and age > JWKS_MIN_REFRESH_SECONDS):
                try:
                    response = httpx.get(self._url, timeout=JWKS_FETCH_TIMEOUT_SECONDS)
                    response.raise_for_status()
                    self._key_set = _parse_jwks(response.content)
                    self._fetched_at = self._clock()
                except (httpx.HTTPError, IdentityProviderUnreachable) as exc:
                    if self._key_set is None:
                        raise IdentityProviderUnreachable() from exc
            assert self._key_set is not None
            return self._key_set


def _parse_jwks(data: bytes) -> KeySet:
    try:
        document = json.loads(data)
        return KeySet.import_key_set(document)
    except (ValueError, TypeError, KeyError, JoseError) as exc:
        raise IdentityProviderUnreachable("the identity provider's JWKS is not valid") from exc


def peek_issuer(token: str) -> str | None:
    """The unverified ``iss`` of a compact JWT, only to pick which provider checks it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None


class TokenVerifier:
    """Checks bearer tokens of one identity provider."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: JwksSource,
        id_claim: str,
        leeway: int = LEEWAY_SECONDS,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks = jwks
        self._id_claim = id_claim
        self.leeway = leeway
        self._now = now

    def authenticate(self, token: str) -> Citizen:
        """The citizen the token names.

        Raises ``MalformedToken``, ``BadTokenSignature``, ``TokenExpired``,
        ``TokenNotYetValid``, ``WrongIssuer``, ``WrongAudience``, ``InvalidTokenClaims``,
        ``InvalidTokenIdNumber`` (all 401) or ``IdentityProviderUnreachable`` (503).
        """
        return self.verify(token)[0]

    def verify(self, token: str) -> tuple[Citizen, int]:
        """``authenticate``, with the token's expiry (``exp``, seconds since the epoch)."""
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise MalformedToken()
        decoded = self._decode(token)
        registry = jwt.JWTClaimsRegistry(
            now=int(self._now()),
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except ExpiredTokenError as exc:
            raise TokenExpired() from exc
        except MissingClaimError as exc:
            raise InvalidTokenClaims(f"the token has no '{exc.claim}' claim") from exc
        except InvalidClaimError as exc:
            raise _claim_error(exc) from exc
        except ClaimError as exc:
            raise InvalidTokenClaims() from exc
        return Citizen(self._id_number(decoded.claims), self.issuer), int(decoded.claims["exp"])

    def _decode(self, token: str) -> jwt.Token:
        for refresh in (False, True):
            key_set = self._jwks.key_set(refresh=refresh)
            try:
                return jwt.decode(token, key_set, algorithms=list(ACCEPTED_ALGORITHMS))
            except BadSignatureError as exc:
                raise BadTokenSignature() from exc
            except (ValueError, KeyError, TypeError, JoseError) as exc:
                # An unknown kid may be a rotated key: refetch the JWKS once, then give up.
                if refresh:
                    if _names_unknown_key(exc):
                        raise BadTokenSignature(
                            "the token is signed with a key the identity provider does not list"
                        ) from exc
                    raise MalformedToken() from exc
        raise AssertionError("unreachable")

    def _id_number(self, claims: dict[str, Any]) -> IdNumber:
        value = claims.get(self._id_claim)
        if not isinstance(value, str):
            raise InvalidTokenClaims(f"the token has no '{self._id_claim}' text claim")
        try:
            return parse_id_number(value)
        except InvalidIdNumber as exc:
            raise InvalidTokenIdNumber(
                f"the ID number in the token is not valid ({exc.reason})"
            ) from None


def _names_unknown_key(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, (KeyError, ValueError)) or "key" in text


def _claim_error(exc: InvalidClaimError) -> Unauthorized:
    if exc.claim == "iss":
        return WrongIssuer()
    if exc.claim == "aud":
        return WrongAudience()
    if exc.claim in ("nbf", "iat"):
        return TokenNotYetValid()
    return InvalidTokenClaims(f"the token's '{exc.claim}' claim is not valid")


class Authenticator:
    """Every provider a deployment accepts, chosen by the token's issuer."""

    def __init__(
        self, verifiers: list[TokenVerifier], *, now: Callable[[], float] = time.time
    ) -> None:
        self.verifiers = verifiers
        self._now = now
        self._lock = threading.Lock()
        # token -> (citizen, expiry); an entry goes at the token's expiry (with the leeway its
        # provider allows) or VERIFIED_TOKEN_SECONDS after it verified, whichever comes first.
        self._verified: TLRUCache[str, tuple[Citizen, float]] = TLRUCache(
            maxsize=VERIFIED_TOKENS_KEPT, ttu=lambda _token, entry, _now: entry[1], timer=now
        )

    def remembered(self, token: str) -> Citizen | None:
        """The citizen of a token that verified lately and has not expired; ``None`` otherwise
        (then call ``authenticate``). Reads memory only: safe on the event loop."""
        with self._lock:
            entry = self._verified.get(token)
        return entry[0] if entry is not None else None

    def authenticate(self, token: str) -> Citizen:
        """The citizen the token names; raises the errors of ``TokenVerifier.authenticate``."""
        if not self.verifiers:
            raise SignInUnavailable()
        issuer = peek_issuer(token)
        verifier = next((v for v in self.verifiers if v.issuer == issuer), None)
        # No provider has this issuer: the first one rejects it with its own reason.
        citizen, expires = (verifier or self.verifiers[0]).verify(token)
        if verifier is not None:
            leeway = verifier.leeway
            until = min(expires + leeway, self._now() + VERIFIED_TOKEN_SECONDS)
            with self._lock:
                self._verified[token] = (citizen, until)
        return citizen
