"""Export of a department's licences (``elicence export``): CSV or JSON Lines, streamed.

ID numbers are masked (``110105********002X``) unless the operator asks for them in full; that
export is an administrative act with its own audit entry, written before the first row leaves.
With one licence type the type's fields are columns of their own and the columns are those of
``elicence import`` (an export with ID numbers can be imported elsewhere); across types the
fields are one JSON column. ``view="gbt"`` writes each licence under the names of GB/T
36903/36904 instead (``issuer.licences.gbt``, the record of ``?view=gbt``): those are the
columns, the ID number is ``持证主体代码``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import select

from credential import mask_id_number
from registry.audit import append_audit
from registry.database import Database
from registry.errors import NotFound
from registry.models import Department, Licence, LicenceType

from ..errors import InvalidRequest
from ..licences.gbt import GBT_NAMES, LicenceView, gbt_record
from ..runtime import IssuerRuntime
from .source import FORMATS, SourceFormat

EXPORT_STATUSES = ("valid", "suspended", "revoked")
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ExportJob:
    department_code: str
    licence_type: str | None
    status: str | None
    format: SourceFormat
    with_id_numbers: bool
    actor: str
    view: str = LicenceView.DEFAULT


def _columns(field_names: list[str] | None) -> list[str]:
    fields = field_names if field_names is not None else ["fields"]
    return [
        "number",
        "record_key",
        "licence_type",
        "id_number",
        "holder_name",
        *fields,
        "categories",
        "issued_at",
        "valid_from",
        "valid_until",
        "status",
        "status_reason",
    ]


def _records(
    *, database: Database, runtime: IssuerRuntime, job: ExportJob, department_id: int
) -> Iterator[tuple[Licence, str, str]]:
    statement = (
        select(Licence, LicenceType.code)
        .join(LicenceType, LicenceType.id == Licence.licence_type_id)
        .where(Licence.department_id == department_id)
        .order_by(Licence.id)
    )
    if job.licence_type is not None:
        statement = statement.where(LicenceType.code == job.licence_type)
    if job.status is not None:
        statement = statement.where(Licence.status == job.status)
    after = ""
    while True:  # pages by id, each its own short read transaction: memory stays flat
        with database.reading() as session:
            page = session.execute(statement.where(Licence.id > after).limit(_PAGE)).all()
        if not page:
            return
        for licence, type_code in page:
            id_number = runtime.vault.decrypt(licence.id_ciphertext)
            yield (
                licence,
                type_code,
                id_number if job.with_id_numbers else mask_id_number(id_number),
            )
        after = page[-1][0].id


def export_licences(
    *, database: Database, runtime: IssuerRuntime, job: ExportJob, out: TextIO
) -> int:
    """Write the department's licences (filtered by type and status) to ``out``; returns how
    many. Raises ``NotFound`` (department, type) or ``InvalidRequest`` (status, format)."""
    if job.status is not None and job.status not in EXPORT_STATUSES:
        raise InvalidRequest(
            f"status must be one of {', '.join(EXPORT_STATUSES)}", code="invalid_status"
        )
    if job.format not in FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}", code="invalid_format")
    views = [str(view) for view in LicenceView]
    if job.view not in views:
        raise InvalidRequest(
            f"unknown view {job.view!r}: view must be one of {', '.join(views)}",
            code="invalid_view",
        )
    gbt = job.view == LicenceView.GBT
    with database.reading() as session:
        department = session.scalars(
            select(Department).where(Department.code == job.department_code)
        ).first()
        if department is None:
            raise NotFound(f"no department {job.department_code!r}")
        field_names: list[str] | None = None
        if job.licence_type is not None:
            licence_type = session.scalars(
                select(LicenceType).where(
                    LicenceType.department_id == department.id,
                    LicenceType.code == job.licence_type,
                )
            ).first()
            if licence_type is None:
                raise NotFound(f"{department.code} has no licence type {job.licence_type!r}")
            field_names = [spec["name"] for spec in licence_type.fields]
        department_id = department.id
        licence_types = {
            licence_type.id: licence_type
            for licence_type in session.scalars(
                select(LicenceType).where(LicenceType.department_id == department.id)
            )
        }
    if job.with_id_numbers:
        with database.writing() as session:
            append_audit(
                session,
                actor=job.actor,
                act="licence.export",
                object_type="department",
                object_id=job.department_code,
                detail={
                    "with_id_numbers": True,
                    "licence_type": job.licence_type,
                    "status": job.status,
                    "format": job.format,
                    "view": job.view,
                },
            )
    columns = list(GBT_NAMES) if gbt else _columns(field_names)
    writer = csv.writer(out) if job.format == "csv" else None
    if writer is not None:
        writer.writerow(columns)
    count = 0
    for licence, type_code, id_number in _records(
        database=database, runtime=runtime, job=job, department_id=department_id
    ):
        if gbt:
            record = gbt_record(
                licence=licence,
                department=department,
                licence_type=licence_types[licence.licence_type_id],
                holder_code=id_number,
            )
        else:
            record = _record(licence, type_code, id_number, field_names)
        if writer is not None:
            writer.writerow([_cell(record[c]) for c in columns])
        else:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def _record(
    licence: Licence, type_code: str, id_number: str, field_names: list[str] | None
) -> dict[str, Any]:
    """The licence under the registry's own names (the columns of ``elicence import``)."""
    record: dict[str, Any] = {
        "number": licence.number,
        "record_key": licence.record_key,
        "licence_type": type_code,
        "id_number": id_number,
        "holder_name": licence.holder_name,
        "categories": list(licence.categories),
        "issued_at": licence.issued_at.isoformat(),
        "valid_from": licence.valid_from.isoformat(),
        "valid_until": licence.valid_until.isoformat(),
        "status": licence.status,
        "status_reason": licence.status_reason,
    }
    if field_names is None:
        record["fields"] = dict(licence.fields)
    else:
        record.update({name: licence.fields.get(name) for name in field_names})
    return record


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
