"""The daemon's HTTP endpoint: the web console, the REST API, health checks and signed
acknowledge links.

Starlette app served by uvicorn in a background thread of the daemon. Acknowledge
links work without login, only for their alert, and expire (``monitor.signing``).
Every other route except /healthz, /readyz, /login and /static names the permission
it needs (``monitor.web.guard``); the roles that hold each permission are in
``monitor.web.auth.ROLE_PERMISSIONS``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.observability import metrics_endpoint
from monitor.outage import DatabaseState, database_unavailable
from monitor.runtime import Runtime
from monitor.web import ack, api, config_pages, login, more_pages, pages, rules_pages, shop_auth
from monitor.web.auth import SESSION_COOKIE, session_principal
from monitor.web.context import Console
from monitor.web.headers import SecurityHeaders
from monitor.web.unavailable import DatabaseGuard

__all__ = ["PUBLIC_PATHS", "Server", "create_app"]

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> Starlette:
    """The console, the API, health checks and acknowledge links over the running ``runtime``."""
    now = runtime.now

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready or not, for probes without a login: never the database's address or driver error
        (those are in the log, and shown to a logged-in admin)."""
        try:
            status = await run_in_threadpool(runtime.status)
        except Exception as exc:
            outage = database_unavailable(exc)
            body: dict[str, object] = {
                "status": "not ready",
                "reason": "database unavailable" if outage else "internal error (see the log)",
            }
            if not outage:  # an outage is logged by the daemon, once (monitor.outage)
                log.warning("/readyz: not ready: %s", exc)
            if await run_in_threadpool(_is_admin, request):
                body["error"] = f"{type(exc).__name__}: {exc}"
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ready", **status})

    def _is_admin(request: Request) -> bool:
        try:
            who = session_principal(runtime.store, request.cookies.get(SESSION_COOKIE, ""), now())
        except Exception:  # the database is away: so are the sessions
            return False
        return who is not None and who.can("admin")

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        # Prometheus scrapes without a login, like /healthz; it shows counts, never review text or names.
        Route("/metrics", metrics_endpoint(lambda: runtime.metrics)),
        *ack.routes(runtime),  # signed chat links (monitor.web.ack)
        Route("/login", login.login_form, methods=["GET"]),
        Route("/login", login.login_post, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
        *console_routes(),
        *api.routes(),
    ]

    def https() -> bool:
        return str(runtime.config.settings.web.base_url).startswith("https://")

    # stand-ins written before Runtime.database keep working with a state of their own
    database = getattr(runtime, "database", None) or DatabaseState(lambda: runtime.config.settings.tz)
    middleware = [
        Middleware(SecurityHeaders, https=https),  # outermost: the 503 below carries the headers too
        Middleware(DatabaseGuard, runtime=runtime, database=database),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.console = Console(runtime)
    return app


STATIC = Path(__file__).with_name("static")
# Routes anyone may call (health checks, login, static files, signed ack links).
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics", "/login", "/static", *ack.PUBLIC)


def console_routes() -> list[Route]:
    p, r, x = pages, rules_pages, more_pages
    get, post = ["GET"], ["POST"]
    return [
        Route("/alerts/bulk", x.alerts_bulk, methods=post),
        Route("/silences", x.silences, methods=get),
        Route("/silences/{silence_id:int}/expire", x.silence_expire, methods=post),
        Route("/items/{item_id:int}/full", x.item_full, methods=get),
        Route("/reports/{report_id:int}/export.csv", x.report_export, methods=get),
        Route("/users", x.users_page, methods=get),
        Route("/users", x.users_post, methods=post),
        Route("/rules/uncovered", x.rules_uncovered, methods=get),
        Route("/", p.home, methods=get),
        Route("/logout", login.logout, methods=post),
        Route("/items", p.items, methods=get),
        Route("/alerts", p.alerts, methods=get),
        Route("/alerts/{alert_id:int}", p.alert_detail, methods=get),
        Route("/alerts/{alert_id:int}/ack", p.alert_ack, methods=post),
        Route("/alerts/{alert_id:int}/resolve", p.alert_resolve, methods=post),
        Route("/alerts/{alert_id:int}/silence", p.alert_silence, methods=post),
        Route("/incidents", p.incidents, methods=get),
        Route("/incidents/{incident_id:int}", p.incident_detail, methods=get),
        Route("/incidents/{incident_id:int}/steps/{step_id:int}", p.incident_step, methods=post),
        Route("/incidents/{incident_id:int}/notes", p.incident_note, methods=post),
        Route("/incidents/{incident_id:int}/close", p.incident_close, methods=post),
        Route("/incidents/{incident_id:int}/export", p.incident_export, methods=get),
        Route("/sops/{sop_id}", p.sop, methods=get),
        Route("/sources", p.sources, methods=get),
        Route("/reports", p.reports, methods=get),
        Route("/reports/{report_id:int}", p.report_detail, methods=get),
        Route("/settings", p.settings, methods=get),
        Route("/rules", r.rules_index, methods=get),
        Route("/rules/{name}", r.rule_file, methods=get),
        Route("/rules/{name}/check", r.rule_check, methods=post),
        Route("/rules/{name}/test", r.rule_test, methods=post),
        Route("/rules/{name}/replay", r.rule_replay, methods=post),
        Route("/rules/{name}/save", r.rule_save, methods=post),
        Route("/rules/{name}/rollback/{version_id:int}", r.rule_rollback, methods=post),
        *config_pages.routes(),
        *shop_auth.routes(),
    ]


class Server:
    """uvicorn in a thread, stopped with the daemon. ``trusted_proxies`` (``web.trusted_proxies``):
    the reverse proxies whose ``X-Forwarded-For`` names the client (login throttling counts per
    client address)."""

    def __init__(self, app: Starlette, bind: str, trusted_proxies: list[str] | None = None) -> None:
        host, _, port = bind.rpartition(":")
        # log_config=None: uvicorn's records go to the daemon's own handlers (format, JSON, redaction)
        self.config = uvicorn.Config(
            app,
            host=host,
            port=int(port),
            log_level="warning",
            log_config=None,
            lifespan="off",
            proxy_headers=True,
            forwarded_allow_ips=list(trusted_proxies if trusted_proxies is not None else ["127.0.0.1"]),
        )
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
