"""Wallet services: the citizen's licences, fresh presentations and the checks log.

Every look-up is by the citizen's blind index: another citizen's licence is indistinguishable
from one that does not exist.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from credential import (
    LicenceStatus,
    encode_presentation_qr,
    encode_static_qr,
    parse_licence_identifier,
    read_credential,
    sign_holder_proof,
)
from credential.errors import InvalidLicenceIdentifier
from keys import KeyStoreError
from registry.audit import append_audit
from registry.holder_keys import HolderKeyBox, load_holder_signer
from registry.models import LICENCE_WITH_LINKS, Licence, VerificationCheck
from registry.openid4vci import (
    PRE_AUTHORIZED_GRANT,
    TX_CODE_LENGTH,
    NewOffer,
    credential_configuration_id,
    store_credential_offer,
)

from . import schemas
from .errors import (
    HolderKeyMissing,
    LicenceExpired,
    LicenceNotFound,
    LicenceRevoked,
    LicenceSuspended,
)
from .qr import qr_version, render_png

OFFER_SCHEME = "openid-credential-offer://"
_TX_CODE_PROMPT = "电子证照钱包显示的6位数字 / The 6 digits your e-licence wallet shows"


def utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def current_status(licence: Licence, *, now: dt.datetime) -> schemas.ShownStatus:
    """The status a citizen sees: revocation/suspension first, then the validity period."""
    if licence.status == LicenceStatus.REVOKED:
        return "revoked"
    if licence.status == LicenceStatus.SUSPENDED:
        return "suspended"
    if utc(licence.valid_until) <= now:
        return "expired"
    if utc(licence.valid_from) > now:
        return "not_yet_valid"
    return "valid"


# A list shows summaries: the credential, the ciphertext and the JSON columns stay in the database
# (reading one later raises rather than loading it row by row).
_SUMMARY_ONLY = tuple(
    defer(column, raiseload=True)
    for column in (Licence.credential, Licence.id_ciphertext, Licence.fields, Licence.categories)
)


def list_licences(
    *, session: Session, id_index: str, identifier: str | None = None
) -> Sequence[Licence]:
    """Every licence issued to the citizen, any department, newest first; with
    ``identifier``, only the licence with that identifier (GB/T 36904).

    Raises ``InvalidLicenceIdentifier`` (its message ends with the wrong segment's name)."""
    statement = select(Licence).where(Licence.id_index == id_index)
    if identifier is not None:
        try:
            parsed = parse_licence_identifier(identifier)
        except InvalidLicenceIdentifier as exc:
            raise InvalidLicenceIdentifier(exc.reason, f"{exc.detail} ({exc.reason})") from None
        statement = statement.where(Licence.identifier == str(parsed))
    return session.scalars(
        statement.options(
            *LICENCE_WITH_LINKS,
            *_SUMMARY_ONLY,
        ).order_by(Licence.issued_at.desc(), Licence.id)
    ).all()


def get_licence(*, session: Session, id_index: str, licence_id: str) -> Licence:
    """The citizen's licence. Raises ``LicenceNotFound`` for a missing or someone else's id."""
    licence = session.scalars(
        select(Licence).where(Licence.id == licence_id, Licence.id_index == id_index)
    ).first()
    if licence is None:
        raise LicenceNotFound()
    return licence


def summary(licence: Licence, *, now: dt.datetime) -> schemas.LicenceSummary:
    """What the list shows of a licence (no ID number)."""
    status = current_status(licence, now=now)
    return schemas.LicenceSummary(
        id=licence.id,
        type_code=licence.licence_type.code,
        type_name=licence.licence_type.name,
        department_code=licence.department.code,
        department_name=licence.department.name,
        number=licence.number,
        identifier=licence.identifier,
        valid_from=utc(licence.valid_from),
        valid_until=utc(licence.valid_until),
        status=status,
        status_reason=licence.status_reason if status in ("revoked", "suspended") else None,
    )


def detail(licence: Licence, *, id_number: str, now: dt.datetime) -> schemas.LicenceDetail:
    """The full licence, for its holder only (the one response with the full ID number)."""
    claims = read_credential(licence.credential).claims
    return schemas.LicenceDetail(
        **summary(licence, now=now).model_dump(),
        holder_name=licence.holder_name,
        id_number=id_number,
        masked_id=claims.licence.masked_id,
        categories=[str(c) for c in licence.categories],
        fields=dict(licence.fields),
        field_labels={
            spec["name"]: spec["label"] for spec in licence.licence_type.fields if spec.get("label")
        },
        issued_at=utc(licence.issued_at),
        issuer=claims.issuer,
        credential_id=claims.credential_id.hex(),
    )


def _ensure_usable(licence: Licence, *, now: dt.datetime) -> None:
    status = current_status(licence, now=now)
    reason = f": {licence.status_reason}" if licence.status_reason else ""
    if status == "revoked":
        raise LicenceRevoked(f"this licence has been revoked{reason}")
    if status == "suspended":
        raise LicenceSuspended(f"this licence is suspended{reason}")
    if status == "expired":
        raise LicenceExpired()


def presentation(
    *,
    session: Session,
    box: HolderKeyBox,
    licence: Licence,
    now: dt.datetime,
    ttl: int,
    challenge: str | None = None,
) -> schemas.Presentation:
    """A fresh presentation: the credential plus a holder proof signed now.

    Raises ``LicenceRevoked``, ``LicenceSuspended``, ``LicenceExpired`` (409) or
    ``HolderKeyMissing``.
    """
    _ensure_usable(licence, now=now)
    try:
        holder = load_holder_signer(session=session, box=box, id_index=licence.id_index)
    except KeyStoreError as exc:
        raise HolderKeyMissing() from exc
    presented_at = int(now.timestamp())
    proof = sign_holder_proof(
        licence.credential, holder, presented_at=presented_at, challenge=challenge
    )
    payload = encode_presentation_qr(licence.credential, proof)
    return schemas.Presentation(
        licence_id=licence.id,
        mode="presentation",
        payload=payload,
        qr_version=qr_version(payload),
        presented_at=presented_at,
        expires_at=presented_at + ttl,
        challenge=challenge,
    )


def static_copy(licence: Licence, *, now: dt.datetime) -> schemas.Presentation:
    """The printable static copy (credential alone). Raises like ``presentation``."""
    _ensure_usable(licence, now=now)
    payload = encode_static_qr(licence.credential)
    return schemas.Presentation(
        licence_id=licence.id,
        mode="static",
        payload=payload,
        qr_version=qr_version(payload),
    )


def list_checks(*, session: Session, licence: Licence) -> Sequence[VerificationCheck]:
    """Online verifications recorded for the licence, newest first."""
    return session.scalars(
        select(VerificationCheck)
        .where(VerificationCheck.licence_id == licence.id)
        .order_by(VerificationCheck.checked_at.desc(), VerificationCheck.id.desc())
    ).all()


def make_credential_offer(*, session: Session, licence_id: str, now: dt.datetime) -> NewOffer:
    """Store a credential offer of the citizen's licence and audit it (the caller's write
    transaction). Raises ``LicenceRevoked``, ``LicenceSuspended``, ``LicenceExpired`` (409) or
    ``LicenceNotFound``."""
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise LicenceNotFound()
    _ensure_usable(licence, now=now)
    configuration_id = credential_configuration_id(
        licence.department.code, licence.licence_type.code
    )
    offer = store_credential_offer(
        session=session, licence_id=licence.id, configuration_id=configuration_id, now=now
    )
    append_audit(
        session,
        actor="holder",
        act="licence.credential_offer",
        object_type="licence",
        object_id=licence.id,
        detail={"credential_configuration_id": configuration_id},
    )
    return offer


def credential_offer_read(
    offer: NewOffer, *, licence_id: str, credential_issuer: str
) -> schemas.CredentialOfferRead:
    """The answer to the citizen: the offer URI by value (OpenID4VCI 1.0 section 4.1), its QR
    code and the transaction code."""
    body = {
        "credential_issuer": credential_issuer,
        "credential_configuration_ids": [offer.credential_configuration_id],
        "grants": {
            PRE_AUTHORIZED_GRANT: {
                "pre-authorized_code": offer.pre_authorized_code,
                "tx_code": {
                    "input_mode": "numeric",
                    "length": TX_CODE_LENGTH,
                    "description": _TX_CODE_PROMPT,
                },
            }
        },
    }
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    uri = f"{OFFER_SCHEME}?credential_offer={quote(text, safe='')}"
    png = base64.b64encode(render_png(uri)).decode("ascii")
    return schemas.CredentialOfferRead(
        licence_id=licence_id,
        credential_configuration_id=offer.credential_configuration_id,
        credential_offer_uri=uri,
        qr_png=f"data:image/png;base64,{png}",
        tx_code=offer.tx_code,
        expires_at=offer.expires_at,
    )
