"""Unified social credit codes (GB 32100): the shared vectors, every single-character change,
and the check character against python-stdnum's independent implementation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum.cn import uscc

from credential import (
    CreditCode,
    credit_code_check_character,
    errors,
    make_credit_code,
    parse_credit_code,
)
from tests.credential._support import shared_vectors_dir

DOCUMENT: dict[str, Any] = json.loads(
    (shared_vectors_dir() / "gbt36904_identifiers.json").read_text(encoding="utf-8")
)
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# What the vector file's free-text reasons name, as the ``reason`` of the error.
REASON_WORDS = {"check character": "check", "characters": "length", "alphabet": "character"}


def expected_reason(text: str) -> str:
    for words, reason in REASON_WORDS.items():
        if words in text:
            return reason
    raise AssertionError(f"the vector reason {text!r} names no known part of a credit code")


@pytest.mark.parametrize("code", DOCUMENT["valid_unified_social_credit_codes"])
def test_valid_vector(code: str) -> None:
    parsed = parse_credit_code(code)
    assert str(parsed) == code
    assert parsed.check == code[17] == uscc.calc_check_digit(code[:17])
    assert parsed.division_code == code[2:8]
    assert parsed.organisation_code == code[8:17]
    assert make_credit_code(code[:17]) == parsed


@pytest.mark.parametrize(
    "vector",
    DOCUMENT["invalid_unified_social_credit_codes"],
    ids=[v["code"] for v in DOCUMENT["invalid_unified_social_credit_codes"]],
)
def test_invalid_vector(vector: dict[str, str]) -> None:
    with pytest.raises(errors.InvalidCreditCode) as caught:
        parse_credit_code(vector["code"])
    assert caught.value.reason == expected_reason(vector["reason"])
    assert caught.value.code == "invalid_credit_code"
    assert isinstance(caught.value, errors.InvalidCode)


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("11100000000013338w", "character", id="lower-case"),
        pytest.param("1110000000001333OW", "character", id="letter-o"),
        pytest.param("111000000000133380W", "length", id="19"),
        pytest.param("", "length", id="empty"),
        pytest.param("111A0000000013338W", "division_code", id="letter-in-division"),
    ],
)
def test_rejections_name_their_reason(text: str, reason: str) -> None:
    with pytest.raises(errors.InvalidCreditCode) as caught:
        parse_credit_code(text)
    assert caught.value.reason == reason


def test_white_space_around_is_ignored_and_non_text_refused() -> None:
    assert parse_credit_code(" 11100000MB03271699\n").value == "11100000MB03271699"
    with pytest.raises(errors.InvalidCreditCode):
        parse_credit_code(11100000000013338)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidCreditCode) as caught:
        CreditCode("11100000000013338X")
    assert caught.value.reason == "check"


def test_letters_may_lead() -> None:
    """Registration authority and category are characters of the alphabet, not only digits
    (python-stdnum refuses these; GB 32100 does not)."""
    code = make_credit_code("N2110105MA0123456")
    assert parse_credit_code(str(code)).registration_authority == "N"


first17s = st.builds(
    lambda head, division, organisation: head + division + organisation,
    st.text(ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(ALPHABET, min_size=9, max_size=9),
)


@given(first17s)
def test_check_character_agrees_with_stdnum(first17: str) -> None:
    assert credit_code_check_character(first17) == uscc.calc_check_digit(first17)


@given(first17s, st.data())
def test_every_single_substitution_is_caught(first17: str, data: st.DataObject) -> None:
    code = str(make_credit_code(first17))
    position = data.draw(st.integers(0, 17))
    replacement = data.draw(
        st.sampled_from(ALPHABET + "IOSVZabcxyz-. ").filter(lambda c: c != code[position])
    )
    with pytest.raises(errors.InvalidCreditCode):
        parse_credit_code(code[:position] + replacement + code[position + 1 :])


@given(first17s, st.integers(0, 16))
def test_every_adjacent_transposition_is_caught(first17: str, position: int) -> None:
    """MOD 31 with weights 3^i guarantees it: the weights of neighbours differ modulo the prime
    31, and so do 28 (the last weight) and 1 (the check character's)."""
    code = str(make_credit_code(first17))
    a, b = code[position], code[position + 1]
    assume(a != b)
    with pytest.raises(errors.InvalidCreditCode):
        parse_credit_code(code[:position] + b + a + code[position + 2 :])
