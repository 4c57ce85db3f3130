"""The licence under the national standards' names (``?view=gbt``, ``elicence export --view gbt``).

Departments exchange e-licence records under the metadata names of GB/T 36903 (电子证照 元数据规范)
and the identifier of GB/T 36904; provincial platforms' interfaces (for example DB44/T 2167.2)
use the same words. One function, ``gbt_record``, builds the record for the department API and
for the export alike, so the two can never name a field differently.

Dates are calendar dates in China Standard Time (UTC+8, no daylight saving), as the standard's
日期 elements are; the default view keeps the exact UTC times. ``证照有效期截止日期`` is the last
day of validity: ``valid_until`` is the first moment the licence is no longer valid (a licence
imported as valid until 2029-06-30 ends at 2029-07-01T00:00+08:00), so the date of the moment
just before it. ``证照状态`` keeps the registry's one status vocabulary (``valid``,
``suspended``, ``revoked``).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from registry.models import HOLDER_CODE_ID_NUMBER, Department, Licence, LicenceType

# UTC+8, no daylight saving: the standard's dates, and an import's dates without a time (a day
# there is valid from its start until its end; ``issuer.imports.service`` uses this one).
CHINA_STANDARD_TIME = dt.timezone(dt.timedelta(hours=8))
_INSTANT = dt.timedelta(microseconds=1)  # the stored times' resolution
# GB/T 36903 holder-code types this registry knows, by code
HOLDER_CODE_TYPE_NAMES = {HOLDER_CODE_ID_NUMBER: "公民身份号码"}
CREDIT_CODE_LENGTH = 18  # the defining body's credit code opens the 21-character type code


class LicenceView(StrEnum):
    """How a licence is written: the registry's own names, or the standard's."""

    DEFAULT = "default"
    GBT = "gbt"


# The record's names, in order: the export's columns.
GBT_NAMES = (
    "电子证照标识",
    "证照类型名称",
    "证照类型代码",
    "证照定义机构",
    "证照定义机构代码",
    "证照编号",
    "证照颁发机构",
    "证照颁发机构代码",
    "行政区划代码",
    "持证主体",
    "持证主体代码",
    "持证主体代码类型",
    "持证主体代码类型代码",
    "证照颁发日期",
    "证照有效期起始日期",
    "证照有效期截止日期",
    "证照状态",
    "照面信息",
)


def china_date(moment: dt.datetime) -> str:
    """The calendar date of ``moment`` (naive: UTC) in China Standard Time, ``YYYY-MM-DD``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(CHINA_STANDARD_TIME).date().isoformat()


def gbt_record(
    *, licence: Licence, department: Department, licence_type: LicenceType, holder_code: str
) -> dict[str, Any]:
    """The licence under the standard's names. ``holder_code`` is the holder's ID number as the
    reader may see it: masked, unless an audited export asked for it in full."""
    catalogue_code = licence_type.catalogue_code
    holder_code_type = licence_type.holder_code_type
    return {
        "电子证照标识": licence.identifier,
        "证照类型名称": licence_type.name,
        "证照类型代码": catalogue_code,
        "证照定义机构": licence_type.defining_body_name,
        "证照定义机构代码": catalogue_code[:CREDIT_CODE_LENGTH] if catalogue_code else None,
        "证照编号": licence.number,
        "证照颁发机构": department.name,
        "证照颁发机构代码": department.credit_code,
        "行政区划代码": department.jurisdiction_code,
        "持证主体": licence.holder_name,
        "持证主体代码": holder_code,
        "持证主体代码类型": HOLDER_CODE_TYPE_NAMES.get(holder_code_type, holder_code_type),
        "持证主体代码类型代码": holder_code_type,
        "证照颁发日期": china_date(licence.issued_at),
        "证照有效期起始日期": china_date(licence.valid_from),
        "证照有效期截止日期": china_date(licence.valid_until - _INSTANT),
        "证照状态": str(licence.status),
        "照面信息": {"categories": list(licence.categories), "fields": dict(licence.fields)},
    }
