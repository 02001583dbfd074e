"""Words every layer shares, declared once: severities and alert kinds."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "SEVERITIES",
    "AlertKind",
    "Severity",
    "as_severity",
    "higher_severity",
    "severity_rank",
]

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")

# keyword: a rule fired; burst: a wave of negative items; source_health: a source went blind;
# system: the monitor about itself (no poll succeeded).
AlertKind = Literal["keyword", "burst", "new_problem", "source_health", "system"]


def severity_rank(severity: str | None) -> int:
    """0 for low … 3 for critical; -1 for none or an unknown word."""
    known = as_severity(severity)
    return SEVERITIES.index(known) if known is not None else -1


def higher_severity(a: Severity, b: str | None) -> Severity:
    """The more serious of ``a`` and ``b`` (``b`` may be missing)."""
    known = as_severity(b)
    return known if known is not None and severity_rank(known) > severity_rank(a) else a


def as_severity(value: str | None) -> Severity | None:
    """``value`` if it is a severity word, else None."""
    return value if value in SEVERITIES else None
