"""Sound-alike spellings: pinyin typed in place of a character (po损 for 破损, fa货 for 发货) and,
for the keywords a rule lists under ``pinyin``, full pinyin (posun) and, for those of three or
more characters, same-sounding characters (质量茶 for 质量差).

Before matching, such spellings of words the rules know are **restored** to the word itself,
so every keyword, pattern and concept sees 破损 / 发货 and the rule that is meant fires.
Precision guards: only words the rules use are restored; a Latin run must be spelt exactly by
whole syllables of the word and may not continue into more letters (fa货 is 发货, and no longer
the keyword a货 inside it); single letters never stand for a syllable; full pinyin and
character homophones only for the listed ``pinyin`` keywords (at least 2 syllables, 5 letters,
checked when the rule file loads; same-sounding characters only from 3 characters on).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ahocorasick

from monitor.config.phonetic import homophones, pinyin_key, readings

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_NEXT_TO_CJK = re.compile(r"[a-z][\u3400-\u9fff]|[\u3400-\u9fff][a-z]")
_LATIN_RUN = re.compile(r"[a-z]{5,}|[a-z]{2,6} [a-z]{2,6}")  # room for a keyword in full pinyin
_LETTER = re.compile(r"[a-z]")
# Readings per character considered when spelling a word (heteronyms beyond these are rare).
_READINGS = 2
# Words longer than this are not spelt with pinyin in part (the variants grow as 2^n).
_MAX_CHARS = 5
# Spellings restored per text: bounds the work on pathological texts.
MAX_RESTORED = 200


@dataclass(frozen=True)
class Restoration:
    start: int  # in the restored text
    end: int
    typed: str  # what the customer wrote, e.g. po损
    word: str  # the word it was read as, e.g. 破损
    typed_at: int  # where ``typed`` starts in the text before restoring


def shift_breaks(breaks: frozenset[int], restored: list[Restoration]) -> frozenset[int]:
    """Break positions of the text before restoring, moved to the restored text."""
    if not restored or not breaks:
        return breaks
    out = set()
    for b in breaks:
        delta = sum(len(r.word) - len(r.typed) for r in restored if r.typed_at + len(r.typed) <= b)
        out.add(b + delta)
    return frozenset(out)


def _spellings(word: str, *, full: bool) -> Iterable[str]:
    """``word`` with some (not all, unless ``full``) characters written in pinyin."""
    n = len(word)
    options = [readings(c)[:_READINGS] for c in word]
    if any(not o for o in options):
        return
    for k in range(1, n + 1 if full else n):
        for positions in itertools.combinations(range(n), k):
            for sounds in itertools.product(*(options[i] for i in positions)):
                chars = list(word)
                for i, s in zip(positions, sounds, strict=True):
                    chars[i] = s
                # a single letter never stands for a syllable (a货, e坏了)
                if any(len(s) < 2 for s in sounds):
                    continue
                yield "".join(chars)
                if full and k == n:
                    yield " ".join(chars)


# Same-sounding characters only for words this long: two-character ones collide with ordinary
# text too often (客房品质 reads 客仿品质, 过其 reads 过期).
HOMOPHONE_MIN_CHARS = 3


def _sound_alikes(word: str) -> Iterable[str]:
    """``word`` with one character replaced by a common character read the same way."""
    key = pinyin_key(word)
    if key is None or len(word) < HOMOPHONE_MIN_CHARS:
        return
    table = homophones()
    for i, syl in enumerate(key):
        for c in table.get(syl, ()):
            if c != word[i]:
                yield word[:i] + c + word[i + 1 :]


class Restorer:
    """Finds sound-alike spellings of known words in a folded text and puts the words back."""

    def __init__(self, vocabulary: Iterable[str], sound_keywords: Iterable[str] = ()) -> None:
        sound = {w for w in sound_keywords if w}
        variants: dict[str, str] = {}
        for w in sorted(set(vocabulary) | sound):
            if not 2 <= len(w) <= _MAX_CHARS or not all(_CJK.match(c) for c in w):
                continue
            for v in _spellings(w, full=w in sound):
                variants.setdefault(v, w)
        for w in sorted(sound):
            for v in _sound_alikes(w):
                if v not in variants:
                    variants[v] = w
        self.size = len(variants)
        self._auto: Any = None
        if variants:
            self._auto = ahocorasick.Automaton()
            for v, w in variants.items():
                self._auto.add_word(v, (len(v), v, w))
            self._auto.make_automaton()
        # one search decides whether a text can hold a variant at all: Latin next to Chinese,
        # a Latin run long enough for a word in full pinyin, or a character that only occurs
        # in same-sounding variants
        known = {c for w in variants.values() for c in w}
        odd = {c for v in variants if not _LETTER.search(v) for c in v} - known
        latin = [_LATIN_NEXT_TO_CJK.pattern]
        if any(v.isascii() for v in variants):
            latin.append(_LATIN_RUN.pattern)
        self._latin_trigger = re.compile("|".join(latin))
        self._sound_trigger = re.compile("[" + "".join(sorted(odd)) + "]") if odd else None

    def restore(self, folded: str) -> tuple[str, list[Restoration]]:
        if self._auto is None:
            return folded, []
        if not (
            (_LETTER.search(folded) and self._latin_trigger.search(folded))
            or (self._sound_trigger is not None and self._sound_trigger.search(folded))
        ):
            return folded, []
        found: list[tuple[int, int, str]] = []
        for last, (size, typed, word) in self._auto.iter(folded):
            if len(found) >= MAX_RESTORED:
                break
            start, end = last - size + 1, last + 1
            if _LETTER.match(typed[0]) and start > 0 and _LETTER.match(folded[start - 1]):
                continue
            if _LETTER.match(typed[-1]) and end < len(folded) and _LETTER.match(folded[end]):
                continue
            found.append((start, end, word))
        if not found:
            return folded, []
        # leftmost first, the longest there; no overlaps
        found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
        chosen: list[tuple[int, int, str]] = []
        for f in found:
            if not chosen or f[0] >= chosen[-1][1]:
                chosen.append(f)
        parts: list[str] = []
        out: list[Restoration] = []
        last = 0
        size = 0
        for start, end, word in chosen:
            parts.append(folded[last:start])
            size += start - last
            out.append(Restoration(size, size + len(word), folded[start:end], word, start))
            parts.append(word)
            size += len(word)
            last = end
        parts.append(folded[last:])
        return "".join(parts), out


__all__ = ["Restoration", "Restorer", "shift_breaks"]
