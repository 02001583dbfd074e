"""While the database is away, the console and the API answer 503 in a sentence, not 500 with a
traceback in the log for every click: the outage is logged once, by the daemon's ``DatabaseState``
(``monitor.outage``), which this shares."""

from __future__ import annotations

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.outage import DatabaseState
from monitor.runtime import Runtime

__all__ = ["DatabaseGuard"]

PAGE = (
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>数据库暂时不可用</title></head><body><h1>数据库暂时不可用</h1>"
    "<p>监控正在自动重试，恢复后本页即可使用；请稍后刷新。</p>"
    "<p>The database is unavailable for now; the monitor keeps retrying. Reload in a moment.</p>"
    "</body></html>"
)


class DatabaseGuard:
    """Pure ASGI middleware: a database outage during a request becomes a 503 (``Retry-After: 30``)."""

    def __init__(self, app: ASGIApp, runtime: Runtime, database: DatabaseState) -> None:
        self.app = app
        self.runtime = runtime
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            path = str(scope.get("path", ""))
            if started or not self.database.failed(exc, self.runtime.now(), f"console request {path}"):
                raise
            response: Response
            if path.startswith("/api/"):
                response = JSONResponse({"error": "database unavailable; retry later"}, status_code=503)
            else:
                response = HTMLResponse(PAGE, status_code=503)
            response.headers["Retry-After"] = "30"
            await response(scope, receive, send)
