"""The trust bundle: a pinned root key, the trust list and the status lists it names, on disk, so
a counter verifies with no network.

Layout of a bundle directory::

    root-key.jwk            the pinned platform root key (written by the first sync, then reused)
    current -> v-<...>/     symlink to the last good sync, swapped atomically
    v-<...>/trust-list.jwt
    v-<...>/status-lists/<uri>.jwt
    v-<...>/bundle.json     source URL, credential issuer URL, sync time, root thumbprint,
                            status list ids

A sync fetches and checks everything into a new ``v-`` directory and only then repoints
``current``; any refusal (bad signature, another root, an older trust list than the one held)
leaves the old bundle in place.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from credential import (
    PublicKey,
    TrustList,
    b64url,
    errors,
    jwk_thumbprint,
    jwk_to_public_key,
    public_key_to_jwk,
    read_status_list_token,
    read_trust_list,
)

from ._sources import FixedTrust, StatusSnapshot, TokenStatusSource, read_status_snapshot

ROOT_KEY_FILE = "root-key.jwk"
CURRENT_LINK = "current"
TRUST_LIST_FILE = "trust-list.jwt"
STATUS_DIR = "status-lists"
MANIFEST_FILE = "bundle.json"
_URI_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FETCH_TIMEOUT = 15.0
_MAX_DOCUMENT_BYTES = 8 * 1024 * 1024


class BundleError(Exception):
    """A bundle cannot be used or a sync was refused. ``code`` is short and machine readable."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(detail)


def root_thumbprint(root_key: PublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url: what an operator pins with ``--root-thumbprint``."""
    return b64url(jwk_thumbprint(root_key))


def load_root_key(data: str | bytes) -> PublicKey:
    """A root public key from JWK JSON (a bare JWK or an object with a ``jwk`` member).

    Raises ``BundleError`` (code ``bad_root_key``).
    """
    try:
        obj = json.loads(data)
        jwk = obj.get("jwk", obj) if isinstance(obj, dict) else obj
        return jwk_to_public_key(jwk)
    except (ValueError, errors.CredentialError) as exc:
        raise BundleError("bad_root_key", f"not a public JWK: {exc}") from None


@dataclass(frozen=True, slots=True)
class Bundle:
    """A loaded bundle: verified trust list plus status-list tokens checked lazily, once each."""

    path: Path
    root_key: PublicKey
    trust_list: TrustList
    trust_list_token: str
    status_tokens: dict[str, str]
    manifest: dict[str, Any]
    trust: FixedTrust
    status: TokenStatusSource

    @property
    def credential_issuer(self) -> str:
        """The base URL of the registry the bundle was synced from as its SD-JWT VCs name it
        (``iss``, and the origin of their status list URIs): ``--credential-issuer`` of the
        sync, by default its ``--from`` URL."""
        issuer = self.manifest.get("credential_issuer", self.manifest.get("source", ""))
        return str(issuer)

    @classmethod
    def load(cls, path: Path | str) -> Bundle:
        """Load and check a synced bundle.

        Raises ``BundleError`` (``no_bundle``, ``bad_bundle``).
        """
        path = Path(path)
        root_file, current = path / ROOT_KEY_FILE, path / CURRENT_LINK
        if not root_file.is_file() or not current.is_dir():
            raise BundleError(
                "no_bundle", f"no verifier bundle at {path}: run `elicence verifier sync`"
            )
        root_key = load_root_key(root_file.read_bytes())
        try:
            token = (current / TRUST_LIST_FILE).read_text("ascii")
            trust_list = read_trust_list(token, root_key)
            manifest = json.loads((current / MANIFEST_FILE).read_text("utf-8"))
            status_tokens = {
                uri: (current / STATUS_DIR / f"{uri}.jwt").read_text("ascii")
                for uri in manifest["status_lists"]
            }
        except (OSError, ValueError, KeyError, TypeError, errors.CredentialError) as exc:
            raise BundleError("bad_bundle", f"the bundle at {path} is damaged: {exc}") from None
        trust = FixedTrust(trust_list)
        return cls(
            path=path,
            root_key=root_key,
            trust_list=trust_list,
            trust_list_token=token,
            status_tokens=status_tokens,
            manifest=manifest,
            trust=trust,
            status=TokenStatusSource(status_tokens.get, trust),
        )


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a successful sync stored."""

    path: Path
    root_thumbprint: str
    trust_list_issued_at: int
    departments: int
    keys: int
    status_lists: tuple[str, ...]


def _fetch(client: httpx.Client, url: str) -> str:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise BundleError("fetch_failed", f"cannot fetch {url}: {exc}") from None
    if response.status_code != 200:
        raise BundleError("fetch_failed", f"{url} answered HTTP {response.status_code}")
    if len(response.content) > _MAX_DOCUMENT_BYTES:
        raise BundleError("fetch_failed", f"{url} is larger than any genuine document")
    return response.text.strip()


def _pinned_root(
    bundle_dir: Path,
    client: httpx.Client,
    base: str,
    root_key: PublicKey | None,
    thumbprint: str | None,
) -> tuple[PublicKey, bool]:
    pinned_file = bundle_dir / ROOT_KEY_FILE
    if pinned_file.is_file():
        pinned = load_root_key(pinned_file.read_bytes())
        if root_key is not None and root_thumbprint(root_key) != root_thumbprint(pinned):
            raise BundleError("root_mismatch", "the bundle is pinned to another root key")
        if thumbprint is not None and thumbprint != root_thumbprint(pinned):
            raise BundleError("root_mismatch", "the bundle is pinned to another root key")
        return pinned, False
    if root_key is not None:
        return root_key, True
    if thumbprint is None:
        raise BundleError(
            "root_key_required", "first sync: give --root-key FILE or --root-thumbprint T"
        )
    fetched = load_root_key(_fetch(client, f"{base}/root-key"))
    if root_thumbprint(fetched) != thumbprint:
        raise BundleError(
            "root_mismatch", "the served root key does not match the pinned thumbprint"
        )
    return fetched, True


def _previous(bundle_dir: Path) -> Bundle | None:
    try:
        return Bundle.load(bundle_dir)
    except BundleError:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def sync_bundle(
    *,
    source: str,
    bundle_dir: Path | str,
    root_key: PublicKey | None = None,
    root_thumbprint_text: str | None = None,
    client: httpx.Client | None = None,
    now: Callable[[], float] = time.time,
    credential_issuer: str | None = None,
) -> SyncReport:
    """Fetch the trust list and every status list it names from ``source``, check them against
    the pinned root key, and swap them into ``bundle_dir``.

    The first sync pins the root (``root_key``, or the key served at ``{source}/root-key`` when
    its thumbprint equals ``root_thumbprint_text``); later syncs reuse the pinned key.
    ``credential_issuer`` is the registry's public base URL when ``source`` is another address
    of it (a mirror, an internal name): SD-JWT VCs are trusted only with that ``iss``. Raises
    ``BundleError``; on any error the previous bundle stays in place.
    """
    base = source.rstrip("/")
    bundle_dir = Path(bundle_dir)
    own_client = client is None
    http = client or httpx.Client(timeout=_FETCH_TIMEOUT)
    try:
        root, first = _pinned_root(bundle_dir, http, base, root_key, root_thumbprint_text)
        token = _fetch(http, f"{base}/trust-list")
        try:
            trust_list = read_trust_list(token, root)
        except errors.CredentialError as exc:
            raise BundleError(
                "trust_list_refused", f"trust list refused ({exc.code}): {exc.detail}"
            ) from None
        previous = _previous(bundle_dir)
        if previous is not None and trust_list.issued_at < previous.trust_list.issued_at:
            raise BundleError(
                "trust_list_rollback", "the served trust list is older than the one held"
            )
        statuses: dict[str, str] = {}
        for department in trust_list.departments:
            for uri in department.status_lists:
                statuses[uri] = _fetch_status(http, base, uri, department.code, trust_list)
                _refuse_status_rollback(previous, uri, statuses[uri])
    finally:
        if own_client:
            http.close()
    issuer = base if credential_issuer is None else credential_issuer.rstrip("/")
    _store(bundle_dir, root if first else None, token, statuses, base, issuer, root, now)
    return SyncReport(
        path=bundle_dir,
        root_thumbprint=root_thumbprint(root),
        trust_list_issued_at=trust_list.issued_at,
        departments=len(trust_list.departments),
        keys=len(trust_list.keys),
        status_lists=tuple(statuses),
    )


def _fetch_status(
    http: httpx.Client, base: str, uri: str, department: str, trust_list: TrustList
) -> str:
    if not _URI_RE.fullmatch(uri):
        raise BundleError("status_list_refused", f"status list id {uri!r} is not a plain name")
    token = _fetch(http, f"{base}/status-lists/{uri}")
    try:
        snapshot: StatusSnapshot = read_status_snapshot(token, trust_list, uri=uri)
    except errors.CredentialError as exc:
        raise BundleError(
            "status_list_refused", f"status list {uri} refused ({exc.code}): {exc.detail}"
        ) from None
    if snapshot.department != department:
        raise BundleError(
            "status_list_refused", f"status list {uri} is not signed by department {department}"
        )
    return token


def _refuse_status_rollback(previous: Bundle | None, uri: str, token: str) -> None:
    old = previous.status_tokens.get(uri) if previous is not None else None
    if old is None:
        return
    try:
        old_iat = read_status_list_token(old).issued_at
    except errors.CredentialError:
        return
    if read_status_list_token(token).issued_at < old_iat:
        raise BundleError("status_list_rollback", f"status list {uri} is older than the one held")


def _store(
    bundle_dir: Path,
    new_root: PublicKey | None,
    trust_token: str,
    statuses: dict[str, str],
    source: str,
    credential_issuer: str,
    root: PublicKey,
    now: Callable[[], float],
) -> None:
    bundle_dir.mkdir(parents=True, exist_ok=True)
    version = bundle_dir / f"v-{time.time_ns()}-{secrets.token_hex(4)}"
    (version / STATUS_DIR).mkdir(parents=True)
    (version / TRUST_LIST_FILE).write_text(trust_token, "ascii")
    for uri, token in statuses.items():
        (version / STATUS_DIR / f"{uri}.jwt").write_text(token, "ascii")
    manifest = {
        "source": source,
        "credential_issuer": credential_issuer,
        "synced_at": int(now()),
        "root_thumbprint": root_thumbprint(root),
        "status_lists": list(statuses),
    }
    (version / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), "utf-8")
    if new_root is not None:
        _write_atomically(
            bundle_dir / ROOT_KEY_FILE, json.dumps(public_key_to_jwk(new_root)).encode()
        )
    link = bundle_dir / CURRENT_LINK
    tmp_link = bundle_dir / f".{CURRENT_LINK}.{secrets.token_hex(4)}"
    os.symlink(version.name, tmp_link)
    os.replace(tmp_link, link)  # atomic: readers see the old or the new bundle, never a mix
    for old in bundle_dir.glob("v-*"):
        if old.name != version.name:
            shutil.rmtree(old, ignore_errors=True)
