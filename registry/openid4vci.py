"""OpenID4VCI state shared by the wallet (which makes credential offers) and the issuer (which
redeems them): how a pre-authorized code, its transaction code and an access token are kept
(SHA-256 digests only), the names of credential configurations, and making an offer.

A pre-authorized code and an access token are 256-bit random values, so a plain SHA-256 is
enough to keep them unusable from a copy of the database. The 6-digit transaction code is
digested together with its pre-authorized code: without the code (which only the offer URI
holds) the digest cannot be searched by trying the million transaction codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .models import CredentialOffer

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_LIFETIME = dt.timedelta(minutes=10)
TX_CODE_LENGTH = 6
# Wrong transaction codes an offer survives: 5 guesses of 10^6 leave a 1 in 200,000 chance.
MAX_TX_CODE_TRIES = 5


def secret_digest(secret: str) -> str:
    """The SHA-256 (hex) under which a pre-authorized code or access token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def tx_code_digest(pre_authorized_code: str, tx_code: str) -> str:
    """The digest of a transaction code, keyed by its pre-authorized code."""
    key = pre_authorized_code.encode("utf-8")
    return hmac.new(key, tx_code.encode("utf-8"), hashlib.sha256).hexdigest()


def credential_configuration_id(department_code: str, licence_type_code: str) -> str:
    """The credential configuration of a licence type in the issuer metadata and in offers:
    ``{department}.{type}``, stable as long as both codes are."""
    return f"{department_code}.{licence_type_code}"


@dataclass(frozen=True, slots=True)
class NewOffer:
    """A stored offer and the two secrets only the citizen sees, once."""

    pre_authorized_code: str
    tx_code: str
    credential_configuration_id: str
    expires_at: dt.datetime

    def __repr__(self) -> str:  # the secrets never reach a log
        return f"NewOffer({self.credential_configuration_id!r}, expires_at={self.expires_at})"


def store_credential_offer(
    *, session: Session, licence_id: str, configuration_id: str, now: dt.datetime
) -> NewOffer:
    """Store a fresh offer of licence ``licence_id`` (the caller's transaction commits it)."""
    code = secrets.token_urlsafe(32)
    tx_code = "".join(secrets.choice("0123456789") for _ in range(TX_CODE_LENGTH))
    expires_at = now + OFFER_LIFETIME
    session.add(
        CredentialOffer(
            code_digest=secret_digest(code),
            tx_code_digest=tx_code_digest(code, tx_code),
            licence_id=licence_id,
            credential_configuration_id=configuration_id,
            created_at=now,
            expires_at=expires_at,
            tries=0,
        )
    )
    session.flush()
    return NewOffer(code, tx_code, configuration_id, expires_at)
