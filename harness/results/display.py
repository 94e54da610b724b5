"""Numbers as people read them in tables and reports: scores, intervals and p-values."""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Paths and formatting

def format_score(value: float | None, digits: int = 4) -> str:
    """A score for tables: a dash when missing, and never "-0.000" for a tiny negative."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and text.strip("-0.") == "" else text


def score_text(x, digits: int = 3) -> str:
    """A score in a table cell ("—": missing): the leaderboard, comparisons, report and suite tables."""
    return format_score(x, digits) if x is not None else "—"


def interval_text(ci, digits: int = 3) -> str:
    return f"[{score_text(ci[0], digits)}, {score_text(ci[1], digits)}]" if ci and None not in ci else "—"


def p_text(p) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
