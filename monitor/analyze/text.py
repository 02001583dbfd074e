"""Text folding for matching. The stored text is never changed; this is what rules see.

``fold`` runs on every polled item, so each step is one C-level pass (str methods, one
regex sub, OpenCC) and the HTML steps only run when the text can contain markup.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

_CJK = r"\u3400-\u9fff\uf900-\ufaff"
# A run of separators between two CJK characters is how people dodge keyword filters
# (假 货, 假-货, 假.货, 假*货), so it is removed. Where it was whitespace it usually also
# ended a sentence ("质量没问题 破损了"); ``fold_with_breaks`` reports those places so that
# negation does not reach across them.
_SEPARATORS = re.compile(rf"(?<=[{_CJK}])[\s\-_.·•*~/\\|+=#^`'\"]+(?=[{_CJK}])")
_SPACES = re.compile(r"\s+")
_TAG = re.compile(r"<(?:br|p|div|li|tr|h\d)\b[^>]{0,200}>|<[^>]{1,200}>", re.I)
_BLOCK_TAG = re.compile(r"<(?:br|p|div|li|tr|h\d)\b", re.I)
# Pictographic emoji, their modifiers, variation selectors and zero-width characters. The
# zero-width ones vanish (they are inserted inside words on purpose); emoji become a space.
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f\u00ad"))
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U0001fc00-\U0001ffff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff"
    "\U000e0000-\U000e007f\u3030\u303d\u3297\u3299]+"
)
# Platform emoji codes such as [二哈], [doge], [怒] stay in the text as they are.
EMOJI_CODE = re.compile(r"\[[^\[\]\s]{1,8}\]")


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_t2s().convert(text))  # type: ignore[attr-defined]


def strip_html(text: str) -> str:
    """Tags out (block tags become a sentence break), entities decoded."""
    if "<" in text and ">" in text:
        text = _TAG.sub(lambda m: "。" if _BLOCK_TAG.match(m.group(0)) else " ", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def fold_with_breaks(text: str) -> tuple[str, frozenset[int]]:
    """``fold`` plus the positions in the folded text where whitespace between CJK characters
    was removed (a position ``i`` means a break just before character ``i``)."""
    t = strip_html(unicodedata.normalize("NFKC", text))
    t = _EMOJI.sub(" ", t.translate(_ZERO_WIDTH))
    t = to_simplified(t).casefold()
    t = _SPACES.sub(" ", t).strip()
    breaks: set[int] = set()
    if _SEPARATORS.search(t):
        parts: list[str] = []
        last = 0
        size = 0
        for m in _SEPARATORS.finditer(t):
            chunk = t[last : m.start()]
            parts.append(chunk)
            size += len(chunk)
            if not m.group(0).strip(" "):
                breaks.add(size)
            last = m.end()
        parts.append(t[last:])
        t = "".join(parts)
    return t, frozenset(breaks)


def fold(text: str) -> str:
    """NFKC (full-width to half-width), HTML tags and entities out, emoji and zero-width
    characters out (platform codes like [二哈] kept), Traditional to Simplified, case folding,
    and separators inside CJK words collapsed (假 货, 假-货, 假.货 -> 假货)."""
    return fold_with_breaks(text)[0]
