"""The daemon's HTTP endpoint: health checks and signed acknowledge links.

Starlette app served by uvicorn in a background thread of the daemon. Acknowledge
links work without login, only for their alert, and expire (``monitor.signing``).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from monitor.alerting import lifecycle
from monitor.notify import outbox
from monitor.signing import verify_ack

log = logging.getLogger(__name__)
STYLE = 'style="font-family:sans-serif;max-width:40em;margin:2em auto"'


def _page(title: str, message: str, status: int = 200) -> HTMLResponse:
    body = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body {STYLE}>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def create_app(daemon: Any, now: Callable[[], datetime]) -> Starlette:
    """``daemon`` provides ``store``, ``config`` and ``status()``."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            status = daemon.status()
        except Exception as exc:
            return JSONResponse({"status": "not ready", "error": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready", **status})

    def _secret() -> bytes:
        return outbox._secret(str(daemon.config.path(daemon.config.settings.data_dir)))

    async def ack_form(request: Request) -> Response:
        alert_id = int(request.path_params["alert_id"])
        token = request.query_params.get("t", "")
        problem = verify_ack(_secret(), alert_id, token, now())
        if problem:
            return _page("链接无效 / link not valid", problem, 403)
        # A GET must not change state (link previewers in chat apps fetch URLs): confirm with a POST.
        body = (
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>确认告警</title></head><body {STYLE}>"
            f"<h1>确认告警 #{alert_id} / acknowledge alert #{alert_id}</h1>"
            f'<form method="post"><input type="hidden" name="t" value="{html.escape(token)}">'
            '<label>姓名 / name <input name="by" required maxlength="60"></label> '
            '<button type="submit">确认 / acknowledge</button></form></body></html>'
        )
        return HTMLResponse(body)

    async def ack_post(request: Request) -> Response:
        alert_id = int(request.path_params["alert_id"])
        form = await request.form()
        token = str(form.get("t", ""))
        by = str(form.get("by", "")).strip()[:60] or "link"
        problem = verify_ack(_secret(), alert_id, token, now())
        if problem:
            return _page("链接无效 / link not valid", problem, 403)
        try:
            alert = lifecycle.acknowledge(daemon.store, alert_id, f"{by} (link)", now())
        except lifecycle.AlertNotFound:
            return _page("告警不存在 / no such alert", f"alert #{alert_id}", 404)
        return _page("已确认 / acknowledged", f"#{alert.id} {alert.title} — {alert.state}")

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/ack/{alert_id:int}", ack_form, methods=["GET"]),
        Route("/ack/{alert_id:int}", ack_post, methods=["POST"]),
    ]
    return Starlette(routes=routes)


class Server:
    """uvicorn in a thread, stopped with the daemon."""

    def __init__(self, app: Starlette, bind: str) -> None:
        host, _, port = bind.rpartition(":")
        self.config = uvicorn.Config(app, host=host, port=int(port), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(self.config)
        # uvicorn installs signal handlers only in the main thread; the daemon keeps its own.
        self.thread = threading.Thread(target=self.server.run, name="http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
