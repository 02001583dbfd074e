"""One run of one source, stage by stage:

    fetch -> parse -> follow-up -> normalize -> dedupe -> analyze -> store -> alert -> incidents
        -> (delivery, later, from the outbox)

(``collect`` normalizes each page as it goes, to know where to stop paging; the follow-up stage
normalizes again the items it completed.)

Everything a run decides is committed in one transaction at the end; if the
daemon is asked to stop before that, nothing of this run is stored.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DataError

from monitor import catchup, hygiene
from monitor.adapters import build
from monitor.adapters.base import (
    Adapter,
    HttpStatusError,
    ParsedPage,
    RawItem,
    SourceError,
)
from monitor.alerting import backfill, evaluate, health
from monitor.analyze import Analysis, MatchContext
from monitor.analyze.pool import AnalysisPool
from monitor.config import Config
from monitor.config.sources import SourceConfig, Verdict
from monitor.fetch import Fetcher
from monitor.followup import FollowUpCache, FollowUpReport, Stored, complete_truncated
from monitor.normalize import Item, normalize
from monitor.priority import Priority
from monitor.sop import incidents
from monitor.store import ItemChange, Store
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
    entries: int = 0  # entries of the item type on the page; ``failed`` of them yielded no item
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # entries not taken, by reason (ad card ...)


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
    follow_ups: FollowUpReport = field(default_factory=FollowUpReport)
    # why paging stopped: "reached" stored or older items, "limit" (``next_url`` is where it would go
    # on), "end" of the platform's paging, or "failed"; catching up after an interruption reads it
    stopped: str = "end"
    next_url: str | None = None


@dataclass
class Context:
    """What a run needs, passed in (I/O included) so tests can point it anywhere."""

    config: Config
    store: Store
    fetcher: Fetcher
    analysis: AnalysisPool
    stop: threading.Event = field(default_factory=threading.Event)
    on_stored: Callable[[RunResult], None] | None = None
    follow_ups: FollowUpCache = field(default_factory=FollowUpCache)
    # notifications first: the poll pauses between its stages while a delivery round runs
    priority: Priority = field(default_factory=Priority)


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
    start_url: str | None = None,
    pause: Callable[[], None] | None = None,
) -> RunResult:
    """Fetch and parse up to ``page_limit`` pages, newest first (or from ``start_url``); store nothing.

    Paging stops at a page whose items are all stored already (``is_known``) or all older than
    the cursor's newest item. Source problems become the result's verdict, never an exception.
    ``pause`` is called after each page arrives, before it is parsed (the daemon's delivery-first
    yield point, ``monitor.priority``).
    """
    cfg: SourceConfig = adapter.config
    result = RunResult(cfg.name, "ok")
    url: str | None = start_url or adapter.first_url(cursor)
    seen_urls: set[str] = set()
    validators = cursor.get("http") if isinstance(cursor.get("http"), dict) else None
    while url and len(result.pages) < page_limit and url not in seen_urls:
        if stop is not None and stop.is_set():
            raise Interrupted
        seen_urls.add(url)
        first = not result.pages
        try:
            page = adapter.fetch(fetcher, adapter.request(url), validators if first else None, now)
            if first and page.not_modified:
                result.pages.append(PageReport(url, 304, 0, {}, "ok", "not modified", page.elapsed_ms))
                result.not_modified, result.validators = True, dict(validators or {})
                result.stopped = "reached"
                break
            if pause is not None:
                pause()
            parsed = adapter.parse(page)
        except SourceError as exc:
            _fail(result, adapter, url, exc)
            return result
        except _SHAPE_BUGS as exc:
            log.debug("source %s: parser failed", cfg.name, exc_info=True)
            _fail(result, adapter, url, exc)
            return result
        if parsed.verdict is None and parsed.shape_changed:  # entries there, none parsed: never "empty"
            where = f"page {len(result.pages) + 1}: " if result.pages else ""
            parsed.verdict, parsed.reason = "broken", where + parsed.shape_reason()
        report = PageReport(
            url, page.status, len(parsed.items), parsed.missing_fields, parsed.verdict or "ok",
            parsed.reason, page.elapsed_ms, page.size, len(result.items),
            parsed.entries, parsed.failed, parsed.skipped,
        )  # fmt: skip
        result.pages.append(report)
        if parsed.verdict in ("blocked", "broken", "error"):
            result.verdict, result.reason, result.stopped = parsed.verdict, parsed.reason, "failed"
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
            result.stopped = "reached"
            break
        url = parsed.next_url
    else:
        if url and url not in seen_urls:
            result.stopped, result.next_url = "limit", url
    if not result.items and not result.not_modified:
        result.verdict = "empty"
        result.reason = result.reason or "no items on the first page"
    return result


def follow_up(
    fetcher: Fetcher,
    adapter: Adapter[Any],
    result: RunResult,
    now: datetime,
    tz: tzinfo,
    cache: FollowUpCache,
    stored: Stored | None = None,
) -> None:
    """The follow-up stage: complete the truncated items (``monitor.followup``), normalize them again."""
    report = complete_truncated(fetcher, adapter, result.raws, cache, stored)
    for i in report.touched:
        raw = result.raws[i]
        result.items[i] = versioned(normalize(raw, adapter.config, now, tz), raw)
    result.follow_ups = report


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
    result.verdict, result.reason, result.stopped = verdict, reason, "failed"


def _validators(headers: Mapping[str, str]) -> dict[str, str]:
    lower = {k.lower(): v for k, v in headers.items()}
    out = {"etag": lower.get("etag", ""), "last_modified": lower.get("last-modified", "")}
    return {k: v for k, v in out.items() if v}


def next_cursor(adapter: Adapter[Any], cursor: Mapping[str, Any], result: RunResult) -> dict[str, Any]:
    """The cursor after a healthy poll: the adapter's paging tokens, the newest item, HTTP validators."""
    out = adapter.next_cursor(cursor, result.raws, result.parsed)
    times = [it.published_at for it in result.items if it.published_at and not it.attrs.get("pinned")]
    if times:
        newest = max(times).isoformat()
        out["newest_published"] = max(newest, str(cursor.get("newest_published") or ""))
    if first := next((it for it in result.items if not it.attrs.get("pinned")), None):
        out["newest_id"] = first.external_id  # a pinned post comes first, out of time order
    if result.validators:
        out["http"] = result.validators
    else:
        out.pop("http", None)
    return out


def run_source(ctx: Context, source: SourceConfig, now: datetime) -> RunResult:
    """Poll ``source`` once and commit everything it found; never raises for source problems."""
    adapter = build(source)
    with ctx.store.reads() as s:
        state = ctx.store.source_state(s, source.name)  # read once: the transaction at the end reuses it
        s.commit()  # the row, if this created it
    cursor = dict(state.cursor or {})
    had_items = state.had_items
    # what the paging lookups learnt, (external id, payload hash) -> the change (None: unchanged), so
    # the store stage asks the database only about items they did not see
    looked_up: Memo = {}

    def all_known(page_items: list[Item]) -> bool:
        with ctx.store.reads() as s:
            changed = ctx.store.diff(s, page_items)
        _remember(looked_up, page_items, changed)
        # a truncated item differs from its stored, completed self until the follow-up stage runs
        return all(ch.kind == "updated" and ch.item.attrs.get("truncated") for ch in changed)

    limit = source.max_pages if had_items else source.backfill_pages
    tz = ctx.config.settings.tz
    # a source that never yielded items has nothing stored to stop at: skip the per-page lookups
    known = all_known if had_items else None
    result = collect(
        ctx.fetcher, adapter, cursor, now, tz,
        page_limit=limit, is_known=known, stop=ctx.stop, pause=ctx.priority.yield_point,
    )  # fmt: skip
    if result.verdict == "ok":

        def stored(ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
            with ctx.store.reads() as s:
                return ctx.store.stored_texts(s, source.name, ids)

        follow_up(ctx.fetcher, adapter, result, now, tz, ctx.follow_ups, stored)
    if result.verdict == "empty" and had_items:
        said = (
            f" ({result.reason})" if result.reason and result.reason != "no items on the first page" else ""
        )
        result.verdict = "broken"
        result.reason = f"nothing parsed on a page that used to yield items{said}"
    # a first poll backfills history: there is no interruption to catch up before it
    ok_again = result.verdict == "ok" and had_items
    caught = _catch_up(ctx, adapter, cursor, result, now) if ok_again else None
    items = result.items
    result.reason = hygiene.reason_line(_with_notes(result, caught))

    ctx.priority.yield_point()
    changes = _diff(ctx, items, looked_up)
    analyses = ctx.analysis.analyze_many([(ch.item.analysis_text, _match_context(ch.item)) for ch in changes])
    analyses = [
        a if ch.item.text else _without_words(a, ch.item.rating)
        for a, ch in zip(analyses, changes, strict=True)
    ]
    if ctx.stop.is_set():
        raise Interrupted
    ctx.priority.yield_point()
    try:
        events = _commit(ctx, source, adapter, state, cursor, result, changes, analyses, caught, now)
    except DataError as exc:  # a value the database refuses must not blind the source silently
        _refused(ctx, source, result, exc, now)
        events = []
    result.new = sum(1 for c in changes if c.kind == "new")
    result.updated = len(changes) - result.new
    result.alerts = len(events)
    if result.verdict != "ok":
        log.warning("source %s: %s: %s", source.name, result.verdict, result.reason)
    if ctx.on_stored:
        ctx.on_stored(result)
    return result


Memo = dict[tuple[str, str, str], ItemChange | None]


def _key(it: Item) -> tuple[str, str, str]:
    return it.source, it.external_id, it.payload_hash


def _remember(looked_up: Memo, items: list[Item], changed: list[ItemChange]) -> None:
    by_key = {_key(ch.item): ch for ch in changed}
    for it in items:
        key = _key(it)
        looked_up.setdefault(key, by_key.get(key))


def _diff(ctx: Context, items: list[Item], looked_up: Memo) -> list[ItemChange]:
    """``Store.diff`` of the poll's items, reusing the paging lookups: one query only for the items
    they did not see (follow-ups changed them, catching up found them), none when they saw them all."""
    if not items:
        return []
    if all(_key(it) in looked_up for it in items):
        seen: set[tuple[str, str]] = set()
        out: list[ItemChange] = []
        for it in items:
            if (it.source, it.external_id) in seen:  # duplicates keep the first, as Store.diff does
                continue
            seen.add((it.source, it.external_id))
            ch = looked_up[_key(it)]
            if ch is not None:
                out.append(ItemChange(it, ch.kind, ch.row_id))
        return out
    with ctx.store.reads() as s:
        return ctx.store.diff(s, items)


def _catch_up(
    ctx: Context,
    adapter: Adapter[Any],
    cursor: Mapping[str, Any],
    result: RunResult,
    now: datetime,
) -> catchup.Outcome:
    """Read on past the head after an interruption (``monitor.catchup``); its items join the poll's."""
    f = ctx.config.settings.fetch
    out = catchup.catch_up(
        collect, ctx.fetcher, adapter, ctx.store, cursor, result, now, ctx.config.settings.tz,
        budget=f.catchup_pages, max_pages=f.catchup_max_pages, stop=ctx.stop,
    )  # fmt: skip
    result.items.extend(out.items)
    return out


def _with_notes(result: RunResult, caught: catchup.Outcome | None) -> str:
    """The poll's reason, plus what catching up did and whether bytes could not be decoded."""
    notes = [result.reason] if result.reason else []
    if caught is not None and (caught.pages or caught.gaps):
        open_ = f", {len(caught.segments)} interruption(s) still to catch up" if caught.segments else ""
        notes.append(f"catching up after an interruption: {caught.pages} extra page(s){open_}")
        notes += caught.notes
        notes += [f"gap recorded: items may be missing, {g.why}" for g in caught.gaps]
    if result.verdict == "ok" and (bad := sum(1 for it in result.items if "\ufffd" in it.text)):
        notes.append(f"{bad} item(s) held bytes that could not be decoded (shown as \ufffd)")
    return "; ".join(notes)


def _commit(
    ctx: Context,
    source: SourceConfig,
    adapter: Adapter[Any],
    read_state: m.SourceState,
    cursor: Mapping[str, Any],
    result: RunResult,
    changes: list[ItemChange],
    analyses: list[Analysis],
    caught: catchup.Outcome | None,
    now: datetime,
) -> list[Any]:
    items = result.items
    with ctx.store.transaction() as s:
        rows = ctx.store.save_items(s, changes, now)
        for change, row in zip(changes, rows, strict=False):
            if change.kind == "updated" and change.item.attrs:
                row.attrs = {**(row.attrs or {}), **change.item.attrs}
        _save_analyses(s, changes, rows, analyses, now)
        state = ctx.store.attach_state(s, read_state)
        # a new source's history stays quiet (chat.backfill, monitor.alerting.backfill)
        fresh, fresh_analyses = backfill.news(s, ctx.config, state, rows, analyses, now)
        events = evaluate(s, ctx.config, fresh, fresh_analyses, now)
        incidents.open_for_events(s, ctx.config, events, now)
        health.record(s, ctx.config, state, result.verdict, result.reason, now)
        if result.verdict == "ok":
            state.had_items = state.had_items or bool(items)
            state.cursor = catchup.apply(next_cursor(adapter, cursor, result), caught)
        if caught is not None and caught.gaps:
            catchup.record(s, ctx.config, caught.gaps, now)
        poll = dict(  # noqa: C408
            source=source.name,
            started_at=now,
            finished_at=now,
            verdict=result.verdict,
            reason=result.reason,
            pages=len(result.pages) + (caught.pages if caught is not None else 0),
            items_seen=len(items),
            items_new=sum(1 for c in changes if c.kind == "new"),
            items_updated=sum(1 for c in changes if c.kind == "updated"),
        )
        ctx.store.record_poll(s, poll)
        if ctx.stop.is_set():
            raise Interrupted  # rolls the transaction back
    return events


def _refused(ctx: Context, source: SourceConfig, result: RunResult, exc: DataError, now: datetime) -> None:
    """Record the poll as failed (so a source that keeps failing turns blind and admins hear it)."""
    first = str(getattr(exc, "orig", exc)).splitlines()[0] if str(getattr(exc, "orig", exc)) else ""
    result.verdict = "error"
    result.reason = hygiene.reason_line(f"the database refused this poll's items: {first}")
    with ctx.store.transaction() as s:
        state = ctx.store.source_state(s, source.name)
        health.record(s, ctx.config, state, result.verdict, result.reason, now)
        s.add(m.Poll(source=source.name, started_at=now, finished_at=now, verdict="error",
                     reason=result.reason, pages=len(result.pages)))  # fmt: skip


def _without_words(a: Analysis, rating: int | None) -> Analysis:
    """An item with no words (a picture-only comment, a note whose detail was refused) gives the
    sentiment model nothing to read: neutral, unless its stars say otherwise."""
    sentiment = "neu" if rating is None or rating == 3 else "neg" if rating <= 2 else "pos"
    low = rating is not None and rating <= 3
    grade, reasons = (1, [f"{rating}★ review without text → 1"]) if low else (None, [])
    return replace(a, sentiment=sentiment, sentiment_score=0.5, grade=grade, grade_reasons=reasons)


def _match_context(item: Item) -> MatchContext:
    return MatchContext(source=item.source, platform=item.platform, sku=item.sku, rating=item.rating)


def _save_analyses(
    s: Any, changes: list[ItemChange], rows: list[m.Item], analyses: list[Analysis], now: datetime
) -> None:
    """The analyses of the stored rows: new items get theirs added (no lookup: they cannot have one),
    edited ones have theirs replaced, all read in one query."""
    edited = [row.id for ch, row in zip(changes, rows, strict=False) if ch.kind != "new"]
    existing: dict[int, m.Analysis] = {}
    if edited:
        q = select(m.Analysis).where(m.Analysis.item_id.in_(edited))
        existing = {a.item_id: a for a in s.scalars(q)}
    inserted: list[dict[str, Any]] = []
    for row, a in zip(rows, analyses, strict=True):
        values = dict(  # noqa: C408
            normalized=a.normalized[: hygiene.TEXT_CAP],  # of the whole text; the whole one is kept apart
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
        kept = existing.get(row.id)
        if kept is None:
            inserted.append({"item_id": row.id, **values})
        else:
            for k, v in values.items():
                setattr(kept, k, v)
    if inserted:
        facts = [
            (row.published_at, row.platform, row.product, row.sku, a.sentiment)
            for row, a in zip(rows, analyses, strict=True)
            if row.id not in existing
        ]
        Store.insert_analyses(s, inserted, facts)
