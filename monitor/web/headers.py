"""Security headers on every response: console pages, the API, health checks, static files, the
acknowledge page, errors and redirects alike.

* **Content-Security-Policy**, the second line behind escaping: even if page-derived text slipped
  into markup, no script runs (scripts only from the console's own origin, or inline with this
  response's nonce: ``{{ csp_nonce }}`` in a template, ``nonce_of(request)`` in code), nothing
  loads from elsewhere, forms post only to the console, and no other site can frame a page.
  Inline ``style`` attributes stay allowed (the acknowledge page uses them; CSS cannot run code).
* **X-Frame-Options: DENY** for browsers older than ``frame-ancestors``: the acknowledge page, whose
  button changes state, can never sit under another site's clickjacking overlay.
* **X-Content-Type-Options: nosniff**: a review text served as ``text/plain`` is never run as HTML.
* **Referrer-Policy: no-referrer**: acknowledge links carry a signed token in the URL and the console's
  own address is nobody's business; a link out to a platform's review page tells it nothing.
* **Cross-Origin-Opener-Policy / -Resource-Policy: same-origin**: no other window keeps a handle on a
  console tab, no other site embeds its responses.
* **Cache-Control: no-store** (except ``/static``): pages with reviews, names and tokens stay out of
  shared caches and the browser's back-button cache on a shared phone.
* **Strict-Transport-Security** when ``web.base_url`` is https: a year, so a phone on hotel Wi-Fi is
  never downgraded to plain HTTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "csp", "nonce_of"]

HSTS = "max-age=31536000"
FIXED = (
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
NONCE_KEY = "csp_nonce"


def csp(nonce: str) -> str:
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def nonce_of(request: Request) -> str:
    """This response's script nonce (``<script nonce="…">``)."""
    return str(request.scope.get("state", {}).get(NONCE_KEY, ""))


class SecurityHeaders:
    """Pure ASGI middleware (no response buffering); ``https()`` says whether ``web.base_url`` is https
    (read per request: a reload may change it)."""

    def __init__(self, app: ASGIApp, https: Callable[[], bool] = lambda: False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        static = str(scope.get("path", "")).startswith("/static/")
        hsts = self.https()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp(nonce))
                for name, value in FIXED:
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
                if hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, with_headers)
