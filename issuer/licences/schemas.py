"""Request and response bodies of issuance and look-up."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from credential import LicenceStatus

FieldValue = StrictStr | StrictInt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


_EXAMPLE_ID_NUMBER = "11010519491231002X"  # the GB 11643 sample number


class LicenceCreate(_Strict):
    """A licence to issue. ``fields`` and ``categories`` must fit the licence type."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "licence_type": "DRIVING",
                    "id_number": _EXAMPLE_ID_NUMBER,
                    "holder_name": "张三",
                    "fields": {"licence_class": "B", "first_issued": "2020-05-01"},
                    "categories": ["B1"],
                }
            ]
        }
    )

    licence_type: StrictStr = Field(
        min_length=1,
        max_length=32,
        description="The code of one of the department's licence types",
        examples=["DRIVING"],
    )
    id_number: StrictStr = Field(
        min_length=1,
        max_length=32,
        repr=False,
        description="The holder's 18-character resident identity number (GB 11643); stored "
        "only as a blind index and encrypted, never answered in full",
        examples=[_EXAMPLE_ID_NUMBER],
    )
    holder_name: StrictStr = Field(
        min_length=1, max_length=100, description="The holder's name", examples=["张三"]
    )
    fields: dict[str, FieldValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Values of the type's fields, by field name (text, integer or ISO date)",
        examples=[{"licence_class": "B", "first_issued": "2020-05-01"}],
    )
    categories: list[StrictStr] = Field(
        default_factory=list,
        max_length=64,
        description="Categories the licence holds, from the type's list",
        examples=[["B1"]],
    )
    valid_from: dt.datetime | None = Field(
        default=None, description="Start of validity (default: now)"
    )
    valid_until: dt.datetime | None = Field(
        default=None, description="End of validity (default: now + the type's validity)"
    )


class LicenceSearch(_Strict):
    """Whom to search for, in the body so the ID number is never in a URL."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id_number": _EXAMPLE_ID_NUMBER, "status": "valid"}]}
    )

    id_number: StrictStr = Field(
        min_length=1,
        max_length=32,
        repr=False,
        description="The holder's resident identity number",
        examples=[_EXAMPLE_ID_NUMBER],
    )
    licence_type: StrictStr | None = Field(
        default=None, max_length=32, description="Only this licence type", examples=["DRIVING"]
    )
    status: LicenceStatus | None = Field(
        default=None, description="Only licences with this status", examples=["valid"]
    )


class LicenceRead(BaseModel):
    """An issued licence as its department sees it (the ID number masked)."""

    id: uuid.UUID = Field(description="The licence's id in this registry")
    number: str = Field(
        description="The licence number printed on it", examples=["TRANSPORT-DRIVING-3F9A0C12B4"]
    )
    identifier: str | None = Field(
        default=None,
        description="Its GB/T 36904 licence identifier (电子证照标识); null for older licences",
    )
    record_key: str | None = Field(
        default=None, description="The department's own number of an imported licence"
    )
    department: str = Field(description="The issuing department's code", examples=["TRANSPORT"])
    licence_type: str = Field(description="The licence type's code", examples=["DRIVING"])
    holder_name: str = Field(description="The holder's name", examples=["张三"])
    masked_id: str = Field(
        description="The holder's ID number with its middle masked", examples=["110105********002X"]
    )
    categories: list[str] = Field(description="Categories held", examples=[["B1"]])
    fields: dict[str, str | int] = Field(
        description="Values of the type's fields", examples=[{"licence_class": "B"}]
    )
    valid_from: dt.datetime = Field(description="Start of validity")
    valid_until: dt.datetime = Field(description="End of validity")
    issued_at: dt.datetime = Field(description="When it was signed")
    status: LicenceStatus = Field(description="valid, revoked or suspended", examples=["valid"])
    status_list: str = Field(
        description="URI of the status list holding its status", examples=["1"]
    )
    status_index: int = Field(description="Its index in that status list", examples=[48213])
    kid: str = Field(description="Id of the key that signed it", examples=["q0kIr9eTV3c"])
    replaces: uuid.UUID | None = Field(
        default=None, description="The licence this one corrected, if any"
    )
    replaced_by: uuid.UUID | None = Field(
        default=None, description="The licence that corrected this one, if any"
    )
    static_qr: str = Field(
        description="The printable QR payload (`EL1:` + Base45), for a paper copy",
        examples=["EL1:6BFOXN*TS0BI$ZD..."],
    )


class LicenceList(BaseModel):
    """Licences found."""

    licences: list[LicenceRead] = Field(description="The licences, oldest first")


class LicenceFace(BaseModel):
    """照面信息: what the licence shows beyond its metadata."""

    categories: list[str] = Field(description="Categories held", examples=[["B1"]])
    fields: dict[str, str | int] = Field(
        description="Values of the type's fields", examples=[{"licence_class": "B"}]
    )


class LicenceGbtRead(BaseModel):
    """An issued licence under the names of GB/T 36903 (metadata) and GB/T 36904 (identifier),
    as ``?view=gbt`` answers it. Dates are calendar dates in China Standard Time (UTC+8); the
    holder's ID number is masked."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7e4c1e-5f0a-4d43-9f4e-2f6d9b1c2a10",
                    "电子证照标识": "1.2.156.3005.2.11100000000013338W011.11430000006122244L"
                    ".0A1B2C3D.001.Q",
                    "证照类型名称": "机动车驾驶证",
                    "证照类型代码": "11100000000013338W011",
                    "证照定义机构": "公安部",
                    "证照定义机构代码": "11100000000013338W",
                    "证照编号": "TRANSPORT-DRIVING-3F9A0C12B4",
                    "证照颁发机构": "湖南省公安厅交通警察总队",
                    "证照颁发机构代码": "11430000006122244L",
                    "行政区划代码": "430000",
                    "持证主体": "张三",
                    "持证主体代码": "110105********002X",
                    "持证主体代码类型": "公民身份号码",
                    "持证主体代码类型代码": "111",
                    "证照颁发日期": "2026-01-01",
                    "证照有效期起始日期": "2026-01-01",
                    "证照有效期截止日期": "2035-12-30",
                    "证照状态": "valid",
                    "照面信息": {"categories": ["B1"], "fields": {"licence_class": "B"}},
                }
            ]
        },
    )

    id: uuid.UUID = Field(description="The licence's id in this registry (no standard name)")
    identifier: str | None = Field(
        alias="电子证照标识",
        description="Licence identifier (GB/T 36904); null for licences issued before the codes",
    )
    type_name: str = Field(alias="证照类型名称", description="The licence type's name")
    type_code: str | None = Field(
        alias="证照类型代码", description="The 21-character licence type code; null if uncatalogued"
    )
    defining_body: str | None = Field(
        alias="证照定义机构", description="The body that defined the licence type"
    )
    defining_body_code: str | None = Field(
        alias="证照定义机构代码",
        description="Its unified social credit code (the first 18 characters of the type code)",
    )
    number: str = Field(alias="证照编号", description="The licence number printed on it")
    issuer_name: str = Field(alias="证照颁发机构", description="The issuing department's name")
    issuer_code: str | None = Field(
        alias="证照颁发机构代码",
        description="The issuing department's unified social credit code (GB 32100)",
    )
    jurisdiction_code: str | None = Field(
        alias="行政区划代码", description="The issuing department's administrative division code"
    )
    holder_name: str = Field(alias="持证主体", description="The holder's name")
    holder_code: str = Field(
        alias="持证主体代码", description="The holder's ID number, its middle masked"
    )
    holder_code_type: str = Field(
        alias="持证主体代码类型", description="The kind of holder code: 公民身份号码"
    )
    holder_code_type_code: str = Field(
        alias="持证主体代码类型代码", description="Its GB/T 36903 code: 111"
    )
    issued_on: str = Field(alias="证照颁发日期", description="Date of issue (UTC+8), YYYY-MM-DD")
    valid_from: str = Field(
        alias="证照有效期起始日期", description="Start of validity: its date (UTC+8)"
    )
    valid_until: str = Field(
        alias="证照有效期截止日期",
        description="Last day of validity (UTC+8): the day before `valid_until` when that is "
        "midnight in UTC+8",
    )
    status: LicenceStatus = Field(alias="证照状态", description="valid, revoked or suspended")
    face: LicenceFace = Field(alias="照面信息", description="Categories and the type's fields")


class LicenceGbtList(BaseModel):
    """Licences found, under the standard's names."""

    licences: list[LicenceGbtRead] = Field(description="The licences, oldest first")
