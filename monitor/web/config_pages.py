"""Config editor pages (admin): SOPs, sources and monitor.yaml (routing, channels) edited like rules
files: validated against the whole config tree at the line, diff before save, atomic save and
reload, versions with author, rollback. The text is shown as written: channel URLs keep their
``${VAR}`` references, expanded secrets are never rendered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from monitor.admin import configfiles as cf
from monitor.admin import rules as re_
from monitor.web.context import Req
from monitor.web.guard import page
from monitor.web.rules_pages import editor_context

__all__ = ["routes"]


def _url(kind: str, name: str) -> str:
    return "/config/monitor.yaml" if kind == "main" else f"/config/{kind}/{name}"


def _editor(req: Req, kind: str, path: Path, text: str, status: int = 200, **extra: Any) -> Response:
    return req.render(
        "config_edit.html",
        status,
        **editor_context(req, path, text, extra.pop("errors", [])),
        kind=kind,
        kind_label=cf.KINDS[kind],
        url=_url(kind, path.name),
        **{"saved": None, "refused": None, "valid": None, "new": None, "reload_refused": [], **extra},
    )


@page("admin")
def config_index(req: Req) -> Response:
    c = req.console
    groups = [(kind, label, sorted(cf.files(c.config, kind))) for kind, label in cf.KINDS.items()]
    return req.render("config.html", groups=groups, url=_url)


def _handlers(kind: str) -> dict[str, Callable[..., Any]]:
    def _file(req: Req) -> Path | None:
        name = cf.MAIN if kind == "main" else req.param("name")
        c = req.console.config
        return cf.files(c, kind).get(name) or cf.new_file(c, kind, name)

    def _missing(req: Req) -> Response:
        return req.render(
            "error.html", 404, title="未找到", message=str(req.request.path_params.get("name", cf.MAIN))
        )

    def _posted(req: Req) -> str:
        return req.form.get("text", "").replace("\r\n", "\n")

    def show(req: Req) -> Response:
        path = _file(req)
        if path is None:
            return _missing(req)
        if not path.exists():  # a new file: saved (and loaded) once it checks
            return _editor(req, kind, path, cf.STARTER[kind], new=True)
        return _editor(req, kind, path, path.read_text(encoding="utf-8"))

    def check(req: Req) -> Response:
        path = _file(req)
        if path is None:
            return _missing(req)
        text = _posted(req)
        errors = cf.check(req.console.config, path, text)
        return _editor(req, kind, path, text, 422 if errors else 200, errors=errors, valid=not errors)

    def save(req: Req) -> Response:
        path = _file(req)
        if path is None:
            return _missing(req)
        text = _posted(req)
        result = re_.save(req.console.runtime, path, text, cf.check, "配置")
        if result.ok:
            re_.mark_author(req.console.store, req.console.config, path, req.principal.name)
            return _editor(req, kind, path, path.read_text(encoding="utf-8"), saved=True)
        return _editor(
            req,
            kind,
            path,
            text,
            422,
            errors=result.errors,
            refused=True,
            reload_refused=result.reload_errors,
        )

    def rollback(req: Req) -> Response:
        path = _file(req)
        if path is None:
            return _missing(req)
        c = req.console
        v = re_.version(c.store, req.int_param("version_id"))
        if v is None or v.path != re_.display_path(c.config, path):
            return req.render(
                "error.html", 404, title="未找到", message=f"version #{req.param('version_id')}"
            )
        result = re_.save(c.runtime, path, v.content, cf.check, "配置")
        if result.ok:
            re_.mark_author(c.store, c.config, path, f"{req.principal.name}（回滚到 #{v.id}）")
            return _editor(req, kind, path, path.read_text(encoding="utf-8"), saved=True)
        return _editor(
            req,
            kind,
            path,
            v.content,
            422,
            errors=result.errors,
            refused=True,
            reload_refused=result.reload_errors,
        )

    return {"show": show, "check": check, "save": save, "rollback": rollback}


def routes() -> list[Route]:
    """``/config``, ``/config/monitor.yaml``, ``/config/sops/{name}``, ``/config/sources/{name}``,
    each file with ``/check``, ``/save`` and ``/rollback/{version_id}`` (POST, CSRF)."""
    out = [Route("/config", config_index, methods=["GET"])]
    for kind in cf.KINDS:
        h = {k: page("admin")(f) for k, f in _handlers(kind).items()}
        base = _url(kind, "{name}")
        out += [
            Route(base, h["show"], methods=["GET"]),
            Route(f"{base}/check", h["check"], methods=["POST"]),
            Route(f"{base}/save", h["save"], methods=["POST"]),
            Route(base + "/rollback/{version_id:int}", h["rollback"], methods=["POST"]),
        ]
    return out
