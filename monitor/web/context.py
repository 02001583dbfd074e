"""What every console handler gets: the running daemon (as a ``Runtime``), the templates, the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from monitor.config import Config
from monitor.hygiene import link_allowed, safe_url
from monitor.reports.labels import platform, zh
from monitor.runtime import Runtime
from monitor.store import Store
from monitor.web.auth import Principal
from monitor.web.config_errors import error_text
from monitor.web.display import split_long, unbidi
from monitor.web.headers import nonce_of
from monitor.web.i18n import translator

TEMPLATES = Path(__file__).with_name("templates")
MAX_ID = 2**62  # larger path ids cannot exist and would overflow the database's integers


class NotFound(LookupError):
    pass


@dataclass
class Console:
    runtime: Runtime
    env: jinja2.Environment = field(
        default_factory=lambda: jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
        )
    )

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def config(self) -> Config:
        return self.runtime.config

    def now(self) -> datetime:
        return self.runtime.now()

    @property
    def secure_cookies(self) -> bool:
        return str(self.config.settings.web.base_url).startswith("https://")


@dataclass
class Req:
    """One authenticated request, with its form already read and CSRF-checked."""

    request: Request
    principal: Principal
    console: Console
    lang: str
    form: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def q(self) -> Any:
        return self.request.query_params

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def int_param(self, name: str) -> int:
        value = int(self.request.path_params[name])
        if value > MAX_ID:
            raise NotFound(f"{name} {value}")
        return value

    def render(self, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("csp_nonce", nonce_of(self.request))  # <script nonce="{{ csp_nonce }}">
        return render(self.console, template, self.lang, status, principal=self.principal, **ctx)


def render(console: Console, template: str, lang: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    tz = console.config.settings.tz

    def local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return "" if dt is None else dt.astimezone(tz).strftime(fmt)

    def link_for(item: Any) -> str | None:
        """Page-derived URLs become links only as http(s) to the platform's (or the source's) own hosts,
        written as the browser will read them."""
        src = console.config.sources.get(item.source)
        own = [
            urlsplit(str(getattr(src, k))).hostname or ""
            for k in ("url", "instance")
            if getattr(src, k, None)
        ]
        return safe_url(item.url) if link_allowed(item.url, item.platform, own) else None

    ctx.setdefault("principal", None)
    ctx.setdefault("csp_nonce", "")
    html = console.env.get_template(template).render(
        _=translator(lang),
        lang=lang,
        local=local,
        now=console.now(),
        link_for=link_for,
        zh=zh,
        platform=platform,
        split_long=split_long,
        unbidi=unbidi,
        config_error=lambda e: error_text(console.config, e, lang),
        tz_name=getattr(tz, "key", str(tz)),
        **ctx,
    )
    return HTMLResponse(html, status_code=status)
