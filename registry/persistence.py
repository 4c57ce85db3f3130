"""Inserting rows that may race with a concurrent transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session


def insert_row(session: Session, row: object) -> None:
    """Add and flush ``row``. On PostgreSQL inside a savepoint, so a unique violation from a
    concurrent transaction (``IntegrityError``) leaves the request's transaction usable; SQLite
    writers are serialised (BEGIN IMMEDIATE), so no savepoint is needed there."""
    if session.get_bind().dialect.name == "postgresql":
        with session.begin_nested():
            session.add(row)
    else:
        session.add(row)
        session.flush()
