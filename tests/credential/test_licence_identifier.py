"""Licence identifiers (GB/T 36904): one test per vector of the shared file, every rejection
with its segment, and every single-character change caught (checked against python-stdnum's
ISO 7064 MOD 37,36)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_37_36

from credential import (
    LICENCE_IDENTIFIER_ROOT,
    LicenceIdentifier,
    errors,
    make_credit_code,
    make_licence_identifier,
    parse_licence_identifier,
)
from tests.credential._support import shared_vectors_dir

DOCUMENT: dict[str, Any] = json.loads(
    (shared_vectors_dir() / "gbt36904_identifiers.json").read_text(encoding="utf-8")
)
VALID = DOCUMENT["valid_identifiers"]
INVALID = DOCUMENT["invalid_identifiers"]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
SEGMENTS = ("root", "type_code", "issuer_code", "serial", "version", "check")
# The vector file's reasons are prose that starts with the part it names.
REASON_WORDS = {"check character": "check", "version": "version", "root": "root"}
REASON_WORDS |= {"serial": "serial", "type code": "type_code", "issuer code": "issuer_code"}


def expected_reason(text: str) -> str:
    for words, reason in REASON_WORDS.items():
        if text.startswith(words):
            return reason
    raise AssertionError(f"the vector reason {text!r} names no segment of an identifier")


def split(text: str) -> dict[str, str]:
    """The segments of an identifier as the format field of the vector file lays them out."""
    root_parts = LICENCE_IDENTIFIER_ROOT.count(".") + 1
    parts = text.split(".")
    return dict(zip(SEGMENTS, [".".join(parts[:root_parts]), *parts[root_parts:]], strict=True))


def test_the_format_field_has_our_root_and_segments() -> None:
    layout = DOCUMENT["identifier_format"]
    assert layout.startswith(LICENCE_IDENTIFIER_ROOT + ".{type code, 21}.")
    assert "{issuer code, 18" in layout and "6-digit administrative division" in layout
    assert "{version, 3 digits}.{check, 1}" in layout
    assert "MOD 37,36" in DOCUMENT["source"] and "MOD 31" in DOCUMENT["source"]


@pytest.mark.parametrize("text", VALID)
def test_valid_vector(text: str) -> None:
    identifier = parse_licence_identifier(text)
    segments = split(text)
    assert segments["root"] == LICENCE_IDENTIFIER_ROOT
    assert identifier.type_code == segments["type_code"]
    assert identifier.issuer_code == segments["issuer_code"]
    assert identifier.serial == segments["serial"]
    assert identifier.version_text == segments["version"]
    assert identifier.check == segments["check"]
    assert str(identifier) == text
    # the check character, recomputed by an independent ISO 7064 implementation
    body = "".join(segments[name] for name in ("type_code", "issuer_code", "serial", "version"))
    assert mod_37_36.calc_check_digit(body) == identifier.check
    rebuilt = make_licence_identifier(
        type_code=identifier.type_code,
        issuer_code=identifier.issuer_code,
        serial=identifier.serial,
        version=identifier.version,
    )
    assert rebuilt == identifier


def test_older_data_has_a_division_code_as_issuer() -> None:
    by_issuer = {parse_licence_identifier(text).issuer_is_division_code for text in VALID}
    assert by_issuer == {True, False}, "the vectors hold both forms of issuer code"


@pytest.mark.parametrize("vector", INVALID, ids=[v["reason"] for v in INVALID])
def test_invalid_vector(vector: dict[str, str]) -> None:
    with pytest.raises(errors.InvalidLicenceIdentifier) as caught:
        parse_licence_identifier(vector["identifier"])
    assert caught.value.reason == expected_reason(vector["reason"])
    assert caught.value.code == "invalid_licence_identifier"
    assert isinstance(caught.value, errors.InvalidCode)


GOOD = split(VALID[0])


def _with(**segments: str) -> str:
    return ".".join({**GOOD, **segments}.values())


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param(_with(root="1.2.156.3005"), "root", id="short-root"),
        pytest.param("urn:" + VALID[0], "root", id="prefix"),
        pytest.param(VALID[0] + ".X", "segments", id="six-segments"),
        pytest.param(_with(type_code=GOOD["type_code"][:-1]), "type_code", id="type-20"),
        pytest.param(_with(type_code="11100000000013338X011"), "type_code", id="type-body-check"),
        pytest.param(_with(type_code="11100000000013338W01A"), "type_code", id="type-serial"),
        pytest.param(_with(issuer_code="11430000006122244"), "issuer_code", id="issuer-17"),
        pytest.param(_with(issuer_code="11430000006122244M"), "issuer_code", id="issuer-check"),
        pytest.param(_with(issuer_code="990100"), "issuer_code", id="no-such-province"),
        pytest.param(_with(issuer_code="34010A"), "issuer_code", id="division-letter"),
        pytest.param(_with(serial=""), "serial", id="empty-serial"),
        pytest.param(_with(serial="2023-0403"), "serial", id="serial-dash"),
        pytest.param(_with(version="0001"), "version", id="version-4"),
        pytest.param(_with(version="+01"), "version", id="version-sign"),
        pytest.param(_with(version="00١"), "version", id="version-arabic-indic-digit"),
        pytest.param(_with(check=""), "check", id="no-check"),
        pytest.param(_with(check="UU"), "check", id="two-check"),
        pytest.param(_with(check="u"), "check", id="lower-check"),
        pytest.param(VALID[0] + "0" * 300, "length", id="huge"),
    ],
)
def test_rejections_name_the_segment(text: str, reason: str) -> None:
    with pytest.raises(errors.InvalidLicenceIdentifier) as caught:
        parse_licence_identifier(text)
    assert caught.value.reason == reason


def test_white_space_around_is_ignored_and_non_text_refused() -> None:
    assert str(parse_licence_identifier(f"  {VALID[1]}\n")) == VALID[1]
    with pytest.raises(errors.InvalidLicenceIdentifier):
        parse_licence_identifier(None)  # type: ignore[arg-type]


def test_next_version_is_the_correction() -> None:
    first = parse_licence_identifier(VALID[0])
    second = first.next_version()
    assert second.version_text == "002"
    assert (second.type_code, second.issuer_code, second.serial) == (
        first.type_code,
        first.issuer_code,
        first.serial,
    )
    text = str(second)
    assert text.startswith(VALID[0].rsplit(".", 2)[0] + ".002.")
    assert parse_licence_identifier(text) == second
    assert text[-1] == mod_37_36.calc_check_digit("".join(text.split(".")[5:9]))
    last = make_licence_identifier(
        type_code=first.type_code, issuer_code=first.issuer_code, serial="1", version=999
    )
    with pytest.raises(errors.InvalidLicenceIdentifier) as caught:
        last.next_version()
    assert caught.value.reason == "version"


@pytest.mark.parametrize(
    "overrides, reason",
    [
        pytest.param({"version": 1000}, "version", id="version-1000"),
        pytest.param({"version": -1}, "version", id="version-negative"),
        pytest.param({"serial": "abc"}, "serial", id="lower-serial"),
        pytest.param({"issuer_code": "11430000006122244"}, "issuer_code", id="issuer-17"),
        pytest.param({"type_code": "DL"}, "type_code", id="short-type"),
    ],
)
def test_builder_refuses_wrong_segments(overrides: dict[str, Any], reason: str) -> None:
    segments: dict[str, Any] = {
        "type_code": GOOD["type_code"],
        "issuer_code": GOOD["issuer_code"],
        "serial": GOOD["serial"],
        **overrides,
    }
    with pytest.raises(errors.InvalidLicenceIdentifier) as caught:
        make_licence_identifier(**segments)
    assert caught.value.reason == reason


def test_builder_takes_a_credit_code_and_counts_from_001() -> None:
    issuer = make_credit_code("11430000006122244")
    identifier = make_licence_identifier(
        type_code=GOOD["type_code"], issuer_code=issuer, serial=GOOD["serial"]
    )
    assert str(identifier) == VALID[0]
    assert identifier.defining_body_code.value == "11100000000013338W"


@pytest.mark.parametrize("text", VALID)
def test_every_single_substitution_of_a_vector_is_caught(text: str) -> None:
    """Exhaustively, at every position: each character of the alphabet, a dot and lower case."""
    for position, original in enumerate(text):
        for replacement in ALPHABET + ".az":
            if replacement != original:
                changed = text[:position] + replacement + text[position + 1 :]
                with pytest.raises(errors.InvalidLicenceIdentifier):
                    parse_licence_identifier(changed)


credit_codes = st.builds(
    lambda head, division, organisation: str(make_credit_code(head + division + organisation)),
    st.text(CREDIT_ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(CREDIT_ALPHABET, min_size=9, max_size=9),
)
identifiers = st.builds(
    lambda body, type_serial, issuer, serial, version: make_licence_identifier(
        type_code=body + type_serial, issuer_code=issuer, serial=serial, version=version
    ),
    credit_codes,
    st.text("0123456789", min_size=3, max_size=3),
    credit_codes | st.sampled_from(["110105", "340100", "440304", "650102"]),
    st.text(ALPHABET, min_size=1, max_size=24),
    st.integers(0, 999),
)


@given(identifiers)
def test_built_identifiers_parse_back_and_agree_with_stdnum(identifier: LicenceIdentifier) -> None:
    text = str(identifier)
    assert parse_licence_identifier(text) == identifier
    body = identifier.type_code + identifier.issuer_code + identifier.serial
    assert identifier.check == mod_37_36.calc_check_digit(body + identifier.version_text)


@given(identifiers, st.data())
def test_every_single_substitution_is_caught(
    identifier: LicenceIdentifier, data: st.DataObject
) -> None:
    text = str(identifier)
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(
        st.sampled_from(ALPHABET + "abz.-_ ").filter(lambda c: c != text[position])
    )
    with pytest.raises(errors.InvalidLicenceIdentifier):
        parse_licence_identifier(text[:position] + replacement + text[position + 1 :])


@given(identifiers, st.data())
def test_an_adjacent_transposition_escapes_only_inside_a_segment(
    identifier: LicenceIdentifier, data: st.DataObject
) -> None:
    """MOD 37,36 does not catch every adjacent swap (it is not one of ISO 7064's guarantees):
    a swap that still parses is always inside one checked segment and keeps the check
    character. Any swap with a dot, the root or the check character is refused."""
    text = str(identifier)
    position = data.draw(st.integers(0, len(text) - 2))
    a, b = text[position], text[position + 1]
    assume(a != b)
    swapped = text[:position] + b + a + text[position + 2 :]
    try:
        parsed = parse_licence_identifier(swapped)
    except errors.InvalidLicenceIdentifier:
        return
    assert "." not in (a, b)
    assert len(LICENCE_IDENTIFIER_ROOT) < position < len(text) - 2
    assert parsed.check == identifier.check


def test_some_adjacent_transposition_does_escape_mod_37_36() -> None:
    """The limit the module docstring states, shown on real segments: some serials ``ab`` and
    ``ba`` get the same check character."""
    first = parse_licence_identifier(VALID[0])

    def check(serial: str) -> str:
        return make_licence_identifier(
            type_code=first.type_code, issuer_code=first.issuer_code, serial=serial
        ).check

    escaped = [
        a + b
        for a in ALPHABET
        for b in ALPHABET
        if a < b and check(a + b + "0") == check(b + a + "0")
    ]
    assert escaped, "expected some swap of two characters that keeps the check character"
    assert len(escaped) < 10  # of 630 pairs
