"""Licence status and key state may hold only their vocabulary (CHECK constraints).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

# The vocabularies as they are at this revision (credential.LicenceStatus, credential.KeyState).
LICENCE_STATUSES = "'valid', 'revoked', 'suspended'"
KEY_STATES = "'active', 'retired', 'compromised'"

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot add a constraint to a table: batch mode copies the table (rows included).
    with op.batch_alter_table("licences") as batch:
        batch.create_check_constraint(op.f("ck_licences_status"), f"status IN ({LICENCE_STATUSES})")
    with op.batch_alter_table("signing_keys") as batch:
        batch.create_check_constraint(op.f("ck_signing_keys_state"), f"state IN ({KEY_STATES})")


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_constraint(op.f("ck_signing_keys_state"), type_="check")
    with op.batch_alter_table("licences") as batch:
        batch.drop_constraint(op.f("ck_licences_status"), type_="check")
