"""Rule editor pages (admin): edit, validate, test a sentence, replay, save, history, rollback."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.responses import Response

from monitor.admin import rules as re_
from monitor.analyze import Analyzer, MatchContext
from monitor.web.config_errors import readable_key, zh_message
from monitor.web.context import Req
from monitor.web.guard import page


def _file(req: Req) -> Path | None:
    return re_.files(req.console.config).get(req.param("name"))


def _days(req: Req) -> int:
    v = req.form.get("days", "7")
    return max(1, min(int(v), 90)) if v.isdigit() else 7


def editor_context(req: Req, path: Path, text: str, errors: list[Any]) -> dict[str, Any]:
    """What an editor page (rules, SOPs, sources, monitor.yaml) shows around ``text`` as ``path``:
    its lines with the errors of this file under them (1-based, in Chinese), the diff against the
    running file, and the stored versions with each one's diff to the one before."""
    c = req.console
    shown = re_.display_path(c.config, path)
    by_line: dict[int, list[str]] = {}
    for e in errors:
        if e.path != shown:
            continue  # another file's error: listed by the page, not under a line of this one
        key = readable_key(e.key)
        by_line.setdefault(e.line, []).append(
            f"{key}：{zh_message(e.message)}" if key else zh_message(e.message)
        )
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    versions = re_.versions(c.store, c.config, path)
    version_diffs = {
        v.id: re_.diff(older.content, v.content, f"#{older.id}", f"#{v.id}")
        for v, older in itertools.pairwise(versions)
    }
    return {
        "name": path.name,
        "shown": shown,
        "text": text,
        "lines": text.split("\n"),
        "by_line": by_line,
        "errors": errors,
        "versions": versions,
        "version_diffs": version_diffs,
        "pending_diff": re_.diff(current, text) if text != current else [],
    }


def _editor(req: Req, path: Path, text: str, status: int = 200, **extra: Any) -> Response:
    c = req.console
    return req.render(
        "rule_edit.html",
        status,
        **editor_context(req, path, text, extra.pop("errors", [])),
        sentence=req.form.get("sentence", ""),
        rating=req.form.get("rating", ""),
        days=_days(req),
        reload_errors=list(c.runtime.reload_errors),
        **{"tested": None, "replayed": None, "saved": None, "refused": None, "reload_refused": [], **extra},
    )


@page("rules")
def rules_index(req: Req) -> Response:
    c = req.console
    counts: dict[str, int] = {}
    for rule in c.config.rules:
        where = c.config.origins.get(f"rule:{rule.id}")
        if where is not None:
            name = Path(where.path).name
            counts[name] = counts.get(name, 0) + 1
    return req.render("rules.html", files=sorted(re_.files(c.config)), counts=counts)


@page("rules")
def rule_file(req: Req) -> Response:
    path = _file(req)
    if path is None:
        return req.render("error.html", 404, title="未找到", message=req.param("name"))
    return _editor(req, path, path.read_text(encoding="utf-8"))


def _posted(req: Req) -> tuple[Path | None, str]:
    return _file(req), req.form.get("text", "").replace("\r\n", "\n")


@page("rules")
def rule_check(req: Req) -> Response:
    path, text = _posted(req)
    if path is None:
        return req.render("error.html", 404, title="未找到", message=req.param("name"))
    checked = re_.check(req.console.config, path, text)
    return _editor(
        req,
        path,
        text,
        200 if checked.parsed else 422,
        errors=checked.errors,
        valid=checked.parsed is not None,
    )


@page("rules")
def rule_test(req: Req) -> Response:
    path, text = _posted(req)
    if path is None:
        return req.render("error.html", 404, title="未找到", message=req.param("name"))
    checked = re_.check(req.console.config, path, text)
    if checked.parsed is None:
        return _editor(req, path, text, 422, errors=checked.errors)
    rating = req.form.get("rating", "")
    ctx = MatchContext(rating=int(rating) if rating in ("1", "2", "3", "4", "5") else None)
    ruleset = re_.ruleset_with(req.console.config, path, checked.parsed)
    result = re_.try_sentence(req.console.config, ruleset, req.form.get("sentence", ""), ctx)
    return _editor(req, path, text, tested=result)


@page("rules")
def rule_replay(req: Req) -> Response:
    path, text = _posted(req)
    if path is None:
        return req.render("error.html", 404, title="未找到", message=req.param("name"))
    checked = re_.check(req.console.config, path, text)
    if checked.parsed is None:
        return _editor(req, path, text, 422, errors=checked.errors)
    c = req.console
    ruleset = re_.ruleset_with(c.config, path, checked.parsed)
    analyzer = Analyzer.from_config(c.config, ruleset=ruleset)
    replayed = re_.replay(c.store, analyzer, timedelta(days=_days(req)), c.now())
    return _editor(req, path, text, replayed=replayed)


@page("rules")
def rule_save(req: Req) -> Response:
    path, text = _posted(req)
    if path is None:
        return req.render("error.html", 404, title="未找到", message=req.param("name"))
    result = re_.save(req.console.runtime, path, text)
    if result.ok:
        re_.mark_author(req.console.store, req.console.config, path, req.principal.name)
        return _editor(req, path, path.read_text(encoding="utf-8"), saved=True)
    return _editor(
        req, path, text, 422, errors=result.errors, refused=True, reload_refused=result.reload_errors
    )


@page("rules")
def rule_rollback(req: Req) -> Response:
    path = _file(req)
    if path is None:
        return req.render("error.html", 404, title="未找到", message=req.param("name"))
    v = re_.version(req.console.store, req.int_param("version_id"))
    if v is None or v.path != re_.display_path(req.console.config, path):
        return req.render("error.html", 404, title="未找到", message=f"version #{req.param('version_id')}")
    result = re_.save(req.console.runtime, path, v.content)
    if result.ok:
        re_.mark_author(
            req.console.store, req.console.config, path, f"{req.principal.name}（回滚到 #{v.id}）"
        )
        return _editor(req, path, path.read_text(encoding="utf-8"), saved=True)
    return _editor(
        req, path, v.content, 422, errors=result.errors, refused=True, reload_refused=result.reload_errors
    )
