"""Initial schema: departments, keys, licence types, status lists, licences, checks, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:49:11.963297
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("act", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_entries_hash")),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "holder_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("public_cose_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holder_keys")),
        sa.UniqueConstraint("id_index", name=op.f("uq_holder_keys_id_index")),
    )
    op.create_table(
        "department_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_department_api_keys_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_department_api_keys_prefix")),
    )
    op.create_index(
        op.f("ix_department_api_keys_department_id"),
        "department_api_keys",
        ["department_id"],
        unique=False,
    )

    op.create_table(
        "licence_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=True),
        sa.Column("default_validity_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_licence_types_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_types")),
        sa.UniqueConstraint(
            "department_id", "code", name=op.f("uq_licence_types_department_id_code")
        ),
    )
    op.create_index(
        op.f("ix_licence_types_department_id"), "licence_types", ["department_id"], unique=False
    )

    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("allowed_types", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_signing_keys_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_signing_keys_kid")),
    )
    op.create_index(
        op.f("ix_signing_keys_department_id"), "signing_keys", ["department_id"], unique=False
    )

    op.create_table(
        "status_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_status_lists_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_lists")),
    )
    op.create_index(
        op.f("ix_status_lists_department_id"), "status_lists", ["department_id"], unique=False
    )

    op.create_table(
        "licences",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("licence_type_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=False),
        sa.Column("id_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_list_id", sa.Integer(), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("credential", sa.LargeBinary(), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("replaces_id", sa.String(length=36), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_licences_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["licence_type_id"],
            ["licence_types.id"],
            name=op.f("fk_licences_licence_type_id_licence_types"),
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["licences.id"], name=op.f("fk_licences_replaces_id_licences")
        ),
        sa.ForeignKeyConstraint(
            ["status_list_id"],
            ["status_lists.id"],
            name=op.f("fk_licences_status_list_id_status_lists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licences")),
        sa.UniqueConstraint(
            "department_id",
            "idempotency_key",
            name=op.f("uq_licences_department_id_idempotency_key"),
        ),
        sa.UniqueConstraint("number", name=op.f("uq_licences_number")),
        sa.UniqueConstraint(
            "status_list_id", "status_index", name=op.f("uq_licences_status_list_id_status_index")
        ),
    )
    op.create_index(op.f("ix_licences_department_id"), "licences", ["department_id"], unique=False)
    op.create_index(op.f("ix_licences_id_index"), "licences", ["id_index"], unique=False)
    op.create_index(
        op.f("ix_licences_licence_type_id"), "licences", ["licence_type_id"], unique=False
    )

    op.create_table(
        "verification_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("licence_id", sa.String(length=36), nullable=False),
        sa.Column("verifier_name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licences.id"], name=op.f("fk_verification_checks_licence_id_licences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_checks")),
    )
    op.create_index(
        op.f("ix_verification_checks_licence_id"),
        "verification_checks",
        ["licence_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_verification_checks_licence_id"), table_name="verification_checks")

    op.drop_table("verification_checks")
    op.drop_index(op.f("ix_licences_licence_type_id"), table_name="licences")
    op.drop_index(op.f("ix_licences_id_index"), table_name="licences")
    op.drop_index(op.f("ix_licences_department_id"), table_name="licences")

    op.drop_table("licences")
    op.drop_index(op.f("ix_status_lists_department_id"), table_name="status_lists")

    op.drop_table("status_lists")
    op.drop_index(op.f("ix_signing_keys_department_id"), table_name="signing_keys")

    op.drop_table("signing_keys")
    op.drop_index(op.f("ix_licence_types_department_id"), table_name="licence_types")

    op.drop_table("licence_types")
    op.drop_index(op.f("ix_department_api_keys_department_id"), table_name="department_api_keys")

    op.drop_table("department_api_keys")
    op.drop_table("holder_keys")
    op.drop_table("departments")
    op.drop_table("audit_entries")
