"""Response bodies of the public licence-type catalogue."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..departments.schemas import DefiningBody


class IssuingDepartment(BaseModel):
    """A department that issues a catalogue entry, and its own code for the type."""

    code: str = Field(description="The department's code", examples=["TRANSPORT"])
    name: str = Field(description="The department's name")
    credit_code: str | None = Field(description="Its unified social credit code (GB 32100)")
    jurisdiction_code: str | None = Field(description="Its administrative division code")
    licence_type: str = Field(description="Its own code for the type", examples=["DRIVING"])


class CatalogueEntry(BaseModel):
    """One licence type of the catalogue (GB/T 36902/36903 practice): its 21-character code
    (null for a type made before the national profile), name, defining body, holder-code type
    (``111``: 公民身份号码) and the departments that issue it."""

    catalogue_code: str | None = Field(
        description="The 21-character type code (GB/T 36904); null for an uncatalogued type"
    )
    name: str = Field(description="The type's name", examples=["机动车驾驶证 Driving licence"])
    defining_body: DefiningBody | None = Field(description="The body that defined the type")
    holder_code_type: str = Field(description="Holder-code type: 111 is 公民身份号码")
    issuing_departments: list[IssuingDepartment] = Field(
        description="The departments that issue it"
    )
