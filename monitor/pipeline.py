"""One run of one source, stage by stage:

    fetch -> parse -> normalize -> dedupe -> analyze -> store -> alert -> incidents -> (delivery, later)

Everything a run decides is committed in one transaction at the end; if the
daemon is asked to stop before that, nothing of this run is stored.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from monitor.adapters import build
from monitor.adapters.base import (
    Adapter,
    HttpStatusError,
    ParsedPage,
    RawItem,
    SourceConfig,
    SourceError,
    Verdict,
)
from monitor.alerting import evaluate, health
from monitor.analyze import Analysis, MatchContext
from monitor.analyze.pool import AnalysisPool
from monitor.config import Config
from monitor.fetch import Fetcher
from monitor.normalize import Item, normalize
from monitor.sop import incidents
from monitor.store import Store
from monitor.store import models as m

log = logging.getLogger(__name__)
_SHAPE_BUGS = (KeyError, TypeError, AttributeError, ValueError, IndexError)


class Interrupted(Exception):
    """The daemon is stopping; this run is abandoned before it commits."""


@dataclass
class PageReport:
    url: str
    status: int
    items: int
    missing_fields: dict[str, int]
    verdict: Verdict = "ok"
    reason: str = ""
    elapsed_ms: float = 0.0
    size: int = 0
    first_item: int = 0  # index of this page's first item in RunResult.items


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
    parsed: list[ParsedPage] = field(default_factory=list, repr=False)
    validators: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False


@dataclass
class Context:
    """What a run needs, passed in (I/O included) so tests can point it anywhere."""

    config: Config
    store: Store
    fetcher: Fetcher
    analysis: AnalysisPool
    stop: threading.Event = field(default_factory=threading.Event)
    on_stored: Callable[[RunResult], None] | None = None


def versioned(item: Item, raw: RawItem) -> Item:
    """Fold the adapter's revision marker (a 追评 arrived, an edit count) into the payload hash."""
    if raw.version:
        body = f"{item.payload_hash}|{raw.version}".encode()
        item.payload_hash = hashlib.sha256(body).hexdigest()[:32]
    return item


def _older_than_cursor(items: list[Item], cursor: Mapping[str, Any]) -> bool:
    newest = cursor.get("newest_published")
    if not newest or not items:
        return False
    mark = datetime.fromisoformat(newest)
    return all(it.published_at is not None and it.published_at < mark for it in items)


def collect(
    fetcher: Fetcher,
    adapter: Adapter[Any],
    cursor: Mapping[str, Any],
    now: datetime,
    tz: tzinfo,
    *,
    page_limit: int,
    is_known: Callable[[list[Item]], bool] | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Fetch and parse up to ``page_limit`` pages, newest first; store nothing.

    Paging stops at a page whose items are all stored already (``is_known``) or all older than
    the cursor's newest item. Source problems become the result's verdict, never an exception.
    """
    cfg: SourceConfig = adapter.config
    result = RunResult(cfg.name, "ok")
    url: str | None = adapter.first_url(cursor)
    seen_urls: set[str] = set()
    validators = cursor.get("http") if isinstance(cursor.get("http"), dict) else None
    while url and len(result.pages) < page_limit and url not in seen_urls:
        if stop is not None and stop.is_set():
            raise Interrupted
        seen_urls.add(url)
        first = not result.pages
        try:
            page = fetcher.fetch(adapter.request(url), cfg, validators if first else None)
            if first and page.not_modified:
                result.pages.append(PageReport(url, 304, 0, {}, "ok", "not modified", page.elapsed_ms))
                result.not_modified, result.validators = True, dict(validators or {})
                break
            parsed = adapter.parse(page)
        except SourceError as exc:
            _fail(result, adapter, url, exc)
            return result
        except _SHAPE_BUGS as exc:
            log.debug("source %s: parser failed", cfg.name, exc_info=True)
            _fail(result, adapter, url, exc)
            return result
        report = PageReport(
            url, page.status, len(parsed.items), parsed.missing_fields, parsed.verdict or "ok",
            parsed.reason, page.elapsed_ms, page.size, len(result.items),
        )  # fmt: skip
        result.pages.append(report)
        if parsed.verdict in ("blocked", "broken", "error"):
            result.verdict, result.reason = parsed.verdict, parsed.reason
            return result
        if first:
            result.validators = _validators(page.headers)
        page_items = [versioned(normalize(r, cfg, now, tz), r) for r in parsed.items]
        result.raws.extend(parsed.items)
        result.items.extend(page_items)
        result.parsed.append(parsed)
        if not page_items:
            report.verdict = "empty"
            if first:
                result.reason = parsed.reason
            break
        if (is_known is not None and is_known(page_items)) or _older_than_cursor(page_items, cursor):
            break
        url = parsed.next_url
    if not result.items and not result.not_modified:
        result.verdict = "empty"
        result.reason = result.reason or "no items on the first page"
    return result


def _fail(result: RunResult, adapter: Adapter[Any], url: str, exc: Exception) -> None:
    status = 0
    if isinstance(exc, HttpStatusError):
        status = exc.page.status
        exc = adapter.classify_error(exc.page) or exc
    verdict: Verdict = exc.verdict if isinstance(exc, SourceError) else "broken"
    reason = (
        str(exc) if isinstance(exc, SourceError) else f"unexpected page shape ({type(exc).__name__}: {exc})"
    )
    if len(result.pages) > 0:
        reason = f"page {len(result.pages) + 1}: {reason}"
    result.pages.append(PageReport(url, status, 0, {}, verdict, reason, first_item=len(result.items)))
    result.verdict, result.reason = verdict, reason


def _validators(headers: Mapping[str, str]) -> dict[str, str]:
    lower = {k.lower(): v for k, v in headers.items()}
    out = {"etag": lower.get("etag", ""), "last_modified": lower.get("last-modified", "")}
    return {k: v for k, v in out.items() if v}


def next_cursor(adapter: Adapter[Any], cursor: Mapping[str, Any], result: RunResult) -> dict[str, Any]:
    """The cursor after a healthy poll: the adapter's paging tokens, the newest item, HTTP validators."""
    out = adapter.next_cursor(cursor, result.raws, result.parsed)
    times = [it.published_at for it in result.items if it.published_at is not None]
    if times:
        newest = max(times).isoformat()
        out["newest_published"] = max(newest, str(cursor.get("newest_published") or ""))
    if result.items:
        out["newest_id"] = result.items[0].external_id
    if result.validators:
        out["http"] = result.validators
    else:
        out.pop("http", None)
    return out


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

    limit = source.max_pages if had_items else source.backfill_pages
    tz = ctx.config.settings.tz
    # a source that never yielded items has nothing stored to stop at: skip the per-page lookups
    known = all_known if had_items else None
    result = collect(ctx.fetcher, adapter, cursor, now, tz, page_limit=limit, is_known=known, stop=ctx.stop)
    items = result.items
    if result.verdict == "empty" and had_items:
        said = (
            f" ({result.reason})" if result.reason and result.reason != "no items on the first page" else ""
        )
        result.verdict = "broken"
        result.reason = f"nothing parsed on a page that used to yield items{said}"

    with ctx.store.session() as s:
        changes = ctx.store.diff(s, items)
    analyses = ctx.analysis.analyze_many([(ch.item.text, _match_context(ch.item)) for ch in changes])
    if ctx.stop.is_set():
        raise Interrupted

    with ctx.store.transaction() as s:
        rows = ctx.store.save_items(s, changes, now)
        for change, row in zip(changes, rows, strict=False):
            if change.kind == "updated" and change.item.attrs:
                row.attrs = {**(row.attrs or {}), **change.item.attrs}
        for row, analysis in zip(rows, analyses, strict=True):
            _save_analysis(s, row, analysis, now)
        events = evaluate(s, ctx.config, rows, analyses, now)
        incidents.open_for_events(s, ctx.config, events, now)
        state = ctx.store.source_state(s, source.name)
        health.record(s, ctx.config, state, result.verdict, result.reason, now)
        if result.verdict == "ok":
            state.had_items = state.had_items or bool(items)
            state.cursor = next_cursor(adapter, cursor, result)
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
