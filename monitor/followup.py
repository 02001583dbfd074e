"""The follow-up stage: complete the items a list gave truncated (Weibo long posts, Xiaohongshu notes).

    fetch -> parse -> follow-up -> normalize -> dedupe -> analyze -> store

Polite and bounded: only items not yet stored complete are asked for, at most
``source.max_follow_ups`` requests a poll, through the poll's own Fetcher (the same per-host gate,
cookie and proxy), and each answer is cached by its key (the item id, plus its edit count). After a
refusal (login wall, captcha, rate limit) nothing more is asked of the platform this poll. An item
whose follow-up was refused, failed or did not fit the budget keeps its truncated text, flagged
``truncated`` with the reason; a later poll completes it, and the stored item gets a new revision, so
its analysis runs again, like a 追评.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.adapters.base import (
    Adapter,
    BlockedError,
    Completion,
    HttpStatusError,
    RawItem,
    SourceError,
)
from monitor.fetch import Fetcher

__all__ = ["OUTCOMES", "FollowUpCache", "FollowUpReport", "Stored", "complete_truncated"]

log = logging.getLogger(__name__)
_SHAPE_BUGS = (KeyError, TypeError, AttributeError, ValueError, IndexError)

OUTCOMES = {
    "fetched": "asked and completed",
    "cached": "completed from this process's cache, nothing asked",
    "stored": "already stored complete, nothing asked",
    "blocked": "the platform refused (login, captcha, rate limit): kept truncated",
    "failed": "the answer was unusable or the request failed: kept truncated",
    "deferred": "over this poll's budget or after a refusal: kept truncated, asked next poll",
}

Stored = Callable[[list[str]], Mapping[str, tuple[str, Mapping[str, Any]]]]
"""ids -> (text, attrs) of the items already stored, for the source being polled."""


@dataclass
class FollowUpReport:
    counts: dict[str, int] = field(default_factory=dict)  # outcome (OUTCOMES) -> items
    problem: str = ""  # the first refusal or failure, said once
    touched: list[int] = field(default_factory=list)  # indices of the items looked at

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def summary(self) -> str:
        said = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"{said}{f' ({self.problem})' if self.problem else ''}"


class FollowUpCache:
    """Answers by (source, key), the most recent ``size`` kept; shared by concurrent polls."""

    def __init__(self, size: int = 2000) -> None:
        self._size = size
        self._data: OrderedDict[tuple[str, str], Completion] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, source: str, key: str) -> Completion | None:
        with self._lock:
            hit = self._data.get((source, key))
            if hit is not None:
                self._data.move_to_end((source, key))
            return hit

    def put(self, source: str, key: str, answer: Completion) -> None:
        with self._lock:
            self._data[(source, key)] = answer
            self._data.move_to_end((source, key))
            while len(self._data) > self._size:
                self._data.popitem(last=False)


def complete_truncated(
    fetcher: Fetcher,
    adapter: Adapter[Any],
    raws: list[RawItem],
    cache: FollowUpCache,
    stored: Stored | None = None,
) -> FollowUpReport:
    """Complete, in place, the items of ``raws`` the adapter can follow up; say what happened."""
    cfg = adapter.config
    report = FollowUpReport()
    wanted = [(i, fu) for i, raw in enumerate(raws) if (fu := adapter.follow_up(raw)) is not None]
    if not wanted:
        return report
    known = stored([str(raws[i].external_id) for i, _ in wanted]) if stored is not None else {}
    asked, refused = 0, False
    for i, fu in wanted:
        raw = raws[i]
        report.touched.append(i)
        if (hit := cache.get(cfg.name, fu.key)) is not None:
            _apply(raw, hit, fu.key)
            report.add("cached")
            continue
        prev = known.get(str(raw.external_id))
        if prev is not None and prev[1].get("follow_up") == fu.key and not prev[1].get("truncated"):
            _apply(raw, Completion(prev[0]), fu.key)  # completed by an earlier poll
            report.add("stored")
            continue
        if refused or asked >= cfg.max_follow_ups:
            why = "the platform refused a follow-up" if refused else "over this poll's budget"
            _truncated(raw, f"{fu.what} not fetched yet ({why})")
            report.add("deferred")
            continue
        asked += 1
        try:
            answer = adapter.complete(raw, fetcher.fetch(fu.request, cfg))
        except SourceError as exc:
            if isinstance(exc, HttpStatusError):
                exc = adapter.classify_error(exc.page) or exc
            refused = isinstance(exc, BlockedError)
            _truncated(raw, f"{fu.what} refused: {exc}" if refused else f"{fu.what} failed: {exc}")
            report.add("blocked" if refused else "failed")
            report.problem = report.problem or f"{fu.what}: {exc}"
            continue
        except _SHAPE_BUGS as exc:
            log.debug("source %s: follow-up answer not understood", cfg.name, exc_info=True)
            _truncated(raw, f"{fu.what} not understood ({type(exc).__name__}: {exc})")
            report.add("failed")
            report.problem = report.problem or f"{fu.what}: unexpected answer shape"
            continue
        cache.put(cfg.name, fu.key, answer)
        _apply(raw, answer, fu.key)
        report.add("fetched")
    if report.problem:
        log.info("source %s: follow-ups %s", cfg.name, report.summary())
    return report


def _apply(raw: RawItem, answer: Completion, key: str) -> None:
    raw.text = answer.text
    if answer.published is not None:
        raw.published = answer.published
    raw.attrs.update(answer.attrs)
    # False and None, not absent: a stored item's attrs are merged with the new ones
    raw.attrs.update(truncated=False, truncated_reason=None, follow_up=key)


def _truncated(raw: RawItem, reason: str) -> None:
    raw.attrs.update(truncated=True, truncated_reason=reason)
