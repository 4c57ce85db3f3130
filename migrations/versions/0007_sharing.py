"""Sharing (授权用证): relying parties and their API keys, purposes, use requests, consents, the
access log and one-time show tokens; ``verification_checks`` names the relying party and purpose
of a check.

Existing check rows keep both new columns null: their verifier names were typed by whoever
called ``POST /verify``, and nothing says which registered party, if any, that was.

Revision ID: 0007
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The vocabularies as they are at this revision (registry.models).
_KINDS = "'department', 'bank', 'employer', 'other'"
_CONSENT_KINDS = "'one_time', 'standing'"
_REQUEST_STATES = "'pending', 'approved', 'refused'"


def _when(name: str, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "relying_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        _when("created_at"),
        sa.CheckConstraint(f"kind IN ({_KINDS})", name=op.f("ck_relying_parties_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relying_parties")),
        sa.UniqueConstraint("code", name=op.f("uq_relying_parties_code")),
    )
    op.create_table(
        "relying_party_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("relying_party_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("revoked_at", nullable=True),
        _fk("relying_party_id", "relying_party_api_keys", "relying_parties"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relying_party_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_relying_party_api_keys_prefix")),
    )
    op.create_index(
        op.f("ix_relying_party_api_keys_relying_party_id"),
        "relying_party_api_keys",
        ["relying_party_id"],
    )
    op.create_table(
        "sharing_purposes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("relying_party_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("text_zh", sa.String(length=500), nullable=False),
        sa.Column("text_en", sa.String(length=500), nullable=False),
        sa.Column("licence_types", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("max_days", sa.Integer(), nullable=False),
        _when("created_at"),
        _fk("relying_party_id", "sharing_purposes", "relying_parties"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_purposes")),
        sa.UniqueConstraint(
            "relying_party_id", "code", name=op.f("uq_sharing_purposes_relying_party_id_code")
        ),
    )
    op.create_index(
        op.f("ix_sharing_purposes_relying_party_id"), "sharing_purposes", ["relying_party_id"]
    )
    op.create_table(
        "use_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("relying_party_id", sa.Integer(), nullable=False),
        sa.Column("purpose_id", sa.Integer(), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=False),
        sa.Column("licence_types", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _when("until"),
        sa.Column("state", sa.String(length=16), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        _when("answered_at", nullable=True),
        sa.CheckConstraint(f"kind IN ({_CONSENT_KINDS})", name=op.f("ck_use_requests_kind")),
        sa.CheckConstraint(f"state IN ({_REQUEST_STATES})", name=op.f("ck_use_requests_state")),
        _fk("relying_party_id", "use_requests", "relying_parties"),
        _fk("purpose_id", "use_requests", "sharing_purposes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_use_requests")),
    )
    op.create_index(op.f("ix_use_requests_relying_party_id"), "use_requests", ["relying_party_id"])
    op.create_index(op.f("ix_use_requests_id_index"), "use_requests", ["id_index"])
    op.create_table(
        "consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("relying_party_id", sa.Integer(), nullable=False),
        sa.Column("purpose_id", sa.Integer(), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=False),
        sa.Column("licence_types", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("licence_id", sa.String(length=36), nullable=True),
        _when("granted_at"),
        _when("valid_until"),
        _when("used_at", nullable=True),
        _when("revoked_at", nullable=True),
        sa.CheckConstraint(f"kind IN ({_CONSENT_KINDS})", name=op.f("ck_consents_kind")),
        _fk("request_id", "consents", "use_requests"),
        _fk("licence_id", "consents", "licences"),
        _fk("relying_party_id", "consents", "relying_parties"),
        _fk("purpose_id", "consents", "sharing_purposes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        sa.UniqueConstraint("request_id", name=op.f("uq_consents_request_id")),
    )
    op.create_index(op.f("ix_consents_relying_party_id"), "consents", ["relying_party_id"])
    op.create_index(op.f("ix_consents_id_index"), "consents", ["id_index"])
    op.create_table(
        "sharing_accesses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("relying_party_id", sa.Integer(), nullable=False),
        sa.Column("purpose_id", sa.Integer(), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("licence_ids", sa.JSON(), nullable=False),
        _when("accessed_at"),
        _fk("consent_id", "sharing_accesses", "consents"),
        _fk("relying_party_id", "sharing_accesses", "relying_parties"),
        _fk("purpose_id", "sharing_accesses", "sharing_purposes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_accesses")),
    )
    op.create_index(op.f("ix_sharing_accesses_consent_id"), "sharing_accesses", ["consent_id"])
    op.create_index(op.f("ix_sharing_accesses_id_index"), "sharing_accesses", ["id_index"])
    op.create_table(
        "show_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=False),
        sa.Column("licence_id", sa.String(length=36), nullable=False),
        sa.Column("relying_party_id", sa.Integer(), nullable=True),
        sa.Column("purpose_id", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("expires_at"),
        _when("redeemed_at", nullable=True),
        sa.Column("consent_id", sa.String(length=36), nullable=True),
        _fk("licence_id", "show_tokens", "licences"),
        _fk("relying_party_id", "show_tokens", "relying_parties"),
        _fk("purpose_id", "show_tokens", "sharing_purposes"),
        _fk("consent_id", "show_tokens", "consents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_show_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_show_tokens_token_hash")),
    )
    op.create_index(op.f("ix_show_tokens_id_index"), "show_tokens", ["id_index"])
    # Nullable columns with their references, added in place (SQLite's ADD COLUMN takes an
    # inline REFERENCES; a batch copy of the table is not needed).
    for column, target in _CHECK_COLUMNS:
        name = f"fk_verification_checks_{column}_{target}"
        if op.get_bind().dialect.name == "sqlite":
            op.execute(
                f"ALTER TABLE verification_checks ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {name} REFERENCES {target} (id)"
            )
        else:
            op.add_column("verification_checks", sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(name, "verification_checks", target, [column], ["id"])


_CHECK_COLUMNS = (("relying_party_id", "relying_parties"), ("purpose_id", "sharing_purposes"))


def downgrade() -> None:
    for column, target in reversed(_CHECK_COLUMNS):
        if op.get_bind().dialect.name != "sqlite":
            name = f"fk_verification_checks_{column}_{target}"
            op.drop_constraint(name, "verification_checks", type_="foreignkey")
        # SQLite (3.35+) drops a column that no index or constraint of its own names in place.
        op.drop_column("verification_checks", column)
    for table in (
        "show_tokens",
        "sharing_accesses",
        "consents",
        "use_requests",
        "sharing_purposes",
        "relying_party_api_keys",
        "relying_parties",
    ):
        op.drop_table(table)
