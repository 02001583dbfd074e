"""Analysis of one item: fold text, match rules, sentiment, dimension, grade.

``Analyzer.analyze`` is a pure function of the text, the item's context and the
loaded rules, so it can run in a worker process and be replayed over stored items.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from monitor.analyze.rules import Hit, MatchContext, RuleSet
from monitor.analyze.text import fold
from monitor.config.rules import SEVERITIES

__all__ = ["Analysis", "Analyzer", "Hit", "MatchContext", "RuleSet"]


@dataclass(frozen=True)
class Analysis:
    normalized: str
    hits: list[Hit]
    rules: list[str]  # ids of rules that fired (at least one un-negated hit)
    sentiment: str  # pos | neg | neu
    sentiment_score: float  # probability the text is positive
    dimensions: list[str]
    grade: int | None
    grade_reasons: list[str] = field(default_factory=list)
    severity: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["hits"] = [asdict(h) for h in self.hits]
        return d


class Analyzer:
    def __init__(self, ruleset: RuleSet, sentiment_model_path: str | None = None) -> None:
        from monitor.analyze import sentiment

        self.ruleset = ruleset
        self._sentiment = sentiment
        self.model = (
            sentiment.SentimentModel.load(__import__("pathlib").Path(sentiment_model_path))
            if sentiment_model_path
            else sentiment.SentimentModel.load_default()
        )

    def analyze(self, text: str, ctx: MatchContext = MatchContext()) -> Analysis:
        folded = fold(text)
        hits = self.ruleset.match(folded, ctx)
        fired = sorted({h.rule_id for h in hits if not h.negated})
        p = self.model.prob_positive(folded)
        sentiment, _conf = self._sentiment.polarity(p, ctx.rating)
        rules = [self.ruleset.rules[r] for r in fired]
        dims = sorted({r.dimension for r in rules}) or []
        severity = None
        if fired:
            severity = max((self.ruleset.severity(r, folded) for r in fired), key=SEVERITIES.index)
        grade, reasons = _grade(sentiment, ctx.rating, severity, [r.category for r in rules])
        return Analysis(folded, hits, fired, sentiment, round(p, 4), dims, grade, reasons, severity)


def _grade(sentiment: str, rating: int | None, severity: str | None, categories: list[str]) -> tuple[int | None, list[str]]:
    """1 simple misunderstanding ... 5 legal, media or fraud (DOMAIN.md); None for positive items."""
    if sentiment == "pos" and not severity:
        return None, []
    if severity is None:
        return (1, ["negative without a rule hit"]) if sentiment == "neg" or (rating or 5) <= 3 else (None, [])
    grade = {"low": 2, "medium": 3, "high": 4, "critical": 5}[severity]
    return grade, [f"severity {severity} from rules: {', '.join(categories)}"]
