"""Response bodies of the public licence-type catalogue."""

from __future__ import annotations

from pydantic import BaseModel

from ..departments.schemas import DefiningBody


class IssuingDepartment(BaseModel):
    """A department that issues a catalogue entry, and its own code for the type."""

    code: str
    name: str
    credit_code: str | None
    jurisdiction_code: str | None
    licence_type: str


class CatalogueEntry(BaseModel):
    """One licence type of the catalogue (GB/T 36902/36903 practice): its 21-character code
    (null for a type made before the national profile), name, defining body, holder-code type
    (``111``: 公民身份号码) and the departments that issue it."""

    catalogue_code: str | None
    name: str
    defining_body: DefiningBody | None
    holder_code_type: str
    issuing_departments: list[IssuingDepartment]
