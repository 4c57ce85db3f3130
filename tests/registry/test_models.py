"""registry.models on both databases: constraints and time zones."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.models import Licence, LicenceType, VerificationCheck
from tests.registry.builders import (
    create_department,
    create_licence,
    create_licence_type,
    create_status_list,
)


def test_licence_round_trip_keeps_aware_utc(db_session: Session) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    valid_from = dt.datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=shanghai)
    licence = create_licence(
        db_session, valid_from=valid_from, fields={"engine": "V6"}, categories=["C1"]
    )
    db_session.expire_all()
    loaded = db_session.get(Licence, licence.id)
    assert loaded is not None
    assert loaded.valid_from == valid_from
    assert loaded.valid_from.utcoffset() == dt.timedelta(0)
    assert loaded.valid_from.hour == 1
    assert loaded.fields == {"engine": "V6"}
    assert loaded.categories == ["C1"]
    assert loaded.status == "valid"
    assert len(loaded.id) == 36


def test_naive_datetime_refused(db_session: Session) -> None:
    with pytest.raises(Exception, match="naive"):
        create_licence(db_session, valid_from=dt.datetime(2025, 1, 1))


def test_status_index_allocated_once_per_list(db_session: Session) -> None:
    department = create_department(db_session)
    status_list = create_status_list(db_session, department)
    licence_type = create_licence_type(db_session, department)
    create_licence(
        db_session,
        department=department,
        status_list=status_list,
        licence_type=licence_type,
        status_index=42,
    )
    with pytest.raises(IntegrityError), db_session.begin_nested():
        create_licence(
            db_session,
            department=department,
            status_list=status_list,
            licence_type=licence_type,
            status_index=42,
        )
    other_list = create_status_list(db_session, department)
    create_licence(  # the same index on another list is fine
        db_session,
        department=department,
        status_list=other_list,
        licence_type=licence_type,
        status_index=42,
    )


def test_idempotency_key_unique_per_department(db_session: Session) -> None:
    department = create_department(db_session)
    create_licence(db_session, department=department, idempotency_key="batch-1/row-1")
    with pytest.raises(IntegrityError), db_session.begin_nested():
        create_licence(db_session, department=department, idempotency_key="batch-1/row-1")
    create_licence(db_session, idempotency_key="batch-1/row-1")  # another department
    create_licence(db_session, department=department)  # null keys never clash
    create_licence(db_session, department=department)


def test_licence_type_code_unique_per_department(db_session: Session) -> None:
    department = create_department(db_session)
    create_licence_type(db_session, department, code="DL")
    with pytest.raises(IntegrityError), db_session.begin_nested():
        create_licence_type(db_session, department, code="DL")
    create_licence_type(db_session, create_department(db_session), code="DL")
    codes = db_session.scalars(select(LicenceType.code).where(LicenceType.code == "DL")).all()
    assert len(codes) == 2


def test_foreign_keys_enforced(db_session: Session) -> None:
    db_session.add(VerificationCheck(licence_id="no-such-licence", verifier_name="c", outcome="ok"))
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.flush()


def test_replacement_points_to_old_licence(db_session: Session) -> None:
    old = create_licence(db_session)
    new = create_licence(db_session, replaces_id=old.id)
    db_session.expire_all()
    assert db_session.get(Licence, new.id).replaces_id == old.id  # type: ignore[union-attr]
