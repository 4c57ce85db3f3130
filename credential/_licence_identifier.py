"""Licence identifiers (电子证照标识, GB/T 36904) and their ISO/IEC 7064 MOD 37,36 check character.

``1.2.156.3005.2.{type code}.{issuer code}.{serial}.{version}.{check}``:

- type code: 21 characters, the defining body's unified social credit code and a 3-digit serial;
- issuer code: the issuing body's unified social credit code (18 characters), or, in older
  data, a 6-digit administrative division code (GB/T 2260);
- serial: one or more of ``0-9A-Z``;
- version: 3 digits; a correction is the next version of the same licence;
- check: ISO/IEC 7064 (GB/T 17710) MOD 37,36 over type code + issuer code + serial + version,
  alphabet ``0-9A-Z``.

MOD 37,36 catches every single-character substitution, but not every swap of two adjacent
characters: for 72 of the 36 × 36 × 35 (running state, pair) combinations the swap keeps the
same check character. The structure (segment lengths, root, dots) catches the rest.

The check is written here (a loop of four lines) rather than taken from python-stdnum's
``stdnum.iso7064.mod_37_36`` because ``credential/`` may import only the standard library,
cbor2, cryptography and tongsuopy; the tests compare it with python-stdnum's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._credit_code import CreditCode, credit_code_problem
from ._id_number import is_division_code
from .errors import InvalidLicenceIdentifier

LICENCE_IDENTIFIER_ROOT = "1.2.156.3005.2"
TYPE_CODE_LENGTH = 21
MAX_VERSION = 999
# Far above any real identifier (5 + 21 + 18 + serial + 3 + 1 characters and dots): a bound
# so that a hostile input is refused before any work on it.
MAX_IDENTIFIER_LENGTH = 256
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {character: value for value, character in enumerate(_ALPHABET)}


def _mod_37_36(text: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character of ``text`` (characters of ``0-9A-Z``)."""
    product = 36
    for character in text:
        product = ((product + _VALUE[character]) % 36 or 36) * 2 % 37
    return _ALPHABET[(37 - product) % 36]


def _is_serial(text: str) -> bool:
    return bool(text) and all(character in _VALUE for character in text)


def _segment_problem(
    type_code: str, issuer_code: str, serial: str, version: int
) -> tuple[str, str] | None:
    """``(reason, detail)`` for the first wrong segment, ``None`` when all are right."""
    type_problem = _type_code_problem(type_code)
    if type_problem is not None:
        return "type_code", type_problem
    if not isinstance(issuer_code, str) or len(issuer_code) not in (6, 18):
        return "issuer_code", "the issuer code is a credit code (18) or a division code (6)"
    if len(issuer_code) == 6:
        if not is_division_code(issuer_code):
            return "issuer_code", "a 6-digit issuer code must be an administrative division code"
    else:
        issuer_problem = credit_code_problem(issuer_code)
        if issuer_problem is not None:
            return "issuer_code", f"the issuer credit code: {issuer_problem[1]}"
    if not isinstance(serial, str) or not _is_serial(serial):
        return "serial", "the serial is one or more upper-case letters and digits"
    if type(version) is not int or not 0 <= version <= MAX_VERSION:
        return "version", f"the version is 3 digits, 000 to {MAX_VERSION}"
    return None


def _type_code_problem(type_code: str) -> str | None:
    if not isinstance(type_code, str) or len(type_code) != TYPE_CODE_LENGTH:
        return f"the licence type code has {TYPE_CODE_LENGTH} characters"
    body_problem = credit_code_problem(type_code[:18])
    if body_problem is not None:
        return f"the type code's defining-body credit code: {body_problem[1]}"
    if not (type_code[18:].isdigit() and type_code[18:].isascii()):
        return "the type code ends with a 3-digit serial"
    return None


def parse_licence_type_code(text: str) -> str:
    """Validate a 21-character licence type code (the defining body's credit code and a
    3-digit serial), the first segment of an identifier after the root.

    Raises ``InvalidLicenceIdentifier`` (reason ``type_code``).
    """
    problem = _type_code_problem(text)
    if problem is not None:
        raise InvalidLicenceIdentifier("type_code", problem)
    return text


@dataclass(frozen=True, slots=True)
class LicenceIdentifier:
    """A valid licence identifier. The check character is derived, never stored, so a value of
    this class cannot carry a wrong one; ``str()`` gives the whole identifier.

    Constructing one with a wrong segment raises ``InvalidLicenceIdentifier``.
    """

    type_code: str
    issuer_code: str
    serial: str
    version: int

    def __post_init__(self) -> None:
        problem = _segment_problem(self.type_code, self.issuer_code, self.serial, self.version)
        if problem is not None:
            raise InvalidLicenceIdentifier(*problem)

    @property
    def version_text(self) -> str:
        return f"{self.version:03d}"

    @property
    def check(self) -> str:
        return _mod_37_36(self.type_code + self.issuer_code + self.serial + self.version_text)

    @property
    def defining_body_code(self) -> CreditCode:
        """The credit code of the body that defined the licence type."""
        return CreditCode(self.type_code[:18])

    @property
    def issuer_is_division_code(self) -> bool:
        """True for older data, whose issuer segment is a 6-digit administrative division code."""
        return len(self.issuer_code) == 6

    def next_version(self) -> LicenceIdentifier:
        """The identifier of the correction of this licence (``.001.`` → ``.002.``).

        Raises ``InvalidLicenceIdentifier`` (reason ``version``) after version 999.
        """
        if self.version >= MAX_VERSION:
            raise InvalidLicenceIdentifier("version", f"no version after {MAX_VERSION}")
        return LicenceIdentifier(self.type_code, self.issuer_code, self.serial, self.version + 1)

    def __str__(self) -> str:
        return ".".join(
            (
                LICENCE_IDENTIFIER_ROOT,
                self.type_code,
                self.issuer_code,
                self.serial,
                self.version_text,
                self.check,
            )
        )


def make_licence_identifier(
    *, type_code: str, issuer_code: str | CreditCode, serial: str, version: int = 1
) -> LicenceIdentifier:
    """The identifier with these segments (its check character computed).

    Raises ``InvalidLicenceIdentifier`` naming the wrong segment.
    """
    return LicenceIdentifier(type_code, str(issuer_code), serial, version)


def parse_licence_identifier(text: str) -> LicenceIdentifier:
    """Validate a whole licence identifier (surrounding white space is ignored; case is not:
    lower-case letters are refused).

    Raises ``InvalidLicenceIdentifier`` whose ``reason`` names what is wrong: ``length`` (beyond
    any real identifier), ``root``, ``segments`` (not five segments after the root),
    ``type_code``, ``issuer_code``, ``serial``, ``version`` or ``check``.
    """
    if not isinstance(text, str):
        raise InvalidLicenceIdentifier("character", "a licence identifier must be text")
    text = text.strip()
    if len(text) > MAX_IDENTIFIER_LENGTH:
        raise InvalidLicenceIdentifier("length", "too long for a licence identifier")
    if not text.startswith(LICENCE_IDENTIFIER_ROOT + "."):
        raise InvalidLicenceIdentifier(
            "root", f"a licence identifier starts with {LICENCE_IDENTIFIER_ROOT}"
        )
    segments = text[len(LICENCE_IDENTIFIER_ROOT) + 1 :].split(".")
    if len(segments) != 5:
        raise InvalidLicenceIdentifier(
            "segments", "a licence identifier has type code, issuer code, serial, version, check"
        )
    type_code, issuer_code, serial, version, check = segments
    # -1 (refused as the version) unless exactly 3 digits: int() alone would take "01" or "+01"
    three_digits = len(version) == 3 and version.isdigit() and version.isascii()
    number = int(version) if three_digits else -1
    identifier = LicenceIdentifier(type_code, issuer_code, serial, number)
    if check != identifier.check:
        raise InvalidLicenceIdentifier("check", "the check character is wrong")
    return identifier
