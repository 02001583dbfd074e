"""``monitor auth taobao|jd|kuaishou --shop NAME``: authorise a shop for the merchant API sources.

The app key/secret and the OAuth URLs come from the shop's source in ``sources/`` (so the admin
configures them once). The command prints the platform's authorisation page; the shop owner logs in
and approves; the platform sends the browser to the redirect address with a ``code``, which reaches
this command in one of three ways: ``--listen 127.0.0.1:8765`` (the redirect address points at this
machine), pasting the address the browser landed on, or ``--code``. The token is stored encrypted
(``monitor.shopauth.vault``) and refreshed by the daemon; tokens are never printed.
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click

from monitor.cli import config_option, load_or_exit

PLATFORMS = ("taobao", "jd", "kuaishou")


@click.group("auth", invoke_without_command=False)
def auth_group() -> None:
    """Authorise shops on the merchant open platforms and look after their tokens."""


def _code_from(text: str, state: str) -> str:
    text = text.strip()
    if "://" not in text and "code=" not in text:
        return text
    query = parse_qs(urlsplit(text).query if "://" in text or "?" in text else text)
    if query.get("error"):
        raise click.ClickException(
            f"the platform refused: {query['error'][0]} {query.get('error_description', [''])[0]}"
        )
    if "state" in query and query["state"][0] != state:
        raise click.ClickException("the address belongs to another authorisation attempt (state differs)")
    if not query.get("code"):
        raise click.ClickException("no code= in that address")
    return query["code"][0]


def _listen(bind: str, state: str, timeout: float) -> str:
    host, _, port = bind.rpartition(":")
    got: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urlsplit(self.path).query
            if "code=" not in query and "error=" not in query:  # /favicon.ico and the like
                self.send_error(404)
                return
            try:
                got["code"] = _code_from(self.path, state)
                body, status = "授权完成，可以关闭此页面。 Authorised: you may close this page.", 200
            except click.ClickException as exc:
                got["error"] = exc.message
                body, status = f"授权失败 {exc.message}", 400
            data = f"<!DOCTYPE html><meta charset=utf-8><p>{body}</p>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer((host or "127.0.0.1", int(port)), Handler)
    server.timeout = 1
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not got and not deadline.is_set():
            server.handle_request()
    finally:
        timer.cancel()
        server.server_close()
    if "error" in got:
        raise click.ClickException(got["error"])
    if "code" not in got:
        raise click.ClickException(f"no redirect reached {bind} within {timeout:g} s")
    return got["code"]


def _start(
    config_path: Path,
    platform: str,
    shop: str,
    redirect_uri: str | None,
    listen: str | None,
    code: str | None,
    open_browser: bool,
    timeout: float,
) -> None:
    from monitor.clock import utcnow
    from monitor.shopauth.oauth import authorize_link
    from monitor.shopauth.service import KINDS, oauth_app

    config = load_or_exit(config_path)
    try:
        app = oauth_app(config, platform, shop)
    except Exception as exc:  # a ${VAR} of the source that is not set
        raise click.ClickException(f"the {KINDS[platform]} source of shop {shop!r}: {exc}") from None
    if app is None:
        raise click.ClickException(
            f"no {KINDS[platform]} source has `shop: {shop}`; add one (see sources/merchant-apis.yaml) first"
        )
    if redirect_uri is None:
        redirect_uri = f"http://{listen}/callback" if listen else _console_callback(config, platform)
    state = secrets.token_urlsafe(16)
    link = authorize_link(app, redirect_uri, state)
    if code is None:
        click.echo(
            f"1. 打开授权页面，用店铺账号登录并同意 / open, log in as the shop, approve:\n\n   {link}\n"
        )
        if open_browser:
            webbrowser.open(link)
        if listen:
            click.echo(f"2. 等待浏览器跳转到 {redirect_uri} … / waiting for the redirect")
            code = _listen(listen, state, timeout)
        else:
            pasted = click.prompt("2. 粘贴浏览器跳转后的地址（或 code） / paste the address you landed on")
            code = _code_from(pasted, state)
    _finish(config, app, code, redirect_uri, platform, shop, utcnow())


def _platform_command(platform: str) -> click.Command:
    @click.command(platform)
    @config_option
    @click.option(
        "--shop", default="default", show_default=True, help="the shop name the sources use (`shop:`)"
    )
    @click.option(
        "--redirect-uri", help="the redirect address registered for the app (default: the console's)"
    )
    @click.option("--listen", "listen", metavar="HOST:PORT", help="catch the redirect on this machine")
    @click.option("--code", help="the code from the redirect address, if you already have it")
    @click.option("--open", "open_browser", is_flag=True, help="open the authorisation page in a browser")
    @click.option("--timeout", default=300.0, show_default=True, help="seconds to wait with --listen")
    def command(config_path: Path, **kw: Any) -> None:
        _start(config_path, platform, **kw)

    command.help = f"Authorise a shop on {platform} (OAuth code flow) and store its token, encrypted."
    return command


for _p in PLATFORMS:
    auth_group.add_command(_platform_command(_p))


def _console_callback(config: Any, platform: str) -> str:
    return f"{str(config.settings.web.base_url).rstrip('/')}/shop-auth/callback/{platform}"


def _finish(
    config: Any, app: Any, code: str, redirect_uri: str, platform: str, shop: str, now: datetime
) -> None:
    import httpx

    from monitor.shopauth import provider
    from monitor.shopauth.oauth import OAuthError, exchange_code
    from monitor.shopauth.vault import VaultError
    from monitor.store import Store, StoreError

    try:
        store = Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        p = provider(store, lambda: config)
        with httpx.Client(timeout=20) as client:
            grant = exchange_code(client, app, code, redirect_uri, now)
        p.vault.put(platform, shop, grant, now)
        p.resolve(platform, shop, now)
        p.client.close()
    except (OAuthError, VaultError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    tz = config.settings.tz
    until = f"{grant.expires_at.astimezone(tz):%Y-%m-%d %H:%M}" if grant.expires_at else "?"
    lapse = grant.refresh_expires_at or grant.expires_at
    click.echo(
        f"已授权 authorised {platform}/{shop} ({grant.account or 'account not named'}); access token valid "
        f"until {until}; authorise again before {lapse.astimezone(tz):%Y-%m-%d} at the latest"
        if lapse
        else f"已授权 authorised {platform}/{shop}; the token states no expiry"
    )


@auth_group.command("list")
@config_option
def list_tokens(config_path: Path) -> None:
    """Authorised shops: account, expiry, refresh, problems (never the tokens)."""
    from monitor.shopauth.service import lapse_at
    from monitor.shopauth.vault import TokenVault, cipher
    from monitor.store import Store, StoreError

    config = load_or_exit(config_path)
    try:
        store = Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        rows = TokenVault(store, cipher(Path(config.path(config.settings.data_dir)))).all()
    finally:
        store.close()
    if not rows:
        click.echo("no shop authorised yet: `monitor auth taobao|jd|kuaishou --shop NAME`")
    tz = config.settings.tz
    for r in rows:
        end = lapse_at(r)
        access = f"access until {r.expires_at.astimezone(tz):%Y-%m-%d %H:%M}" if r.expires_at else "no expiry"
        lapse = f"lapses {end.astimezone(tz):%Y-%m-%d}" if end else "no lapse date"
        problem = f"INVALID: {r.invalid_reason}" if r.invalid_reason else "ok"
        click.echo(f"{r.platform}/{r.shop}  {r.account or '-'}  {access}  {lapse}  {problem}")


@auth_group.command("refresh")
@config_option
@click.argument("platform", type=click.Choice(PLATFORMS))
@click.option("--shop", default="default", show_default=True)
def refresh_token(config_path: Path, platform: str, shop: str) -> None:
    """Refresh one shop's token now (the daemon does it before expiry by itself)."""
    from monitor.clock import utcnow
    from monitor.shopauth import provider
    from monitor.shopauth.oauth import OAuthError
    from monitor.shopauth.vault import VaultError
    from monitor.store import Store, StoreError

    config = load_or_exit(config_path)
    try:
        store = Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        p = provider(store, lambda: config)
        row = p.refresh(platform, shop, utcnow(), force=True)
        p.client.close()
    except (OAuthError, VaultError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    if row is None:
        raise click.ClickException(
            f"{platform}/{shop} is not authorised: `monitor auth {platform} --shop {shop}`"
        )
    click.echo(f"{platform}/{shop}: valid until {row.expires_at or '?'}")
