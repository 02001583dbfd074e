"""Concept groups near each other (a rule's ``near``): refund words and stalling words in one
clause (钱到现在还没回来), a service word next to sarcastic praise (客服态度真是“好”到家了).

The words of every concept are found by the rule set's one Aho-Corasick pass; this module only
combines their occurrences into matches that satisfy a group's window and order.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from monitor.analyze.negation import CLAUSE_BREAK, SENTENCE_END

Occurrence = tuple[int, int, str]  # start, end, word
_SENTENCE_REACH = 40


@dataclass(frozen=True)
class NearGroup:
    rule_id: str
    keys: tuple[str, ...]  # internal concept keys, or a marker such as $sarcasm
    names: tuple[str, ...]  # the names the admin wrote
    within: str | int
    ordered: bool


@dataclass(frozen=True)
class NearMatch:
    start: int
    end: int
    parts: tuple[tuple[int, int, str, str], ...]  # start, end, word, concept name (in text order)

    @property
    def words(self) -> str:
        return "…".join(p[2] for p in self.parts)


def _gap_ok(folded: str, a_end: int, b_start: int, breaks: frozenset[int], within: str | int) -> bool:
    gap = folded[a_end:b_start]
    if within == "clause":
        return CLAUSE_BREAK.search(gap) is None and not any(a_end <= b <= b_start for b in breaks)
    if SENTENCE_END.search(gap) is not None:
        return False
    limit = _SENTENCE_REACH if within == "sentence" else int(within)
    return len(gap) <= limit


def _fits(
    parts: list[tuple[int, int, str, str]], folded: str, breaks: frozenset[int], group: NearGroup
) -> bool:
    ordered = sorted(parts)
    for a, b in pairwise(ordered):
        if b[0] < a[1]:  # overlap
            return False
        if not _gap_ok(folded, a[1], b[0], breaks, group.within):
            return False
    if group.ordered and len(parts) == len(group.names):
        names = [p[3] for p in ordered]
        return names == list(group.names)
    return True


def match_group(
    group: NearGroup, occurrences: dict[str, list[Occurrence]], folded: str, breaks: frozenset[int]
) -> list[NearMatch]:
    """Non-overlapping matches of ``group``, leftmost first. For each occurrence of the rarest
    concept, the nearest occurrence of every other concept is taken."""
    lists = [occurrences.get(k, []) for k in group.keys]
    if any(not lst for lst in lists):
        return []
    anchor_i = min(range(len(lists)), key=lambda i: len(lists[i]))
    out: list[NearMatch] = []
    taken_until = -1
    for a in lists[anchor_i]:
        parts = [(a[0], a[1], a[2], group.names[anchor_i])]
        for i, lst in enumerate(lists):
            if i == anchor_i:
                continue
            best: tuple[int, int, str, str] | None = None
            best_d = 1 << 30
            for o in lst:
                d = abs(o[0] - a[0])
                if d >= best_d or d > 2 * _SENTENCE_REACH:
                    continue
                cand = (o[0], o[1], o[2], group.names[i])
                if _fits([*parts, cand], folded, breaks, group):
                    best, best_d = cand, d
            if best is None:
                break
            parts.append(best)
        else:
            parts.sort()
            if parts[0][0] >= taken_until:
                out.append(NearMatch(parts[0][0], parts[-1][1], tuple(parts)))
                taken_until = parts[-1][1]
    return out


__all__ = ["NearGroup", "NearMatch", "Occurrence", "match_group"]
