"""Request and response bodies of the platform admin API (departments, licence types)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from credential import ALGORITHMS, is_division_code, parse_credit_code, parse_licence_type_code
from credential.errors import InvalidCode
from registry.models import HOLDER_CODE_ID_NUMBER, LicenceType

from ..auth import API_KEY_PREFIX

CODE_PATTERN = r"^[A-Z][A-Z0-9_]{1,23}$"
# The public part of an API key ``elk_<prefix>_<secret>`` (see ``issuer.auth``).
API_KEY_PREFIX_PATTERN = f"^{API_KEY_PREFIX}$"
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
FieldKind = Literal["text", "int", "date", "choice"]
MAX_CHOICES = 64
MAX_CHOICE_CHARS = 200  # a choice is a field value, and issuance refuses longer field values
MAX_CATEGORIES = 64
MAX_CATEGORY_CHARS = 32
# Names a licence field may not take: it would pass for a built-in part of every licence where
# the fields are shown beside them (the rows `elicence verify` prints, the wallet, the console's
# issuance form) or clash with the claims an SD-JWT VC of the same licence carries.
RESERVED_FIELD_NAMES = frozenset(
    {
        # the licence's own claims and issuance inputs (LicenceClaims, LicenceCreate)
        "type_code", "licence_type", "number", "holder_name", "masked_id", "id_number",
        "categories", "fields", "valid_from", "valid_until",
        # the rows `elicence verify` prints before the fields
        "holder", "licence", "department", "valid", "identifier",
        # registered CWT/JWT and SD-JWT VC claims
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf", "vct", "status",
    }
)  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _refused(reason: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_spec", "{reason}", {"reason": reason})


def _printable(text: str) -> str:
    if _CONTROL.search(text):
        raise _refused("holds a control character")
    return text


# A name the trust list carries and verifiers print: no control character may forge a line.
DisplayName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]


def _code(parse: Callable[[str], object]) -> Callable[[str], str]:
    """A validator: ``parse`` (a credential parser) accepts the value, else the refusal names
    the part that is wrong (the parser's ``reason``)."""

    def check(value: str) -> str:
        try:
            parse(value)
        except InvalidCode as exc:
            raise PydanticCustomError(
                exc.code, "{detail} ({reason})", {"detail": exc.detail, "reason": exc.reason}
            ) from None
        return value

    return check


def _division_code(value: str) -> str:
    if not is_division_code(value):
        raise _refused("a jurisdiction code is a 6-digit administrative division code (GB/T 2260)")
    return value


# A unified social credit code (GB 32100); a licence type code of the catalogue (GB/T 36904).
CreditCodeText = Annotated[str, Field(max_length=32), AfterValidator(_code(parse_credit_code))]
CatalogueCode = Annotated[str, Field(max_length=32), AfterValidator(_code(parse_licence_type_code))]
JurisdictionCode = Annotated[str, Field(max_length=6), AfterValidator(_division_code)]


def _known_algorithm(alg: str) -> str:
    if alg not in ALGORITHMS:
        raise _refused(
            f"unknown signature algorithm {_shown(alg)}: one of {', '.join(sorted(ALGORITHMS))}"
        )
    return alg


SigningAlgorithm = Annotated[str, Field(max_length=200), AfterValidator(_known_algorithm)]


class DepartmentCreate(_Strict):
    """A new department. ``credit_code`` and ``jurisdiction_code`` are optional so that
    deployments made before the national profile keep working; its licences get identifiers
    only once it has a credit code. ``alg``: its first signing key's algorithm."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "TRANSPORT", "name": "市交通运输局"}]}
    )

    code: str = Field(
        pattern=CODE_PATTERN,
        description="Short upper-case code, e.g. TRANSPORT",
        examples=["TRANSPORT"],
    )
    name: DisplayName = Field(
        description="The department's name as citizens know it",
        examples=["市交通运输局 Municipal Transport Bureau"],
    )
    credit_code: CreditCodeText | None = Field(
        default=None, description="Its 18-character unified social credit code (GB 32100)"
    )
    jurisdiction_code: JurisdictionCode | None = Field(
        default=None, description="Its 6-digit administrative division code"
    )
    alg: SigningAlgorithm = Field(
        default="ES256", description="Its first signing key's algorithm: ES256, EdDSA or SM2"
    )


class DepartmentRead(BaseModel):
    """A department and the key it signs with now."""

    code: str = Field(description="The department's code", examples=["TRANSPORT"])
    name: str = Field(description="The department's name", examples=["市交通运输局"])
    active_kid: str | None = Field(
        description="Id of its active signing key (none after a compromise until a rotation)",
        examples=["q0kIr9eTV3c"],
    )
    credit_code: str | None = Field(default=None, description="Its unified social credit code")
    jurisdiction_code: str | None = Field(
        default=None, description="Its administrative division code"
    )
    alg: str | None = Field(default=None, description="Its active key's signature algorithm")


class KeyRotate(_Strict):
    """The new key's algorithm (default ES256)."""

    alg: SigningAlgorithm = Field(default="ES256", description="ES256, EdDSA or SM2")


class ApiKeyRead(BaseModel):
    """A new API key, shown once: it cannot be read again."""

    department: str = Field(description="The department's code", examples=["TRANSPORT"])
    prefix: str = Field(
        description="The key's public part, by which it is listed and revoked",
        examples=["Ab12Cd34"],
    )
    api_key: str = Field(
        description="The whole key, `elk_<prefix>_<secret>`: send it as `Bearer`; shown once",
        examples=["elk_Ab12Cd34_" + "x" * 43],
    )


class ApiKeySummary(BaseModel):
    """An existing API key as an operator sees it: never its secret or hash."""

    prefix: str = Field(description="The key's public part", examples=["Ab12Cd34"])
    created_at: dt.datetime = Field(description="When the key was made (UTC)")
    revoked_at: dt.datetime | None = Field(description="When it was revoked; null while usable")


class FieldSpec(_Strict):
    """One field of a licence type: ``date`` values are ISO dates, ``choice`` one of ``choices``.

    The shape of a stored field; a new one is checked further by ``LicenceTypeCreate``.
    """

    name: str = Field(
        pattern=FIELD_NAME_PATTERN,
        description="The field's key in a licence's `fields`",
        examples=["licence_class"],
    )
    label: str | None = Field(
        default=None,
        max_length=100,
        description="What pages show for the field",
        examples=["准驾车型 Class"],
    )
    type: FieldKind = Field(
        default="text",
        description="text, int, date (ISO 8601) or choice (one of `choices`)",
        examples=["choice"],
    )
    required: bool = Field(default=True, description="Whether every licence must carry it")
    choices: list[str] | None = Field(
        default=None,
        description="The allowed values of a `choice` field (at most 64)",
        examples=[["A", "B", "C"]],
    )


def _shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut short: a refused value may be 100 KB."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _list_problems(values: list[str], *, what: str, max_chars: int) -> Iterable[str]:
    for number, value in enumerate(values, start=1):
        if not value:
            yield f"{what} {number} is empty"
        elif len(value) > max_chars:
            yield f"{what} {number} is longer than {max_chars} characters"
        elif _CONTROL.search(value):
            yield f"{what} {number} holds a control character"
    for value, count in Counter(values).items():
        if count > 1 and value:
            yield f"{what} {_shown(value)} is given {count} times"


def _field_problems(spec: FieldSpec) -> Iterable[str]:
    if spec.name in RESERVED_FIELD_NAMES:
        yield "the name is reserved for a built-in part of every licence"
    if spec.label is not None and (not spec.label or _CONTROL.search(spec.label)):
        yield "the label is empty or holds a control character"
    if spec.type != "choice":
        if spec.choices is not None:
            yield f"only a choice field takes choices, not a {spec.type} field"
        return
    if not spec.choices:
        yield "a choice field needs at least one choice"
    elif len(spec.choices) > MAX_CHOICES:
        yield f"at most {MAX_CHOICES} choices ({len(spec.choices)} given)"
    else:
        yield from _list_problems(spec.choices, what="choice", max_chars=MAX_CHOICE_CHARS)


def _checked_field(spec: FieldSpec) -> FieldSpec:
    problems = list(_field_problems(spec))
    if problems:
        raise _refused(f"field {spec.name!r}: {'; '.join(problems)}")
    return spec


class LicenceTypeCreate(_Strict):
    """A new licence type. Refused: a field named twice or like a built-in claim, a choice
    field without choices or with empty, repeated or overlong ones, a category likewise; a
    catalogue code without its defining body's name.

    ``catalogue_code``: the 21-character type code of its licence identifiers (GB/T 36904: the
    defining body's credit code and a 3-digit serial); optional (then its licences get no
    identifier), like the department's credit code."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "DRIVING",
                    "name": "机动车驾驶证 Driving licence",
                    "fields": [
                        {"name": "licence_class", "type": "choice", "choices": ["A", "B", "C"]},
                        {"name": "first_issued", "label": "初次领证日期", "type": "date"},
                    ],
                    "validity_days": 3650,
                    "categories": ["A1", "B1", "C1"],
                }
            ]
        }
    )

    code: str = Field(
        pattern=CODE_PATTERN,
        description="The type's code within the department",
        examples=["DRIVING"],
    )
    name: DisplayName = Field(description="The type's name", examples=["机动车驾驶证"])
    catalogue_code: CatalogueCode | None = Field(
        default=None, description="Its 21-character GB/T 36904 type code, if catalogued"
    )
    defining_body_name: DisplayName | None = Field(
        default=None, description="The name of the body that defined it (with a catalogue code)"
    )
    holder_code_type: Literal["111"] = Field(
        default="111", description="Holder-code type: 111 is 公民身份号码"
    )  # HOLDER_CODE_ID_NUMBER
    fields: list[Annotated[FieldSpec, AfterValidator(_checked_field)]] = Field(
        default_factory=list, max_length=32, description="The fields each licence carries"
    )
    validity_days: int = Field(
        gt=0, le=36600, description="Default validity of a new licence, in days", examples=[3650]
    )
    categories: list[str] = Field(
        default_factory=list,
        max_length=MAX_CATEGORIES,
        description="The categories a licence of this type may hold",
        examples=[["A1", "B1", "C1"]],
    )
    single_valid: bool = Field(
        default=False, description="A holder may hold one valid licence of this type at most"
    )

    @field_validator("fields")
    @classmethod
    def _names_once(cls, fields: list[FieldSpec]) -> list[FieldSpec]:
        repeated = [name for name, n in Counter(f.name for f in fields).items() if n > 1]
        if repeated:
            raise _refused(
                "; ".join(f"field {name!r} is defined more than once" for name in repeated)
            )
        return fields

    @model_validator(mode="after")
    def _defining_body_named(self) -> LicenceTypeCreate:
        if self.catalogue_code is not None and self.defining_body_name is None:
            raise _refused("a catalogue code needs the defining body's name (defining_body_name)")
        return self

    @field_validator("categories")
    @classmethod
    def _categories_sound(cls, categories: list[str]) -> list[str]:
        problems = list(_list_problems(categories, what="category", max_chars=MAX_CATEGORY_CHARS))
        if problems:
            raise _refused("; ".join(problems))
        return categories


class DefiningBody(BaseModel):
    """The body that defined a licence type (GB/T 36902 定义机构)."""

    name: str = Field(description="Its name")
    credit_code: str = Field(description="Its unified social credit code (GB 32100)")


def defining_body(licence_type: LicenceType) -> DefiningBody | None:
    """The type's defining body: its name and credit code (the catalogue code's first 18)."""
    if licence_type.catalogue_code is None or licence_type.defining_body_name is None:
        return None
    return DefiningBody(
        name=licence_type.defining_body_name, credit_code=licence_type.catalogue_code[:18]
    )


class LicenceTypeRead(BaseModel):
    """A licence type as its department defined it."""

    department: str = Field(description="The department's code", examples=["TRANSPORT"])
    code: str = Field(description="The type's code", examples=["DRIVING"])
    name: str = Field(description="The type's name", examples=["机动车驾驶证 Driving licence"])
    fields: list[FieldSpec] = Field(description="The fields each licence carries")
    validity_days: int = Field(description="Default validity, in days", examples=[3650])
    categories: list[str] = Field(
        description="The categories a licence may hold", examples=[["A1", "B1", "C1"]]
    )
    catalogue_code: str | None = Field(
        default=None, description="Its 21-character GB/T 36904 type code, if catalogued"
    )
    defining_body: DefiningBody | None = Field(
        default=None, description="The body that defined the type (GB/T 36902)"
    )
    holder_code_type: str = Field(
        default=HOLDER_CODE_ID_NUMBER, description="Holder-code type: 111 is 公民身份号码"
    )
    single_valid: bool = Field(
        description="A holder may hold one valid licence of this type at most (issuance and "
        "import refuse a second one with 409), else many",
        examples=[True],
    )


class KeyRead(BaseModel):
    """A department signing key."""

    kid: str = Field(description="The key's id: base64url of 8 bytes", examples=["q0kIr9eTV3c"])
    state: str = Field(
        description="active (signs), retired (still verifies) or compromised (rejected)",
        examples=["active"],
    )
    alg: str | None = Field(default=None, description="Its signature algorithm", examples=["ES256"])
