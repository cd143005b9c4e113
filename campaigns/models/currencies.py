"""ISO 4217 currencies: which codes an application may use, and their minor units.

An application's currency decides how amounts round (``Application.minor_units``): a yen has no
subunit, a Kuwaiti dinar has three decimals, most currencies have two. The codes are the
currencies of ISO 4217 that a shop can charge in, plus a few recently withdrawn ones that
existing integrations may still send; precious metals, fund codes for testing and "no currency"
(``XXX``) are left out.
"""

from __future__ import annotations

from typing import Final

DEFAULT_MINOR_UNITS: Final = 2
"""Decimals of every currency that ``MINOR_UNITS`` does not list."""

MINOR_UNITS: Final[dict[str, int]] = {
    # No subunit in use.
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
            "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    # Thousandths.
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    # Units of account with four decimals.
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip
"""Decimals of the currencies whose minor unit is not the usual hundredth."""

CURRENCY_CODES: Final[frozenset[str]] = frozenset(
    (
        "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
        "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP",
        "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU",
        "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
        "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
        "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
        "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP",
        "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
        "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
        "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
        "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS",
        "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
        "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED",
        "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW",
        "ZWG", "ZWL",
    )
)  # fmt: skip
"""The currency codes an application may use."""


def minor_units(currency: str) -> int:
    """How many decimals amounts in ``currency`` have (2 unless ``MINOR_UNITS`` says otherwise)."""
    return MINOR_UNITS.get(currency, DEFAULT_MINOR_UNITS)
