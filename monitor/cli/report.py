"""``monitor report daily|weekly``: render a report on demand (Markdown, or HTML with --out)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from monitor.cli import config_option, load_or_exit


def _open(config_path: Path) -> tuple[Any, Any]:
    from monitor.store import Store, StoreError

    config = load_or_exit(config_path)
    try:
        return config, Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _emit(report: Any, out: Path | None, store: Any, config: Any, publish: bool) -> None:
    from monitor.clock import utcnow
    from monitor.reports import publish as do_publish

    if publish:
        rid = do_publish(store, config, report, utcnow())
        click.echo(f"archived as report #{rid} and queued to the report channels", err=True)
    if out is None:
        click.echo(report.markdown)
        return
    out.write_text(report.html, encoding="utf-8")
    click.echo(f"wrote {out}", err=True)


@click.group("report")
def report_group() -> None:
    """Render the daily report (口碑分析日报) or the weekly review (复盘)."""


@report_group.command("daily")
@config_option
@click.option("--date", "day", help="local date YYYY-MM-DD (default: yesterday)")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="write HTML here instead")
@click.option("--publish", is_flag=True, help="also archive it and send it to the report channels")
def daily_cmd(config_path: Path, day: str | None, out: Path | None, publish: bool) -> None:
    """The daily report for DATE."""
    from monitor.clock import utcnow
    from monitor.reports import build_daily

    config, store = _open(config_path)
    try:
        when = (
            date.fromisoformat(day)
            if day
            else utcnow().astimezone(config.settings.tz).date() - timedelta(days=1)
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--date") from exc
    try:
        _emit(build_daily(store, config, when, utcnow()), out, store, config, publish)
    finally:
        store.close()


@report_group.command("weekly")
@config_option
@click.option("--week", help="ISO week like 2026-W47 (default: last week)")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="write HTML here instead")
@click.option("--publish", is_flag=True, help="also archive it and send it to the report channels")
def weekly_cmd(config_path: Path, week: str | None, out: Path | None, publish: bool) -> None:
    """The weekly review for WEEK."""
    from monitor.clock import utcnow
    from monitor.reports import build_weekly
    from monitor.reports.data import parse_week, week_of

    config, store = _open(config_path)
    try:
        if week is None:
            week = week_of(utcnow().astimezone(config.settings.tz).date() - timedelta(days=7))
        try:
            parse_week(week)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--week") from exc
        _emit(build_weekly(store, config, week, utcnow()), out, store, config, publish)
    finally:
        store.close()


__all__ = ["report_group"]
