"""Keyword rules: one Aho-Corasick pass over the folded text finds every keyword, concept word,
exclusion, priority word and dimension cue at once; regular expressions run through RE2 (linear
time) behind a pattern set, so only patterns that can match are run.

Every occurrence becomes a ``Hit`` with a decision (``analyze/hits.py``): first its sense (an
``exclude`` phrase it sits in, a ``senses`` cue nearby), then the form of its clause
(``analyze/negation.py``: negated, a question, hypothetical), then what the clause is about
(``analyze/context.py``: another store or person, an earlier purchase, already resolved, a
positive clause, a high rating). Only ``complaint`` hits make a rule alert; the rest are kept
as mentions. Sound-alike spellings of known words (po损, fa货) are restored before matching
(``analyze/pinyin.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import ahocorasick

from monitor.analyze.concepts import NearGroup, NearMatch, Occurrence, match_group
from monitor.analyze.context import Doc, Scorer, accusation, judge_context, might_be_sarcastic
from monitor.analyze.hits import ALERTING, DECISIONS, Hit
from monitor.analyze.negation import (
    FormRules,
    breaks_that_count,
    judge_form,
    sentence_bounds,
    words,
)
from monitor.analyze.pinyin import Restoration, Restorer, shift_breaks
from monitor.analyze.text import EMOJI_CODE, fold
from monitor.config.regex import FALLBACK_MAX_CHARS, RE2, REGEX_ENGINE, check_pattern, compile_pattern
from monitor.config.rules import Rule
from monitor.config.types import SEVERITIES

# Kept for callers of the earlier API: the decisions that make a rule alert.
FIRING = ALERTING
# Occurrences judged per rule and text, and collected per rule, concept or pattern: bounds the
# time on pathological texts (1 MB of 假货); a real review has a handful.
MAX_OCCURRENCES_PER_RULE = 30
MAX_COLLECTED = 200
SARCASM = "$sarcasm"


@dataclass(frozen=True)
class MatchContext:
    source: str | None = None
    platform: str | None = None
    sku: str | None = None
    rating: int | None = None


NO_CONTEXT = MatchContext()


@dataclass(frozen=True)
class Evaluation:
    hits: list[Hit]
    fired: list[str]  # rule ids with at least one complaint: the rules that alert, sorted
    severity: str | None  # of the fired rules, raised by priority words
    priority_words: list[str] = field(default_factory=list)
    cues: dict[str, list[str]] = field(default_factory=dict)  # dimension -> cue words found
    mentioned: list[str] = field(default_factory=list)  # rule ids with hits but no complaint
    text: str = ""  # what the rules read: the folded text with sound-alike spellings restored
    restorations: list[Restoration] = field(default_factory=list)


# ---- the rule set --------------------------------------------------------------------------------
# Cue words that put an item in an experience dimension even without a rule hit.
DIMENSION_CUES: dict[str, tuple[str, ...]] = {
    "物流时效": tuple(
        words(
            "物流 快递 发货 送货 配送 到货 运输 顺丰 快递员 送达 派送 包裹 京东快递 中通 圆通 申通",
            "韵达 邮政 ems 揽收 签收",
        )
    ),
    "服务态度": tuple(
        words(
            "客服 态度 服务 售后 店家 卖家 商家 掌柜 回复 服务员 前台 退换 退货 换货 退款 处理",
        )
    ),
    "价格": tuple(
        words(
            "价格 价钱 价位 贵 便宜 性价比 划算 实惠 降价 涨价 优惠 差价 保价 不值 值这个价 物美价廉",
            "块钱 元钱 省钱",
        )
    ),
    "商品质量": tuple(
        words(
            "质量 做工 材质 面料 品质 用料 手感 口感 味道 效果 正品 耐用 好用 难用 屏幕 电池 续航",
            "音质 尺码 颜色 新鲜",
        )
    ),
}


@dataclass(frozen=True)
class _Entry:
    kind: str  # kw | ex | prio | cue | cw (a concept word)
    owner: str  # rule id, priority word, dimension, or concept key
    word: str  # as the admin wrote it


@dataclass(frozen=True)
class _Sense:
    cues: tuple[str, ...]  # folded
    within: str


@lru_cache(maxsize=4096)
def _fold_word(word: str) -> str:
    return fold(word)


def _is_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


class RuleSet:
    def __init__(
        self,
        rules: Sequence[Rule],
        priority_words: Iterable[str] = (),
        cues: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.rules = {r.id: r for r in rules if r.enabled}
        self.priority_words = list(dict.fromkeys(fold(w) for w in priority_words if fold(w)))
        self._forms = {
            r.id: FormRules(
                r.negatable, r.post_denial, r.negation_reach, r.fire_on_questions, r.fire_on_hypotheticals
            )
            for r in self.rules.values()
        }
        index: dict[str, list[_Entry]] = {}

        def add(word: str, entry: _Entry) -> None:
            key = fold(word)
            if key:
                index.setdefault(key, []).append(entry)

        # concept word lists are shared by content, so two files' "refund" stay apart
        concept_keys: dict[tuple[str, ...], str] = {}
        self._near: list[NearGroup] = []
        for r in self.rules.values():
            for kw in r.keywords:
                add(kw, _Entry("kw", r.id, kw))
            for x in r.exclude:
                add(x, _Entry("ex", r.id, x))
            for g in r.near:
                keys = []
                for name in g.all:
                    if name.startswith("$"):
                        keys.append(name)
                        continue
                    content = tuple(sorted({fold(w) for w in r.concept_words(name) if fold(w)}))
                    key = concept_keys.get(content)
                    if key is None:
                        key = concept_keys[content] = f"c{len(concept_keys)}"
                        for w in content:
                            add(w, _Entry("cw", key, w))
                    keys.append(key)
                self._near.append(NearGroup(r.id, tuple(keys), tuple(g.all), g.within, g.ordered))
        self._near_needs = [(g, frozenset(k for k in g.keys if not k.startswith("$"))) for g in self._near]
        for w in self.priority_words:
            add(w, _Entry("prio", w, w))
        for dim, cue_words in (DIMENSION_CUES if cues is None else cues).items():
            for w in cue_words:
                add(w, _Entry("cue", dim, w))
        self._senses: dict[str, dict[str, list[_Sense]]] = {}
        for r in self.rules.values():
            for s in r.senses:
                sense_cues = [*s.cues, *(w for n in s.concepts for w in r.concept_words(n))]
                sense = _Sense(tuple(c for c in dict.fromkeys(fold(w) for w in sense_cues) if c), s.within)
                for kw in s.keywords:
                    self._senses.setdefault(r.id, {}).setdefault(fold(kw), []).append(sense)
        self._auto: Any = ahocorasick.Automaton()
        for key, entries in index.items():
            # grouped by kind, with whether the word begins / ends with a Latin letter or digit
            self._auto.add_word(
                key,
                (
                    len(key),
                    _is_alnum(key[0]),
                    _is_alnum(key[-1]),
                    tuple((e.owner, e.word) for e in entries if e.kind == "kw"),
                    tuple(e.owner for e in entries if e.kind == "cw"),
                    tuple((e.owner, e.word) for e in entries if e.kind == "ex"),
                    tuple(e.owner for e in entries if e.kind == "prio"),
                    tuple((e.owner, e.word) for e in entries if e.kind == "cue"),
                ),
            )
        self._empty = not index
        if index:
            self._auto.make_automaton()
        self._patterns: list[tuple[str, Any]] = []
        self._set: Any = None
        for r in self.rules.values():
            for p in r.patterns:
                self._patterns.append((r.id, compile_pattern(p)))
        if self._patterns and RE2 is not None:
            self._set = RE2.Set.SearchSet()
            for _rid, compiled in self._patterns:
                self._set.Add(compiled.pattern)
            self._set.Compile()
        vocabulary = {fold(w) for r in self.rules.values() for w in r.words()}
        vocabulary |= {fold(w) for ws in DIMENSION_CUES.values() for w in ws}
        sound = {fold(w) for r in self.rules.values() for w in r.pinyin}
        self._restorer = Restorer(vocabulary, sound)
        self._tokenizer: Any = None

    @property
    def keywords(self) -> list[str]:
        return sorted({fold(k) for r in self.rules.values() for k in r.keywords})

    @property
    def vocabulary(self) -> set[str]:
        """Every folded word some rule matches with (keywords and concept words)."""
        return {fold(w) for r in self.rules.values() for w in r.words()} - {""}

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

    def _pattern_matches(self, folded: str) -> list[tuple[str, int, int, str]]:
        if not self._patterns:
            return []
        if self._set is not None:
            candidates = self._set.Match(folded) or []
            text = folded
        else:
            candidates = range(len(self._patterns))
            text = folded[:FALLBACK_MAX_CHARS]
        out = []
        for i in candidates:
            rule_id, compiled = self._patterns[i]
            for k, m in enumerate(compiled.finditer(text)):
                if k >= MAX_COLLECTED:
                    break
                if m.end() > m.start():
                    out.append((rule_id, m.start(), m.end(), m.group(0)))
        return out

    def evaluate(
        self,
        folded: str,
        ctx: MatchContext = NO_CONTEXT,
        breaks: frozenset[int] = frozenset(),
        *,
        explain: bool = False,
        model: Scorer | None = None,
        review_p: float | None = None,
    ) -> Evaluation:
        """Everything the rules say about one folded text. ``model`` scores the sentiment of a
        clause (default: the shipped model); ``review_p`` is the whole text's P(positive) when the
        caller has it. With ``explain``, occurrences of rules out of scope for ``ctx`` are
        reported too (as mentions)."""
        if self._empty and not self._patterns:
            return Evaluation([], [], None, text=folded)
        folded, restored = self._restorer.restore(folded)
        if breaks:
            breaks = breaks_that_count(folded, shift_breaks(breaks, restored))
        found: list[tuple[str, int, int, str, str]] = []  # rule id, start, end, word, kind
        excl: dict[str, list[tuple[int, int, str]]] = {}
        concept: dict[str, list[Occurrence]] = {}
        prio: list[str] = []
        cues: dict[str, list[str]] = {}
        if not self._empty:
            n = len(folded)
            for last, (size, lead, trail, kws, cws, exs, prios, dims) in self._auto.iter(folded):
                start = last - size + 1
                end = last + 1
                # a word that begins or ends with a Latin letter or digit must not run on into
                # more of them: a货 is not inside fa货, 12315 not inside 412315
                if lead and start > 0 and _is_alnum(folded[start - 1]):
                    continue
                if trail and end < n and _is_alnum(folded[end]):
                    continue
                for owner, word in kws:
                    found.append((owner, start, end, word, "keyword"))
                for owner in cws:
                    concept.setdefault(owner, []).append((start, end, folded[start:end]))
                for owner, word in exs:
                    excl.setdefault(owner, []).append((start, end, word))
                prio.extend(prios)
                for dim, word in dims:
                    seen = cues.setdefault(dim, [])
                    if word not in seen:
                        seen.append(word)
            if len(found) + sum(len(v) for v in concept.values()) > MAX_COLLECTED:
                found, concept, excl = _bounded(found, concept, excl)
        for rule_id, s, e, word in self._pattern_matches(folded):
            found.append((rule_id, s, e, word, "pattern"))
        groups: list[NearGroup] = []
        if concept:
            present = concept.keys()
            groups = [
                g
                for g, needed in self._near_needs
                if needed <= present and (SARCASM not in g.keys or might_be_sarcastic(folded))
            ]
        if not found and not groups:
            return Evaluation([], [], None, list(dict.fromkeys(prio)), cues, [], folded, restored)
        doc = Doc(folded, breaks, ctx.rating, model if model is not None else _default_model())
        if review_p is not None and not restored:
            doc.set_review_p(review_p)
        near = self._near_matches(doc, groups, concept)
        hits = self._judge_all(doc, found, near, excl, restored, ctx, explain)
        fired = sorted({h.rule_id for h in hits if h.alerts})
        mentioned = sorted({h.rule_id for h in hits if h.decision != "suggested"} - set(fired))
        prio = list(dict.fromkeys(prio))
        severity = None
        if fired:
            base = max((self.rules[r].severity for r in fired), key=SEVERITIES.index)
            step = 1 if prio else 0
            severity = SEVERITIES[min(SEVERITIES.index(base) + step, len(SEVERITIES) - 1)]
        return Evaluation(hits, fired, severity, prio, cues, mentioned, folded, restored)

    @staticmethod
    def _near_matches(
        doc: Doc, groups: list[NearGroup], concept: dict[str, list[Occurrence]]
    ) -> list[tuple[NearGroup, NearMatch]]:
        out: list[tuple[NearGroup, NearMatch]] = []
        for g in groups:
            if SARCASM in g.keys and SARCASM not in concept:
                concept[SARCASM] = [(s, e, w) for s, e, w in doc.sarcasm()]
            for m in match_group(g, concept, doc.folded, doc.breaks):
                out.append((g, m))
        return out

    def _sense_cue(self, rule_id: str, word: str, doc: Doc, start: int, end: int) -> str | None:
        senses = self._senses.get(rule_id, {}).get(_fold_word(word))
        if not senses:
            return None
        for sense in senses:
            if sense.within == "clause":
                lo, hi = doc.clause_bounds(start, end)
            else:
                lo, hi = sentence_bounds(doc.folded, start, end)
            for cue in sense.cues:
                if doc.folded.find(cue, lo, hi) >= 0:
                    return cue
        return None

    def _judge_one(
        self,
        rule: Rule,
        doc: Doc,
        parts: Sequence[tuple[int, int, str, str]],
        excl: list[tuple[int, int, str]],
    ) -> tuple[str, tuple[str, ...]]:
        """Decision and reasons for one match made of ``parts`` (one part for a keyword or
        pattern; several for a near group; the part named $sarcasm is a marker)."""
        for s, e, word, _name in parts:
            x = next((x for x in excl if x[0] < e and s < x[1]), None)
            if x is not None:
                return "other_sense", (f"在排除短语「{x[2]}」中",)
            cue = self._sense_cue(rule.id, word, doc, s, e)
            if cue is not None:
                return "other_sense", (f"另一含义：附近有「{cue}」",)
        form = self._forms[rule.id]
        affirm: list[str] = []
        words_ = [p for p in parts if p[3] != SARCASM]
        for i, (s, e, _w, _n) in enumerate(words_):
            last = i == len(words_) - 1
            f = form if last else replace(form, post_denial=False)  # a denial reads on the last word
            decision, why = judge_form(f, doc.folded, s, e, doc.breaks, doc.clause_start(s))
            if decision in ("question", "hypothetical") and rule.context:
                accused = accusation(doc, s, e, decision)
                if accused:
                    return "complaint", (accused, why)
            if decision is not None:
                return decision, (why,)
            if why not in affirm:
                affirm.append(why)
        if not form.negatable:
            return "complaint", tuple(affirm)
        start, end = parts[0][0], parts[-1][1]
        marker = next((p[2] for p in parts if p[3] == SARCASM), None)
        # a high-severity problem (假货, 12315) is never mentioned "in passing"
        in_passing = SEVERITIES.index(rule.severity) < SEVERITIES.index("high")
        v = judge_context(doc, start, end, use_context=rule.context, sarcastic=marker, in_passing=in_passing)
        if v.decision == "complaint":
            return "complaint", (*v.reasons, *affirm)
        return v.decision, v.reasons

    def _judge_all(
        self,
        doc: Doc,
        found: list[tuple[str, int, int, str, str]],
        near: list[tuple[NearGroup, NearMatch]],
        excl: dict[str, list[tuple[int, int, str]]],
        restored: list[Restoration],
        ctx: MatchContext,
        explain: bool,
    ) -> list[Hit]:
        matches: list[tuple[str, int, int, str, str, tuple[tuple[int, int, str, str], ...]]] = [
            (rid, s, e, w, kind, ((s, e, w, ""),)) for rid, s, e, w, kind in found
        ]
        matches += [(g.rule_id, m.start, m.end, m.words, "near", m.parts) for g, m in near]
        if not matches:
            return []
        # Per rule, a match inside a longer one is the same mention (不发货 in 迟迟不发货).
        matches.sort(key=lambda f: (f[1], -(f[2] - f[1])))
        kept: list[tuple[str, int, int, str, str, tuple[tuple[int, int, str, str], ...]]] = []
        spans: dict[str, list[tuple[int, int]]] = {}
        for f in matches:
            mine = spans.setdefault(f[0], [])
            if any(a <= f[1] and f[2] <= b for a, b in mine):
                continue
            mine.append((f[1], f[2]))
            kept.append(f)
        hits: list[Hit] = []
        scope_cache: dict[str, bool] = {}
        judged: dict[str, int] = {}
        for rule_id, s, e, word, kind, parts in kept:
            rule = self.rules[rule_id]
            ok = scope_cache.get(rule_id)
            if ok is None:
                ok = scope_cache[rule_id] = self.in_scope(rule, ctx)
            if not ok:
                if explain:
                    hits.append(
                        Hit(rule_id, word, s, e, "mention", ("规则不适用于这条（范围 scope）",), kind)
                    )
                continue
            if judged.get(rule_id, 0) >= MAX_OCCURRENCES_PER_RULE:
                continue
            judged[rule_id] = judged.get(rule_id, 0) + 1
            decision, reasons = self._judge_one(rule, doc, parts, excl.get(rule_id, []))
            sounds = [r for r in restored if r.start < e and s < r.end]
            if sounds:
                kind = "pinyin"
                reasons = (*reasons, *(f"读音还原：「{r.typed}」→「{r.word}」" for r in sounds))
            hits.append(Hit(rule_id, word, s, e, decision, reasons, kind))
        return hits

    def match(self, folded: str, ctx: MatchContext = NO_CONTEXT) -> list[Hit]:
        return self.evaluate(folded, ctx).hits

    def severity(self, rule_id: str, folded: str) -> str:
        base = self.rules[rule_id].severity
        if any(w in folded for w in self.priority_words):
            return SEVERITIES[min(SEVERITIES.index(base) + 1, len(SEVERITIES) - 1)]
        return base

    # ---- tokens for display ----------------------------------------------------------------------
    def tokenize(self, folded: str) -> list[str]:
        """jieba tokens with every rule keyword in its user dictionary, so a keyword shows as one
        token; platform emoji codes ([二哈]) stay whole."""
        if self._tokenizer is None:
            import logging

            import jieba

            logging.getLogger("jieba").setLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            for word in {*self.keywords, *self.priority_words}:
                tok.add_word(word, freq=100000)
            self._tokenizer = tok
        out: list[str] = []
        last = 0
        for m in EMOJI_CODE.finditer(folded):
            out += [t for t in self._tokenizer.lcut(folded[last : m.start()]) if t.strip()]
            out.append(m.group(0))
            last = m.end()
        out += [t for t in self._tokenizer.lcut(folded[last:]) if t.strip()]
        return out


def _bounded(
    found: list[tuple[str, int, int, str, str]],
    concept: dict[str, list[Occurrence]],
    excl: dict[str, list[tuple[int, int, str]]],
) -> tuple[
    list[tuple[str, int, int, str, str]], dict[str, list[Occurrence]], dict[str, list[tuple[int, int, str]]]
]:
    """The first MAX_COLLECTED occurrences per rule and concept (and exclusions up to the last
    of them): a pathological text costs no more than a long review."""
    seen: Counter[str] = Counter()
    kept = []
    for f in found:
        seen[f[0]] += 1
        if seen[f[0]] <= MAX_COLLECTED:
            kept.append(f)
    concept = {k: v[:MAX_COLLECTED] for k, v in concept.items()}
    horizon = max([f[2] for f in kept] + [o[1] for v in concept.values() for o in v] + [0])
    excl = {k: [x for x in v if x[0] <= horizon][: 4 * MAX_COLLECTED] for k, v in excl.items()}
    return kept, concept, excl


def _default_model() -> Scorer:
    from monitor.analyze.sentiment import SentimentModel

    return SentimentModel.load_default()


__all__ = [
    "DECISIONS",
    "FIRING",
    "NO_CONTEXT",
    "REGEX_ENGINE",
    "Evaluation",
    "Hit",
    "MatchContext",
    "RuleSet",
    "check_pattern",
]
