"""ORM models of the e-licence library (SQLAlchemy 2, portable types for SQLite and PostgreSQL).

Conventions: timestamps are timezone-aware UTC (``UtcDateTime`` refuses naive values); JSON
columns are plain ``JSON`` (assign a new value to change one, in-place edits are not tracked);
citizen ID numbers appear only as ``id_index`` (blind index) and ``id_ciphertext``
(see ``registry.vault``). The schema is built by ``migrations/`` only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship

from credential import KeyState, LicenceStatus

E = TypeVar("E", bound=StrEnum)


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """``DateTime(timezone=True)`` that stores UTC and always returns aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        # SQLite has no time zone type: store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class EnumText(TypeDecorator[E], Generic[E]):
    """A ``StrEnum`` stored as its text value; rows read back as enum members. Pair it with
    ``allowed_values_check`` so the database refuses any other text too."""

    impl = String(16)
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> Any:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else self.enum(value)


def allowed_values_check(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """``CHECK (column IN (...))`` over the values of ``enum``, named ``ck_<table>_<column>``.
    (Migration 0002 puts it on PostgreSQL as this constraint, on SQLite as two triggers.)"""
    return CheckConstraint(f"{column} IN ({allowed_values(enum)})", name=column)


def allowed_values(enum: type[StrEnum]) -> str:
    """The values of ``enum`` as an SQL list: ``'valid', 'revoked', ...``."""
    return ", ".join(f"'{member.value}'" for member in enum)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        bytes: LargeBinary(),
    }


class Department(Base):
    """An issuing department (transport bureau, market regulator, ...).

    ``credit_code``: its unified social credit code (GB 32100), the issuer segment of its
    licence identifiers; ``jurisdiction_code``: the 6-digit administrative division code
    (GB/T 2260) of where it issues. Both null for departments made before migration 0004.
    """

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True, index=True)
    jurisdiction_code: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    licence_types: Mapped[list[LicenceType]] = relationship(back_populates="department")


class DepartmentApiKey(Base):
    """A department's API key: ``prefix`` is public, only the SHA-256 of the secret is stored."""

    __tablename__ = "department_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]

    department: Mapped[Department] = relationship()


# GB/T 36903 holder-code type of a citizen's resident identity number (公民身份号码).
HOLDER_CODE_ID_NUMBER = "111"


class LicenceType(Base):
    """A kind of licence a department issues.

    ``fields``: list of ``{"name", "label", "type": "text"|"int"|"date"|"choice", "required",
    "choices"}``; ``categories``: allowed categories, or null when the type has none.

    Catalogue metadata (GB/T 36902/36903 practice): ``catalogue_code`` is the 21-character
    licence type code of its identifiers (the defining body's credit code and a 3-digit
    serial), ``defining_body_name`` the body that defined the type (its credit code is the
    first 18 characters of ``catalogue_code``), ``holder_code_type`` the kind of holder code
    (``111``: 公民身份号码, the only holders this registry issues to). ``catalogue_code`` and
    ``defining_body_name`` are null for types made before migration 0004.
    """

    __tablename__ = "licence_types"
    __table_args__ = (UniqueConstraint("department_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[Any]] = mapped_column(default=list)
    categories: Mapped[list[Any] | None]
    default_validity_days: Mapped[int] = mapped_column(Integer, default=3650)
    catalogue_code: Mapped[str | None] = mapped_column(String(21))
    defining_body_name: Mapped[str | None] = mapped_column(String(200))
    holder_code_type: Mapped[str] = mapped_column(
        String(3), default=HOLDER_CODE_ID_NUMBER, server_default=HOLDER_CODE_ID_NUMBER
    )
    # A holder may hold at most one valid licence of this type (a driving licence), else many.
    single_valid: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    department: Mapped[Department] = relationship(back_populates="licence_types")


class SigningKey(Base):
    """A signing key; ``department_id`` null marks the platform root key (signs the trust list).

    The private key is PKCS#8 encrypted under the key-encryption subkey of the master key.
    ``allowed_types``: licence type codes this key may sign (null: all of its department's).
    """

    __tablename__ = "signing_keys"
    __table_args__ = (allowed_values_check("state", KeyState),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    kid: Mapped[str] = mapped_column(String(16), unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]]
    encrypted_private_key: Mapped[bytes]
    not_before: Mapped[dt.datetime]
    not_after: Mapped[dt.datetime | None]
    state: Mapped[KeyState] = mapped_column(EnumText(KeyState), default=KeyState.ACTIVE)
    allowed_types: Mapped[list[Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship()


class HolderKey(Base):
    """The citizen's holder key (bound into credentials as ``cnf``), kept by the wallet service."""

    __tablename__ = "holder_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_index: Mapped[str] = mapped_column(String(64), unique=True)
    encrypted_private_key: Mapped[bytes]
    public_cose_key: Mapped[bytes]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StatusList(Base):
    """A department's Token Status List (2 bits per entry); ``data`` is the raw bit array."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    bits: Mapped[int] = mapped_column(Integer, default=2)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes]
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _new_licence_id() -> str:
    return str(uuid.uuid4())


class Licence(Base):
    """An issued licence. (``status_list_id``, ``status_index``) is unique: the allocation.

    ``identifier``: its licence identifier (GB/T 36904), unique; null for licences issued
    before their department and type had catalogue codes (their credentials carry none).
    ``record_key``: for a licence imported in bulk (存量证照), the department's own number of it
    (from its older system or the paper licence), unique per licence type: an import lands each
    record once. ``number`` is always the registry's own.
    """

    __tablename__ = "licences"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index"),
        UniqueConstraint("department_id", "idempotency_key"),
        allowed_values_check("status", LicenceStatus),
        # A unique index rather than a constraint: SQLite adds it to an existing table in place.
        Index(None, "department_id", "licence_type_id", "record_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_licence_id)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    licence_type_id: Mapped[int] = mapped_column(ForeignKey("licence_types.id"), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    identifier: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    id_index: Mapped[str] = mapped_column(String(64), index=True)
    id_ciphertext: Mapped[bytes]
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    valid_from: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime]
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[LicenceStatus] = mapped_column(
        EnumText(LicenceStatus), default=LicenceStatus.VALID
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_list_id: Mapped[int] = mapped_column(ForeignKey("status_lists.id"))
    status_index: Mapped[int] = mapped_column(Integer)
    credential: Mapped[bytes]
    kid: Mapped[str] = mapped_column(String(16))
    replaces_id: Mapped[str | None] = mapped_column(ForeignKey("licences.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    record_key: Mapped[str | None] = mapped_column(String(64))

    department: Mapped[Department] = relationship()
    licence_type: Mapped[LicenceType] = relationship()
    status_list: Mapped[StatusList] = relationship()


# Load options: a licence with its department and type in the same statement (an answer about
# a licence names both; loading them lazily was one statement each per licence).
LICENCE_WITH_LINKS = (
    joinedload(Licence.department, innerjoin=True),
    joinedload(Licence.licence_type, innerjoin=True),
)


class ImportJobState(StrEnum):
    """Where an import uploaded over HTTP stands: ``queued`` (accepted, waiting for its turn),
    ``running`` (also after a crash, until a start-up resumes it), ``done`` or ``failed``."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class UploadedImport(Base):
    """A bulk import uploaded over HTTP (``POST /issuer/imports``), run in the background.

    The upload lies in the data directory until the import ends. Each committed batch moves
    ``lines_done`` (the file's last line of that batch), the counts and ``rejects_bytes`` (the
    rejects file's length then) in the same transaction as its licences, so a run after a crash
    goes on from exactly there. ``run_rows``: ``rows_done`` when the current run started (rows
    per second are counted over the current run).
    """

    __tablename__ = "import_jobs"
    __table_args__ = (allowed_values_check("state", ImportJobState),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    licence_type_id: Mapped[int] = mapped_column(ForeignKey("licence_types.id"))
    actor: Mapped[str] = mapped_column(String(200))
    state: Mapped[ImportJobState] = mapped_column(
        EnumText(ImportJobState), default=ImportJobState.QUEUED
    )
    format: Mapped[str] = mapped_column(String(8))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_bytes: Mapped[int] = mapped_column(BigInteger)
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    batch_size: Mapped[int] = mapped_column(Integer)
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    run_rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    already_present: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    reject_reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rejects_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class VerificationCheck(Base):
    """One check of a licence by a verifier (the citizen's "who checked my licence" log).

    Since migration 0007 a check is recorded only for an authenticated relying party naming one
    of its purposes: ``relying_party_id`` and ``purpose_id`` say which, ``verifier_name`` and
    ``purpose`` keep their registered name and purpose text as they were then. Rows from before
    have both ids null (their names were typed by the caller)."""

    __tablename__ = "verification_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    licence_id: Mapped[str] = mapped_column(ForeignKey("licences.id"), index=True)
    verifier_name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(200))
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(64))
    relying_party_id: Mapped[int | None] = mapped_column(ForeignKey("relying_parties.id"))
    purpose_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_purposes.id"))


# --- sharing (授权用证): relying parties, purposes, use requests, consents, the access log


class RelyingPartyKind(StrEnum):
    """What kind of body a relying party is."""

    DEPARTMENT = "department"
    BANK = "bank"
    EMPLOYER = "employer"
    OTHER = "other"


class ConsentKind(StrEnum):
    """One-time (one fetch) or standing (fetches until its end or its revocation)."""

    ONE_TIME = "one_time"
    STANDING = "standing"


class UseRequestState(StrEnum):
    """A use request as stored: waiting for the citizen, approved or refused. (A pending
    request past its ``expires_at`` is shown as ``expired``: see ``sharing.service``.)"""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class RelyingParty(Base):
    """A body that uses citizens' licence data with their consent (授权用证): another department,
    a bank, an employer."""

    __tablename__ = "relying_parties"
    __table_args__ = (allowed_values_check("kind", RelyingPartyKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[RelyingPartyKind] = mapped_column(EnumText(RelyingPartyKind))
    contact: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RelyingPartyApiKey(Base):
    """A relying party's API key (``erp_<prefix>_<secret>``): only the secret's SHA-256 kept."""

    __tablename__ = "relying_party_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    relying_party_id: Mapped[int] = mapped_column(ForeignKey("relying_parties.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class SharingPurpose(Base):
    """A registered purpose (用证事由) of one relying party: what it may ask for and for how long.

    ``licence_types``: ``"DEPARTMENT/TYPE"`` codes; ``fields``: the licence fields it may ask
    for (see ``sharing.fields``); ``max_days``: the longest consent it may ask for."""

    __tablename__ = "sharing_purposes"
    __table_args__ = (UniqueConstraint("relying_party_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    relying_party_id: Mapped[int] = mapped_column(ForeignKey("relying_parties.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    text_zh: Mapped[str] = mapped_column(String(500))
    text_en: Mapped[str] = mapped_column(String(500))
    licence_types: Mapped[list[Any]]
    fields: Mapped[list[Any]]
    max_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    relying_party: Mapped[RelyingParty] = relationship()


def _new_uuid() -> str:
    return str(uuid.uuid4())


class UseRequest(Base):
    """A relying party's request to use a citizen's licence data (the citizen by blind index
    only). Answered by the citizen before ``expires_at``, or it expires."""

    __tablename__ = "use_requests"
    __table_args__ = (
        allowed_values_check("kind", ConsentKind),
        allowed_values_check("state", UseRequestState),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    relying_party_id: Mapped[int] = mapped_column(ForeignKey("relying_parties.id"), index=True)
    purpose_id: Mapped[int] = mapped_column(ForeignKey("sharing_purposes.id"))
    id_index: Mapped[str] = mapped_column(String(64), index=True)
    licence_types: Mapped[list[Any]]
    fields: Mapped[list[Any]]
    kind: Mapped[ConsentKind] = mapped_column(EnumText(ConsentKind))
    until: Mapped[dt.datetime]
    state: Mapped[UseRequestState] = mapped_column(
        EnumText(UseRequestState), default=UseRequestState.PENDING
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]

    relying_party: Mapped[RelyingParty] = relationship()
    purpose: Mapped[SharingPurpose] = relationship()


class Consent(Base):
    """A citizen's consent (授权) from an approved use request: what the party may fetch, until
    when. One-time: one fetch (``used_at``); standing: until ``valid_until`` or ``revoked_at``.
    ``licence_types``/``fields``/``kind`` are copied from the approved request."""

    __tablename__ = "consents"
    __table_args__ = (allowed_values_check("kind", ConsentKind),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    request_id: Mapped[str] = mapped_column(ForeignKey("use_requests.id"), unique=True)
    relying_party_id: Mapped[int] = mapped_column(ForeignKey("relying_parties.id"), index=True)
    purpose_id: Mapped[int] = mapped_column(ForeignKey("sharing_purposes.id"))
    id_index: Mapped[str] = mapped_column(String(64), index=True)
    licence_types: Mapped[list[Any]]
    fields: Mapped[list[Any]]
    kind: Mapped[ConsentKind] = mapped_column(EnumText(ConsentKind))
    # Set when the consent covers one licence only (one shown at a counter, ``ShowToken``).
    licence_id: Mapped[str | None] = mapped_column(ForeignKey("licences.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    relying_party: Mapped[RelyingParty] = relationship()
    purpose: Mapped[SharingPurpose] = relationship()


class SharingAccess(Base):
    """One fetch of a citizen's data under a consent (the citizen's access log): which fields of
    which licences went to whom."""

    __tablename__ = "sharing_accesses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    relying_party_id: Mapped[int] = mapped_column(ForeignKey("relying_parties.id"))
    purpose_id: Mapped[int] = mapped_column(ForeignKey("sharing_purposes.id"))
    id_index: Mapped[str] = mapped_column(String(64), index=True)
    fields: Mapped[list[Any]]
    licence_ids: Mapped[list[Any]]
    accessed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One administrative act, hash-chained to the previous one (see ``registry.audit``)."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    act: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class CredentialOffer(Base):
    """An OpenID4VCI credential offer a citizen made for one of their licences (pre-authorized
    code flow). Only digests are kept: ``code_digest`` of the pre-authorized code,
    ``tx_code_digest`` of the transaction code bound to that code (``registry.openid4vci``).
    ``tries`` counts wrong transaction codes; ``redeemed_at`` is set when the code is exchanged
    (once)."""

    __tablename__ = "credential_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    tx_code_digest: Mapped[str] = mapped_column(String(64))
    licence_id: Mapped[str] = mapped_column(ForeignKey("licences.id"), index=True)
    credential_configuration_id: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    tries: Mapped[int] = mapped_column(Integer, default=0)
    redeemed_at: Mapped[dt.datetime | None]


class IssuanceToken(Base):
    """An access token of the OpenID4VCI credential endpoint (its SHA-256 only), from one
    redeemed offer; good for one credential until ``expires_at``."""

    __tablename__ = "issuance_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("credential_offers.id"), index=True)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class UsedNonce(Base):
    """A ``c_nonce`` a key proof has used (its SHA-256): a second proof with it is a replay.
    Rows past ``expires_at`` may be deleted: the nonce itself says it has expired."""

    __tablename__ = "used_nonces"

    nonce_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class ShowToken(Base):
    """A one-time authorisation (亮证授权) a citizen shows as a QR at a counter for one licence:
    bound to a relying party and purpose the citizen chose, or generic (both null) for the
    scanning party to claim. Redeemed once, before ``expires_at``, it becomes an approved
    one-time consent. Only the SHA-256 of the token is stored."""

    __tablename__ = "show_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_index: Mapped[str] = mapped_column(String(64), index=True)
    licence_id: Mapped[str] = mapped_column(ForeignKey("licences.id"))
    relying_party_id: Mapped[int | None] = mapped_column(ForeignKey("relying_parties.id"))
    purpose_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_purposes.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    redeemed_at: Mapped[dt.datetime | None]
    consent_id: Mapped[str | None] = mapped_column(ForeignKey("consents.id"))
