"""Negative stored items that no rule alerts on (with the rules loaded now), grouped by their
representative phrases: what ``monitor rules uncovered`` prints and the console can show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.analyze import Analyzer, MatchContext
from monitor.analyze.uncovered import UncoveredGroup, group_uncovered
from monitor.store import Store
from monitor.store.rules import items_since

# Items read per call: the report is about recent patterns, not an archive scan.
MAX_ITEMS = 20000


@dataclass
class UncoveredReport:
    since: str  # ISO time, UTC
    items: int  # stored items fetched in the period (up to MAX_ITEMS)
    negative: int  # of them negative (stored sentiment neg, or 1-2 stars)
    uncovered: int  # negative items on which no rule alerts now
    groups: list[UncoveredGroup] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def uncovered(
    store: Store, analyzer: Analyzer, window: timedelta, now: datetime, *, top: int = 10, examples: int = 3
) -> UncoveredReport:
    """The report for items fetched in ``window`` before ``now``."""
    since = now - window
    background: list[str] = []
    missed: list[tuple[int, str]] = []
    negative = 0
    rows = list(items_since(store, since, MAX_ITEMS))
    for item in rows:
        background.append(item.text)
        if not (item.sentiment == "neg" or (item.rating is not None and item.rating <= 2)):
            continue
        negative += 1
        ctx = MatchContext(source=item.source, platform=item.platform, sku=item.sku, rating=item.rating)
        _t, ev = analyzer.evaluate(item.text, ctx)
        if not ev.fired:
            missed.append((item.id, item.text))
    groups = group_uncovered(missed, background, top=top, examples=examples)
    return UncoveredReport(since.isoformat(), len(rows), negative, len(missed), groups)


__all__ = ["UncoveredReport", "uncovered"]
