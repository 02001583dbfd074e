"""Analysis of one item: fold text, match rules, sentiment, dimension, grade.

``Analyzer.analyze`` is a pure function of the text, the item's context and the
loaded rules, so it can run in a worker process and be replayed over stored items.
Each rule hit carries a decision (``analyze/hits.py``); only ``complaint`` hits alert
(``Analysis.rules``), the others are mentions (``Analysis.mentions``). A review that reads negative
with no complaint may get one ``suggested`` hit (模型建议) from the problem-category model
(``analyze/problems.py``, ``Analysis.suggested``): never an alert, never a mention.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from monitor.analyze.hits import ALERTING, DECISIONS
from monitor.analyze.rules import NO_CONTEXT, Evaluation, Hit, MatchContext, RuleSet
from monitor.analyze.text import fold_with_breaks
from monitor.config.rules import DIMENSIONS

if TYPE_CHECKING:
    from monitor.analyze.problems import ProblemModel
    from monitor.analyze.sentiment import Buckets, SentimentModel
    from monitor.config import Config

__all__ = [
    "ALERTING",
    "DECISIONS",
    "Analysis",
    "Analyzer",
    "Evaluation",
    "Hit",
    "MatchContext",
    "RuleSet",
    "dimensions_of",
    "grade_of",
]


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


# An escalation word raises the grade one step, but only legal/media/fraud rules reach 5.
_ESCALATION_CAP = 4


@dataclass(frozen=True)
class Analysis:
    normalized: str
    hits: list[Hit]  # every match, each with its decision and reasons
    rules: list[str]  # ids of the rules that alert (at least one hit decided ``complaint``)
    sentiment: str  # pos | neg | neu
    sentiment_score: float  # probability the text is positive
    dimensions: list[str]
    grade: int | None
    grade_reasons: list[str] = field(default_factory=list)
    severity: str | None = None
    priority_words: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # ids of rules with hits but no complaint
    # ids of rules the problem model suggests (a "suggested" hit, 模型建议): never alerts
    suggested: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["hits"] = [asdict(h) for h in self.hits]
        return d


def dimensions_of(ruleset: RuleSet, ev: Evaluation) -> list[str]:
    """Multi-label: the dimensions of the fired rules plus those named by cue words; 其他 if none."""
    if not ev.fired and not ev.cues:
        return ["其他"]
    found = {ruleset.rules[r].dimension for r in ev.fired} | set(ev.cues)
    found.discard("其他")
    return [d for d in DIMENSIONS if d in found] or ["其他"]


def grade_of(
    ruleset: RuleSet, ev: Evaluation, sentiment: str, rating: int | None
) -> tuple[int | None, list[str]]:
    """Difficulty grade 1-5 of a mid/poor item (DOMAIN.md), None for a positive one, with reasons."""
    reasons: list[str] = []
    if ev.fired:
        graded = sorted(((ruleset.rules[r].effective_grade, r) for r in ev.fired), reverse=True)
        grade = graded[0][0]
        reasons += [f"rule {r} ({ruleset.rules[r].title}) → {g}" for g, r in graded]
        if ev.priority_words and grade < _ESCALATION_CAP:
            grade += 1
            reasons.append(f"escalation word {'/'.join(ev.priority_words)} → {grade}")
        return grade, reasons
    low_rating = rating is not None and rating <= 3
    if sentiment == "neg" or (low_rating and sentiment != "pos"):
        why = "negative text" if sentiment == "neg" else f"{rating}★ review"
        grade = 1
        reasons.append(f"{why} without a recognised problem (likely a misunderstanding) → 1")
        if ev.priority_words:
            grade = 2
            reasons.append(f"escalation word {'/'.join(ev.priority_words)} → 2")
        return grade, reasons
    return None, []


class Analyzer:
    def __init__(
        self,
        ruleset: RuleSet,
        sentiment_model_path: str | None = None,
        *,
        model: SentimentModel | None = None,
        problems: ProblemModel | Literal[False] | None = None,
    ) -> None:
        """``problems``: the problem-category model that suggests a rule for a negative review no
        rule caught (``analyze/problems.py``); None the shipped one, False none."""
        from monitor.analyze import problems as problem_model
        from monitor.analyze import sentiment

        self.ruleset = ruleset
        self._polarity = sentiment.polarity
        self._review_prob = sentiment.review_prob
        self._sentiment_text = sentiment.sentiment_text
        self._whole_text = not (sentiment.DEFAULT_DROP_OTHER or sentiment.DEFAULT_TURN_WEIGHT)
        self.model: SentimentModel
        if model is not None:
            self.model = model
        elif sentiment_model_path:
            self.model = sentiment.SentimentModel.load(Path(sentiment_model_path))
        else:
            self.model = sentiment.SentimentModel.load_default()
        self._linear = callable(getattr(self.model, "score", None))
        self._rule_ids = frozenset(ruleset.rules)
        self.problems: ProblemModel | None = (
            None if problems is False else problems or problem_model.ProblemModel.load_default()
        )

    @classmethod
    def from_config(
        cls, config: Config, *, ruleset: RuleSet | None = None, model_path: str | Path | None = None
    ) -> Analyzer:
        """The analyzer the daemon would run: ``ruleset`` (default: the config's rules and priority
        words), the 模型建议 model of ``analysis.problem_model`` (else the shipped one) and the
        sentiment model at ``model_path``, else ``analysis.sentiment_model``, else the
        shipped one. A model file that cannot be read raises ``OSError`` or ``ValueError``."""
        from monitor.analyze.problems import ProblemModel

        a = config.settings.analysis
        path = model_path or (config.path(a.sentiment_model) if a.sentiment_model else None)
        rules = ruleset if ruleset is not None else RuleSet(config.rules, config.priority_words)
        problems = ProblemModel.load(config.path(a.problem_model)) if a.problem_model else None
        return cls(rules, str(path) if path else None, problems=problems)

    def evaluate(
        self, text: str, ctx: MatchContext = NO_CONTEXT, *, explain: bool = False
    ) -> tuple[str, Evaluation]:
        """The text the rules read and what they say (replay uses this); the sentiment model
        only weighs the clauses of matches."""
        folded, breaks = fold_with_breaks(text)
        ev = self.ruleset.evaluate(folded, ctx, breaks, explain=explain, model=self.model)
        return ev.text, ev

    def analyze(self, text: str, ctx: MatchContext = NO_CONTEXT, *, explain: bool = False) -> Analysis:
        folded, breaks = fold_with_breaks(text)
        buckets: Buckets | None = None
        if not self._linear:  # a stand-in scorer (rules test without a model): no clause reading
            p = self.model.prob_positive(folded)
            ev = self.ruleset.evaluate(folded, ctx, breaks, explain=explain, model=self.model, review_p=p)
            folded = ev.text
        else:
            z, buckets = self._score_buckets(folded)
            pz = _logistic(z)
            ev = self.ruleset.evaluate(folded, ctx, breaks, explain=explain, model=self.model, review_p=pz)
            if ev.text != folded:  # sound-alike spellings were restored
                folded = ev.text
                z, buckets = self._score_buckets(folded)
                pz = _logistic(z)
            # The review's own sentiment: social-post noise out, opinion emoji in, read clause by
            # clause (the rules above weigh each match's clause themselves).
            read = self._sentiment_text(folded, text)
            if read is folded and self._whole_text:
                p = pz  # the default whole-text reading, without a call
            else:
                p = self._review_prob(self.model, read, z=z if read == folded else None)
        sentiment, _conf = self._polarity(p, ctx.rating)
        grade, reasons = grade_of(self.ruleset, ev, sentiment, ctx.rating)
        hits, suggested = ev.hits, []
        if sentiment == "neg" and not ev.fired and self.problems is not None:
            hit = self._suggest(folded, ev, buckets)
            if hit is not None:
                hits, suggested = [*ev.hits, hit], [hit.rule_id]
                reasons = [*reasons, hit.reasons[0]]
        return Analysis(
            normalized=folded,
            hits=hits,
            rules=ev.fired,
            sentiment=sentiment,
            sentiment_score=round(p, 4),
            dimensions=dimensions_of(self.ruleset, ev),
            grade=grade,
            grade_reasons=reasons,
            severity=ev.severity,
            priority_words=ev.priority_words,
            mentions=ev.mentioned,
            suggested=suggested,
        )

    def _score_buckets(self, folded: str) -> tuple[float, Buckets | None]:
        """The whole text's score and, for the problem model, its n-gram buckets (hashed once)."""
        score_buckets = getattr(self.model, "score_buckets", None)  # not on a stand-in scorer
        if score_buckets is not None:
            return cast("tuple[float, Buckets]", score_buckets(folded))
        return self.model.score(folded), None

    def _suggest(self, folded: str, ev: Evaluation, buckets: Buckets | None = None) -> Hit | None:
        """The problem model's suggestion for a negative review on which no rule alerts: one
        ``suggested`` hit over the whole text, or None. A rule that matched something here and
        decided it was no complaint (a denial, another store …) is not suggested again."""
        assert self.problems is not None
        allowed = self._rule_ids.difference(h.rule_id for h in ev.hits)
        found = self.problems.suggest(folded, allowed, buckets) if allowed else None
        if found is None:
            return None
        rule_id, prob = found
        title = self.ruleset.rules[rule_id].title
        why = f"模型建议：可能是「{title}」（概率 {prob:.2f}，没有规则命中；不告警）"
        return Hit(rule_id, "", 0, len(folded), "suggested", (why,), kind="suggested")
