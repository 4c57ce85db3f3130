"""An index on ``licences.replaces_id``: reading a licence asks which licence replaced it (a
correction), and sharing leaves superseded licences out of a data package by the same column.
Without the index each of those was a scan of the whole table: found by ``benchmarks/scale.py``
at 1,000,000 licences on PostgreSQL (parallel sequential scans on every department search).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_licences_replaces_id"), "licences", ["replaces_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_licences_replaces_id"), table_name="licences")
