"""The trust list: every department, its keys (with validity windows and states), licence types
and status lists, signed by the platform root key. Re-signed when its content changes or half its
``ttl`` has passed."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credential import b64url, jwk_thumbprint, jwk_to_public_key, sign_trust_list
from registry.errors import ServiceError
from registry.models import Department, LicenceType, SigningKey, StatusList
from registry.signing_keys import root_signing_key

from ..runtime import IssuerRuntime, SignedDocument

# Verifiers may work offline on a trust list this long; ``ttl`` says when to refetch.
TOKEN_LIFETIME = 7 * 24 * 3600
_CACHE_KEY = "trust-list"


@dataclass(frozen=True, slots=True)
class ServedTrustList:
    token: str
    etag: str
    ttl: int


def _epoch(value: Any) -> int | None:
    return None if value is None else int(value.timestamp())


def trust_list_content(*, session: Session) -> list[dict[str, Any]]:
    """The ``departments`` member of the trust list, from the registry."""
    departments = session.scalars(select(Department).order_by(Department.code)).all()
    types: dict[int, list[LicenceType]] = {}
    for licence_type in session.scalars(select(LicenceType).order_by(LicenceType.code)):
        types.setdefault(licence_type.department_id, []).append(licence_type)
    lists: dict[int, list[int]] = {}
    for list_id, department_id in session.execute(
        select(StatusList.id, StatusList.department_id).order_by(StatusList.id)
    ):
        lists.setdefault(department_id, []).append(list_id)
    keys: dict[int, list[SigningKey]] = {}
    for key in session.scalars(
        select(SigningKey).where(SigningKey.department_id.is_not(None)).order_by(SigningKey.id)
    ):
        assert key.department_id is not None
        keys.setdefault(key.department_id, []).append(key)
    content = []
    for department in departments:
        type_codes = [t.code for t in types.get(department.id, [])]
        entry: dict[str, Any] = {"code": department.code, "name": department.name}
        if department.credit_code is not None:  # the issuer code of its licence identifiers
            entry["credit_code"] = department.credit_code
        if department.jurisdiction_code is not None:  # the issuer code of older identifiers
            entry["division_code"] = department.jurisdiction_code
        content.append(
            {
                **entry,
                "licence_types": [_licence_type_entry(t) for t in types.get(department.id, [])],
                "status_lists": [str(i) for i in lists.get(department.id, [])],
                "keys": [
                    {
                        "kid": key.kid,
                        "alg": key.alg,
                        "jwk": key.public_jwk,
                        "not_before": _epoch(key.not_before),
                        "not_after": _epoch(key.not_after),
                        "state": key.state,
                        "licence_types": (
                            list(key.allowed_types) if key.allowed_types is not None else type_codes
                        ),
                    }
                    for key in keys.get(department.id, [])
                ],
            }
        )
    return content


def _licence_type_entry(licence_type: LicenceType) -> dict[str, Any]:
    entry = {"code": licence_type.code, "name": licence_type.name}
    if licence_type.catalogue_code is not None:  # the type code of its licence identifiers
        entry["catalogue_code"] = licence_type.catalogue_code
    return entry


def _root(session: Session) -> SigningKey:
    root = root_signing_key(session)
    if root is None:
        raise ServiceError("no platform root key: run `elicence init`")
    return root


def trust_list_token(
    *, session: Session, runtime: IssuerRuntime, now: int | None = None
) -> ServedTrustList:
    """The signed ``trustlist+jwt``, from cache while its content is unchanged."""
    root = _root(session)
    content = trust_list_content(session=session)
    fingerprint = hashlib.sha256(
        json.dumps([root.kid, content], sort_keys=True).encode()
    ).hexdigest()[:32]
    etag = f'W/"tl-{fingerprint}"'
    ttl = runtime.settings.status_list_ttl
    now = int(time.time()) if now is None else now
    cached = runtime.documents.get(_CACHE_KEY)
    if cached is not None and cached.fingerprint == etag and now - cached.issued_at < ttl // 2:
        return ServedTrustList(cached.token, etag, ttl)
    payload = {
        "iss": "elicence-platform",
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "ttl": ttl,
        "departments": content,
    }
    token = sign_trust_list(payload, runtime.signer(root))
    runtime.documents[_CACHE_KEY] = SignedDocument(etag, token, now)
    return ServedTrustList(token, etag, ttl)


def root_public_key(*, session: Session) -> dict[str, Any]:
    """The platform root public key for verifiers to pin: kid, JWK and RFC 7638 thumbprint."""
    root = _root(session)
    return {
        "kid": root.kid,
        "alg": root.alg,
        "jwk": root.public_jwk,
        "thumbprint": b64url(jwk_thumbprint(jwk_to_public_key(root.public_jwk))),
    }
