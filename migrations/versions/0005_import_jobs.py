"""Imports uploaded over HTTP (issue 13 item 6): ``import_jobs``, one row per upload, with where
it stands (state, the file's last line committed, counts, the rejects file's length), so that a
start-up after a crash resumes it from its last committed batch.

The state's vocabulary is a CHECK constraint on both databases (a new table: SQLite takes it in
``CREATE TABLE``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The vocabulary as it is at this revision (registry.models.ImportJobState).
STATES = "'queued', 'running', 'done', 'failed'"


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("licence_type_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("lines_done", sa.Integer(), nullable=False),
        sa.Column("run_rows", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("already_present", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("reject_reasons", sa.JSON(), nullable=False),
        sa.Column("rejects_bytes", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_import_jobs_state")),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_import_jobs_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["licence_type_id"],
            ["licence_types.id"],
            name=op.f("fk_import_jobs_licence_type_id_licence_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(
        op.f("ix_import_jobs_department_id"), "import_jobs", ["department_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_import_jobs_department_id"), "import_jobs")
    op.drop_table("import_jobs")
