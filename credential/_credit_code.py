"""Unified social credit codes (统一社会信用代码, GB 32100-2015) and their MOD 31 check character.

Written here (a weighted sum and a table look-up) rather than taken from python-stdnum's
``stdnum.cn.uscc`` because ``credential/`` may import only the standard library, cbor2,
cryptography and tongsuopy (the import table of the design), and because stdnum also requires the
first two characters to be digits, which GB 32100 does not: the registration authority and the
organisation category are characters of the same 31-character alphabet. The tests compare every
check character computed here with python-stdnum's.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidCreditCode

CREDIT_CODE_LENGTH = 18
# GB 32100 section 4.2: the digits and the capital letters without I, O, S, V and Z.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {character: value for value, character in enumerate(CREDIT_CODE_ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^(i-1) mod 31


def credit_code_check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code.

    Raises ``InvalidCreditCode`` (reason ``length`` or ``character``) when ``first17`` is not
    17 characters of the alphabet.
    """
    if len(first17) != CREDIT_CODE_LENGTH - 1:
        raise InvalidCreditCode("length", "a credit code has 17 characters before its check")
    try:
        total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    except KeyError as exc:
        raise InvalidCreditCode(
            "character", f"{exc.args[0]!r} is not a character of a credit code"
        ) from None
    return CREDIT_CODE_ALPHABET[-total % 31]


def credit_code_problem(value: str) -> tuple[str, str] | None:
    """``(reason, detail)`` of what is wrong with ``value`` as a credit code, ``None`` if valid.

    Reasons: ``length`` (not 18 characters), ``character`` (outside the alphabet),
    ``division_code`` (characters 3 to 8 are not digits), ``check``.
    """
    if len(value) != CREDIT_CODE_LENGTH:
        return "length", f"a credit code has {CREDIT_CODE_LENGTH} characters, not {len(value)}"
    for character in value:
        if character not in _VALUE:
            return "character", f"{character!r} is not a character of a credit code"
    if not value[2:8].isdigit():
        return "division_code", "characters 3 to 8 of a credit code are a division code (digits)"
    if credit_code_check_character(value[:17]) != value[17]:
        return "check", "the check character of the credit code is wrong"
    return None


@dataclass(frozen=True, slots=True)
class CreditCode:
    """A valid unified social credit code; ``str()`` gives its 18 characters.

    Constructing one with an invalid value raises ``InvalidCreditCode``.
    """

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str):
            raise InvalidCreditCode("character", "a credit code must be text")
        problem = credit_code_problem(self.value)
        if problem is not None:
            raise InvalidCreditCode(*problem)

    @property
    def registration_authority(self) -> str:
        """登记管理部门代码 (``1`` 机构编制, ``5`` 民政, ``9`` 工商, ...)."""
        return self.value[0]

    @property
    def category(self) -> str:
        """机构类别代码, within the registration authority."""
        return self.value[1]

    @property
    def division_code(self) -> str:
        """登记管理机关行政区划码 (6 digits)."""
        return self.value[2:8]

    @property
    def organisation_code(self) -> str:
        """主体标识码 (组织机构代码, 9 characters)."""
        return self.value[8:17]

    @property
    def check(self) -> str:
        return self.value[17]

    def __str__(self) -> str:
        return self.value


def parse_credit_code(text: str) -> CreditCode:
    """Validate a unified social credit code (surrounding white space is ignored, case is not:
    lower-case letters are refused).

    Raises ``InvalidCreditCode`` whose ``reason`` is ``length``, ``character``,
    ``division_code`` or ``check``.
    """
    if not isinstance(text, str):
        raise InvalidCreditCode("character", "a credit code must be text")
    return CreditCode(text.strip())


def make_credit_code(first17: str) -> CreditCode:
    """The credit code made of ``first17`` and its check character.

    Raises ``InvalidCreditCode``.
    """
    return CreditCode(first17 + credit_code_check_character(first17))
