"""Small builders for registry rows (use from any test: ``from tests.registry.builders import``)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from typing import Any

from sqlalchemy.orm import Session

from registry.models import Department, Licence, LicenceType, StatusList, utcnow
from registry.vault import CitizenIdVault

_numbers = itertools.count(1)
ID_NUMBER = "11010519491231002X"


def create_department(session: Session, **overrides: Any) -> Department:
    n = next(_numbers)
    department = Department(**{"code": f"dept{n}", "name": f"Department {n}", **overrides})
    session.add(department)
    session.flush()
    return department


def create_licence_type(session: Session, department: Department, **overrides: Any) -> LicenceType:
    n = next(_numbers)
    values: dict[str, Any] = {"code": f"T{n}", "name": f"Type {n}", "fields": [], **overrides}
    licence_type = LicenceType(department_id=department.id, **values)
    session.add(licence_type)
    session.flush()
    return licence_type


def create_status_list(session: Session, department: Department, size: int = 1024) -> StatusList:
    status_list = StatusList(department_id=department.id, size=size, data=bytes(size // 4))
    session.add(status_list)
    session.flush()
    return status_list


def create_licence(session: Session, **overrides: Any) -> Licence:
    """A licence with its department, type and status list unless given."""
    vault = overrides.pop("vault", None) or CitizenIdVault(os.urandom(32))
    department = overrides.pop("department", None) or create_department(session)
    licence_type = overrides.pop("licence_type", None) or create_licence_type(session, department)
    status_list = overrides.pop("status_list", None) or create_status_list(session, department)
    id_number = overrides.pop("id_number", ID_NUMBER)
    n = next(_numbers)
    now = utcnow()
    values: dict[str, Any] = {
        "department_id": department.id,
        "licence_type_id": licence_type.id,
        "number": f"L{n:08d}",
        "holder_name": "张三",
        "id_index": vault.blind_index(id_number),
        "id_ciphertext": vault.encrypt(id_number),
        "valid_from": now,
        "valid_until": now + dt.timedelta(days=365),
        "status_list_id": status_list.id,
        "status_index": n,
        "credential": b"\xd2cose",
        "kid": "kid",
        **overrides,
    }
    licence = Licence(**values)
    session.add(licence)
    session.flush()
    return licence
