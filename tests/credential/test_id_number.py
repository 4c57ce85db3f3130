"""Citizen resident identity numbers (GB 11643-1999)."""

from __future__ import annotations

import datetime as dt

import pytest

from credential import (
    IdNumber,
    check_character,
    errors,
    mask_id_number,
    parse_id_number,
    upgrade_15_digit,
)

TODAY = dt.date(2026, 1, 1)


def iso7064_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 from its definition: the full 18 characters, read with weights
    2^(18-i) for position i = 1..18 (X = 10), sum to 1 modulo 11."""
    partial = sum(int(d) * pow(2, 18 - i, 11) for i, d in enumerate(first17, start=1))
    value = (1 - partial) % 11
    return "X" if value == 10 else str(value)


def with_check(first17: str) -> str:
    return first17 + iso7064_check(first17)


def test_known_valid_number() -> None:
    assert iso7064_check("11010519491231002") == "X"
    parsed = parse_id_number("11010519491231002X", today=TODAY)
    assert parsed.value == "11010519491231002X"
    assert parsed.region_code == "110105"
    assert parsed.birth_date == dt.date(1949, 12, 31)


def test_lower_case_x_is_stored_upper() -> None:
    assert parse_id_number("11010519491231002x", today=TODAY).value == "11010519491231002X"
    assert parse_id_number(" 11010519491231002x\n", today=TODAY).value == "11010519491231002X"


@pytest.mark.parametrize("first17", ["44030419900307123", "32010220000229456", "65010219851111001"])
def test_check_character_agrees_with_iso7064(first17: str) -> None:
    assert check_character(first17) == iso7064_check(first17)
    assert parse_id_number(with_check(first17), today=TODAY).value == with_check(first17)


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("110105194912310021", "check_digit", id="wrong-check-digit"),
        pytest.param("110105194912310029", "check_digit", id="nine-instead-of-x"),
        pytest.param(with_check("11010519900230123"), "birth_date", id="30-february"),
        pytest.param(with_check("11010520230229123"), "birth_date", id="29-february-2023"),
        pytest.param(with_check("11010519901301123"), "birth_date", id="month-13"),
        pytest.param(with_check("11010518000101123"), "birth_date", id="year-1800"),
        pytest.param(with_check("11010520260102123"), "future_birth_date", id="tomorrow"),
        pytest.param(with_check("11010520300101123"), "future_birth_date", id="future-year"),
        pytest.param(with_check("99010519491231002"), "region", id="region-99"),
        pytest.param(with_check("00010519491231002"), "region", id="region-00"),
        pytest.param("11010519491231002", "length", id="17-characters"),
        pytest.param("11010519491231002X0", "length", id="19-characters"),
        pytest.param("", "length", id="empty"),
        pytest.param("1101051949123100XX", "characters", id="x-inside"),
        pytest.param("11010519491231002Y", "characters", id="y-check"),
        pytest.param("１１０１０５１９４９１２３１００２X", "characters", id="full-width-digits"),
    ],
)
def test_invalid_numbers_have_a_reason(text: str, reason: str) -> None:
    with pytest.raises(errors.InvalidIdNumber) as caught:
        parse_id_number(text, today=TODAY)
    assert caught.value.reason == reason
    assert caught.value.code == "invalid_id_number"
    if len(text) == 18:
        assert text[6:14] not in str(caught.value), "the error must not repeat the number"


def test_birth_date_today_is_accepted() -> None:
    number = with_check("110105" + TODAY.strftime("%Y%m%d") + "123")
    assert parse_id_number(number, today=TODAY).birth_date == TODAY


def test_default_today_is_the_real_date() -> None:
    future = with_check("110105" + f"{dt.date.today().year + 1}0101" + "123")
    with pytest.raises(errors.InvalidIdNumber):
        parse_id_number(future)


def test_masking() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert parse_id_number("11010519491231002X", today=TODAY).masked == "110105********002X"


def test_repr_never_shows_the_full_number() -> None:
    parsed = parse_id_number("11010519491231002X", today=TODAY)
    for shown in (repr(parsed), str(parsed), f"{parsed}", repr([parsed]), repr({"id": parsed})):
        assert "11010519491231002X" not in shown
        assert "19491231" not in shown
    assert "110105********002X" in repr(parsed)
    assert repr(IdNumber("44030419900307123X")) == "IdNumber('440304********123X')"


def test_15_digit_number_converts() -> None:
    old = "110105491231002"
    expected = "11010519491231002" + iso7064_check("11010519491231002")
    upgraded = upgrade_15_digit(old, today=TODAY)
    assert upgraded.value == expected == "11010519491231002X"
    other = "440304900307123"
    assert upgrade_15_digit(other, today=TODAY).value == with_check("44030419900307123")


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("11010549123100", "length", id="14-digits"),
        pytest.param("11010519491231002X", "length", id="already-18"),
        pytest.param("11010549123100X", "length", id="x-in-15"),
        pytest.param("110105490230002", "birth_date", id="30-february-1949"),
        pytest.param("990105491231002", "region", id="bad-region"),
    ],
)
def test_bad_15_digit_numbers(text: str, reason: str) -> None:
    with pytest.raises(errors.InvalidIdNumber) as caught:
        upgrade_15_digit(text, today=TODAY)
    assert caught.value.reason == reason
