"""Shop authorisation end to end against loopback OAuth servers: ``monitor auth`` (listening for the
redirect, a pasted address, a code), tokens encrypted at rest, refreshed before they expire, a
lapse warning days ahead, and the "re-authorise" alert the moment a platform rejects a token."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from monitor.adapters import credentials
from monitor.cli import main
from monitor.clock import utcnow
from monitor.pipeline import run_source
from monitor.shopauth import provider
from monitor.shopauth.service import StoreTokenProvider
from monitor.shopauth.vault import KEY_ENV, Grant
from monitor.store import models as m
from tests.conftest import NOW
from tests.merchant.conftest import MakeCtx
from tests.merchant.platforms import OAuthServer, TopShop, top_rating
from tests.sources.conftest import Loopback

SOURCES = """sources:
  - name: top
    kind: taobao_traderates
    app_key: "12345678"
    app_secret: "${{MT_TOP_SECRET}}"
    shop: main
    gateway: "{base}/router/rest"
    authorize_url: "{base}/oauth/authorize"
    token_url: "{base}/oauth/token"
  - name: jd
    kind: jd_vender_comments
    app_key: jdkey
    app_secret: "${{MT_JD_SECRET}}"
    shop: main
    gateway: "{base}/routerjson"
    authorize_url: "{base}/jd/to_login"
    token_url: "{base}/jd/access_token"
    refresh_url: "{base}/jd/refresh_token"
  - name: ks
    kind: kuaishou_comments
    app_key: ks699
    app_secret: "${{MT_KS_SECRET}}"
    sign_secret: "${{MT_KS_SIGN}}"
    shop: main
    gateway: "{base}"
    authorize_url: "{base}/ks/authorize"
    token_url: "{base}/ks/access_token"
    refresh_url: "{base}/ks/refresh_token"
"""


@pytest.fixture
def servers(loopback: Loopback) -> dict[str, OAuthServer]:
    top = OAuthServer("taobao", "12345678", "top-secret")
    jd = OAuthServer("jd", "jdkey", "jd-secret", lifetime=365 * 86400)
    ks = OAuthServer("kuaishou", "ks699", "ks-app-secret", lifetime=48 * 3600, refresh_lifetime=180 * 86400)
    loopback.route("/oauth/authorize", top.authorize)
    loopback.route("/oauth/token", top.token)
    loopback.route("/jd/to_login", jd.authorize)
    loopback.route("/jd/access_token", jd.token)
    loopback.route("/jd/refresh_token", jd.token)
    loopback.route("/ks/authorize", ks.authorize)
    loopback.route("/ks/access_token", ks.token)
    loopback.route("/ks/refresh_token", ks.token)
    return {"taobao": top, "jd": jd, "kuaishou": ks}


@pytest.fixture
def installed(make_ctx: MakeCtx, loopback: Loopback) -> Iterator[tuple[object, StoreTokenProvider]]:
    ctx = make_ctx(SOURCES.format(base=loopback.url))
    p = provider(ctx.store, lambda: ctx.config)
    previous = credentials.install(p)
    yield ctx, p
    credentials.install(previous)
    p.client.close()


def cli(ctx: object, *args: str, input: str | None = None) -> tuple[int, str]:
    config = str(ctx.config.root / "monitor.yaml")  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, ["auth", *args, "-c", config], input=input)
    return result.exit_code, result.output


def test_monitor_auth_catches_the_redirect_and_stores_the_token_encrypted(
    installed: tuple[object, StoreTokenProvider],
    servers: dict[str, OAuthServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx, p = installed
    with socket_port() as port:  # a free port, released for --listen to take
        pass

    def browser(url: str) -> bool:  # the shop owner's browser: open the page, follow the redirect
        threading.Thread(
            target=lambda: httpx.get(url, follow_redirects=True, timeout=10), daemon=True
        ).start()
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    code, out = cli(
        ctx, "taobao", "--shop", "main", "--listen", f"127.0.0.1:{port}", "--open", "--timeout", "20"
    )
    assert code == 0, out
    assert "已授权 authorised taobao/main (示例旗舰店)" in out and "taobao-access-1" not in out
    row = p.vault.get("taobao", "main")
    assert row is not None and row.account == "示例旗舰店" and row.expires_at is not None
    with ctx.store.session() as s:  # type: ignore[attr-defined]
        raw = s.execute(text("SELECT secret_box FROM shop_tokens")).scalar_one()
    assert "taobao-access-1" not in raw and "taobao-refresh-1" not in raw
    assert p.access_token("taobao", "main", NOW) == "taobao-access-1"
    listed = cli(ctx, "list")[1]
    assert "taobao/main  示例旗舰店" in listed and "taobao-access" not in listed


class socket_port:
    """A free loopback port for --listen."""

    def __enter__(self) -> int:
        import socket

        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        port: int = self.s.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self.s.close()


def test_a_pasted_address_and_a_code_work_and_a_foreign_state_is_refused(
    installed: tuple[object, StoreTokenProvider], servers: dict[str, OAuthServer]
) -> None:
    ctx, p = installed
    servers["jd"].codes.add("jd-code-9")
    assert cli(ctx, "jd", "--shop", "main", input="https://shop.example.com/cb?code=jd-code-9\n")[0] == 0
    assert p.access_token("jd", "main", NOW) == "jd-access-1"
    servers["kuaishou"].codes.add("ks-code")
    code, out = cli(ctx, "kuaishou", "--shop", "main", input="https://x/cb?code=ks-code&state=someone-else\n")
    assert code != 0 and "state differs" in out
    code, out = cli(ctx, "kuaishou", "--shop", "main", "--code", "ks-code")
    assert code == 0, out
    assert p.access_token("kuaishou", "main", NOW) == "kuaishou-access-1"
    code, out = cli(ctx, "kuaishou", "--shop", "main", "--code", "used-before")
    assert code != 0 and "refused by kuaishou: invalid code" in out
    code, out = cli(ctx, "taobao", "--shop", "nosuchshop", "--code", "x")
    assert code != 0 and "no taobao_traderates source has `shop: nosuchshop`" in out


def test_tokens_are_refreshed_before_they_expire(
    installed: tuple[object, StoreTokenProvider], servers: dict[str, OAuthServer]
) -> None:
    ctx, p = installed
    ks = servers["kuaishou"]
    ks.codes.add("c1")
    assert cli(ctx, "kuaishou", "--shop", "main", "--code", "c1")[0] == 0
    row = p.vault.get("kuaishou", "main")
    assert row is not None and row.expires_at is not None
    issued = row.obtained_at
    assert p.access_token("kuaishou", "main", issued + timedelta(hours=30)) == "kuaishou-access-1"  # not due
    assert (
        p.access_token("kuaishou", "main", issued + timedelta(hours=37)) == "kuaishou-access-2"
    )  # < 1/4 left
    assert ks.refreshes == ["kuaishou-refresh-1"]
    refreshed = p.vault.get("kuaishou", "main")
    assert refreshed is not None and refreshed.refreshed_at == issued + timedelta(hours=37)
    # the periodic check refreshes a shop whose sources do not poll
    result = p.check(issued + timedelta(hours=37 + 37))
    assert result["refreshed"] == 1 and ks.refreshes[-1] == "kuaishou-refresh-2"


def test_admins_are_warned_days_before_an_authorisation_lapses(
    installed: tuple[object, StoreTokenProvider], servers: dict[str, OAuthServer]
) -> None:
    ctx, p = installed
    top = servers["taobao"]
    top.codes.add("c")
    assert cli(ctx, "taobao", "--shop", "main", "--code", "c")[0] == 0
    row = p.vault.get("taobao", "main")
    assert row is not None and row.refresh_expires_at is not None
    end = row.refresh_expires_at
    assert p.check(end - timedelta(days=9))["warned"] == 0
    top.refresh_lifetime = 1  # refreshing keeps the lapse date (the platform will not extend it)
    assert p.check(end - timedelta(days=6))["warned"] == 1
    assert p.check(end - timedelta(days=5))["warned"] == 0  # one alert, not one per check
    with ctx.store.session() as s:  # type: ignore[attr-defined]
        alert = s.scalar(select(m.Alert).where(m.Alert.dedup_key == "shop_auth:taobao:main:lapse"))
        outbox = list(s.scalars(select(m.Outbox)))
    assert alert is not None and alert.kind == "source_health" and "店铺授权即将到期" in alert.title
    assert "monitor auth taobao --shop main" in alert.summary and outbox
    top.codes.add("again")
    assert cli(ctx, "taobao", "--shop", "main", "--code", "again")[0] == 0
    with ctx.store.session() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(m.Alert.state).where(m.Alert.id == alert.id)) == "resolved"


def test_a_rejected_session_alerts_the_admins_at_once_and_blocks_until_reauthorised(
    installed: tuple[object, StoreTokenProvider], servers: dict[str, OAuthServer], loopback: Loopback
) -> None:
    ctx, p = installed
    shop = TopShop(session="taobao-access-2", ratings=[top_rating(1, NOW - timedelta(hours=1))])
    loopback.route("/router/rest", shop)
    p.vault.put("taobao", "main", Grant("taobao-access-1", None, NOW + timedelta(days=300), None), NOW)
    src = ctx.config.sources["top"]  # type: ignore[attr-defined]
    first = run_source(ctx, src, NOW)  # type: ignore[arg-type]
    assert first.verdict == "blocked" and "re-authorise: `monitor auth taobao --shop main`" in first.reason
    with ctx.store.session() as s:  # type: ignore[attr-defined]
        alert = s.scalar(select(m.Alert).where(m.Alert.dedup_key == "shop_auth:taobao:main:invalid"))
    assert alert is not None and "请重新授权" in alert.title and alert.state == "firing"
    calls = len(shop.calls)
    second = run_source(ctx, src, NOW + timedelta(minutes=10))  # type: ignore[arg-type]
    assert second.verdict == "blocked" and "店铺授权失效" in second.reason and len(shop.calls) == calls
    servers["taobao"].issued = 1
    servers["taobao"].codes.add("c")
    assert cli(ctx, "taobao", "--shop", "main", "--code", "c")[0] == 0  # issues taobao-access-2
    shop.now = NOW + timedelta(minutes=20)
    third = run_source(ctx, src, NOW + timedelta(minutes=20))  # type: ignore[arg-type]
    assert third.verdict == "ok" and third.new == 1
    with ctx.store.session() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(m.Alert.state).where(m.Alert.id == alert.id)) == "resolved"


def test_the_key_comes_from_the_environment_or_the_data_dirs_secret(
    installed: tuple[object, StoreTokenProvider], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx, p = installed
    p.vault.put("jd", "main", Grant("jd-secret-token", "r", NOW + timedelta(days=30), None), NOW)
    assert (tmp_path / "data" / "secret.key").exists()  # derived from the secret the daemon keeps
    monkeypatch.setenv(KEY_ENV, "bm90LWEta2V5")
    with pytest.raises(Exception, match="MONITOR_TOKEN_KEY is not a Fernet key"):
        provider(ctx.store, lambda: ctx.config)  # type: ignore[attr-defined]
    from cryptography.fernet import Fernet

    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    other = provider(ctx.store, lambda: ctx.config)  # type: ignore[attr-defined]
    with pytest.raises(credentials.TokenUnavailable, match="cannot be decrypted: the key changed"):
        other.access_token("jd", "main", NOW)
    other.client.close()


def test_try_source_reads_the_token_store(
    installed: tuple[object, StoreTokenProvider], loopback: Loopback
) -> None:
    ctx, p = installed
    credentials.install(None)  # try-source installs its own, as in a fresh process
    now = utcnow()  # try-source signs with the wall clock
    shop = TopShop(session="taobao-access-7", now=now, ratings=[top_rating(1, now - timedelta(hours=1))])
    loopback.route("/router/rest", shop)
    p.vault.put("taobao", "main", Grant("taobao-access-7", None, shop.now + timedelta(days=30), None), NOW)
    config = str(ctx.config.root / "monitor.yaml")  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, ["try-source", "-c", config, "top"])
    assert result.exit_code == 0, result.output
    assert (
        "1 items" in result.output
        and "verdict: ok" in result.output
        and "taobao-access-7" not in result.output
    )


def test_a_malformed_key_blocks_the_merchant_sources_not_the_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.shopauth import attach

    class Daemon:  # what attach() uses of the daemon
        def __init__(self) -> None:
            from types import SimpleNamespace

            self.store, self.jobs = None, []
            self.config = SimpleNamespace(
                path=lambda rel: tmp_path / rel, settings=SimpleNamespace(data_dir="data")
            )
            self.scheduler = self

        def add_job(self, *args: Any, **kw: Any) -> None:
            self.jobs.append(kw["id"])

    monkeypatch.setenv(KEY_ENV, "not a key")
    previous = credentials.installed()
    try:
        attach(Daemon())
        p = credentials.installed()
        assert p is not None
        with pytest.raises(credentials.TokenUnavailable, match="MONITOR_TOKEN_KEY is not a Fernet key"):
            p.access_token("taobao", "main", NOW)
    finally:
        credentials.install(previous)


def test_cryptography_is_imported_when_a_token_is_first_sealed(tmp_path: Path) -> None:
    """A daemon without shop tokens never imports cryptography (~7 MB, #18 memory)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "import monitor.daemon\n"
        "from monitor.shopauth.vault import cipher\n"
        f"box = cipher(Path({str(tmp_path)!r}))\n"
        "print('cryptography' in sys.modules)\n"
        "assert box.decrypt(box.encrypt(b'token')) == b'token'\n"
        "print('cryptography' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, "MONITOR_SECRET")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.split() == ["False", "True"], out.stderr
