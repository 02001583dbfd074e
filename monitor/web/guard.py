"""Every console and API route is wrapped here: who is calling, may their role do this,
and (for forms) does the per-session CSRF token match. The route test in
``tests/web/test_access.py`` refuses a route without a ``permission``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from monitor.web import auth
from monitor.web.context import Console, NotFound, Req, render
from monitor.web.i18n import LANG_COOKIE, LANGS

Handler = Callable[[Req], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def console_of(request: Request) -> Console:
    c = request.app.state.console
    assert isinstance(c, Console)
    return c


def language(request: Request, console: Console) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or ""
    return lang if lang in LANGS else str(console.config.settings.web.language)


def with_lang_cookie(request: Request, response: Response, console: Console) -> Response:
    lang = request.query_params.get("lang")
    if lang in LANGS:
        response.set_cookie(
            LANG_COOKIE, str(lang), max_age=365 * 86400, samesite="lax", secure=console.secure_cookies
        )
    return response


def _refuse(console: Console, lang: str, status: int, message: str) -> Response:
    return render(
        console, "error.html", lang, status, title="无权限" if status == 403 else "登录", message=message
    )


def page(permission: str) -> Callable[[Handler], Endpoint]:
    """A browser route: session cookie, role check, CSRF on POST; the handler runs in a thread."""

    def deco(fn: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            c = console_of(request)
            lang = language(request, c)
            token = request.cookies.get(auth.SESSION_COOKIE, "")
            who = await run_in_threadpool(auth.session_principal, c.store, token, c.now())
            if who is None:
                if request.method == "GET":
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
                return _refuse(c, lang, 401, "请先登录")
            if not who.can(permission):
                return _refuse(c, lang, 403, "你的角色不能执行此操作")
            form: dict[str, str] = {}
            if request.method == "POST":
                data = await request.form()
                form = {k: v for k, v in data.multi_items() if isinstance(v, str)}
                if not auth.csrf_ok(who.csrf, form.get("csrf", "")):
                    return _refuse(c, lang, 403, "请求已过期，请刷新页面")
            req = Req(request, who, c, lang, form)
            try:
                response = await run_in_threadpool(fn, req)
            except NotFound as exc:
                response = render(c, "error.html", lang, 404, principal=who, title="未找到", message=str(exc))
            return with_lang_cookie(request, response, c)

        endpoint.permission = permission  # type: ignore[attr-defined]
        endpoint.__name__ = fn.__name__
        return endpoint

    return deco


def api_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def api(permission: str) -> Callable[[Handler], Endpoint]:
    """An ``/api/v1`` route: ``Authorization: Bearer <token>``, role check, JSON body on POST.
    No cookies are accepted here, so there is nothing for CSRF to forge."""

    def deco(fn: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            c = console_of(request)
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            who = None
            if scheme.lower() == "bearer" and token.strip():
                who = await run_in_threadpool(auth.token_principal, c.store, token.strip(), c.now())
            if who is None:
                r = api_error(401, "a valid bearer token is required")
                r.headers["WWW-Authenticate"] = "Bearer"
                return r
            if not who.can(permission):
                scope = f" with a {who.scope} token" if who.scope else ""
                return api_error(403, f"role {who.role}{scope} may not do this (needs {permission})")
            body: Any = None
            if request.method == "POST":
                raw = await request.body()
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return api_error(400, "the body is not JSON")
            req = Req(request, who, c, "en", body=body)
            try:
                return await run_in_threadpool(fn, req)
            except ApiProblem as exc:
                return api_error(exc.status, exc.message)
            except NotFound as exc:
                return api_error(404, f"not found: {exc}")

        endpoint.permission = permission  # type: ignore[attr-defined]
        endpoint.__name__ = fn.__name__
        return endpoint

    return deco


class ApiProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message
