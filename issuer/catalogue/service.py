"""The licence-type catalogue: the licence types of every department, one entry per catalogue
code (a national type several departments issue is one entry), types without a code one entry
each."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Department, LicenceType

from ..departments.schemas import defining_body
from .schemas import CatalogueEntry, IssuingDepartment


def licence_catalogue(*, session: Session) -> list[CatalogueEntry]:
    """Every licence type, by catalogue code (uncatalogued ones last, by department)."""
    rows = session.execute(
        select(LicenceType, Department)
        .join(Department, LicenceType.department_id == Department.id)
        .order_by(
            LicenceType.catalogue_code.is_(None),
            LicenceType.catalogue_code,
            Department.code,
            LicenceType.code,
        )
    ).all()
    entries: dict[object, CatalogueEntry] = {}
    for licence_type, department in rows:
        key = licence_type.catalogue_code or ("uncatalogued", licence_type.id)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = CatalogueEntry(
                catalogue_code=licence_type.catalogue_code,
                name=licence_type.name,
                defining_body=defining_body(licence_type),
                holder_code_type=licence_type.holder_code_type,
                issuing_departments=[],
            )
        entry.issuing_departments.append(
            IssuingDepartment(
                code=department.code,
                name=department.name,
                credit_code=department.credit_code,
                jurisdiction_code=department.jurisdiction_code,
                licence_type=licence_type.code,
            )
        )
    return list(entries.values())
