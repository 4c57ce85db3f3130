"""Where the verifier gets its trust list and status lists: protocols plus token-backed sources
that check each signed document once and cache the result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from credential import (
    KeyState,
    PublicKey,
    StatusList,
    TrustList,
    b64url_decode,
    errors,
    read_status_list_token,
    read_trust_list,
)


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """A status list whose signature has been checked against the trust list.

    ``department`` is the department whose key signed it, ``kid`` that key's id.
    """

    uri: str
    department: str
    kid: bytes
    issued_at: int
    expires_at: int | None
    ttl: int | None
    status_list: StatusList


class TrustSource(Protocol):
    """Gives the current, already verified, trust list (``None`` when there is none)."""

    def trust_list(self) -> TrustList | None: ...


class StatusSource(Protocol):
    """Gives the verified status list with this URI (``None`` when it is not available)."""

    def status_list(self, uri: str) -> StatusSnapshot | None: ...


def read_status_snapshot(token: str, trust_list: TrustList, *, uri: str) -> StatusSnapshot:
    """Check a ``statuslist+jwt`` token: signed by a non-compromised department key of the trust
    list, and about list ``uri``.

    Raises ``MalformedToken``, ``UnsupportedAlgorithm``, ``UnknownKey``, ``KeyCompromised`` or
    ``BadSignature``.
    """
    parsed = read_status_list_token(token)
    if parsed.jws.kid is None:
        raise errors.MalformedToken("status list token has no kid")
    try:
        kid = b64url_decode(parsed.jws.kid)
    except errors.MalformedPayload as exc:
        raise errors.MalformedToken("status list kid is not base64url") from exc
    key = trust_list.keys.get(kid)
    if key is None:
        raise errors.UnknownKey("the status list is signed by a key not in the trust list")
    if key.state == KeyState.COMPROMISED:
        raise errors.KeyCompromised("the status list is signed by a compromised key")
    parsed.jws.verify(key.public_key)
    if parsed.uri != uri:
        raise errors.MalformedToken(f"status list token is about {parsed.uri!r}, not {uri!r}")
    return StatusSnapshot(
        uri=uri,
        department=key.department,
        kid=kid,
        issued_at=parsed.issued_at,
        expires_at=parsed.expires_at,
        ttl=parsed.ttl,
        status_list=parsed.status_list,
    )


class FixedTrust:
    """A trust source that always gives the same verified trust list (bundles, tests)."""

    def __init__(self, trust_list: TrustList | None) -> None:
        self._trust_list = trust_list

    def trust_list(self) -> TrustList | None:
        return self._trust_list


class TokenTrustSource:
    """Trust list from a token supplier (``fetch() -> token text | None``), checked against the
    pinned root key; the parsed list is reused while the token text stays the same."""

    def __init__(self, fetch: Callable[[], str | None], root_key: PublicKey) -> None:
        self._fetch = fetch
        self._root_key = root_key
        self._lock = threading.Lock()
        self._cached: tuple[str, TrustList] | None = None

    def trust_list(self) -> TrustList | None:
        token = self._fetch()
        if token is None:
            return None
        cached = self._cached
        if cached is not None and cached[0] == token:
            return cached[1]
        parsed = read_trust_list(token, self._root_key)
        with self._lock:
            self._cached = (token, parsed)
        return parsed


class TokenStatusSource:
    """Status lists from a token supplier (``fetch(uri) -> token text | None``), each checked once
    against the current trust list and cached while token and trust list stay the same.

    A token that fails its checks is treated as unavailable (the verifier then answers
    ``status_unavailable``), never as valid.
    """

    def __init__(self, fetch: Callable[[str], str | None], trust: TrustSource) -> None:
        self._fetch = fetch
        self._trust = trust
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str, TrustList, StatusSnapshot]] = {}

    def status_list(self, uri: str) -> StatusSnapshot | None:
        token = self._fetch(uri)
        trust_list = self._trust.trust_list()
        if token is None or trust_list is None:
            return None
        cached = self._cache.get(uri)
        if cached is not None and cached[0] == token and cached[1] is trust_list:
            return cached[2]
        try:
            snapshot = read_status_snapshot(token, trust_list, uri=uri)
        except errors.CredentialError:
            return None
        with self._lock:
            self._cache[uri] = (token, trust_list, snapshot)
        return snapshot
