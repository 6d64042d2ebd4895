"""The one place money, margins and dates become text."""
from __future__ import annotations

import re
from collections.abc import Iterable
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


def amount_text(value: Decimal | None) -> str:
    """An amount as a form's text box shows it for editing: 1234.50, empty when there is none,
    and a zero budget as 0.00 (not empty, which would save it as no budget)."""
    return "" if value is None else str(value)


def project_labels(ids: Iterable[str], clients: Iterable[str], names: Iterable[str]) -> dict[str, str]:
    """'Client — Project' for each project id, made unique: when two projects share client and
    name, each label gets the start of its id, so a choice made by label finds the right project."""
    rows = list(zip(ids, clients, names, strict=True))
    plain = [f"{client} — {name}" for _, client, name in rows]
    shared = {label for label in plain if plain.count(label) > 1} if len(set(plain)) < len(plain) else set()
    return {pid: f"{label} (#{pid[:8]})" if label in shared else label
            for (pid, _, _), label in zip(rows, plain, strict=True)}


# What Markdown (and Streamlit's :colour[...] and $math$ extensions) can act on. Escaping the dot
# also stops a bare domain or URL from becoming a link (GFM needs a literal dot in the domain).
_MARKUP = re.compile(r"""([\\`*_{}\[\]<>()#.!|~$&^])""")


def as_text(value: object) -> str:
    """Text a person or a file gave, made safe to put in a Streamlit message, heading or label:
    every character Markdown could act on is backslash-escaped (a link, **bold**, :red[...],
    $x$ all show as typed) and a line break becomes a space. (An emoji code like :smile: still
    shows as its emoji: harmless, and escaping every colon would garble our own messages.)"""
    text = _MARKUP.sub(r"\\\1", str(value)).replace("\r", " ").replace("\n", " ")
    return "\\" + text if text[:1] in ("-", "+", "=") else text  # a list item or heading underline
