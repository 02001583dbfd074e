"""The form of the clause around a match: negated (没有破损, 包装无破损, 完好无损), a double
negation (不是没有破损: still a complaint), denied afterwards (假货?不存在), a yes/no question
(会不会是假货?, 坏了吗?), a rhetorical one (难道是假货?: still a complaint), or hypothetical
(担心买到假货, 以为是假货).

``judge_form`` answers for one span of the folded text; ``analyze/context.py`` then weighs
what the clause is about (target, time, sense, sentiment, rating).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Clause boundaries: punctuation (after NFKC), spaces left between non-CJK text, and contrast
# words, after which an earlier negator or hypothetical no longer applies (不是假货但是破损了).
CLAUSE_BREAK = re.compile(
    r"[,.!?;:。~…\n() \[\]{}<>\"']|但是|但|可是|然而|不过|结果|只是|就是|而且|并且|另外|还有"
)
SENTENCE_END = re.compile(r"[。!?;\n]")
LOOKBACK = 32
LOOKAHEAD = 24


def words(*chunks: str) -> list[str]:
    return " ".join(chunks).split()


def alternation(items: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(items), key=len, reverse=True))


# Words that begin with a negator character but do not negate what follows. Matched before
# the negators (leftmost alternative wins at a position), so 非常 is never read as 非.
_NOT_NEGATORS = words(
    "不错 不仅 不但 不光 不只 不过 不少 不久 不管 不论 无论 不同 不知道 不知 不料 不想 不禁 不停",
    "不断 不小心 不得不 不一会 不一样 不好意思 不用说 不满 不爽 不好 不行 不然 不如 不值 不太好",
    "不合格 不舒服 不开心 不靠谱 不到位 不负责 不懂 不准 不对 不清楚 不给力 不理想 不够 不得了",
    "要不 不晓得 不明白 不理解 不怎 不敢相信 不相信 不可思议 不容易 不方便 不便 不厚道 不抗用",
    "不耐用 不结实 不完整 不专业 不敢 不怎么样 毫不犹豫 没想到 没多久 没几 没两 没过 没用几",
    "没用多久 没穿几 没用两 没法 没办法 没人 没什么好 没得说 没话说 非常 非得 除非 是非 无语 无奈",
    "无法 无聊 无限 无敌 无力 无人 未免 未来 未知 不免 别人 别的 特别 差别 区别 分别 告别 级别",
    "类别 性别 识别 别说 别处 别家",
)
# Yes/no question forms; they contain a negator but ask rather than deny.
_QUESTION_CUES = words(
    "是不是 会不会 有没有 能不能 可不可能 可不可以 算不算 要不要 对不对 是否 有无 难道",
)
NEGATORS = words(
    "没发现 没看到 没见到 没出现 没遇到 没碰到 没感觉 没觉得 不会有 并没有 并不是 并不 并没",
    "完好无 完好没有 毫无 从没有 从来没有 从来没 从没 从未 绝非 并非 不存在 不是 没有 木有 没 不",
    "无 未 非 别 勿 很少 极少 几乎不 几乎没 几乎没有 杜绝",
)
# One-character negators bind to the next word or two (不会是假货, 没发现破损, 无任何破损); further
# away they belong to something else (不会弄送货员态度不好, 无线网卡坏了). Two negators only make a
# double negation when they are next to each other (不是没有破损), not in a list (无色差无异味).
_NEGATOR_REACH = {"不": 3, "没": 3, "无": 2, "未": 2, "非": 2, "别": 2, "勿": 2, "很少": 4, "极少": 4}
_CHAIN_GAP = 1
# After a negator these mean its scope ended before the keyword (没用几天就坏了, 不到一周又破了).
_SCOPE_ENDERS = words("就 才 便 又 也 却 竟然 居然 还是 都已经 已经")
_HYPOTHETICALS = words(
    "听说 据说 听别人说 估计会 可能会 应该会 也许会 或许会 如有 若有 一旦 如若 假若 担心 担忧",
    "害怕 生怕 就怕 怕 还以为 本以为 原以为 以为 以免 以防 万一 如果 假如 要是 若是 避免 防止",
    "谨防 提防 小心 顾虑 疑虑 假设 倘若 即使 即便 就算 哪怕 差点 差一点 险些",
)
_NOT_HYPOTHETICALS = words("可怕 恐怕 不小心 哪怕是 小心翼翼")

_CUES_RE = re.compile(
    f"(?P<skip>{alternation(_NOT_NEGATORS + _NOT_HYPOTHETICALS)})"
    f"|(?P<question>{alternation(_QUESTION_CUES)})"
    f"|(?P<hyp>{alternation(_HYPOTHETICALS)})"
    f"|(?P<neg>{alternation(NEGATORS)})"
    f"|(?P<end>{alternation(_SCOPE_ENDERS)})"
)
# A typed space right after a negator does not end its clause: 不是 假货 reads as 不是假货.
_ENDS_WITH_NEGATOR = re.compile(f"(?:{alternation(NEGATORS)})$")
_ENDS_WITH_NOT_NEGATOR = re.compile(f"(?:{alternation(_NOT_NEGATORS)})$")
# A denial after the keyword: 假货?不存在的, 破损什么的都没有, 质量问题是不可能的.
_POST_DENIAL = re.compile(
    r"[的是也都完全根本绝对一点毛病情况现象问题什么之类啥呢? ]{0,6}?"
    r"(不存在|是不可能|不可能|没有|木有|没|无)(?=$|[,.!?;。~的啊哦呀吧了呢滴])"
)
# Concessive: 冻坏了都不怕, 摔了也不怕 (what follows says it does not happen or does not matter).
_CONCESSIVE = re.compile(r"[了的]?(?:都|也)?(?:不怕|不用怕|不担心)")
# A yes/no particle ending the clause (坏了吗?); 什么/怎么/这么 end no question.
_QUESTION_END = re.compile(r"(?:吗|(?<![什怎这那多])么)\??$")
# Doubt stated as an accusation: 严重怀疑是不是正品 is a complaint although phrased as a question.
_SUSPICION = re.compile(r"怀疑|质疑")


def breaks_that_count(folded: str, breaks: frozenset[int]) -> frozenset[int]:
    """The whitespace breaks that end a clause: not those typed right after a negator."""
    if not breaks:
        return breaks
    keep = set()
    for b in breaks:
        before = folded[max(0, b - 4) : b]
        if _ENDS_WITH_NEGATOR.search(before) and not _ENDS_WITH_NOT_NEGATOR.search(before):
            continue
        keep.add(b)
    return frozenset(keep)


def clause_start(folded: str, start: int, breaks: frozenset[int]) -> int:
    lo = max(0, start - LOOKBACK)
    cs = lo
    for m in CLAUSE_BREAK.finditer(folded, lo, start):
        cs = m.end()
    for b in breaks:
        if cs < b <= start:
            cs = b
    return cs


def clause_end(folded: str, end: int, breaks: frozenset[int]) -> int:
    m = CLAUSE_BREAK.search(folded, end, end + LOOKAHEAD)
    ce = m.start() if m is not None else min(len(folded), end + LOOKAHEAD)
    for b in breaks:
        if end < b < ce:
            ce = b
    return ce


def clause_tail(folded: str, end: int) -> str:
    m = CLAUSE_BREAK.search(folded, end, end + LOOKAHEAD)
    if m is None:
        return folded[end : end + LOOKAHEAD]
    # keep a question mark: it is what makes the clause a question
    return folded[end : m.end()] if m.group(0) == "?" else folded[end : m.start()]


def sentence_bounds(folded: str, start: int, end: int, reach: int = 40) -> tuple[int, int]:
    lo = max(0, start - reach)
    ss = lo
    for m in SENTENCE_END.finditer(folded, lo, start):
        ss = m.end()
    m2 = SENTENCE_END.search(folded, end, end + reach)
    se = m2.start() if m2 is not None else min(len(folded), end + reach)
    return ss, se


@dataclass(frozen=True)
class FormRules:
    """The parts of a rule that shape how its matches are read."""

    negatable: bool = True
    post_denial: bool = True
    negation_reach: int = 6
    fire_on_questions: bool = False
    fire_on_hypotheticals: bool = False


def judge_form(
    rule: FormRules, folded: str, start: int, end: int, breaks: frozenset[int], cs: int | None = None
) -> tuple[str | None, str]:
    """(decision, reason) from the form of the clause around [start, end): a non-complaint
    decision, or None with the reason it still reads as a complaint. ``cs``: the clause's start
    when the caller knows it."""
    # A-not-A: 是不是正品, 有没有赠品 contain the keywords 不是正品 / 没有赠品 but ask a question.
    if start > 0 and end - start > 1 and folded[start] in "不没" and folded[start - 1] == folded[start + 1]:
        suspicious = _SUSPICION.search(folded, max(0, start - 8), start) is not None
        if not rule.fire_on_questions and not suspicious:
            return "question", f"疑问形式「{folded[start - 1 : start + 2]}」"
    if cs is None:
        cs = clause_start(folded, start, breaks)
    prefix = folded[cs:start]
    tail = clause_tail(folded, end)
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
            gap = prefix[m.end() : pos].replace(" ", "")
            reach = min(rule.negation_reach, _NEGATOR_REACH.get(m.group(0), rule.negation_reach))
            if chain:
                reach = min(reach, _CHAIN_GAP)
            if len(gap) > reach:
                break
            chain.append(m.group(0))
            pos = m.start()
    chain.reverse()
    is_question = (
        (question is not None and question != "难道")
        or _QUESTION_END.search(tail) is not None
        or tail[:1] == "吗"
        or ("还是" in prefix and tail.endswith("?"))  # 正版还是盗版?
    ) and _SUSPICION.search(prefix) is None
    rhetorical = question == "难道" or (bool(chain) and chain[-1] in ("不是", "并不是") and "吗" in tail)

    if chain and len(chain) % 2 == 0:
        return None, f"双重否定「{'+'.join(chain)}」等于肯定"
    if chain:
        if rhetorical:
            return None, f"反问「{'+'.join(chain)}…吗」等于肯定"
        return "negated", f"否定词「{chain[0]}」"
    if rhetorical:
        return None, "反问（难道）等于肯定"
    if is_question and not rule.fire_on_questions:
        return "question", f"是非问句（{question or tail[-2:]}）"
    if hypothetical and not rule.fire_on_hypotheticals:
        return "hypothetical", f"假设语气：「{hypothetical}」之后"
    if not rule.negatable:
        return None, "规则对任何提及都告警"
    concessive = _CONCESSIVE.match(folded, end, end + 6)
    if concessive is not None:
        return "hypothetical", f"让步：「{concessive.group(0)}」"
    denial = _POST_DENIAL.match(folded, end, end + 10) if rule.post_denial else None
    if denial is not None:
        if folded[denial.end() : denial.end() + 1] == "?":
            if not rule.fire_on_questions:
                return "question", f"是非问句（{denial.group(1)}?）"
        else:
            return "negated", f"随后否认：「{denial.group(1)}」"
    return None, "无否定、疑问或假设"


__all__ = [
    "CLAUSE_BREAK",
    "SENTENCE_END",
    "FormRules",
    "breaks_that_count",
    "clause_end",
    "clause_start",
    "clause_tail",
    "judge_form",
    "sentence_bounds",
]
