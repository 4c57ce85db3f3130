"""Alembic environment: the only way the schema is created. Run it with ``registry.migrate``."""
