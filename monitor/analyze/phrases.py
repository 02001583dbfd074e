"""Candidate phrases of new problems: character n-grams of folded review text.

A problem no rule names yet (充电头发烫, a new 客服 script people hate) shows up as the same few
characters in many negative reviews. Character n-grams need no dictionary (a word segmenter
would split 充电头发烫 in ways that depend on its vocabulary, and loading one costs a daemon
about a second and tens of megabytes). Grams that begin or end with a function character
(的, 了, 是 …) are left out; the rest is judged by how far each gram rises above its own
baseline (``monitor.alerting.new_problems``), and overlapping grams are merged into the
longest phrase their items share (:func:`extend`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_LEN", "MIN_LEN", "extend", "grams", "is_covered"]

MIN_LEN = 2
MAX_LEN = 4
MAX_PHRASE = 10  # a merged phrase never grows longer than this
_RUN = re.compile(r"[\u4e00-\u9fff]+")  # runs of CJK ideographs: phrases never hold markup or links
_FUNCTION = set("的了是我你他她它们这那就都也很还吗呢吧啊呀哦嗯和与或及把被给让在有个一不没")


def grams(text: str) -> set[str]:
    """The distinct candidate n-grams (2-4 ideographs) of ``text``."""
    out: set[str] = set()
    for run in _RUN.findall(text):
        for n in range(MIN_LEN, MAX_LEN + 1):
            for i in range(len(run) - n + 1):
                g = run[i : i + n]
                if g[0] not in _FUNCTION and g[-1] not in _FUNCTION:
                    out.add(g)
    return out


def extend(phrase: str, texts: Iterable[str], share: float = 0.8) -> str:
    """Grow ``phrase`` one character at a time, left or right, while at least ``share`` of the
    ``texts`` containing it continue with the same character (充电头 → 充电头发烫)."""
    texts = [t for t in texts if phrase in t]
    if not texts:
        return phrase
    need = max(1, int(share * len(texts) + 0.999))
    while len(phrase) < MAX_PHRASE:
        grown = False
        for side in (1, -1):
            counts: dict[str, int] = {}
            for t in texts:
                i = t.find(phrase)
                j = i + len(phrase) if side == 1 else i - 1
                if 0 <= j < len(t) and _RUN.fullmatch(t[j]):
                    counts[t[j]] = counts.get(t[j], 0) + 1
            if counts:
                ch, n = max(counts.items(), key=lambda kv: kv[1])
                if n >= need:
                    phrase = phrase + ch if side == 1 else ch + phrase
                    grown = True
                    break
        if not grown:
            break
    return phrase


def is_covered(phrase: str, keywords: Iterable[str]) -> bool:
    """A rule keyword inside the phrase, or the phrase inside a keyword: a rule already names it."""
    return any(k and (k in phrase or phrase in k) for k in keywords)
