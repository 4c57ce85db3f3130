"""Licence status and key state may hold only their vocabulary.

PostgreSQL gets CHECK constraints. SQLite cannot add a constraint to an existing table without
copying it (batch mode), and copying ``licences`` means dropping a table that verification checks
and corrections point at, which its foreign keys refuse once the table has rows; so on SQLite the
same rule is two triggers per column (insert and update) that abort with SQLite's constraint
error, in place. New databases get the same triggers (the schema is built by migrations only).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The vocabularies as they are at this revision (credential.LicenceStatus, credential.KeyState).
RULES = (
    ("licences", "status", "'valid', 'revoked', 'suspended'"),
    ("signing_keys", "state", "'active', 'retired', 'compromised'"),
)


def upgrade() -> None:
    for table, column, values in RULES:
        name = f"ck_{table}_{column}"
        if op.get_bind().dialect.name == "sqlite":
            for event in ("INSERT", f"UPDATE OF {column}"):
                op.execute(
                    f"CREATE TRIGGER {name}_{event.split()[0].lower()} BEFORE {event} ON {table} "
                    f"WHEN NEW.{column} NOT IN ({values}) "
                    f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
                )
        else:
            op.create_check_constraint(name, table, f"{column} IN ({values})")


def downgrade() -> None:
    for table, column, _ in reversed(RULES):
        name = f"ck_{table}_{column}"
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER {name}_insert")
            op.execute(f"DROP TRIGGER {name}_update")
        else:
            op.drop_constraint(name, table, type_="check")
