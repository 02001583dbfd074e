"""The console's 店铺授权与导出 page (admins): authorise a shop on a merchant open platform, see each
token's expiry and problems, and upload a back-office export into a ``review_export`` source's folder.

OAuth: "授权" sends the browser to the platform's page with a ``state`` signed by the daemon's secret
(naming the platform and shop, valid 30 minutes); the platform sends it back to
``<web.base_url>/shop-auth/callback`` (register that address with the app), where the code is exchanged
and the token stored encrypted. A callback whose state was not made here (``monitor auth`` run in a
shell) shows the code for pasting into that command.

Uploads are read with the source's own mapping first: a file that cannot be read is refused with the
reason and nothing is written; a readable one is written atomically into the folder (the next poll
reads it) and its unreadable rows are listed as ``file:row: message``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.from_thread
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.adapters.merchant_api import MerchantApiConfig
from monitor.adapters.review_export import SUFFIXES, ReviewExportAdapter, ReviewExportConfig
from monitor.web.context import Req
from monitor.web.guard import page

STATE_TTL = timedelta(minutes=30)
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff（）()]+")


def routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/shop-auth", overview, methods=get),
        Route("/shop-auth/start", start, methods=post),
        Route("/shop-auth/callback", callback, methods=get),
        Route("/shop-auth/upload", upload, methods=post),
    ]


def _secret(req: Req) -> bytes:
    from monitor.signing import load_secret

    c = req.console.config
    return load_secret(Path(c.path(c.settings.data_dir)))


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, f"shop-auth:{body}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def sign_state(secret: bytes, platform: str, shop: str, now: datetime) -> str:
    body = f"{platform}.{shop}.{int((now + STATE_TTL).timestamp())}"
    return f"{body}.{_mac(secret, body)}"


def check_state(secret: bytes, state: str, now: datetime) -> tuple[str, str] | None:
    """(platform, shop) of a state made here and still valid, else None."""
    parts = state.split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    body = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _mac(secret, body)) or now.timestamp() > int(parts[2]):
        return None
    return parts[0], parts[1]


def _shops(config: Any) -> list[tuple[str, str, str]]:
    from monitor.shopauth.service import KINDS

    by_kind = {kind: platform for platform, kind in KINDS.items()}
    out = {
        (by_kind[s.kind], s.shop, name)
        for name, s in config.sources.items()
        if isinstance(s, MerchantApiConfig) and s.access_token is None and s.kind in by_kind
    }
    return sorted(out)


def _render(req: Req, status: int = 200, **extra: Any) -> Response:
    from monitor.shopauth import vault_for
    from monitor.shopauth.service import lapse_at

    c = req.console
    tokens = {(t.platform, t.shop): t for t in vault_for(c.store, c.config).all()}
    shops = [(p, shop, src, tokens.get((p, shop))) for p, shop, src in _shops(c.config)]
    exports = [(n, s) for n, s in c.config.sources.items() if isinstance(s, ReviewExportConfig)]
    ctx = {
        "shops": shops,
        "exports": exports,
        "lapse_at": lapse_at,
        "message": "",
        "problems": [],
        "code": "",
    }
    return req.render("shop_auth.html", status, **{**ctx, **extra})


@page("admin")
def overview(req: Req) -> Response:
    return _render(req)


@page("admin")
def start(req: Req) -> Response:
    from monitor.shopauth.oauth import authorize_link
    from monitor.shopauth.service import oauth_app

    platform, shop = req.form.get("platform", ""), req.form.get("shop", "")
    c = req.console
    try:
        app = oauth_app(c.config, platform, shop)
    except Exception as exc:  # a ${VAR} not set in the daemon's environment
        return _render(req, 400, message=f"无法开始授权: {exc}")
    if app is None:
        return _render(req, 400, message=f"没有使用店铺 {shop!r} 的 {platform} 数据源")
    redirect_uri = f"{str(c.config.settings.web.base_url).rstrip('/')}/shop-auth/callback"
    link = authorize_link(app, redirect_uri, sign_state(_secret(req), platform, shop, c.now()))
    return RedirectResponse(link, status_code=303)


@page("admin")
def callback(req: Req) -> Response:
    import httpx

    from monitor.shopauth import provider
    from monitor.shopauth.oauth import OAuthError, exchange_code
    from monitor.shopauth.service import oauth_app
    from monitor.shopauth.vault import VaultError

    q, c, now = req.q, req.console, req.console.now()
    code, state = q.get("code", ""), q.get("state", "")
    if q.get("error"):
        return _render(req, 400, message=f"平台拒绝授权: {q.get('error')} {q.get('error_description', '')}")
    if not code:
        return _render(req, 400, message="回调地址里没有 code")
    who = check_state(_secret(req), state, now)
    if who is None:  # started by `monitor auth` in a shell, or expired
        return _render(
            req, 200, message="这个授权不是从本页发起的：把下面的 code 粘贴给 monitor auth 命令", code=code
        )
    platform, shop = who
    redirect_uri = f"{str(c.config.settings.web.base_url).rstrip('/')}/shop-auth/callback"
    try:
        app = oauth_app(c.config, platform, shop)
        if app is None:
            return _render(req, 400, message=f"没有使用店铺 {shop!r} 的 {platform} 数据源")
        with httpx.Client(timeout=20) as client:
            grant = exchange_code(client, app, code, redirect_uri, now)
        p = provider(c.store, lambda: c.config)
        p.vault.put(platform, shop, grant, now)
        p.resolve(platform, shop, now)
        p.client.close()
    except (OAuthError, VaultError, KeyError) as exc:
        return _render(req, 400, message=f"授权失败: {exc}")
    return _render(req, message=f"已授权 {platform}/{shop} ({grant.account or '—'})")


@page("admin")
def upload(req: Req) -> Response:
    form = anyio.from_thread.run(_form, req)  # already read by the guard: Starlette hands back its cache
    try:
        return _upload(req, form)
    finally:
        anyio.from_thread.run(form.close)


def _upload(req: Req, form: FormData) -> Response:
    c = req.console
    name = req.form.get("source", "")
    src = c.config.sources.get(name)
    if not isinstance(src, ReviewExportConfig):
        return _render(req, 400, message=f"没有名为 {name!r} 的导出数据源 (review_export)")
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return _render(req, 400, message="请选择一个 CSV 或 XLSX 文件")
    filename = _SAFE_NAME.sub("_", Path(file.filename).name).lstrip(".") or "export"
    if Path(filename).suffix.lower() not in SUFFIXES:
        return _render(req, 400, message=f"{filename}: 只接受 .csv 或 .xlsx 文件")
    data = file.file.read(src.max_body_bytes + 1)
    if len(data) > src.max_body_bytes:
        return _render(req, 400, message=f"{filename}: 超过 {src.max_body_bytes:,} 字节 (max_body_bytes)")
    from monitor.adapters.export_files import ExportError

    adapter = ReviewExportAdapter(src)
    try:
        rows = adapter.read(Path(filename), data)
    except ExportError as exc:
        return _render(req, 400, message=f"文件无法读取，未保存: {exc}")
    return _store(req, src, filename, data, adapter.row_problems(rows), len(rows.rows))


async def _form(req: Req) -> FormData:
    return await req.request.form()


def _store(
    req: Req, src: ReviewExportConfig, filename: str, data: bytes, problems: list[str], n: int
) -> Response:
    folder = Path(src.folder)
    stamp = req.console.now().strftime("%Y%m%d-%H%M%S")
    target = folder / f"{stamp}_{filename}"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        return _render(req, 500, message=f"无法写入导出目录 {folder}: {exc.strerror}（目录只读？）")
    return _render(req, message=f"已保存 {target.name}：{n} 行，下次轮询读取", problems=problems[:200])
