"""Catching up after an interruption, and recording what could not be caught up.

A poll reads a source's newest pages until it reaches items it has stored (``pipeline.collect``,
at most ``max_pages``). After downtime, a database outage, a blocked period or a restart, more
may have been published than those pages hold: the poll then stops at its page limit with the
older part of the gap unread. Left alone, that part was never fetched and nothing said so.

Here the poll goes on from where the head stopped, page by page through the same fetcher (so
the same per-host politeness), at most ``fetch.catchup_pages`` pages per poll; where it stops is
remembered in the source's cursor (``catchup``: one segment per interruption, newest first) and
the next poll resumes there. A segment closes when it reaches an item stored before the
interruption. When the platform's paging ends first, or a segment has cost
``fetch.catchup_max_pages`` pages, the gap is recorded (``source_gaps``: source, from, to, why),
logged, and sent once to the admins; ``monitor sources gaps`` and the console's /sources list it.

Page-number paging shifts while new items arrive on top, so a resumed page may repeat items
already read (stored once, by id) but does not skip any; cursor paging resumes exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

from sqlalchemy.orm import Session

from monitor.adapters.base import Adapter
from monitor.alerting import announce, open_alert, raise_alert
from monitor.config import Config
from monitor.fetch import Fetcher
from monitor.normalize import Item
from monitor.store import Store
from monitor.store import models as m

log = logging.getLogger(__name__)
CURSOR_KEY = "catchup"
MAX_SEGMENTS = 5  # interruptions in a row still being caught up; an older one is recorded as a gap


class Collected(Protocol):
    """What catching up reads of a collect run (``pipeline.RunResult`` is one)."""

    @property
    def verdict(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def stopped(self) -> str: ...
    @property
    def next_url(self) -> str | None: ...
    @property
    def items(self) -> list[Item]: ...
    @property
    def pages(self) -> Sequence[object]: ...


Collect = Callable[..., Collected]


@dataclass
class Gap:
    source: str
    from_at: datetime | None
    to_at: datetime | None
    why: str
    pages: int


@dataclass
class Outcome:
    """What catching up did in one poll (merged into the poll's result by the caller)."""

    items: list[Item] = field(default_factory=list)
    pages: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)  # still open, for the cursor
    gaps: list[Gap] = field(default_factory=list)
    closed: int = 0
    notes: list[str] = field(default_factory=list)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _time(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _oldest(items: list[Item]) -> datetime | None:
    times = [it.published_at for it in items if it.published_at is not None]
    return min(times) if times else None


def _at_mark(items: list[Item], mark: datetime | None, mark_id: str | None) -> bool:
    """Whether ``items`` reach the last item seen before an interruption: that very item, or one
    published no later than it."""
    if mark is not None and any(it.published_at is not None and it.published_at <= mark for it in items):
        return True
    return mark_id is not None and any(it.external_id == mark_id for it in items)


def reached(store: Store, items: list[Item], mark: datetime | None, mark_id: str | None) -> bool:
    """Whether the head (the newest pages, read just now) reaches what was stored before: the last
    item seen, or any stored item (everything below the newest stored one is stored or being caught
    up in an older segment)."""
    if not items:
        return False
    if _at_mark(items, mark, mark_id):
        return True
    with store.session() as s:
        return bool(store.known(s, items[0].source, [it.external_id for it in items]))


def catch_up(
    collect: Collect,
    fetcher: Fetcher,
    adapter: Adapter[Any],
    store: Store,
    cursor: Mapping[str, Any],
    head: Collected,
    now: datetime,
    tz: tzinfo,
    *,
    budget: int,
    max_pages: int,
    stop: threading.Event | None,
) -> Outcome:
    """After a healthy head poll of a source that had items: open a segment if the head stopped
    short of what was stored, then spend up to ``budget`` pages on the open segments."""
    out = Outcome()
    name = adapter.config.name
    mark = _time(cursor.get("newest_published"))
    segments: list[dict[str, Any]] = [
        dict(s) for s in cursor.get(CURSOR_KEY) or [] if isinstance(s, dict) and s.get("url")
    ]
    mark_id = cursor.get("newest_id")
    if head.stopped in ("limit", "end") and not reached(store, head.items, mark, mark_id):
        if head.stopped == "limit" and head.next_url:
            seg: dict[str, Any] = {"url": head.next_url, "from": _iso(mark), "from_id": mark_id, "pages": 0}
            seg["to"] = _iso(_oldest(head.items))
            segments.insert(0, seg)
        else:
            why = "the platform's paging ends before the last item seen before the interruption"
            out.gaps.append(Gap(name, mark, _oldest(head.items), why, 0))
    for seg in segments[MAX_SEGMENTS:]:
        out.gaps.append(_gap(name, seg, f"more than {MAX_SEGMENTS} interruptions in a row to catch up"))
    segments = segments[:MAX_SEGMENTS]
    for seg in segments:
        if budget <= 0:
            out.segments.append(seg)
            continue
        # Stored items met on the way do not end a segment: with page-number paging, new items push
        # the pages down between polls, so a resumed page may hold items read last time. Only the last
        # item seen before the interruption (or an older one) does.
        part = collect(
            fetcher, adapter, {"newest_published": seg.get("from")}, now, tz,
            page_limit=max(1, min(budget, max_pages - int(seg["pages"]))), stop=stop, start_url=seg["url"],
        )  # fmt: skip
        spent = max(len(part.pages), 1)
        budget -= spent
        seg["pages"] = int(seg["pages"]) + spent
        out.pages += len(part.pages)
        out.items.extend(part.items)
        if part.items and (oldest := _oldest(part.items)) is not None:
            seg["to"] = _iso(oldest)
        at_mark = _at_mark(part.items, _time(seg.get("from")), seg.get("from_id"))
        if part.verdict == "ok" and (part.stopped == "reached" or at_mark):
            out.closed += 1
            continue
        if part.verdict != "ok":
            out.notes.append(f"catching up stopped: {part.reason}")
        elif part.stopped != "limit" or not part.next_url:
            out.gaps.append(_gap(name, seg, "the platform's paging ends before the last item seen"))
            continue
        else:
            seg["url"] = part.next_url
        if int(seg["pages"]) >= max_pages:
            out.gaps.append(_gap(name, seg, f"catching up spent its budget of {max_pages} pages"))
            continue
        out.segments.append(seg)
    return out


def _gap(source: str, seg: Mapping[str, Any], why: str) -> Gap:
    return Gap(source, _time(seg.get("from")), _time(seg.get("to")), why, int(seg.get("pages") or 0))


def apply(cursor: dict[str, Any], outcome: Outcome | None) -> dict[str, Any]:
    """The cursor to store: open segments kept (resumed next poll), none when all are closed."""
    cursor.pop(CURSOR_KEY, None)
    if outcome is not None and outcome.segments:
        cursor[CURSOR_KEY] = outcome.segments
    return cursor


def carry(old: Mapping[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A poll that did not try to catch up (not ok) keeps the open segments for the next one."""
    if old.get(CURSOR_KEY):
        new[CURSOR_KEY] = old[CURSOR_KEY]
    return new


def record(s: Session, config: Config, gaps: list[Gap], now: datetime) -> None:
    """Store each gap, log it, and tell the admins once per source while its gap alert is open."""
    for g in gaps:
        s.add(m.SourceGap(source=g.source, from_at=g.from_at, to_at=g.to_at, why=g.why, pages=g.pages,
                          recorded_at=now))  # fmt: skip
        log.warning("source %s: gap recorded: items between %s and %s may be missing (%s)",
                    g.source, _iso(g.from_at) or "?", _iso(g.to_at) or "?", g.why)  # fmt: skip
        _notify(s, config, g, now)


def describe(g: Gap | m.SourceGap, tz: tzinfo) -> str:
    def local(t: datetime | None) -> str:
        return t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t is not None else "?"

    return f"{local(g.from_at)} → {local(g.to_at)}（{g.why}）"


def _notify(s: Session, config: Config, g: Gap, now: datetime) -> None:
    key = f"source_gap:{g.source}"
    text = describe(g, config.settings.tz)
    alert = open_alert(s, key)
    if alert is not None:  # one message per source until an admin resolves it; later gaps are listed
        alert.item_count += 1
        alert.summary = f"{alert.summary}\n另一缺口 another gap: {text}"[-4000:]
        alert.updated_at = now
        return
    src = config.sources.get(g.source)
    alert = raise_alert(
        s, now, dedup_key=key, kind="source_health", rule_id=None, category="source_gap",
        severity="medium", grade=None, platform=getattr(src, "platform", None), source=g.source, sku=None,
        title=f"数据缺口 gap: {g.source} 可能漏抓了评价 (items may be missing)",
        summary=(
            f"中断后未能补抓到上次看到的评价 — after an interruption, catching up could not reach the last "
            f"item seen: {text}. 请在平台上人工查看这段时间的评价；`monitor sources gaps` 列出全部缺口。"
        ),
    )  # fmt: skip
    alert.item_count = 1
    announce(s, config, alert, now)
