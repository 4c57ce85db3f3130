"""Citizen resident identity numbers (GB 11643-1999) and their ISO 7064 MOD 11-2 check digit."""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass

from .errors import InvalidIdNumber

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# Province-level prefixes of GB/T 2260 region codes (83: residence permits of Taiwan residents).
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-character resident identity number (check character stored upper case)."""

    value: str

    @property
    def region_code(self) -> str:
        return self.value[:6]

    @property
    def birth_date(self) -> dt.date:
        v = self.value
        return dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))

    @property
    def masked(self) -> str:
        return mask_id_number(self.value)

    def __repr__(self) -> str:  # the full number must not leak into logs via repr
        return f"IdNumber({self.masked!r})"

    __str__ = __repr__


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != len(_WEIGHTS):
        raise ValueError("the check character is over 17 digits")
    # map/mul rather than a generator: half the time, and it runs for every row of an import.
    total = sum(map(operator.mul, _WEIGHTS, map(int, first17)))
    return _CHECK_CHARS[total % 11]


def is_division_code(text: str) -> bool:
    """True when ``text`` is 6 digits starting with a province-level code (GB/T 2260)."""
    return len(text) == 6 and text.isdigit() and text.isascii() and int(text[:2]) in _PROVINCES


def mask_id_number(value: str) -> str:
    """``110105********002X``: region code and last four kept, birth date and more hidden."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def _invalid(reason: str, detail: str) -> InvalidIdNumber:
    return InvalidIdNumber(reason, detail)


def parse_id_number(text: str, *, today: dt.date | None = None) -> IdNumber:
    """Validate an 18-character ID number; lower-case ``x`` is accepted and stored upper case.

    Raises ``InvalidIdNumber`` whose ``reason`` is one of ``length``, ``characters``,
    ``region``, ``birth_date``, ``future_birth_date`` or ``check_digit``.
    """
    if not isinstance(text, str):
        raise _invalid("characters", "ID number must be text")
    value = text.strip().upper()
    if len(value) != 18:
        raise _invalid("length", "ID number must have 18 characters")
    if not value[:17].isdigit() or not value[:17].isascii() or value[17] not in "0123456789X":
        raise _invalid("characters", "ID number must be 17 digits and a digit or X")
    if int(value[:2]) not in _PROVINCES:
        raise _invalid("region", "ID number does not start with a valid region code")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise _invalid("birth_date", "ID number has no real calendar birth date") from exc
    if birth.year < 1850:
        raise _invalid("birth_date", "ID number birth year is implausible")
    if birth > (today or dt.date.today()):
        raise _invalid("future_birth_date", "ID number birth date is in the future")
    if check_character(value[:17]) != value[17]:
        raise _invalid("check_digit", "ID number check digit is wrong")
    return IdNumber(value)


def upgrade_15_digit(text: str, *, today: dt.date | None = None) -> IdNumber:
    """Convert a first-generation 15-digit number (19yy births) to the 18-character form.

    Raises ``InvalidIdNumber``.
    """
    value = text.strip() if isinstance(text, str) else ""
    if len(value) != 15 or not value.isdigit() or not value.isascii():
        raise _invalid("length", "a first-generation ID number has 15 digits")
    first17 = value[:6] + "19" + value[6:]
    return parse_id_number(first17 + check_character(first17), today=today)
