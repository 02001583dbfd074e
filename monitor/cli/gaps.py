"""``monitor sources gaps``: where a source may have missed items (``monitor.catchup``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from monitor.cli import config_option, load_or_exit


@click.group("sources")
def sources_group() -> None:
    """Source health beyond the last poll."""


@sources_group.command("gaps")
@config_option
@click.option("--source", "name", help="only this source")
@click.option("--since", default="30d", show_default=True, help="recorded within this long (e.g. 7d, 12h)")
def gaps(config_path: Path, name: str | None, since: str) -> None:
    """List recorded gaps: after an interruption, catching up could not reach the last item seen, so
    items published between FROM and TO may be missing (check them on the platform by hand)."""
    from monitor.catchup import describe
    from monitor.clock import utcnow
    from monitor.config.settings import parse_duration
    from monitor.store import Store, StoreError

    config = load_or_exit(config_path)
    try:
        window: timedelta = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    try:
        store = Store.open(config.database_url, migrate=False)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    tz = config.settings.tz
    try:
        rows = store.gaps(since=utcnow() - window, source=name)
    finally:
        store.close()
    if not rows:
        click.echo(f"没有缺口 no gaps recorded in the last {since}")
        return
    click.echo(
        f"记录时间 recorded ({config.settings.timezone})  数据源 source  可能缺失 may be missing: from → to"
    )
    for g in rows:
        click.echo(
            f"{g.recorded_at.astimezone(tz):%Y-%m-%d %H:%M}  {g.source}  {describe(g, tz)}  [{g.pages} pages]"
        )
