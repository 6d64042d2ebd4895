"""The one place money, margins and dates become text."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

DASH = "—"
CURRENCY = "£"


def money(value: Decimal | float | int | None, *, pence: bool = False) -> str:
    """£1,234,567 in full (never 1.2M); negatives as -£1,234; None as a dash."""
    if value is None:
        return DASH
    d = Decimal(str(value)).quantize(Decimal("0.01") if pence else Decimal("1"), rounding=ROUND_HALF_UP)
    sign = "-" if d < 0 else ""
    body = f"{abs(d):,.2f}" if pence else f"{abs(d):,.0f}"
    return f"{sign}{CURRENCY}{body}"


def pct(value: Decimal | float | None) -> str:
    """A margin to one decimal with %, or a dash when undefined (no revenue)."""
    if value is None:
        return DASH
    return f"{Decimal(str(value)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
