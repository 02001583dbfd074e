"""What ``monitor rules test``, ``monitor rules replay`` and the console's rule tester show, as
plain functions over an ``Analyzer`` (the CLI and the web only fetch rows and print).

``explain`` returns one JSON-able dict; ``explain_lines`` renders it for a terminal; ``replay``
compares the rules now loaded with the stored results over a set of items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.analyze.hits import DECISIONS
from monitor.analyze.rules import NO_CONTEXT, MatchContext

if TYPE_CHECKING:
    from monitor.analyze import Analyzer


def explain(
    analyzer: Analyzer, text: str, ctx: MatchContext = NO_CONTEXT, *, tokens: bool = True
) -> dict[str, Any]:
    """Everything the daemon would conclude about ``text``, with every hit's decision and reasons
    (rules out of scope for ``ctx`` included, as mentions)."""
    a = analyzer.analyze(text, ctx, explain=True)
    _folded, ev = analyzer.evaluate(text, ctx)
    out = a.to_json()
    out["text"] = text
    out["alerts"] = list(a.rules)
    out["hits"] = [{**h, "label": DECISIONS.get(h["decision"], h["decision"])} for h in out["hits"]]
    out["restorations"] = [asdict(r) for r in ev.restorations]
    if tokens:
        out["tokens"] = analyzer.ruleset.tokenize(a.normalized)
    return out


_MARK = {True: "🔔", False: "·"}
_SUGGESTED_MARK = "?"


def explain_lines(report: dict[str, Any]) -> list[str]:
    """``explain``'s result for a terminal: one line per hit with its decision and reasons."""
    lines = [f"text:        {report['text']}", f"normalized:  {report['normalized']}"]
    if report.get("tokens") is not None:
        lines.append(f"tokens:      {' / '.join(report['tokens'])}")
    for r in report.get("restorations", []):
        lines.append(f"sound-alike: {r['typed']!r} read as {r['word']!r}")
    if not report["hits"]:
        lines.append("hits:        none")
    else:
        lines.append("hits (🔔 alerts, · kept as a mention, ? 模型建议 suggested by the model, no alert):")
        for h in report["hits"]:
            why = "；".join(h["reasons"]) or "-"
            if h["decision"] == "suggested":
                lines.append(f"  {_SUGGESTED_MARK} {h['rule_id']:<22} {h['decision']} ({h['label']}): {why}")
                continue
            lines.append(
                f"  {_MARK[not h['negated']]} {h['rule_id']:<22} {h['keyword']!r} [{h['start']}:{h['end']}] "
                f"{h['decision']} ({h['label']}, {h['kind']}): {why}"
            )
    sev = f"   severity: {report['severity']}" if report.get("severity") else ""
    prio = report.get("priority_words") or []
    prio_s = f" (priority words: {', '.join(prio)})" if prio else ""
    lines.append(f"alerts:      {', '.join(report['alerts']) or 'none'}{sev}{prio_s}")
    lines.append(f"mentions:    {', '.join(report.get('mentions') or []) or 'none'}")
    if report.get("suggested"):
        lines.append(
            f"模型建议:    {', '.join(report['suggested'])} (suggested by the model; does not alert)"
        )
    lines.append(f"sentiment:   {report['sentiment']} (P(positive) = {report['sentiment_score']:.2f})")
    lines.append(f"dimensions:  {', '.join(report['dimensions'])}")
    grade = report["grade"] if report["grade"] is not None else "none (not a mid/poor item)"
    lines.append(f"grade:       {grade}")
    lines += [f"  - {r}" for r in report.get("grade_reasons", [])]
    return lines


@dataclass(frozen=True)
class StoredItem:
    """One stored item with the rules its stored analysis alerted on."""

    id: int
    text: str
    source: str
    platform: str | None
    sku: str | None
    rating: int | None
    rules: list[str] | None  # None: never analysed
    sentiment: str | None = None


@dataclass
class RuleChange:
    rule: str
    before: int = 0
    after: int = 0
    newly_firing: int = 0
    no_longer_firing: int = 0
    examples_newly_firing: list[dict[str, Any]] = field(default_factory=list)
    examples_no_longer_firing: list[dict[str, Any]] = field(default_factory=list)
    removed: bool = False


def replay(
    analyzer: Analyzer, items: Iterable[StoredItem], examples: int = 3
) -> tuple[int, list[RuleChange]]:
    """The rules now loaded over ``items``: per rule, how many alerted before (stored) and would
    alert now, with examples of each change and why. Nothing is written."""
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    changes: dict[str, RuleChange] = {}
    n = 0
    for item in items:
        n += 1
        ctx = MatchContext(source=item.source, platform=item.platform, sku=item.sku, rating=item.rating)
        _text, ev = analyzer.evaluate(item.text, ctx)
        old, new = set(item.rules or []), set(ev.fired)
        before.update(old)
        after.update(new)
        for rid in new - old:
            c = changes.setdefault(rid, RuleChange(rid))
            c.newly_firing += 1
            if len(c.examples_newly_firing) < examples:
                why = next((h for h in ev.hits if h.rule_id == rid and h.alerts), None)
                c.examples_newly_firing.append(_example(item, why.keyword if why else ""))
        for rid in old - new:
            c = changes.setdefault(rid, RuleChange(rid))
            c.no_longer_firing += 1
            if len(c.examples_no_longer_firing) < examples:
                why = next((h for h in ev.hits if h.rule_id == rid), None)
                said = f"{why.decision}: {'；'.join(why.reasons)}" if why else "no longer matches"
                c.examples_no_longer_firing.append(_example(item, said))
    ids = list(dict.fromkeys([*analyzer.ruleset.rules, *sorted(set(before) | set(after))]))
    rows = []
    for rid in ids:
        c = changes.get(rid, RuleChange(rid))
        c.before, c.after, c.removed = before[rid], after[rid], rid not in analyzer.ruleset.rules
        rows.append(c)
    return n, rows


def _example(item: StoredItem, why: str) -> dict[str, Any]:
    text = item.text if len(item.text) <= 80 else item.text[:79] + "…"
    return {"item_id": item.id, "source": item.source, "text": text.replace("\n", " "), "why": why}


__all__ = ["RuleChange", "StoredItem", "explain", "explain_lines", "replay"]
