"""OpenID4VCI issuance state: credential offers (pre-authorized codes), access tokens of the
credential endpoint and the ``c_nonce`` values key proofs have used. Secrets are kept only as
SHA-256 digests.

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credential_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("tx_code_digest", sa.String(length=64), nullable=False),
        sa.Column("licence_id", sa.String(length=36), nullable=False),
        sa.Column("credential_configuration_id", sa.String(length=160), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licences.id"], name=op.f("fk_credential_offers_licence_id_licences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_offers")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_credential_offers_code_digest")),
    )
    op.create_index(
        op.f("ix_credential_offers_licence_id"), "credential_offers", ["licence_id"], unique=False
    )
    op.create_table(
        "issuance_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["credential_offers.id"],
            name=op.f("fk_issuance_tokens_offer_id_credential_offers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuance_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_issuance_tokens_token_digest")),
    )
    op.create_index(
        op.f("ix_issuance_tokens_offer_id"), "issuance_tokens", ["offer_id"], unique=False
    )
    op.create_table(
        "used_nonces",
        sa.Column("nonce_digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce_digest", name=op.f("pk_used_nonces")),
    )
    op.create_index(op.f("ix_used_nonces_expires_at"), "used_nonces", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_used_nonces_expires_at"), table_name="used_nonces")
    op.drop_table("used_nonces")
    op.drop_index(op.f("ix_issuance_tokens_offer_id"), table_name="issuance_tokens")
    op.drop_table("issuance_tokens")
    op.drop_index(op.f("ix_credential_offers_licence_id"), table_name="credential_offers")
    op.drop_table("credential_offers")
