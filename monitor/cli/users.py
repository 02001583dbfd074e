"""``monitor users``: console users, roles and API tokens. There is no default user or password."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from monitor.cli import config_option, load_or_exit

ROLE_HELP = "admin: everything; oncall: alerts; pr: incidents; viewer: read-only"


def _store(config_path: Path) -> Any:
    from monitor.store import Store, StoreError

    config = load_or_exit(config_path)
    try:
        return Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("no password given")
    return str(password)


@click.group("users")
def users_group() -> None:
    """Manage console users and their API tokens."""


@users_group.command("add")
@config_option
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "oncall", "pr", "viewer"]), help=ROLE_HELP)
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (else prompted)")
def add_cmd(config_path: Path, name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME with a role; the password is prompted (or read from stdin)."""
    from monitor.admin.users import UserError, add_user
    from monitor.clock import utcnow

    store = _store(config_path)
    try:
        add_user(store, name, role, _password(password_stdin), utcnow())
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"user {name} added with role {role}")


@users_group.command("passwd")
@config_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (else prompted)")
def passwd_cmd(config_path: Path, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (logs out their sessions)."""
    from monitor.admin.users import UserError, set_password

    store = _store(config_path)
    try:
        set_password(store, name, _password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"password of {name} changed")


@users_group.command("role")
@config_option
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "oncall", "pr", "viewer"]))
def role_cmd(config_path: Path, name: str, role: str) -> None:
    """Change the role of NAME."""
    from monitor.admin.users import UserError, set_role

    store = _store(config_path)
    try:
        set_role(store, name, role)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"{name} is now {role}")


@users_group.command("disable")
@config_option
@click.argument("name")
@click.option("--enable", is_flag=True, help="enable again instead")
def disable_cmd(config_path: Path, name: str, enable: bool) -> None:
    """Disable (or --enable) NAME; disabling logs them out and revokes their API tokens for good."""
    from monitor.admin.users import UserError, set_disabled
    from monitor.clock import utcnow

    store = _store(config_path)
    try:
        set_disabled(store, name, not enable, utcnow())
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"{name} {'enabled' if enable else 'disabled'}")


@users_group.command("list")
@config_option
def list_cmd(config_path: Path) -> None:
    """List users with their role and last login."""
    from monitor.admin.users import list_users

    store = _store(config_path)
    try:
        for u in list_users(store):
            last = f"{u.last_login_at:%Y-%m-%d %H:%M} UTC" if u.last_login_at else "never"
            state = " (disabled)" if u.disabled else ""
            click.echo(f"{u.name:<20} {u.role:<7} last login {last}{state}")
    finally:
        store.close()


def _expires(value: str) -> Any:
    from datetime import timedelta

    from monitor.config.settings import parse_duration

    if value.strip().lower() == "never":
        return None
    try:
        lifetime = parse_duration(value)
    except ValueError:
        raise click.BadParameter("expected a duration like 30d, 12h or never") from None
    if lifetime < timedelta(minutes=1):
        raise click.BadParameter("at least 1m")
    return lifetime


@users_group.command("token")
@config_option
@click.argument("name")
@click.option("--label", default="", help="what the token is for")
@click.option(
    "--scope",
    type=click.Choice(["read", "write", "admin"]),
    default="read",
    show_default=True,
    help="read: GET the API; write: also ack/resolve alerts, work incident steps; admin: all the role allows",
)
@click.option("--expires", default="90d", show_default=True, help="lifetime: 30d, 12h … or never")
@click.option("--revoke", is_flag=True, help="revoke every token of NAME instead")
def token_cmd(config_path: Path, name: str, label: str, scope: str, expires: str, revoke: bool) -> None:
    """Create an API token for NAME (printed once; only its hash is stored)."""
    from monitor.admin.users import UserError, create_token, revoke_tokens
    from monitor.clock import utcnow

    lifetime = _expires(expires)
    store = _store(config_path)
    try:
        if revoke:
            click.echo(f"{revoke_tokens(store, name, utcnow())} token(s) revoked")
            return
        token = create_token(store, name, label, utcnow(), scope=scope, lifetime=lifetime)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(token)
    until = "never expires" if lifetime is None else f"expires in {expires}"
    click.echo(f"scope {scope}, {until}; shown only now: store it in your secret manager", err=True)


def _local(config: Any, at: Any) -> str:
    return "—" if at is None else at.astimezone(config.settings.tz).strftime("%Y-%m-%d %H:%M")


@users_group.command("tokens")
@config_option
@click.argument("name", required=False)
def tokens_cmd(config_path: Path, name: str | None) -> None:
    """List the API tokens of NAME (everyone's without): id, scope, state, dates, never the value."""
    from monitor.admin.users import UserError, list_tokens
    from monitor.clock import utcnow

    config = load_or_exit(config_path)
    store = _store(config_path)
    try:
        rows = list_tokens(store, name)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    now = utcnow()
    head = f"{'id':>5}  {'user':<14} {'prefix':<11} {'scope':<6} {'state':<8}"
    click.echo(f"{head} created / expires / last used ({config.settings.timezone})")
    for t in rows:
        dates = " / ".join(_local(config, at) for at in (t.created_at, t.expires_at, t.last_used_at))
        label = f"  {t.label}" if t.label else ""
        click.echo(
            f"{t.id:>5}  {t.user:<14} {t.prefix + '…':<11} {t.scope:<6} {t.state(now):<8} {dates}{label}"
        )


@users_group.command("revoke")
@config_option
@click.argument("token_id", type=int)
def revoke_cmd(config_path: Path, token_id: int) -> None:
    """Revoke one API token by its id (from `monitor users tokens`); the user's other tokens keep working."""
    from monitor.admin.users import UserError, revoke_token
    from monitor.clock import utcnow

    store = _store(config_path)
    try:
        info = revoke_token(store, token_id, utcnow())
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"token #{info.id} of {info.user} ({info.prefix}…, {info.scope}) revoked")


@users_group.command("lockouts")
@config_option
def lockouts_cmd(config_path: Path) -> None:
    """Account names and client addresses locked now after failed logins."""
    from monitor.admin.logins import locks
    from monitor.clock import utcnow

    config = load_or_exit(config_path)
    store = _store(config_path)
    try:
        rows = locks(store, utcnow())
    finally:
        store.close()
    if not rows:
        click.echo("no lockouts")
    for r in rows:
        click.echo(f"{r.key:<50} {r.failures:>4} failures, locked until {_local(config, r.locked_until)}")


@users_group.command("unlock")
@config_option
@click.argument("who")
def unlock_cmd(config_path: Path, who: str) -> None:
    """Lift the login lock of a user name or a client address (and forget its failures)."""
    from monitor.admin.logins import unlock

    store = _store(config_path)
    try:
        n = unlock(store, who)
    finally:
        store.close()
    click.echo(f"{who}: unlocked" if n else f"{who}: nothing to unlock")


__all__ = ["users_group"]
