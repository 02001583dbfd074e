"""``monitor alerts``: list, acknowledge, silence and resolve alerts from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.cli import config_option, load_or_exit


def _store(config_path: Path) -> tuple[object, object]:
    from monitor.store import Store, StoreError

    config = load_or_exit(config_path)
    try:
        return config, Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def alerts() -> None:
    """List and handle alerts."""


@alerts.command("list")
@config_option
@click.option("--all", "show_all", is_flag=True, help="include resolved alerts")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
def list_(config_path: Path, show_all: bool, as_json: bool, limit: int) -> None:
    """Open alerts, newest first."""
    from monitor.alerting import lifecycle

    config, store = _store(config_path)
    tz = config.settings.tz  # type: ignore[attr-defined]
    rows = lifecycle.alerts(store, "all" if show_all else "open", limit)  # type: ignore[arg-type]
    if as_json:
        for a in rows:
            click.echo(
                json.dumps(
                    {
                        "id": a.id,
                        "kind": a.kind,
                        "state": a.state,
                        "severity": a.severity,
                        "title": a.title,
                        "items": a.item_count,
                        "created_at": a.created_at.isoformat(),
                        "inhibited_by": a.inhibited_by,
                        "acked_by": a.acked_by,
                    },
                    ensure_ascii=False,
                )
            )
        return
    if not rows:
        click.echo("no open alerts")
    else:
        click.echo(f"(times in {tz.key})")
    for a in rows:
        extra = f" (inhibited by #{a.inhibited_by})" if a.inhibited_by else ""
        acked = f" acked by {a.acked_by}" if a.acked_by else ""
        click.echo(
            f"#{a.id:<5} {a.state:<12} {a.severity:<8} {a.kind:<13} {a.item_count:>4} items  "
            f"{a.created_at.astimezone(tz):%m-%d %H:%M}  {a.title}{extra}{acked}"
        )


@alerts.command()
@config_option
@click.argument("alert_id", type=int)
@click.option("--by", required=True, help="who acknowledges")
def ack(config_path: Path, alert_id: int, by: str) -> None:
    """Acknowledge an alert: reminders and escalation stop."""
    from monitor.alerting import lifecycle
    from monitor.clock import utcnow

    _, store = _store(config_path)
    try:
        alert = lifecycle.acknowledge(store, alert_id, by, utcnow())  # type: ignore[arg-type]
    except lifecycle.AlertNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"#{alert.id} {alert.state} by {alert.acked_by}: {alert.title}")


@alerts.command()
@config_option
@click.argument("alert_id", type=int)
@click.option("--by", required=True)
def resolve(config_path: Path, alert_id: int, by: str) -> None:
    """Resolve an alert by hand (a resolved notice is sent)."""
    from monitor.alerting import lifecycle
    from monitor.clock import utcnow

    config, store = _store(config_path)
    try:
        alert = lifecycle.resolve_by_hand(store, config, alert_id, by, utcnow())  # type: ignore[arg-type]
    except lifecycle.AlertNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"#{alert.id} resolved: {alert.title}")


@alerts.command()
@config_option
@click.option(
    "--match",
    "matchers",
    multiple=True,
    required=True,
    metavar="KEY=V1,V2",
    help="e.g. rule=damaged, sku=100012043978, severity=low,medium (repeatable)",
)
@click.option("--for", "duration", default="2h", show_default=True, help="how long: 30m, 2h, 1d")
@click.option("--by", required=True)
@click.option("--comment", default="")
def silence(config_path: Path, matchers: tuple[str, ...], duration: str, by: str, comment: str) -> None:
    """Mute notifications of matching alerts for a while (they still open and resolve)."""
    from pydantic import ValidationError

    from monitor.alerting import lifecycle
    from monitor.clock import utcnow
    from monitor.config.settings import parse_duration

    parsed: dict[str, list[object]] = {}
    for mt in matchers:
        key, sep, values = mt.partition("=")
        if not sep or not values:
            raise click.BadParameter(f"{mt!r}: expected KEY=V1,V2", param_hint="--match")
        vals: list[object] = [int(v) if key == "grade" and v.isdigit() else v for v in values.split(",")]
        parsed[key.strip()] = vals
    try:
        span = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from None
    _, store = _store(config_path)
    try:
        sil = lifecycle.silence(store, parsed, span, by, comment, utcnow())  # type: ignore[arg-type]
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.BadParameter(msg, param_hint="--match") from None
    click.echo(f"silence #{sil.id} until {sil.ends_at:%Y-%m-%d %H:%M} UTC: {parsed}")
