"""Negative items no rule caught, grouped by the phrases that set them apart, each with a rule
snippet an admin can start from (``monitor rules uncovered``; the console shows the same).

Phrases are jieba words and pairs of adjacent words, scored by how much more often they occur
in the uncovered items than in all items of the period (a log-odds with add-one smoothing).
Groups are formed greedily: the best phrase takes the items that contain it, and so on.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Any

from monitor.analyze.negation import words
from monitor.analyze.text import fold
from monitor.config.phonetic import pinyin_key

_CJK = re.compile(r"[\u3400-\u9fff]")
# Words too common to characterise a complaint.
_STOP = frozenset(
    words(
        "这个 那个 我们 你们 他们 她们 自己 什么 没有 就是 还是 但是 因为 所以 然后 已经 一下 一个 感觉",
        "东西 真的 非常 可以 不是 还有 时候 现在 觉得 知道 这样 怎么 这么 那么 一直 而且 如果 一样 这次",
        "买的 收到 购买 商品 宝贝 商家 店家 卖家 京东 淘宝 天猫 评价 一次 两个 一点 还是 有点 比较 不过",
        "大家 今天 昨天 以后 之后 之前 的话 这种 那种 这家 然而 可能 应该 还要 只是 之后 一般 的时候",
    )
)
MIN_ITEMS = 2


@dataclass
class UncoveredGroup:
    phrase: str
    items: int
    terms: list[str]  # other phrases frequent in the group
    examples: list[dict[str, Any]] = field(default_factory=list)
    snippet: str = ""


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    import logging

    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    return jieba.Tokenizer()


def phrases(text: str) -> set[str]:
    """The candidate phrases of one text: content words, and runs of two or three adjacent
    words that do not start with a stop word."""
    toks = [t for t in _tokenizer().lcut(fold(text)[:2000]) if _CJK.search(t)]
    out = {t for t in toks if len(t) >= 2 and t not in _STOP}
    out |= {a + b for a, b in pairwise(toks) if len(a + b) >= 3 and a not in _STOP}
    out |= {
        a + b + c
        for a, b, c in zip(toks, toks[1:], toks[2:], strict=False)
        if len(a + b + c) <= 8 and a not in _STOP
    }
    return out


def rule_id_for(phrase: str) -> str:
    key = pinyin_key(phrase)
    base = "_".join(key) if key else "phrase"
    return re.sub(r"[^a-z0-9_]", "", f"new_{base}")[:40]


def snippet(phrase: str, terms: Sequence[str], items: int) -> str:
    """A rule to paste into rules/*.yaml and edit (id, title, keywords; a near group as a hint)."""
    kws = ", ".join([phrase, *terms[:3]])
    lines = [
        f"  # 建议：来自 {items} 条未被规则覆盖的负面评价，核对、改名后再保存（保存前可用重放预览）",
        f"  - id: {rule_id_for(phrase)}",
        f"    title: 待命名：{phrase}",
        "    category: other",
        f"    keywords: [{kws}]",
    ]
    if len(terms) >= 1:
        lines.append(f"    # 或用概念组：near: [{{all: [甲, 乙]}}]，甲含「{phrase}」，乙含「{terms[0]}」")
    return "\n".join(lines)


def group_uncovered(
    uncovered: Sequence[tuple[int, str]],
    background: Sequence[str],
    *,
    top: int = 10,
    examples: int = 3,
) -> list[UncoveredGroup]:
    """Groups of ``uncovered`` (item id, text) by representative phrase, largest first.
    ``background`` are the texts of all items of the period (the uncovered ones included)."""
    if not uncovered:
        return []
    item_phrases = {iid: phrases(t) for iid, t in uncovered}
    texts = dict(uncovered)
    df_u: Counter[str] = Counter(p for ps in item_phrases.values() for p in ps)
    df_b: Counter[str] = Counter(p for t in background for p in phrases(t))
    n_u, n_b = len(uncovered), max(len(background), 1)

    def score(p: str) -> float:
        u, b = df_u[p], max(df_b[p], df_u[p])
        return u * math.log(((u + 1) / (n_u + 2)) / ((b + 1) / (n_b + 2)))

    left = set(item_phrases)
    groups: list[UncoveredGroup] = []
    # best score first; among equals the longer, more specific phrase
    candidates = sorted((p for p, c in df_u.items() if c >= MIN_ITEMS), key=lambda p: (-score(p), -len(p), p))
    for p in candidates:
        if len(groups) >= top or not left:
            break
        members = sorted(i for i in left if p in item_phrases[i])
        if len(members) < MIN_ITEMS or score(p) <= 0:
            continue
        co: Counter[str] = Counter(q for i in members for q in item_phrases[i] if q != p and p not in q)
        terms = [q for q, c in co.most_common(8) if c >= max(2, len(members) // 3) and q not in p][:4]
        g = UncoveredGroup(p, len(members), terms)
        g.examples = [{"item_id": i, "text": _short(texts[i])} for i in members[:examples]]
        g.snippet = snippet(p, terms, len(members))
        groups.append(g)
        left -= set(members)
    return groups


def _short(text: str) -> str:
    t = text.replace("\n", " ")
    return t if len(t) <= 80 else t[:79] + "…"


__all__ = ["UncoveredGroup", "group_uncovered", "phrases", "rule_id_for", "snippet"]
