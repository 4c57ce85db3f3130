"""Bulk import (存量证照) and the duplicates policy: ``licences.record_key`` (the department's own
number of an imported licence, unique per licence type) and ``licence_types.single_valid``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Numbered 0003 because main has a 0002 (status vocabulary) this branch does not have yet: when
# the branches meet, down_revision becomes "0002".
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No batch mode: on SQLite it copies a table and drops the old one, which foreign keys from
    # existing rows refuse. A new column and a unique index go in place on both databases.
    op.add_column("licences", sa.Column("record_key", sa.String(length=64), nullable=True))
    op.create_index(
        op.f("ix_licences_department_id_licence_type_id_record_key"),
        "licences",
        ["department_id", "licence_type_id", "record_key"],
        unique=True,
    )
    op.add_column(
        "licence_types",
        sa.Column("single_valid", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("licence_types", "single_valid")
    op.drop_index(op.f("ix_licences_department_id_licence_type_id_record_key"), "licences")
    op.drop_column("licences", "record_key")
