"""National standards profile: credit and jurisdiction codes of departments, catalogue codes of
licence types, licence identifiers (GB/T 36904).

What the upgrade does with rows that already exist:

- ``licence_types.holder_code_type`` is filled with ``111`` (公民身份号码): every licence this
  registry has issued is held by a citizen named by a resident identity number, so this is the
  fact, not a placeholder.
- ``departments.credit_code`` / ``jurisdiction_code``, ``licence_types.catalogue_code`` /
  ``defining_body_name`` and ``licences.identifier`` stay **null**. A unified social credit code
  and a catalogue code are assigned by outside authorities; nothing in an old row says what they
  are, and a made-up value (even a "test-only" deterministic one) would pass every check
  character and be printed, signed and exported as if it were real, which is worse than none.
  So the columns are nullable: the operator fills them in (new departments and types give them
  when made), and a licence gets its identifier when it is issued (or corrected) after both its
  department's credit code and its type's catalogue code are known. Licences issued before keep
  ``identifier`` null: their signed credentials carry no identifier claim, and one shown beside
  them would not be the one a verifier reads.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN and unique indexes, no batch copy: SQLite cannot drop a table other
    # tables' foreign keys point at (departments, licence_types, licences all have some).
    op.add_column("departments", sa.Column("credit_code", sa.String(length=18), nullable=True))
    op.add_column("departments", sa.Column("jurisdiction_code", sa.String(length=6), nullable=True))
    op.create_index(op.f("ix_departments_credit_code"), "departments", ["credit_code"], unique=True)
    op.add_column("licence_types", sa.Column("catalogue_code", sa.String(length=21), nullable=True))
    op.add_column(
        "licence_types", sa.Column("defining_body_name", sa.String(length=200), nullable=True)
    )
    # the server default fills the rows that exist (see the docstring)
    op.add_column(
        "licence_types",
        sa.Column("holder_code_type", sa.String(length=3), nullable=False, server_default="111"),
    )
    op.add_column("licences", sa.Column("identifier", sa.String(length=128), nullable=True))
    op.create_index(op.f("ix_licences_identifier"), "licences", ["identifier"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_licences_identifier"), table_name="licences")
    op.drop_column("licences", "identifier")
    op.drop_column("licence_types", "holder_code_type")
    op.drop_column("licence_types", "defining_body_name")
    op.drop_column("licence_types", "catalogue_code")
    op.drop_index(op.f("ix_departments_credit_code"), table_name="departments")
    op.drop_column("departments", "jurisdiction_code")
    op.drop_column("departments", "credit_code")
