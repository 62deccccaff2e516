from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.events.currency import (
    MINOR_UNIT_EXPONENTS,
    InvalidAmount,
    UnknownCurrency,
    minor_unit_exponent,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("129.99", "USD", 12999),
        (Decimal("129.99"), "USD", 12999),
        (129.99, "USD", 12999),
        (0.1 + 0.2, "USD", 30),
        (500, "JPY", 500),
        ("500", "jpy", 500),
        ("1.234", "KWD", 1234),
        ("1.2345", "KWD", 1235),  # half up
        ("0.005", "USD", 1),  # half up, not banker's
        ("0.004", "USD", 0),
        ("1.5", "JPY", 2),
        ("2.5", "JPY", 3),
        ("10", "EUR", 1000),
        ("7.25", "BHD", 7250),
        ("1.00005", "CLF", 10001),
        ("999", "KRW", 999),
        (" 12.3 ", "GBP", 1230),
        (0, "USD", 0),
    ],
)
def test_to_minor_units(amount, currency, expected):
    assert to_minor_units(amount, currency) == expected


def test_exponents_of_well_known_currencies():
    assert [minor_unit_exponent(c) for c in ("USD", "EUR", "JPY", "KWD", "TND", "CLF", "ISK", "VND")] == [
        2,
        2,
        0,
        3,
        3,
        4,
        0,
        0,
    ]
    assert all(len(code) == 3 and code.isupper() for code in MINOR_UNIT_EXPONENTS)
    assert len(MINOR_UNIT_EXPONENTS) > 150


@pytest.mark.parametrize("currency", ["XXX", "US", "usd1", "", "XAU", "BTC"])
def test_unknown_currency_is_a_clear_error(currency):
    with pytest.raises(UnknownCurrency, match="ISO 4217"):
        to_minor_units("1", currency)


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity", "-1", True, "1,50"])
def test_invalid_amounts(amount):
    with pytest.raises(InvalidAmount):
        to_minor_units(amount, "USD")


@given(st.sampled_from(sorted(MINOR_UNIT_EXPONENTS)), st.integers(min_value=0, max_value=10**12))
def test_exact_amounts_round_trip(currency, minor):
    exponent = MINOR_UNIT_EXPONENTS[currency]
    assert to_minor_units(Decimal(minor).scaleb(-exponent), currency) == minor
