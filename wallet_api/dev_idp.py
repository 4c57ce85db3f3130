"""The built-in development identity provider: on only in development with ``ELICENCE_DEV_IDP=1``.

It signs ES256 tokens with a key kept in ``<data_dir>/dev-idp-key.json`` (mode 0600, created on
first use); ``elicence dev-token ID_NUMBER`` prints one and ``/wallet/dev/sign-in`` does the same in
the browser. The ID number travels in a POST body, never in a URL.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from credential import parse_id_number
from registry.settings import Settings

from .auth import StaticJwks, TokenVerifier
from .errors import DevIdpDisabled

DEV_ISSUER = "urn:elicence:dev-idp"
DEV_AUDIENCE = "elicence-wallet"
DEV_KEY_FILE = "dev-idp-key.json"
DEV_TOKEN_LIFETIME = 3600


def dev_idp_enabled(settings: Settings) -> bool:
    """True only with ``dev_idp`` on in development mode."""
    return bool(settings.dev_idp and settings.is_development)


def _key_path(settings: Settings) -> Path:
    return settings.data_dir / DEV_KEY_FILE


def load_or_create_dev_key(settings: Settings) -> ECKey:
    """The dev provider's signing key, created (0600) on first use. Raises ``DevIdpDisabled``."""
    if not dev_idp_enabled(settings):
        raise DevIdpDisabled()
    path = _key_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ECKey.generate_key("P-256", auto_kid=True)
        # Written whole to a file of its own, then linked into place: a worker starting beside
        # this one sees no file or a complete one, never an empty one.
        draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(key.as_dict(private=True), out)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    return ECKey.import_key(json.loads(path.read_text()))


def dev_token_verifier(settings: Settings) -> TokenVerifier:
    """A verifier for tokens the dev provider issues."""
    key = load_or_create_dev_key(settings)
    public = ECKey.import_key(key.as_dict(private=False))
    return TokenVerifier(
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        jwks=StaticJwks(KeySet([public])),
        id_claim=settings.idp_id_claim,
    )


def issue_dev_token(
    settings: Settings,
    id_number: str,
    *,
    lifetime: int = DEV_TOKEN_LIFETIME,
    now: int | None = None,
) -> str:
    """A signed dev token for ``id_number``.

    Raises ``DevIdpDisabled`` outside development and ``InvalidIdNumber`` for a bad number.
    """
    key = load_or_create_dev_key(settings)
    valid = parse_id_number(id_number)
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": secrets.token_hex(8),
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        settings.idp_id_claim: valid.value,
    }
    header = {"alg": "ES256", "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=["ES256"])
