"""The ``monitor`` command line. Every stage can be run by hand."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from monitor import __version__

DEFAULT_CONFIG = "monitor.yaml"
config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    envvar="MONITOR_CONFIG",
    help="monitor.yaml (sources/ and rules/ are found relative to it)",
)


def setup_logging(level: str, json_logs: bool = False) -> None:
    """Handlers on the root logger; every record is redacted as it is made (``monitor.redaction``).

    The HTTP and notification libraries (httpx, httpcore, urllib3, apprise) speak at ``--log-level
    debug`` only: that is when their requests help, and secrets in them are masked like everywhere.
    """
    from monitor import redaction

    redaction.install()
    numeric = getattr(logging, level.upper(), logging.INFO)
    if json_logs:
        from monitor.observability import json_handler

        logging.basicConfig(level=numeric, handlers=[json_handler(sys.stderr)])
    else:
        logging.basicConfig(
            level=numeric, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
        )
    for noisy in ("apscheduler", "jieba", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for library in ("httpx", "httpcore", "urllib3", "apprise"):
        logging.getLogger(library).setLevel(logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING)


def load_or_exit(config_path: Path) -> Any:
    from monitor import redaction
    from monitor.adapters import registry
    from monitor.config import ConfigInvalid, load_config

    try:
        config = load_config(config_path, registry())
    except ConfigInvalid as exc:
        for e in exc.errors:
            click.echo(str(e), err=True)
        click.echo(f"{len(exc.errors)} problem(s) found", err=True)
        sys.exit(1)
    redaction.remember_config(config)
    return config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="opinion-monitor")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    envvar="MONITOR_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--json-logs",
    is_flag=True,
    envvar="MONITOR_JSON_LOGS",
    help="log one JSON object per line (for log shippers); also MONITOR_JSON_LOGS=1",
)
def main(log_level: str, json_logs: bool) -> None:
    """opinion-monitor: review and public-opinion monitoring for e-commerce stores."""
    setup_logging(log_level, json_logs)


@main.command()
@config_option
def run(config_path: Path) -> None:
    """Run the daemon: poll sources, analyze, store, alert, notify. Stops cleanly on SIGTERM/Ctrl-C;
    SIGHUP or an edited config file reloads it."""
    from monitor.config import ConfigInvalid
    from monitor.daemon import Daemon
    from monitor.store import StoreError

    daemon = Daemon(config_path)
    daemon.install_signal_handlers()  # before start: a SIGTERM during start-up stops cleanly too
    try:
        daemon.start()
    except ConfigInvalid as exc:
        for e in exc.errors:
            click.echo(str(e), err=True)
        raise click.ClickException(
            "configuration is invalid; nothing started (`monitor check` lists the problems)"
        ) from None
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"monitor running: {len(daemon.config.sources)} sources, {len(daemon.config.rules)} rules. "
        "Ctrl-C stops."
    )
    daemon.run_forever()


@main.command()
@click.option("--summary-json", type=click.Path(path_type=Path), help="also write the summary counts as JSON")
@click.option("--workdir", type=click.Path(path_type=Path), help="keep the demo's config and database here")
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="rules folder (default: ./rules)",
)
@click.option("--timeout", default=110.0, show_default=True, help="seconds before the demo gives up")
def demo(summary_json: Path | None, workdir: Path | None, rules_dir: Path | None, timeout: float) -> None:
    """Run the real daemon against a simulated storefront on 127.0.0.1 and summarize (about 30 s)."""
    from monitor.demo import run_demo

    logging.getLogger("monitor").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # 3 s demo intervals overlap by design
    sm = run_demo(workdir.resolve() if workdir else None, rules_dir, summary_json, timeout)
    if sm.interrupted:
        sys.exit(130)


@main.command()
@config_option
def check(config_path: Path) -> None:
    """Validate monitor.yaml, sources/ and rules/; print every problem as path:line: key: message."""
    config = load_or_exit(config_path)
    for w in config.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(
        f"ok: {len(config.sources)} sources, {len(config.rules)} rules, "
        f"{len(config.settings.channels)} channels ({len(config.files)} files)"
    )


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path) -> None:
    """Apply database migrations (also done when the daemon starts)."""
    from monitor.store import Store, StoreError
    from monitor.store.engine import current_revision

    config = load_or_exit(config_path)
    try:
        store = Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"database at revision {current_revision(store.engine)}: {store.engine.url.render_as_string()}"
    )
    store.close()


@main.command("notify-test")
@config_option
@click.argument("channel")
def notify_test(config_path: Path, channel: str) -> None:
    """Send a test message to one channel, directly (not through the outbox)."""
    from monitor.clock import utcnow
    from monitor.notify.message import Message
    from monitor.notify.transport import send

    config = load_or_exit(config_path)
    if channel not in config.settings.channels:
        raise click.ClickException(
            f"no channel {channel!r}; known: {', '.join(sorted(config.settings.channels))}"
        )
    key = f"test-{utcnow():%Y%m%dT%H%M%S}"
    message = Message(title="opinion-monitor test", event="test", text="这是一条测试消息 / a test message.")
    ok, error = send(channel, config.settings.channels[channel], message, key)
    if not ok:
        raise click.ClickException(error or "delivery failed")
    click.echo(f"sent to {channel} (ref {key})")


def _register() -> None:
    """Command groups that live in their own modules (imported late: they import this one)."""
    from monitor.cli.alerts import alerts
    from monitor.cli.analyze import analyze_cmd
    from monitor.cli.auth import auth_group
    from monitor.cli.gaps import sources_group
    from monitor.cli.incidents import incidents
    from monitor.cli.report import report_group
    from monitor.cli.rules import rules_group
    from monitor.cli.sentiment import sentiment
    from monitor.cli.sop import sop_group
    from monitor.cli.sources import try_source
    from monitor.cli.users import users_group

    commands = (alerts, analyze_cmd, incidents, report_group, rules_group, sentiment, sop_group, try_source)
    for command in (*commands, sources_group, users_group, auth_group):
        main.add_command(command)


_register()
