"""One run of one source, stage by stage:

    fetch -> parse -> normalize -> dedupe -> analyze -> store -> alert -> (notify, from the outbox)

Everything a run decides is committed in one transaction at the end; if the
daemon is asked to stop before that, nothing of this run is stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.adapters import build
from monitor.adapters.base import Adapter, ParsedPage, ParseError, RawItem, SourceConfig, Verdict
from monitor.alerting import evaluate, health
from monitor.analyze import Analysis, MatchContext
from monitor.analyze.pool import AnalysisPool
from monitor.config import Config
from monitor.fetch import Blocked, Fetcher, FetchError
from monitor.normalize import Item, normalize
from monitor.store import Store
from monitor.store import models as m

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """The daemon is stopping; this run is abandoned before it commits."""


@dataclass
class PageReport:
    url: str
    status: int
    items: int
    missing_fields: dict[str, int]


@dataclass
class RunResult:
    source: str
    verdict: Verdict
    reason: str = ""
    pages: list[PageReport] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    raws: list[RawItem] = field(default_factory=list, repr=False)
    new: int = 0
    updated: int = 0
    alerts: int = 0


@dataclass
class Context:
    """What a run needs, passed in (I/O included) so tests can point it anywhere."""

    config: Config
    store: Store
    fetcher: Fetcher
    analysis: AnalysisPool
    stop: threading.Event = field(default_factory=threading.Event)
    on_stored: Callable[[RunResult], None] | None = None


def fetch_pages(
    ctx: Context,
    adapter: Adapter[Any],
    cursor: dict[str, Any],
    now: datetime,
    is_known: Callable[[list[Item]], bool] | None = None,
) -> tuple[list[Item], RunResult]:
    """Fetch and parse up to ``max_pages`` pages, stopping at a page of already-stored items."""
    cfg: SourceConfig = adapter.config
    result = RunResult(cfg.name, "ok")
    items: list[Item] = []
    raws: list[RawItem] = []
    url: str | None = adapter.first_url(cursor)
    seen_urls: set[str] = set()
    tz = ctx.config.settings.tz
    while url and len(result.pages) < cfg.max_pages and url not in seen_urls:
        if ctx.stop.is_set():
            raise Interrupted
        seen_urls.add(url)
        page = ctx.fetcher.get(url, cfg, adapter.request_headers())
        parsed: ParsedPage = adapter.parse(page)
        result.pages.append(PageReport(url, page.status, len(parsed.items), parsed.missing_fields))
        if parsed.verdict in ("blocked", "broken"):
            result.verdict, result.reason = parsed.verdict, parsed.reason
            return items, result
        page_items = [normalize(r, cfg, now, tz) for r in parsed.items]
        raws.extend(parsed.items)
        items.extend(page_items)
        if not page_items or (is_known is not None and is_known(page_items)):
            break
        url = parsed.next_url
    result.items = items
    result.verdict = "ok" if items else "empty"
    result.reason = "" if items else "no items on the first page"
    result.raws = raws
    return items, result


def run_source(ctx: Context, source: SourceConfig, now: datetime) -> RunResult:
    """Poll ``source`` once and commit everything it found; never raises for source problems."""
    adapter = build(source)
    with ctx.store.session() as s:
        state = ctx.store.source_state(s, source.name)
        cursor = dict(state.cursor or {})
        had_items = state.had_items
        s.commit()

    def all_known(page_items: list[Item]) -> bool:
        with ctx.store.session() as s:
            return not ctx.store.diff(s, page_items)

    try:
        items, result = fetch_pages(ctx, adapter, cursor, now, all_known)
    except Interrupted:
        raise
    except Blocked as exc:
        items, result = [], RunResult(source.name, "blocked", str(exc))
    except ParseError as exc:
        items, result = [], RunResult(source.name, "broken", str(exc))
    except FetchError as exc:
        items, result = [], RunResult(source.name, "error", str(exc))
    if result.verdict == "empty" and had_items:
        result.verdict, result.reason = "broken", "nothing parsed on a page that used to yield items"

    with ctx.store.session() as s:
        changes = ctx.store.diff(s, items)
    analyses = ctx.analysis.analyze_many([(ch.item.text, _match_context(ch.item)) for ch in changes])
    if ctx.stop.is_set():
        raise Interrupted

    with ctx.store.transaction() as s:
        rows = ctx.store.save_items(s, changes, now)
        for row, analysis in zip(rows, analyses, strict=True):
            _save_analysis(s, row, analysis, now)
        events = evaluate(s, ctx.config, rows, analyses, now)
        state = ctx.store.source_state(s, source.name)
        health.record(s, ctx.config, state, result.verdict, result.reason, now)
        if result.verdict == "ok":
            state.had_items = True
            state.cursor = adapter.next_cursor(cursor, result.raws)
        s.add(
            m.Poll(
                source=source.name,
                started_at=now,
                finished_at=now,
                verdict=result.verdict,
                reason=result.reason,
                pages=len(result.pages),
                items_seen=len(items),
                items_new=sum(1 for c in changes if c.kind == "new"),
                items_updated=sum(1 for c in changes if c.kind == "updated"),
            )
        )
        if ctx.stop.is_set():
            raise Interrupted  # rolls the transaction back
    result.new = sum(1 for c in changes if c.kind == "new")
    result.updated = len(changes) - result.new
    result.alerts = len(events)
    if result.verdict != "ok":
        log.warning("source %s: %s: %s", source.name, result.verdict, result.reason)
    if ctx.on_stored:
        ctx.on_stored(result)
    return result


def _match_context(item: Item) -> MatchContext:
    return MatchContext(source=item.source, platform=item.platform, sku=item.sku, rating=item.rating)


def _save_analysis(s: Any, row: m.Item, a: Analysis, now: datetime) -> None:
    existing = s.get(m.Analysis, row.id)
    values = dict(  # noqa: C408
        normalized=a.normalized,
        rules=a.rules,
        hits=[h.__dict__ for h in a.hits],
        sentiment=a.sentiment,
        sentiment_score=a.sentiment_score,
        dimensions=a.dimensions,
        grade=a.grade,
        grade_reasons=a.grade_reasons,
        severity=a.severity,
        analyzed_at=now,
    )
    if existing is None:
        s.add(m.Analysis(item_id=row.id, **values))
    else:
        for k, v in values.items():
            setattr(existing, k, v)
