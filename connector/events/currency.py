"""ISO 4217 currencies and conversion of decimal amounts to integer minor units."""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

logger = logging.getLogger(__name__)

_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DECIMALS = "CLF UYW"
_TWO_DECIMALS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL "
    "MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK "
    "PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

# Funds and metals without a minor unit (XAU, XDR, XTS, ...) are left out on purpose: an amount in them
# cannot be expressed as an integer of minor units, so they are "unknown" here.
MINOR_UNIT_EXPONENTS: dict[str, int] = {
    **{code: 0 for code in _ZERO_DECIMALS.split()},
    **{code: 2 for code in _TWO_DECIMALS.split()},
    **{code: 3 for code in _THREE_DECIMALS.split()},
    **{code: 4 for code in _FOUR_DECIMALS.split()},
}
"""ISO 4217 code -> number of decimal digits of its minor unit (USD 2, JPY 0, KWD 3, CLF 4)."""


class UnknownCurrency(ValueError):
    """The currency code is not an active ISO 4217 currency with a minor unit."""


class InvalidAmount(ValueError):
    """The amount is not a finite, non-negative decimal number."""


def is_known_currency(code: str) -> bool:
    """True when `code` (exactly three capital letters) is in the ISO 4217 table."""
    return code in MINOR_UNIT_EXPONENTS


def minor_unit_exponent(currency: str) -> int:
    """The ISO 4217 exponent of `currency` (case-insensitive, trimmed); UnknownCurrency otherwise."""
    code = currency.strip().upper() if isinstance(currency, str) else ""
    try:
        return MINOR_UNIT_EXPONENTS[code]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}: not an active ISO 4217 code") from None


def to_minor_units(amount: Decimal | str | int | float, currency: str) -> int:
    """Convert `amount` in major units to an integer of `currency`'s minor unit, rounding half up.

    Floats go through their shortest repr (129.99 -> "129.99"), never through binary expansion.
    """
    exponent = minor_unit_exponent(currency)
    if isinstance(amount, bool):
        raise InvalidAmount(f"amount must be a number, got {amount!r}")
    try:
        value = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"amount must be a decimal number, got {amount!r}") from None
    if not value.is_finite():
        raise InvalidAmount(f"amount must be finite, got {amount!r}")
    if value < 0:
        raise InvalidAmount(f"amount must not be negative, got {amount!r}")
    return int((value.scaleb(exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
