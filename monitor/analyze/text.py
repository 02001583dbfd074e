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
# Pictographic emoji, their modifiers, variation selectors and zero-width characters become a
# space; between two CJK characters that space is then collapsed like any separator, so a
# zero-width character put inside a word on purpose (假\u200b货) does not hide it.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U0001fc00-\U0001ffff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff"
    "\U000e0000-\U000e007f\u3030\u303d\u3297\u3299\u200b-\u200d\u2060\ufeff\ufe0e\ufe0f\u00ad]+"
)
# Full-width punctuation is in most Chinese reviews and is all that keeps them from already
# being NFKC-normal; replacing it first lets the (fast) normal-form check skip NFKC for most
# texts. The mapping is exactly NFKC's for these characters.
_FULL_WIDTH_PUNCT = tuple((c, unicodedata.normalize("NFKC", c)) for c in "，！？：；（）～\u3000")
# Lone surrogates (bytes that were not UTF-8, decoded with surrogateescape) cannot be encoded
# again; they become U+FFFD so every later step sees well-formed text.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Platform emoji codes such as [二哈], [doge], [怒] stay in the text as they are.
EMOJI_CODE = re.compile(r"\[[^\[\]\s]{1,8}\]")


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _traditional() -> re.Pattern[str]:
    """Characters OpenCC changes on their own, i.e. that mark a text as Traditional."""
    cc = _t2s()
    chars = [
        chr(c)
        for block in ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))
        for c in range(*block)
        if cc.convert(chr(c)) != chr(c)  # type: ignore[attr-defined]
    ]
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]")


def to_simplified(text: str) -> str:
    """Traditional to Simplified, only for texts that contain a Traditional character: OpenCC's
    phrase table also rewrites some Simplified text (万一坏了 would become 万一坯了)."""
    if _traditional().search(text) is None:
        return text
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
    t = _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text
    for full, half in _FULL_WIDTH_PUNCT:
        if full in t:
            t = t.replace(full, half)
    if not unicodedata.is_normalized("NFKC", t):
        t = unicodedata.normalize("NFKC", t)
    t = _EMOJI.sub(" ", strip_html(t))
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
