"""What a match is about: whose order (this store vs 别家, 朋友, 网上说), which time (this order
vs 上次, 以前, 之前那个), which sense of the word, how the customer feels in that clause, and the
star rating. ``judge_context`` turns that evidence into a decision with reasons an admin can read.

The sentiment model is asked in exactly one place, ``clause_positive``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol

from monitor.analyze.negation import (
    CLAUSE_BREAK,
    SENTENCE_END,
    alternation,
    clause_end,
    clause_start,
    sentence_bounds,
    words,
)

# ---- thresholds (chosen on the development half of online_shopping_10_cats and cases_dev.yaml by
# bench/sentiment_context_tune.py; bench/analysis.py reports both halves and the held-out cases) -----
CLAUSE_POSITIVE = 0.6  # a clause this positive, in a review that is not negative, is no complaint
HIGH_RATING = 4  # at or above: a clause that is not negative is not a complaint
LOW_RATING = 2  # at or below: the customer is unhappy, a matched problem is a complaint
RATING_CLAUSE_POSITIVE = 0.5
REVIEW_POSITIVE = 0.6  # a review this positive overall mentions a problem in passing
PRAISE_ELSEWHERE = 0.7  # …and only next to a clause at least this positive
REMARK_REVIEW_POSITIVE = 0.3  # …or this positive when the customer hedges (有点, 就是…, 美中不足)
QUESTION_REVIEW_NEGATIVE = 0.5  # a question or worry in a review this negative is an accusation
TOLERANCE_REVIEW_NEGATIVE = 0.1  # in a review this negative, 小/还好/不影响 do not excuse a problem
SARCASM_REST_NEGATIVE = 0.5  # a weak sarcasm marker counts when the rest of its sentence is below this


class Scorer(Protocol):
    def prob_positive(self, text: str) -> float: ...


def clause_positive(model: Scorer, text: str) -> float:
    """P(positive) of one clause or sentence: the one call the rules make to the sentiment model
    (``clauses_positive`` is the same for a batch)."""
    return float(model.prob_positive(text))


def clauses_positive(model: Scorer, texts: list[str]) -> list[float]:
    """``clause_positive`` of each text, in one vectorised pass when the model offers one."""
    many = getattr(model, "prob_positive_many", None)
    if many is not None:
        return [float(x) for x in many(texts)]
    return [clause_positive(model, t) for t in texts]


# ---- who: another store, another person, hearsay, a comparison --------------------------------
_PLACES = words(
    "隔壁 对面那家 对面的店 对面店 别家 别的店 别的家 别处 别的地方 其他店 其它店 其他家 其它家 其他商家",
    "别的商家 其他卖家 别的卖家 另一家 另外一家 某宝 某东 某多多 某猫 某音 实体店 线下店 专卖店 超市",
    "菜市场 便利店 杂牌 别的牌子 其他牌子 其它牌子 别的品牌 其他品牌 小作坊 外边买的 外面买的 外面的 路边摊",
    "线下",
)
_PEOPLE = "朋友|同事|同学|室友|邻居|闺蜜|表姐|表哥|表妹|表弟|亲戚|我妈|老妈|我爸|家人|别人|有人|网友|买家"
_OTHER_TARGET = re.compile(
    f"(?P<place>{alternation(_PLACES)})"
    # hearsay: 网上都说, 看评论有人说, 评论区有人说, 有些买家说, 楼上说的
    r"|(?P<hearsay>(?:网上|网友|评论|评价|评论区|买家|有人|别人|大家|楼上|楼下|小红书|微博|抖音|知乎"
    r"|好多人|很多人|不少人|有些人)"
    r"[^,.!?;。]{0,6}?(?:说|讲|反映|提到|吐槽|反馈))"
    # someone else's purchase: 同事买的, 朋友在别的店买的 (not 给朋友买的: that is this order)
    rf"|(?P<person>(?<![帮给替为送])(?:{_PEOPLE})(?:家)?[^,.!?;。]{{0,8}}?(?:买的|买了|入手的|用的|家的))"
    # a comparison: 比水货贵, 不像山寨货, 赶得上山寨机
    r"|(?P<compare>(?:比(?!较|如|例|赛|起来)|不像|不比|胜过|好过|强过|赶得上|秒杀|完爆|吊打)[^,.!?;。]{0,3}$"
    r"|像[^,.!?;。]{1,6}一样$)"
)
# 比蜗牛还慢, 比山寨机还垃圾: the comparison makes this order worse, not another one the subject.
_WORSE = re.compile(r"[^,.!?;。]{0,4}?(?:还|更|都|慢|差|烂|垃圾|贵|难)")
# After an other-target cue, these bring the clause back to this order (跟隔壁比起来这家发货慢).
_THIS_TARGET = re.compile(r"这家|这店|本店|我这|我的|我收到|我买的|收到的|到手")

# ---- when: an earlier purchase or an older object ----------------------------------------------
_OTHER_TIME = re.compile(
    r"上次|上回|去年|前年|前几年|几年前|曾经|当年|那时候|那会儿|前两次|前几次|上个月|前段时间|先前"
    r"|(?<![背身面桌脸腿手头门墙地盒箱袋穿戴用])上一(?:个|台|次|件|双|款|把|部|瓶|批|单)(?!星期|月|周|礼拜)"
    r"|老款|老的"
    r"|(?<![是依陈破做仿复])旧(?:的|款|手机|机器|机)"
    r"|原来的|原来那|原先的|家里的|(?<![货到发收用买签拆开装])(?:之前|以前)"
)
# After an other-time cue, these bring the clause back to now (上次坏了一个，这次又坏了).
_THIS_TIME = re.compile(
    r"这次|这回|本次|这台|这个|这件|这双|这款|这把|这批|现在|如今|今年|新的|又|还是|依然|仍然"
)

# ---- the customer's own words about the problem ----------------------------------------------
# The customer broke it: 不小心摔坏了, 被我弄坏了, 书被孩子翻烂了 (not 被摔过的残次品 or 被快递摔坏:
# a passive without the customer as the agent is damage on the way).
_SELF_CAUSED = re.compile(
    r"不小心|手残|掉水里|掉地上|被(?:我|他|她|孩子|儿子|女儿|宝宝|小孩|狗|猫|老婆|老公|家人|朋友|同事)"
    r"|(?<![给帮替])(?:我|他|她|孩子)把|自己弄|自己摔|快被|被(?!快递|物流|运输|送货)[^,.!?;。]{1,2}(?:玩|摔|砸)"
    r"|(?<![给帮替]我)(?<![给帮替])把[^,.!?;。]{0,4}(?:砸|摔)"
)
_SELF_REACH = 16  # 不小心落地,摔坏了: the cause may sit in the clause before
_REST_MIN_CHARS = 6  # the rest of a review must say this much to count as context
# A defect the customer calls small right before it (有点小瑕疵, 轻微地划伤, 一点点磕碰).
_MINOR = re.compile(
    r"(?:(?<![减缩变大])小|轻微的?|轻微地|一点点|有一点|些许|略微|稍微|稍有|唯一的)$|只有一|就一个|仅有一|个别"
)
# Hedged: 有点慢, 慢了点, 稍微有些, or set apart as the one flaw (就是…, 唯一不足, 美中不足) — a
# remark when the review as a whole is positive.
_HEDGE = re.compile(
    r"有点|有些|有一点|一点点|稍微|稍有|略|些许|了点|了一点|了些"
    # a part of the order: 坏了一个, 有两个烂了 (not 全坏了, 都烂了)
    r"|(?<![第每])(?:一|两|二|1|2|几|个别)(?:个|只|颗|瓶|盒|件)"
)
# Stars given for something else: 五星是给快递小哥的, 好评只是因为返现.
# A suggestion is not praise either: 希望改进, 建议加厚.
_NOT_PRAISE = re.compile(
    r"(?:五星|5星|四星|好评|星)(?:是|只是|完全是|纯粹是)?(?:给|因为|看在|为了)|希望|建议|改进|改善|期待|下次"
)
# Contrast with earlier purchases makes this one the point: 之前都很好，这次发货特别慢.
_THIS_TIME_STRESSED = re.compile(r"这次|这回|本次|这一次")
# Not knowing is not accusing: 不知道是不是正品.
_UNSURE = re.compile(r"不知道|不确定|不清楚|不晓得|不懂")
# After a worry, the relief: 以为是漏发了，原来分了两个包裹.
RELIEF = re.compile(r"结果|原来|其实|后来|没想到|才发现|发现是|一看是|仔细一看")
# Said with force: never "in passing" (严重掉色, 绝对是假货!!!, 太慢了).
_INTENSE = re.compile(
    r"严重|绝对|百分之百|肯定是|确定是|完全|根本|!{2,}|太(?![好棒赞快])|极其|非常差|超级差"
    r"|全(?:都|部)?(?:坏|烂|破|碎)|都(?:坏|烂|破|碎)|个个|一半|大部分|所有"
)
_REMARK = re.compile(
    r"(?:就是|只是|唯一|美中不足|不足|缺点|稍|有点|有些|一点点|可惜|遗憾|不过)[^,.!?;。]{0,6}$"
)
_RESOLVED = re.compile(
    r"(?:已经|已|很快|马上|立马|及时|立刻|立即|迅速|第一时间|主动|当天|第二天)(?:就|地|的)?(?:给|帮|为)?"
    r"(?:我|我们)?(?:做了)?(?:处理|解决|换|更换|调换|补发|补寄|重发|退款|退了|赔|补偿|修好|维修)"
    r"|(?<![没不未])(?:售后|客服|商家|店家|京东)?处理了|(?:给|帮)我?退(?:货|款)了"
    r"|(?:问题|都)(?:已经|已)?(?:处理|解决)(?:好|了)"
    r"|(?:给|帮)(?:我|我们)?(?:换了|更换了|调换了|补发了|补寄了|重发了|退了|退款了|修好了)"
    r"|处理(?:得|的)(?:很|非常|挺|特别|十分|还)?(?:快|好|及时|满意|迅速)"
    r"|(?:钱|款)(?:已经|已|也)?退(?:给)?(?:我|回来)?了|退(?:给)?我了"
    r"|(?<![不没未别])(?:补发|补寄|重发|重新发)(?:过来)?了|换了(?:一个)?新的"
)
_TOLERATED = re.compile(
    r"可以接受|能接受|还能接受|可以理解|能理解|不影响使用|不影响|不碍事|无所谓|瑕不掩瑜|没关系|不要紧|问题不大"
    r"|无伤大雅|可以忽略|忽略不计|情有可原|不在意|不计较|原谅|还好(?!意思)|好在|幸好|幸亏"
    r"|轻微|不明显|不严重|正常现象|很正常|也正常|(?:其他|其它|其余|别的|里面|东西|本身)[^,.!?;。]{0,4}没(?:什么|啥)?问题"
    # "the rest is fine": 坏了一个,其他都挺好
    r"|(?:其他|其它|其余|别的|总体|整体|总的来说|总得来说)[^,.!?;。不没]{0,4}?(?:都|也)?(?:还|挺|很|非常|算|比较)?"
    r"(?:不错|好|满意|可以)"
)
# ---- sarcasm: praise that means the opposite -------------------------------------------------
_PRAISE = (
    "好|棒|赞|优质|贴心|专业|快|神速|飞快|迅速|负责|热情|周到|耐心|给力|靠谱|完美|结实|杠杠的|高效|及时"
    "|良心|用心|满意|厉害|体贴|高|用心良苦|nice|good"
)
_SARCASM_STRONG = re.compile(
    rf"[“\"「『']\s?(?:非常|很|太|超)?(?:{_PRAISE})(?:的)?\s?[”\"」』']"
    rf"|(?:{_PRAISE})得(?:感人|让人感动|令人感动|让我感动|让人落泪|让我大开眼界|让人大开眼界)"
)
_SARCASM_HINT = re.compile(r"[“\"「『']|到家了|得(?:感人|让|令)|(?:啊|呢|呀)")
_SARCASM_WEAK = re.compile(rf"(?:{_PRAISE})到家了|(?:真是|可真是?|真)太?(?:{_PRAISE})(?:啊|呢|呀)")


@dataclass
class Doc:
    """One folded text and what is known about it, with the sentiment asked lazily and cached."""

    folded: str
    breaks: frozenset[int]
    rating: int | None
    model: Scorer
    _clause_p: dict[tuple[int, int], float] = field(default_factory=dict)
    _review_p: float | None = None
    _sarcasm: list[tuple[int, int, str]] | None = None
    _clauses: list[tuple[int, int, float]] | None = None
    _starts: dict[int, int] = field(default_factory=dict)
    _ends: dict[int, int] = field(default_factory=dict)

    def clause_start(self, start: int) -> int:
        cs = self._starts.get(start)
        if cs is None:
            cs = self._starts[start] = clause_start(self.folded, start, self.breaks)
        return cs

    def clause_end(self, end: int) -> int:
        ce = self._ends.get(end)
        if ce is None:
            ce = self._ends[end] = clause_end(self.folded, end, self.breaks)
        return ce

    def clause_bounds(self, start: int, end: int) -> tuple[int, int]:
        return self.clause_start(start), self.clause_end(end)

    def clause_p(self, start: int, end: int) -> float:
        key = self.clause_bounds(start, end)
        p = self._clause_p.get(key)
        if p is None:
            if key == (0, len(self.folded)) and self._review_p is not None:
                p = self._review_p  # the clause is the whole text
            else:
                p = clause_positive(self.model, self.folded[key[0] : key[1]])
            self._clause_p[key] = p
        return p

    def set_review_p(self, p: float) -> None:
        self._review_p = p

    def review_p(self) -> float:
        if self._review_p is None:
            self._review_p = clause_positive(self.model, self.folded[:2000])
        return self._review_p

    def rest_p(self, start: int, end: int) -> float | None:
        """P(positive) of the review without the sentence around [start, end); None when
        little else is said (a short text is its own evidence, not context)."""
        ss, se = sentence_bounds(self.folded, start, end)
        rest = (self.folded[:ss] + " " + self.folded[se:])[:2000].strip()
        if len(rest) < _REST_MIN_CHARS:
            return None
        return clause_positive(self.model, rest)

    def praise_elsewhere(self, start: int, end: int) -> float:
        """The most positive clause of the review other than the one around [start, end): a
        problem is only mentioned "in passing" next to praise."""
        if self._clauses is None:
            spans = []
            last = 0
            for m in CLAUSE_BREAK.finditer(self.folded, 0, 2000):
                if m.start() - last >= 2:
                    spans.append((last, m.start()))
                last = m.end()
            if min(len(self.folded), 2000) - last >= 2:
                spans.append((last, min(len(self.folded), 2000)))
            # praise of an earlier purchase or of someone else (上次还好, 五星是给快递小哥的) does not count
            spans = [
                (a, b)
                for a, b in spans[:40]
                if not _OTHER_TIME.search(self.folded, a, b) and not _NOT_PRAISE.search(self.folded, a, b)
            ]
            ps = clauses_positive(self.model, [self.folded[a:b] for a, b in spans]) if spans else []
            self._clauses = [(a, b, p) for (a, b), p in zip(spans, ps, strict=True)]
        return max((p for a, b, p in self._clauses if b <= start or a >= end), default=0.0)

    def sarcasm(self) -> list[tuple[int, int, str]]:
        """Spans of sarcastic praise: quoted praise or 快得感人 always; 好到家了, 真是好呢 and
        感谢…的耐心 only when the rest of their sentence is negative."""
        if self._sarcasm is None and _SARCASM_HINT.search(self.folded) is None:
            self._sarcasm = []
        if self._sarcasm is None:
            found = [
                (m.start(), m.end(), m.group(0)) for m in islice(_SARCASM_STRONG.finditer(self.folded), 50)
            ]
            for m in islice(_SARCASM_WEAK.finditer(self.folded), 20):
                ss, se = sentence_bounds(self.folded, m.start(), m.end())
                rest = self.folded[ss : m.start()] + "," + self.folded[m.end() : se]
                if clause_positive(self.model, rest) < SARCASM_REST_NEGATIVE:
                    found.append((m.start(), m.end(), m.group(0)))
            self._sarcasm = sorted(found)
        return self._sarcasm

    def sarcastic_near(self, start: int, end: int) -> str | None:
        cs, ce = self.clause_bounds(start, end)
        for s, e, marker in self.sarcasm():
            if s < ce and e > cs:
                return marker
        return None


def might_be_sarcastic(folded: str) -> bool:
    """Cheap test before looking for sarcasm: a quote mark, 到家了, 得感人, or a 啊/呢/呀."""
    return _SARCASM_HINT.search(folded) is not None


def _last_cue(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = None
    for m in pattern.finditer(text):
        last = m
    return last


def other_target(prefix: str, rest: str = "") -> str | None:
    """The cue that puts the clause before a match on another store, person or hearsay.
    ``rest`` is the clause after the match: 比山寨机还差 compares, but the complaint is this one."""
    m = _last_cue(_OTHER_TARGET, prefix)
    if m is None:
        return None
    if m.lastgroup != "hearsay" and _THIS_TARGET.search(prefix, m.end()):
        return None
    if m.lastgroup == "compare" and _WORSE.match(rest):
        return None
    return m.group(0)


def mentions_other(text: str) -> bool:
    """Whether ``text`` names another store, person, hearsay or an earlier time anywhere (a cheap
    test before reading it clause by clause)."""
    return _OTHER_TARGET.search(text) is not None or _OTHER_TIME.search(text) is not None


def other_time(prefix: str) -> str | None:
    """The cue that puts the clause before a match on an earlier purchase or an older object."""
    m = _last_cue(_OTHER_TIME, prefix)
    if m is None or _THIS_TIME.search(prefix, m.end()):
        return None
    return m.group(0)


@dataclass(frozen=True)
class Verdict:
    decision: str
    reasons: tuple[str, ...]


def judge_context(
    doc: Doc,
    start: int,
    end: int,
    *,
    use_context: bool,
    sarcastic: str | None = None,
    in_passing: bool = True,
) -> Verdict:
    """The decision on a match whose clause form reads as a complaint (see negation.judge_form)."""
    folded = doc.folded
    cs = doc.clause_start(start)
    prefix = folded[cs:start]
    found = _SELF_CAUSED.search(folded, max(0, cs - _SELF_REACH), start)
    if found and SENTENCE_END.search(folded, found.end(), start):
        found = None  # the cause was in another sentence
    if found:
        return Verdict("mention", (f"顾客自己造成：「{found.group(0)}」",))
    found = _MINOR.search(prefix)
    if found and doc.review_p() >= TOLERANCE_REVIEW_NEGATIVE:
        return Verdict("mention", (f"顾客说是小问题：「{found.group(0)}」",))
    if use_context:
        cue = other_target(prefix, folded[end : doc.clause_end(end)])
        if cue:
            return Verdict("other_target", (f"说的是别家或别人：「{cue}」",))
        cue = other_time(prefix)
        if cue:
            return Verdict("other_time", (f"说的是以前或另一件东西：「{cue}」",))
    se = SENTENCE_END.search(folded, end, end + 24)
    rest = folded[end : se.start() if se else end + 24]
    found = _RESOLVED.search(rest)
    if found:
        return Verdict("resolved", (f"顾客说已经处理：「{found.group(0)}」",))
    found = _TOLERATED.search(rest)
    if found and doc.review_p() >= TOLERANCE_REVIEW_NEGATIVE:
        return Verdict("mention", (f"顾客表示可以接受：「{found.group(0)}」",))
    sarcasm = sarcastic or doc.sarcastic_near(start, end)
    if sarcasm:
        return Verdict("complaint", (f"反讽：「{sarcasm}」",))
    if not use_context:
        return Verdict("complaint", ())
    return _weigh_sentiment(doc, start, end, in_passing)


def _weigh_sentiment(doc: Doc, start: int, end: int, in_passing: bool) -> Verdict:
    """A match the words leave standing: is the customer complaining, or mentioning it in a
    review that is positive (rating, the clause's and the review's sentiment)?"""
    folded, rating = doc.folded, doc.rating
    p = doc.clause_p(start, end)
    said = f"该句情感 P(正面)={p:.2f}"
    if rating is not None and rating <= LOW_RATING:
        return Verdict("complaint", (f"{said}，{rating}★",))
    rp = doc.review_p()
    if p >= CLAUSE_POSITIVE and rp >= 0.5:
        return Verdict("mention", (f"{said}，是正面的",))
    if rating is not None and rating >= HIGH_RATING and p >= RATING_CLAUSE_POSITIVE:
        return Verdict("mention", (f"{rating}★ 且{said}，不是负面的",))
    cs = doc.clause_start(start)
    clause = folded[cs : doc.clause_end(end) + 2]
    intense = _INTENSE.search(clause) or _THIS_TIME_STRESSED.search(folded, cs, start)
    if in_passing and (rating is None or rating >= HIGH_RATING) and not intense:
        passing: str | None = None
        if rp >= REVIEW_POSITIVE:
            passing = f"整条评价正面 P={rp:.2f}，顺带提到"
        elif rp >= REMARK_REVIEW_POSITIVE:
            hedge = _HEDGE.search(clause) or _REMARK.search(folded, max(0, cs - 8), start)
            if hedge:
                passing = f"说得轻（「{hedge.group(0)}」）且整条评价正面 P={rp:.2f}"
        if passing and doc.praise_elsewhere(start, end) >= PRAISE_ELSEWHERE:
            return Verdict("mention", (passing,))
    if rating is not None:
        said += f"，{rating}★"
    return Verdict("complaint", (f"{said}，整条 P={rp:.2f}",))


def accusation(doc: Doc, start: int, end: int, decision: str) -> str | None:
    """Why a question or a worry is an accusation: 发的是假货吗? or 怕是假货 in a review that is
    clearly negative (not a worry the customer then says was unfounded: 以为…，原来…)."""
    if decision == "hypothetical":
        se = sentence_bounds(doc.folded, end, end, reach=30)[1]
        if RELIEF.search(doc.folded, end, se):
            return None
    elif _UNSURE.search(doc.folded, max(0, start - 8), start):
        return None
    rp = doc.rest_p(start, end)
    if rp is not None and rp < QUESTION_REVIEW_NEGATIVE:
        return f"质问或怀疑：评价其余部分负面 P={rp:.2f}"
    return None


__all__ = [
    "Doc",
    "Scorer",
    "Verdict",
    "accusation",
    "clause_positive",
    "judge_context",
    "mentions_other",
    "might_be_sarcastic",
    "other_target",
    "other_time",
]
