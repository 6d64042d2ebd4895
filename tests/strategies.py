"""Hypothesis strategies shared by the generated-input tests: hostile text, amounts, dates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import strategies as st

# What an attacker or a careless paste puts in a text field: SQL, script, markup, formulas,
# control characters, right-to-left marks, whitespace only, and text at and past the limits.
PAYLOADS = [
    "'; DROP TABLE milestone.projects; --",
    "Robert'); DELETE FROM milestone.estimates; --",
    "1' OR '1'='1",
    '" OR ""="',
    "<script>window.__pwned=1;alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "[click](https://evil.example)",
    "[x](javascript:alert(1))",
    "**bold** _it_ `code` # heading",
    '=HYPERLINK("https://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
    "a\x00b",
    "\x00",
    "   ",
    "",
    "\u202eevil\u202c",
    "😀 Ünïcødé ✓",
    "line one\nline two",
    "$(rm -rf /)",
    "{{7*7}}",
    "%s%s%n",
    "\\",
    "x" * 255,
    "x" * 256,
    "é" * 500,
]


def hostile_text(max_size: int = 100) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(PAYLOADS),
        st.text(max_size=max_size),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=max_size),
        st.builds(lambda a, p, b: a + p + b, st.text(max_size=10), st.sampled_from(PAYLOADS), st.text(max_size=10)),
    )


def printable_payload(max_size: int = 60) -> st.SearchStrategy[str]:
    """Hostile text a database can hold (no NUL), non-blank, within 255 characters."""
    return hostile_text(max_size).filter(lambda s: "\x00" not in s and s.strip() and len(s.strip()) <= 255)


def amounts() -> st.SearchStrategy[object]:
    return st.one_of(
        st.decimals(min_value=Decimal("-1e13"), max_value=Decimal("1e13"), places=2),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**15), max_value=10**15),
        st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
        st.sampled_from(["1,234.56", "£12", "12.345", "1e5", "-0", "0", "0.01", "100000000000", "100000000000.01"]),
    )


def any_dates() -> st.SearchStrategy[date]:
    return st.one_of(st.dates(), st.dates(date(2024, 1, 1), date(2027, 12, 31)))


def maybe(s: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), s)
