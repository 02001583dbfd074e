"""Log in and out. The login form is protected by a double-submit cookie (there is no
session yet); after login every form carries the session's own CSRF token. Attempts are throttled
per account name and per client address (``monitor.admin.logins``): too many failures answer 429
"尝试次数过多，请 N 分钟后再试" with ``Retry-After``, without checking the password."""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.admin import logins
from monitor.web import auth
from monitor.web.context import Req, render
from monitor.web.guard import console_of, language, page, with_lang_cookie

LOGIN_CSRF_COOKIE = "monitor_login_csrf"


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def login_form(
    request: Request, error: str = "", status: int = 200, nxt: str | None = None
) -> Response:
    c = console_of(request)
    token = secrets.token_urlsafe(24)
    nxt = _safe_next(nxt if nxt is not None else request.query_params.get("next", "/"))
    r = render(c, "login.html", language(request, c), status, csrf=token, next=nxt, error=error)
    r.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=c.secure_cookies)
    return with_lang_cookie(request, r, c)


async def login_post(request: Request) -> Response:
    c = console_of(request)
    form = await request.form()
    given, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not auth.csrf_ok(expected, given):
        return await login_form(request, "请求已过期，请刷新页面", 403, str(form.get("next", "/")))
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    address = request.client.host if request.client else "unknown"
    now, policy = c.now(), c.config.settings.web.login
    outcome = await run_in_threadpool(logins.attempt, c.store, policy, name, password, address, now)
    user = outcome.user
    if outcome.locked_until is not None:
        minutes = logins.minutes_left(outcome.locked_until, now)
        message = (
            f"Too many attempts; try again in {minutes} min"
            if language(request, c) == "en"
            else f"尝试次数过多，请 {minutes} 分钟后再试"
        )
        r = await login_form(request, message, 429, str(form.get("next", "/")))
        r.headers["Retry-After"] = str(max(1, int((outcome.locked_until - now).total_seconds())))
        return r
    if user is None:
        return await login_form(request, "用户名或密码错误", 401, str(form.get("next", "/")))
    ttl = c.config.settings.web.session_ttl
    token, _csrf = await run_in_threadpool(auth.start_session, c.store, user, c.now(), ttl)
    r = RedirectResponse(_safe_next(str(form.get("next", "/"))), status_code=303)
    r.set_cookie(
        auth.SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=c.secure_cookies,
    )
    r.delete_cookie(LOGIN_CSRF_COOKIE)
    return r


@page("read")
def logout(req: Req) -> Response:
    if req.principal.session_id:
        auth.end_session(req.console.store, req.principal.session_id)
    r = RedirectResponse("/login", status_code=303)
    r.delete_cookie(auth.SESSION_COOKIE)
    return r
