"""Toneless pinyin of Chinese characters, for sound-alike keywords (po损 for 破损, 甲货 for 假货).

A leaf module (no imports from ``monitor``): the rule schema checks at load time that a
``pinyin`` keyword is long enough to be matched by sound, and the matcher builds its spelling
variants from the same readings. Readings come from pypinyin's character table (every
reading of a heteronym, tones removed, ü written v as people type it).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from array import array
from bisect import bisect_left
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

# A keyword matched by sound must spell at least this many letters in at least two syllables;
# shorter ones (坏 huai, 假的 jiade is fine, 漏 lou) collide with ordinary words too often.
MIN_PINYIN_LETTERS = 5
MIN_PINYIN_SYLLABLES = 2


class Table:
    """Code point -> pypinyin's readings of that character (``"líng,yuán,xīng"``), for its 41,923
    characters in ~0.9 MB: the code points in order, and the readings one after another in one string.
    The dict that ``json.loads`` makes of the same file held 5.7 MB for the life of the daemon."""

    ENTRY = re.compile(r'"(\d+)"\s*:\s*"([^"\\]*)"')

    def __init__(self, text: str) -> None:
        rows = sorted((int(m[1]), m[2]) for m in self.ENTRY.finditer(text))
        self.codes = array("I", (code for code, _ in rows))
        self.ends = array("I", accumulate(len(value) for _, value in rows))
        self.blob = "".join(value for _, value in rows)

    def __len__(self) -> int:
        return len(self.codes)

    def get(self, code: int) -> str | None:
        i = bisect_left(self.codes, code)
        if i == len(self.codes) or self.codes[i] != code:
            return None
        return self.blob[self.ends[i - 1] if i else 0 : self.ends[i]]


@lru_cache(maxsize=1)
def _table() -> Table:
    """pypinyin's character table (``pypinyin.pinyin_dict.pinyin_dict``), read from its JSON file
    without importing the package: ``import pypinyin`` also parses its phrase dictionary and builds
    its segmenter (~100 MB resident, for the life of the daemon), none of which is used here."""
    return Table(_table_path().read_text(encoding="utf-8"))


def _table_path() -> Path:
    spec = importlib.util.find_spec("pypinyin")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pypinyin is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"


def _toneless(reading: str) -> str:
    s = unicodedata.normalize("NFD", reading.replace("ü", "v").replace("Ü", "v"))
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=8192)
def readings(char: str) -> tuple[str, ...]:
    """Every toneless reading of one character, most common first; () if it has none."""
    raw = _table().get(ord(char)) if len(char) == 1 else None
    if not raw:
        return ()
    return tuple(dict.fromkeys(_toneless(r) for r in raw.split(",") if r))


def pinyin_key(word: str) -> tuple[str, ...] | None:
    """The syllables of ``word`` (first reading of each character), or None when a character
    has no reading (Latin letters, digits, punctuation)."""
    out = []
    for c in word:
        r = readings(c)
        if not r:
            return None
        out.append(r[0])
    return tuple(out)


def pinyin_problem(word: str) -> str | None:
    """Why ``word`` cannot be a ``pinyin`` keyword, or None."""
    key = pinyin_key(word.strip())
    if key is None:
        return f"{word!r} must be Chinese characters only"
    letters = sum(len(s) for s in key)
    if len(key) < MIN_PINYIN_SYLLABLES or letters < MIN_PINYIN_LETTERS:
        return (
            f"{word!r} folds to {''.join(key)!r}, too short to match by sound "
            f"(needs {MIN_PINYIN_SYLLABLES} syllables and {MIN_PINYIN_LETTERS} letters)"
        )
    return None


@lru_cache(maxsize=1)
def homophones() -> dict[str, tuple[str, ...]]:
    """Toneless syllable -> common characters read that way (GB2312 level 1, 3,755 characters)."""
    out: dict[str, list[str]] = {}
    for code in range(0x4E00, 0xA000):
        c = chr(code)
        try:
            b = c.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if not 0xB0 <= b[0] <= 0xD7:  # level 1: the common characters
            continue
        for r in readings(c)[:1]:
            out.setdefault(r, []).append(c)
    return {k: tuple(v) for k, v in out.items()}
