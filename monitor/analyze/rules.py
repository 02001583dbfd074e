"""Keyword rules compiled into one Aho-Corasick automaton, with negation by clause."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from monitor.analyze.text import fold
from monitor.config.rules import SEVERITIES, Rule

NEGATORS = ("并非", "不是", "没有", "没", "不", "无", "未", "非", "完好", "别")
_CLAUSE_END = re.compile(r"[，,。.!！?？;；\n~～]")
NEGATION_REACH = 4  # characters between a negator and the keyword still covered by it


@dataclass(frozen=True)
class Hit:
    rule_id: str
    keyword: str
    start: int
    end: int
    negated: bool
    reason: str


@dataclass(frozen=True)
class MatchContext:
    source: str | None = None
    platform: str | None = None
    sku: str | None = None
    rating: int | None = None


def _negation(clause_before: str) -> tuple[bool, str]:
    window = clause_before[-(NEGATION_REACH + 2) :]
    found = [n for n in NEGATORS if n in window]
    if not found:
        return False, "no negator before it in the clause"
    count = sum(window.count(n) for n in ("不", "没", "无", "未", "非")) + window.count("完好")
    if count >= 2:
        return False, f"double negation ({'/'.join(found)}) keeps it"
    return True, f"negated by {found[0]!r}"


class RuleSet:
    def __init__(self, rules: Sequence[Rule], priority_words: Iterable[str] = ()) -> None:
        self.rules = {r.id: r for r in rules if r.enabled}
        self.priority_words = [fold(w) for w in priority_words]
        self._auto = ahocorasick.Automaton()
        index: dict[str, list[tuple[str, str]]] = {}
        for r in self.rules.values():
            for kw in r.keywords:
                index.setdefault(fold(kw), []).append((r.id, kw))
        for key, owners in index.items():
            self._auto.add_word(key, (key, owners))
        if index:
            self._auto.make_automaton()
        self._empty = not index

    def in_scope(self, rule: Rule, ctx: MatchContext) -> bool:
        s = rule.scope
        if s.sources and ctx.source not in s.sources:
            return False
        if s.platforms and ctx.platform not in s.platforms:
            return False
        if s.skus and ctx.sku not in s.skus:
            return False
        if ctx.rating is not None:
            if s.rating_min is not None and ctx.rating < s.rating_min:
                return False
            if s.rating_max is not None and ctx.rating > s.rating_max:
                return False
        return True

    def match(self, folded: str, ctx: MatchContext = MatchContext()) -> list[Hit]:
        if self._empty:
            return []
        hits: list[Hit] = []
        for end, (key, owners) in self._auto.iter(folded):
            start = end - len(key) + 1
            clause_start = max((m.end() for m in _CLAUSE_END.finditer(folded, 0, start)), default=0)
            for rule_id, kw in owners:
                rule = self.rules[rule_id]
                if not self.in_scope(rule, ctx):
                    continue
                negated, reason = _negation(folded[clause_start:start]) if rule.negatable else (False, "")
                excluded = next((x for x in rule.exclude if fold(x) in folded), None)
                if excluded:
                    negated, reason = True, f"excluded by {excluded!r}"
                hits.append(Hit(rule_id, kw, start, end + 1, negated, reason))
        return hits

    def severity(self, rule_id: str, folded: str) -> str:
        base = self.rules[rule_id].severity
        if any(w in folded for w in self.priority_words):
            return SEVERITIES[min(SEVERITIES.index(base) + 1, len(SEVERITIES) - 1)]
        return base
