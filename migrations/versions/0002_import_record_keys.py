"""Bulk import (存量证照) and the duplicates policy: ``licences.record_key`` (the department's own
number of an imported licence, unique per licence type) and ``licence_types.single_valid``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 23:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a constraint to a table in place (it copies the table).
    with op.batch_alter_table("licences") as batch:
        batch.add_column(sa.Column("record_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_licences_department_id_licence_type_id_record_key"),
            ["department_id", "licence_type_id", "record_key"],
        )
    with op.batch_alter_table("licence_types") as batch:
        batch.add_column(
            sa.Column("single_valid", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("licence_types") as batch:
        batch.drop_column("single_valid")
    with op.batch_alter_table("licences") as batch:
        batch.drop_constraint(
            op.f("uq_licences_department_id_licence_type_id_record_key"), type_="unique"
        )
        batch.drop_column("record_key")
