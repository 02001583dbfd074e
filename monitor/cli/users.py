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
    """Disable (or --enable) NAME; disabling logs them out and stops their API tokens."""
    from monitor.admin.users import UserError, set_disabled

    store = _store(config_path)
    try:
        set_disabled(store, name, not enable)
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


@users_group.command("token")
@config_option
@click.argument("name")
@click.option("--label", default="", help="what the token is for")
@click.option("--revoke", is_flag=True, help="revoke every token of NAME instead")
def token_cmd(config_path: Path, name: str, label: str, revoke: bool) -> None:
    """Create an API token for NAME (printed once; only its hash is stored)."""
    from monitor.admin.users import UserError, create_token, revoke_tokens
    from monitor.clock import utcnow

    store = _store(config_path)
    try:
        if revoke:
            click.echo(f"{revoke_tokens(store, name, utcnow())} token(s) revoked")
            return
        click.echo(create_token(store, name, label, utcnow()))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


__all__ = ["users_group"]
