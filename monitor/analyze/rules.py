"""Keyword rules: one Aho-Corasick pass over the folded text finds every keyword, exclusion,
priority word and dimension cue at once; optional regular expressions run through RE2 (linear
time) behind a pattern set, so only patterns that can match are run for their positions.

Each keyword occurrence is then judged in its clause: negated (没有破损, 包装无破损, 完好无损),
double negation (不是没有破损: fires), denied afterwards (假货?不存在), a yes/no question
(会不会是假货?, 坏了吗?), a hypothetical (担心买到假货, 以为是假货), or excluded by a longer
phrase it sits in (放假的 for 假的). Only what survives fires the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from monitor.analyze.text import EMOJI_CODE, fold
from monitor.config.rules import Rule
from monitor.config.types import SEVERITIES

_re2: Any
try:  # google-re2: linear-time matching, so an admin's pattern cannot hang the daemon
    import re2 as _re2  # type: ignore[import-untyped,no-redef]

    REGEX_ENGINE = "re2"
except ImportError:  # pragma: no cover - depends on the environment
    _re2 = None
    REGEX_ENGINE = "re"

# Without RE2, patterns run on Python's backtracking engine; constructs that make it
# exponential are refused and the text is cut, which bounds the time per item.
_FALLBACK_MAX_CHARS = 2000
_UNSAFE = re.compile(r"\\\d|\(\?[=!<]|\)[*+}]|[*+}]\)?[*+{]")

# Decisions on a keyword occurrence. Only FIRING ones make the rule fire.
FIRING = frozenset({"fired", "double_negation", "rhetorical"})


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, or None."""
    if _re2 is not None:
        try:
            _re2.compile(pattern)
        except Exception as exc:  # re2 raises its own error type
            return f"not a valid RE2 expression ({exc})"
        return None
    if _UNSAFE.search(pattern):
        return "backreferences, lookarounds and nested repeats are not allowed"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a valid regular expression ({exc})"
    return None


# ---- the negation lexicon ----------------------------------------------------------------------
# Clause boundaries: punctuation (after NFKC), spaces left between non-CJK text, and contrast
# words, after which an earlier negator or hypothetical no longer applies (不是假货但是破损了).
_CLAUSE_BREAK = re.compile(
    r"[,.!?;:。~…\n() \[\]{}<>\"']|但是|但|可是|然而|不过|结果|只是|就是|而且|并且|另外|还有"
)
_LOOKBACK = 32
_LOOKAHEAD = 24


def _words(*chunks: str) -> list[str]:
    return " ".join(chunks).split()


# Words that begin with a negator character but do not negate what follows. Matched before
# the negators (leftmost alternative wins at a position), so 非常 is never read as 非.
_NOT_NEGATORS = _words(
    "不错 不仅 不但 不光 不只 不过 不少 不久 不管 不论 无论 不同 不知道 不知 不料 不想 不禁 不停",
    "不断 不小心 不得不 不一会 不一样 不好意思 不用说 不满 不爽 不好 不行 不然 不如 不值 不太好",
    "不合格 不舒服 不开心 不靠谱 不到位 不负责 不懂 不准 不对 不清楚 不给力 不理想 不够 不得了",
    "要不 不晓得 不明白 不理解 不怎 不敢相信 不相信 不可思议 不容易 不方便 不便 不厚道 不抗用",
    "不耐用 不结实 不完整 不专业 不敢 不怎么样 毫不犹豫 没想到 没多久 没几 没两 没过 没用几",
    "没用多久 没穿几 没用两 没法 没办法 没人 没什么好 没得说 没话说 非常 非得 除非 是非 无语 无奈",
    "无法 无聊 无限 无敌 无力 无人 未免 未来 未知 不免 别人 别的 特别 差别 区别 分别 告别 级别",
    "类别 性别 识别 别说",
)
# Yes/no question forms; they contain a negator but ask rather than deny.
_QUESTION_CUES = _words(
    "是不是 会不会 有没有 能不能 可不可能 可不可以 算不算 要不要 对不对 是否 有无 难道",
)
_NEGATORS = _words(
    "没发现 没看到 没见到 没出现 没遇到 没碰到 没感觉 没觉得 不会有 并没有 并不是 并不 并没",
    "完好无 完好没有 毫无 从没有 从来没有 从来没 从没 从未 绝非 并非 不存在 不是 没有 木有 没 不",
    "无 未 非 别 勿",
)
# One-character negators bind to the next word or two (不会是假货, 没发现破损, 无任何破损); further
# away they belong to something else (不会弄送货员态度不好, 无线网卡坏了). Two negators only make a
# double negation when they are next to each other (不是没有破损), not in a list (无色差无异味).
_NEGATOR_REACH = {"不": 3, "没": 3, "无": 2, "未": 2, "非": 2, "别": 2, "勿": 2}
_CHAIN_GAP = 1
# After a negator these mean its scope ended before the keyword (没用几天就坏了, 不到一周又破了).
_SCOPE_ENDERS = _words(
    "就 才 便 又 却 竟然 居然 还是 都已经 已经",
)
_HYPOTHETICALS = _words(
    "听说 据说 听别人说 估计会 可能会 应该会 也许会 或许会 如有 若有 一旦 如若 假若 担心 担忧",
    "害怕 生怕 就怕 怕 还以为 本以为 原以为 以为 以免 以防 万一 如果 假如 要是 若是 避免 防止",
    "谨防 提防 小心 顾虑 疑虑 假设 倘若 即使 就算 哪怕",
)
_NOT_HYPOTHETICALS = _words(
    "可怕 恐怕 不小心 哪怕是 小心翼翼",
)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_CUES_RE = re.compile(
    f"(?P<skip>{_alternation(_NOT_NEGATORS + _NOT_HYPOTHETICALS)})"
    f"|(?P<question>{_alternation(_QUESTION_CUES)})"
    f"|(?P<hyp>{_alternation(_HYPOTHETICALS)})"
    f"|(?P<neg>{_alternation(_NEGATORS)})"
    f"|(?P<end>{_alternation(_SCOPE_ENDERS)})"
)
# A denial after the keyword: 假货?不存在的, 破损什么的都没有, 质量问题是不可能的.
_POST_DENIAL = re.compile(
    r"[的是也都完全根本绝对一点毛病情况现象问题什么之类啥呢? ]{0,6}?"
    r"(不存在|是不可能|不可能|没有|木有|没|无)(?=$|[,.!?;。~的啊哦呀吧了呢滴])"
)
# A yes/no particle ending the clause (坏了吗?); 什么/怎么/这么 end no question.
# The rest of the sentence after the keyword: the customer says the store already fixed it or
# that it does not matter (坏了一个,客服很快补发了; 轻微掉色,可以接受). No action is needed then.
_SENTENCE_END = re.compile(r"[。!?\n]")
_REST = 20
_RESOLVED = re.compile(
    r"(?:已经|已|很快|马上|及时|立刻|立即|迅速|第一时间)(?:就|地|的)?(?:给|帮|为)?(?:我|我们)?(?:做了)?"
    r"(?:处理|解决|换|更换|调换|补发|补寄|重发|退款|退了|赔|补偿|修好|维修)"
    r"|(?:问题|都)(?:已经|已)?(?:处理|解决)(?:好|了)"
    r"|(?:给|帮)(?:我|我们)?(?:换了|更换了|调换了|补发了|重发了|退了|退款了|修好了)"
    r"|处理(?:得|的)(?:很|非常|挺|特别|十分|还)?(?:快|好|及时|满意|迅速)"
    r"|(?:钱|款)(?:已经|已|也)?退(?:给)?(?:我|回来)?了|退(?:给)?我了"
)
_TOLERATED = re.compile(
    r"可以接受|能接受|还能接受|可以理解|能理解|不影响使用|不影响|不碍事|无所谓|瑕不掩瑜|没关系|不要紧|问题不大"
    r"|无伤大雅|可以忽略|忽略不计|情有可原|不在意|不计较|原谅|还好|好在|幸好|幸亏"
    # "the rest is fine": 坏了一个,其他都挺好
    r"|(?:其他|其它|其余|别的|总体|整体|总的来说|总得来说)[^,.!?;。不没]{0,4}?(?:都|也)?(?:还|挺|很|非常|算|比较)?(?:不错|好|满意|可以)"
)
# The complaint is about another object than the one bought (a previous device that broke
# and made them buy this one): 原来的平板坏了, 之前的那个坏了.
_OTHER_ITEM = re.compile(r"原来的|原来那|之前的|之前那|以前的|以前那|旧的|老的|上一个|上一台|原先的|家里的")
# The customer broke it: 不小心摔坏了, 被我弄坏了, 书被孩子翻烂了.
_SELF_CAUSED = re.compile(
    r"不小心|手残|掉水里|掉地上|被我|被他|被她|被孩子|被儿子|被女儿|被宝宝|被小孩|我把|他把|她把|孩子把|自己弄|自己摔"
)
_QUESTION_END = re.compile(r"(?:吗|(?<![什怎这那多])么)\??$")
# Doubt stated as an accusation: 严重怀疑是不是正品 fires although it is phrased as a question.
_SUSPICION = re.compile(r"怀疑|质疑")
# A defect the customer calls small right before it (有点小瑕疵, 轻微地划伤, 一点点磕碰).
_MINOR = re.compile(
    r"(?:小|轻微的?|轻微地|一点点|有一点|些许|略微|稍微|稍有|唯一的)$|只有一|就一个|仅有一|个别"
)
# Checked in this order after negation, questions, hypotheticals and denials.
_PREFIX_CUES = (
    (_SELF_CAUSED, "self_caused", "the customer caused it"),
    (_MINOR, "minor", "called minor by the customer"),
    (_OTHER_ITEM, "other_item", "about another object"),
)
_REST_CUES = (
    (_RESOLVED, "resolved", "already handled"),
    (_TOLERATED, "tolerated", "the customer accepts it"),
)


@dataclass(frozen=True)
class Hit:
    rule_id: str
    keyword: str
    start: int
    end: int
    negated: bool  # True when this occurrence does not fire the rule, whatever the reason
    reason: str
    # fired|double_negation|rhetorical (these fire); negated|denied|question|hypothetical|minor|
    # self_caused|other_item|resolved|tolerated|excluded|out_of_scope (these do not)
    decision: str = "fired"
    kind: str = "keyword"  # keyword | pattern


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
    fired: list[str]  # rule ids with at least one firing occurrence, sorted
    severity: str | None  # of the fired rules, raised by priority words
    priority_words: list[str] = field(default_factory=list)
    cues: dict[str, list[str]] = field(default_factory=dict)  # dimension -> cue words found


def _clause_start(folded: str, start: int, breaks: frozenset[int]) -> int:
    lo = max(0, start - _LOOKBACK)
    cs = lo
    for m in _CLAUSE_BREAK.finditer(folded, lo, start):
        cs = m.end()
    for b in breaks:
        if cs < b <= start:
            cs = b
    return cs


def _clause_tail(folded: str, end: int) -> str:
    m = _CLAUSE_BREAK.search(folded, end, end + _LOOKAHEAD)
    if m is None:
        return folded[end : end + _LOOKAHEAD]
    # keep a question mark: it is what makes the clause a question
    return folded[end : m.end()] if m.group(0) == "?" else folded[end : m.start()]


def judge(
    rule: Rule, folded: str, start: int, end: int, breaks: frozenset[int] = frozenset()
) -> tuple[str, str]:
    """(decision, reason) for one occurrence of one of ``rule``'s keywords at [start, end)."""
    # A-not-A: 是不是正品, 有没有赠品 contain the keywords 不是正品 / 没有赠品 but ask a question.
    if start > 0 and end - start > 1 and folded[start] in "不没" and folded[start - 1] == folded[start + 1]:
        suspicious = _SUSPICION.search(folded, max(0, start - 8), start) is not None
        if not rule.fire_on_questions and not suspicious:
            return "question", f"inside the question form {folded[start - 1 : start + 2]!r}"
    cs = _clause_start(folded, start, breaks)
    prefix = folded[cs:start]
    tail = _clause_tail(folded, end)
    negs: list[re.Match[str]] = []
    question: str | None = None
    hypothetical: str | None = None
    for m in _CUES_RE.finditer(prefix):
        kind = m.lastgroup
        if kind == "neg":
            negs.append(m)
        elif kind == "end":
            negs.clear()
        elif kind == "question":
            question = m.group(0)
        elif kind == "hyp" and len(prefix) - m.end() <= 12:
            hypothetical = m.group(0)
    # The chain of negators that reaches the keyword: the last one within reach of it, then
    # each earlier one within reach of the next (不是没有破损 is a chain of two).
    chain: list[str] = []
    if rule.negatable:
        pos = len(prefix)
        for m in reversed(negs):
            reach = min(rule.negation_reach, _NEGATOR_REACH.get(m.group(0), rule.negation_reach))
            if chain:
                reach = min(reach, _CHAIN_GAP)
            if pos - m.end() > reach:
                break
            chain.append(m.group(0))
            pos = m.start()
    chain.reverse()
    is_question = (
        (question is not None and question != "难道")
        or _QUESTION_END.search(tail) is not None
        or tail[:1] == "吗"
    ) and _SUSPICION.search(prefix) is None
    rhetorical = question == "难道" or (bool(chain) and chain[-1] in ("不是", "并不是") and "吗" in tail)

    if chain and len(chain) % 2 == 0:
        return "double_negation", f"double negation {'+'.join(chain)!r} affirms it"
    if chain:
        if rhetorical:
            return "rhetorical", f"rhetorical question {'+'.join(chain)!r}…吗 affirms it"
        return "negated", f"negated by {chain[0]!r}"
    if rhetorical:
        return "rhetorical", "rhetorical question (难道) affirms it"
    if is_question and not rule.fire_on_questions:
        return "question", f"yes/no question ({question or tail[-2:]!r})"
    if hypothetical and not rule.fire_on_hypotheticals:
        return "hypothetical", f"hypothetical after {hypothetical!r}"
    if not rule.negatable:
        return "fired", "rule fires on any mention"
    denial = _POST_DENIAL.match(folded, end, end + 10) if rule.post_denial else None
    if denial is not None:
        if folded[denial.end() : denial.end() + 1] == "?":
            if not rule.fire_on_questions:
                return "question", f"yes/no question ({denial.group(1)}?)"
        else:
            return "denied", f"denied afterwards by {denial.group(1)!r}"
    for cue, decision, why in _PREFIX_CUES:
        found = cue.search(prefix)
        if found is not None:
            return decision, f"{why} ({found.group(0)!r})"
    se = _SENTENCE_END.search(folded, end, end + _REST)
    rest = folded[end : se.start() if se else end + _REST]
    for cue, decision, why in _REST_CUES:
        found = cue.search(rest)
        if found is not None:
            return decision, f"{why} ({found.group(0)!r})"
    return "fired", "no negator, question or hypothetical in its clause"


# ---- the rule set --------------------------------------------------------------------------------
# Cue words that put an item in an experience dimension even without a rule hit.
DIMENSION_CUES: dict[str, tuple[str, ...]] = {
    "物流时效": tuple(
        _words(
            "物流 快递 发货 送货 配送 到货 运输 顺丰 快递员 送达 派送 包裹 京东快递 中通 圆通 申通",
            "韵达 邮政 ems 揽收 签收",
        )
    ),
    "服务态度": tuple(
        _words(
            "客服 态度 服务 售后 店家 卖家 商家 掌柜 回复 服务员 前台 退换 退货 换货 退款 处理",
        )
    ),
    "价格": tuple(
        _words(
            "价格 价钱 价位 贵 便宜 性价比 划算 实惠 降价 涨价 优惠 差价 保价 不值 值这个价 物美价廉",
            "块钱 元钱 省钱",
        )
    ),
    "商品质量": tuple(
        _words(
            "质量 做工 材质 面料 品质 用料 手感 口感 味道 效果 正品 耐用 好用 难用 屏幕 电池 续航",
            "音质 尺码 颜色 新鲜",
        )
    ),
}


@dataclass(frozen=True)
class _Entry:
    kind: str  # kw | ex | prio | cue
    owner: str  # rule id, priority word, or dimension
    word: str  # as the admin wrote it


class RuleSet:
    def __init__(
        self,
        rules: Sequence[Rule],
        priority_words: Iterable[str] = (),
        cues: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.rules = {r.id: r for r in rules if r.enabled}
        self.priority_words = list(dict.fromkeys(fold(w) for w in priority_words if fold(w)))
        index: dict[str, list[_Entry]] = {}

        def add(word: str, entry: _Entry) -> None:
            key = fold(word)
            if key:
                index.setdefault(key, []).append(entry)

        for r in self.rules.values():
            for kw in r.keywords:
                add(kw, _Entry("kw", r.id, kw))
            for x in r.exclude:
                add(x, _Entry("ex", r.id, x))
        for w in self.priority_words:
            add(w, _Entry("prio", w, w))
        for dim, words in (DIMENSION_CUES if cues is None else cues).items():
            for w in words:
                add(w, _Entry("cue", dim, w))
        self._auto: Any = ahocorasick.Automaton()
        for key, entries in index.items():
            self._auto.add_word(key, (len(key), tuple(entries)))
        self._empty = not index
        if index:
            self._auto.make_automaton()
        self._patterns: list[tuple[str, Any]] = []
        self._set: Any = None
        for r in self.rules.values():
            for p in r.patterns:
                compiled = _re2.compile(p) if _re2 is not None else re.compile(p)
                self._patterns.append((r.id, compiled))
        if self._patterns and _re2 is not None:
            self._set = _re2.Set.SearchSet()
            for _rid, compiled in self._patterns:
                self._set.Add(compiled.pattern)
            self._set.Compile()
        self._tokenizer: Any = None

    @property
    def keywords(self) -> list[str]:
        return sorted({fold(k) for r in self.rules.values() for k in r.keywords})

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
            text = folded[:_FALLBACK_MAX_CHARS]
        out = []
        for i in candidates:
            rule_id, compiled = self._patterns[i]
            for m in compiled.finditer(text):
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
    ) -> Evaluation:
        """Everything the rules say about one folded text. With ``explain``, occurrences of
        rules out of scope for ``ctx`` are reported too (as ``out_of_scope``)."""
        if self._empty and not self._patterns:
            return Evaluation([], [], None)
        found: list[tuple[str, int, int, str, str]] = []  # rule id, start, end, word, kind
        excl: dict[str, list[tuple[int, int, str]]] = {}
        prio: list[str] = []
        cues: dict[str, list[str]] = {}
        if not self._empty:
            for last, (size, entries) in self._auto.iter(folded):
                start = last - size + 1
                for e in entries:
                    if e.kind == "kw":
                        found.append((e.owner, start, last + 1, e.word, "keyword"))
                    elif e.kind == "ex":
                        excl.setdefault(e.owner, []).append((start, last + 1, e.word))
                    elif e.kind == "prio":
                        prio.append(e.owner)
                    else:
                        words = cues.setdefault(e.owner, [])
                        if e.word not in words:
                            words.append(e.word)
        for rule_id, s, e, word in self._pattern_matches(folded):
            found.append((rule_id, s, e, word, "pattern"))
        hits = self._judge_all(folded, found, excl, breaks, ctx, explain)
        fired = sorted({h.rule_id for h in hits if not h.negated})
        prio = list(dict.fromkeys(prio))
        severity = None
        if fired:
            base = max((self.rules[r].severity for r in fired), key=SEVERITIES.index)
            step = 1 if prio else 0
            severity = SEVERITIES[min(SEVERITIES.index(base) + step, len(SEVERITIES) - 1)]
        return Evaluation(hits, fired, severity, prio, cues)

    def _judge_all(
        self,
        folded: str,
        found: list[tuple[str, int, int, str, str]],
        excl: dict[str, list[tuple[int, int, str]]],
        breaks: frozenset[int],
        ctx: MatchContext,
        explain: bool,
    ) -> list[Hit]:
        if not found:
            return []
        # Per rule, an occurrence inside a longer one is the same mention (不发货 in 迟迟不发货).
        found.sort(key=lambda f: (f[1], -(f[2] - f[1])))
        kept: list[tuple[str, int, int, str, str]] = []
        for f in found:
            if any(k[0] == f[0] and k[1] <= f[1] and f[2] <= k[2] for k in kept):
                continue
            kept.append(f)
        hits: list[Hit] = []
        scope_cache: dict[str, bool] = {}
        for rule_id, s, e, word, kind in kept:
            rule = self.rules[rule_id]
            ok = scope_cache.get(rule_id)
            if ok is None:
                ok = scope_cache[rule_id] = self.in_scope(rule, ctx)
            if not ok:
                if explain:
                    hits.append(
                        Hit(
                            rule_id,
                            word,
                            s,
                            e,
                            True,
                            "rule is out of scope for this item",
                            "out_of_scope",
                            kind,
                        )
                    )
                continue
            ex = next((x for x in excl.get(rule_id, ()) if x[0] < e and s < x[1]), None)
            if ex is not None:
                decision, reason = "excluded", f"inside the excluded phrase {ex[2]!r}"
            else:
                decision, reason = judge(rule, folded, s, e, breaks)
            hits.append(Hit(rule_id, word, s, e, decision not in FIRING, reason, decision, kind))
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
