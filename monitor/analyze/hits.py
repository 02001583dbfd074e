"""The hit model: one occurrence of something a rule matches, with its decision and reasons.

Every occurrence a rule matches becomes a ``Hit``; only decision ``complaint`` alerts. The
others are stored with the analysis (in its ``hits``), counted as mentions in the reports and
shown, with their reasons, by ``monitor rules test`` and the console's rule tester.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# decision -> what staff read (Chinese first: this is shown in the console and reports)
DECISIONS: dict[str, str] = {
    "complaint": "投诉",
    "mention": "仅提及",
    "negated": "被否定",
    "question": "疑问",
    "hypothetical": "假设",
    "other_target": "说的是别家/别人",
    "other_time": "说的是以前",
    "other_sense": "另一含义",
    "resolved": "已解决",
    "suggested": "模型建议",  # the problem model's guess where no rule alerted (analyze/problems.py)
}
ALERTING = frozenset({"complaint"})
# How a hit was found.
KINDS = ("keyword", "pattern", "near", "pinyin", "suggested")


@dataclass(frozen=True)
class Hit:
    """One occurrence. ``start``/``end`` index the normalized text (``Analysis.normalized``)."""

    rule_id: str
    keyword: str  # the matched words; for a near group the words joined by "…"
    start: int
    end: int
    decision: str  # a key of DECISIONS
    reasons: tuple[str, ...] = ()  # why, most decisive first, in words an admin reads
    kind: str = "keyword"  # one of KINDS
    # Kept in the stored JSON under the name older readers use: True when the hit does not alert.
    negated: bool = field(init=False)

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"unknown decision {self.decision!r}")
        object.__setattr__(self, "negated", self.decision not in ALERTING)

    @property
    def alerts(self) -> bool:
        return self.decision in ALERTING

    @property
    def label(self) -> str:
        return DECISIONS[self.decision]


__all__ = ["ALERTING", "DECISIONS", "KINDS", "Hit"]
