"""The table in cases.yaml, run through the default rule pack plus its scoped test rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.analyze import MatchContext, RuleSet
from monitor.analyze.hits import ALERTING
from monitor.analyze.text import fold_with_breaks
from monitor.config.rules import Rule, RuleFile

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
TABLE = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = TABLE["cases"]


def default_pack() -> tuple[list[Rule], list[str]]:
    rules: list[Rule] = []
    prio: list[str] = []
    for f in sorted((ROOT / "rules").glob("*.yaml")):
        parsed = RuleFile.model_validate(yaml.safe_load(f.read_text(encoding="utf-8")) or {})
        rules += parsed.rules
        prio += parsed.priority_words
    return rules, prio


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    rules, prio = default_pack()
    extra = [Rule.model_validate(r) for r in TABLE["extra_rules"]]
    return RuleSet(rules + extra, prio)


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 150
    texts = [c["text"] for c in CASES]
    dupes = {
        t
        for t in texts
        if texts.count(t) > 1
        and not any(
            "platform" in c or "rating" in c or "sku" in c or "source" in c for c in CASES if c["text"] == t
        )
    }
    assert not dupes, f"duplicate cases: {dupes}"


@pytest.mark.parametrize("case", CASES, ids=[f"case{i:03d}" for i in range(len(CASES))])
def test_case(ruleset: RuleSet, case: dict[str, Any]) -> None:
    ctx = MatchContext(
        source=case.get("source"),
        platform=case.get("platform"),
        sku=case.get("sku"),
        rating=case.get("rating"),
    )
    folded, breaks = fold_with_breaks(case["text"])
    ev = ruleset.evaluate(folded, ctx, breaks, explain=True)
    why = [(h.rule_id, h.keyword, h.decision, h.reasons) for h in ev.hits]
    assert sorted(ev.fired) == sorted(case["fires"]), f"{folded!r}: {why}"
    for keyword, decision in (case.get("decisions") or {}).items():
        found = [h for h in ev.hits if h.keyword == keyword]
        assert found, f"{keyword!r} not matched in {folded!r}: {why}"
        assert found[0].decision == decision, f"{keyword!r} in {folded!r}: {why}"
        assert found[0].negated == (decision not in ALERTING)
    if "severity" in case:
        assert ev.severity == case["severity"], f"{folded!r}: priority words {ev.priority_words}"
