"""``monitor try-source NAME``: run one source's fetch, parse and follow-ups by hand and show, page by
page, what it yields: HTTP status, entries and items, the fields that were missing, the entries that
were skipped and why (ad card, related-word card, ...), and the verdict, so an admin can tell a shape
change from a quiet day. Nothing is stored; the stored cursor is not used unless ``--from-cursor`` is
given, and never written."""

from __future__ import annotations

import json
from datetime import tzinfo
from pathlib import Path
from typing import Any

import click

from monitor.cli import config_option, load_or_exit


def _item_line(it: Any, tz: tzinfo) -> str:
    when = it.published_at.astimezone(tz).isoformat(timespec="minutes") if it.published_at else "?"
    parent = f" ↳{it.parent_external_id}" if it.parent_external_id else ""
    stars = f"{it.rating}★" if it.rating else "-"
    text = " ".join(it.text.split())
    flags = [label for key, label in _FLAGS if it.attrs.get(key)]
    marks = f" ({', '.join(flags)})" if flags else ""
    return f"    - [{it.external_id}{parent}] {stars} {when} {it.author or ''}: {text[:80]}{marks}"


_FLAGS = (
    ("image_only", "仅图片 image-only, kept"),
    ("no_caption", "无文案 no caption, kept"),
    ("truncated", "截断 truncated"),
    ("pinned", "置顶 pinned"),
)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items()))


@click.command("try-source")
@config_option
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print items as JSON lines")
@click.option(
    "--pages", type=click.IntRange(1, 100), help="page limit (default: the source's backfill_pages)"
)
@click.option("--from-cursor", is_flag=True, help="start from the stored cursor, as the next poll would")
def try_source(config_path: Path, name: str, as_json: bool, pages: int | None, from_cursor: bool) -> None:
    """Fetch and parse one source; print each page's status, items, missing fields and verdict.

    Stores nothing. Exit status 0 for ok/empty, 2 for blocked/broken/error.
    """
    from monitor.adapters import build
    from monitor.clock import utcnow
    from monitor.fetch import Fetcher
    from monitor.followup import FollowUpCache
    from monitor.pipeline import collect, follow_up, next_cursor
    from monitor.shopauth import provider_for

    config = load_or_exit(config_path)
    src = config.sources.get(name)
    if src is None:
        raise click.ClickException(
            f"no source named {name!r}; known: {', '.join(sorted(config.sources)) or 'none'}"
        )
    if not src.enabled:
        click.echo(f"note: {name} is disabled (enabled: false); trying it anyway", err=True)
    cursor = _stored_cursor(config, name) if from_cursor else {}
    adapter = build(src)
    fetcher = Fetcher(retries=1, network=config.settings.fetch.network)
    now, tz = utcnow(), config.settings.tz
    try:
        with provider_for(config, src):  # merchant API sources take the shop's token from the store
            result = collect(fetcher, adapter, cursor, now, tz, page_limit=pages or src.backfill_pages)
        if result.verdict == "ok":
            follow_up(fetcher, adapter, result, now, tz, FollowUpCache())
    finally:
        fetcher.close()
    for n, page in enumerate(result.pages, 1):
        status = "304 not modified" if page.status == 304 else f"HTTP {page.status or '-'}"
        click.echo(
            f"page {n}: {status}, {page.items} items, {page.size:,} bytes, {page.elapsed_ms:.0f} ms, "
            f"verdict {page.verdict}  {page.url.split('?')[0].split('#')[0]}"
        )
        if page.entries:
            failed = f", {page.failed} yielded no item" if page.failed else ""
            click.echo(f"  entries: {page.entries}{failed}")
        if page.missing_fields:
            click.echo(f"  missing fields: {_counts(page.missing_fields)}")
        if page.skipped:
            click.echo(f"  skipped: {_counts(page.skipped)}")
        if page.reason:
            click.echo(f"  reason: {page.reason}")
        for it in result.items[page.first_item : page.first_item + page.items]:
            if as_json:
                click.echo(json.dumps(_as_dict(it), ensure_ascii=False))
            else:
                click.echo(_item_line(it, tz))
    if result.follow_ups.counts:
        click.echo(f"follow-ups: {result.follow_ups.summary()}")
    click.echo(
        f"verdict: {result.verdict}{': ' + result.reason if result.reason else ''} "
        f"({len(result.items)} items on {len(result.pages)} page(s)); nothing stored"
    )
    if result.verdict == "ok":
        click.echo(f"next cursor: {json.dumps(next_cursor(adapter, cursor, result), ensure_ascii=False)}")
    if result.verdict in ("blocked", "broken", "error"):
        raise SystemExit(2)


def _as_dict(it: Any) -> dict[str, Any]:
    out = {}
    for k, v in it.__dict__.items():
        out[k] = v.isoformat() if hasattr(v, "isoformat") else v
    return out


def _stored_cursor(config: Any, name: str) -> dict[str, Any]:
    from monitor.store import Store, StoreError

    try:
        store = Store.open(config.database_url, migrate=False)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        state = store.read_source_state(name)
    finally:
        store.close()
    return dict(state.cursor or {}) if state is not None else {}
