"""Console pages added for phones and admins (#16): silences (list, expire, matched alerts), bulk
actions on the alert list, an item's full text, the users page, and negative reviews no rule covers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from starlette.responses import RedirectResponse, Response

from monitor.admin import users
from monitor.alerting import lifecycle
from monitor.alerting.routing import matches
from monitor.alerting.suppress import active_silence
from monitor.analyze import Analyzer
from monitor.config.settings import Match
from monitor.reports.labels import platform as platform_name
from monitor.reports.uncovered import uncovered
from monitor.store import models as m
from monitor.web import readmodel as rm
from monitor.web.context import Req
from monitor.web.guard import page

SILENCE_CHOICES = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}
SILENCE_LABELS = {"1h": "1 小时", "4h": "4 小时", "24h": "24 小时"}
BULK_MAX = 500  # ids per bulk action


def silence_matchers(alert: m.Alert) -> dict[str, list[object]]:
    """Silence what makes this alert itself: its kind, rule and SKU (or source)."""
    out: dict[str, list[object]] = {"kind": [alert.kind]}
    for key, value in (("rule", alert.rule_id), ("sku", alert.sku), ("source", alert.source)):
        if value:
            out[key] = [value]
    return out


def silenced_map(req: Req, alerts: list[m.Alert]) -> dict[int, m.Silence]:
    """The active silence muting each alert, by alert id."""
    now = req.console.now()
    out: dict[int, m.Silence] = {}
    with req.console.store.session() as s:
        for a in alerts:
            if a.state == "resolved":
                continue
            sil = active_silence(s, a.labels or {}, now)
            if sil is not None:
                out[a.id] = sil
    return out


def silences_of(req: Req, alert: m.Alert) -> list[m.Silence]:
    with req.console.store.session() as s:
        sil = active_silence(s, alert.labels or {}, req.console.now())
        return [] if sil is None else [sil]


def _matched(sil: m.Silence, alerts: list[m.Alert]) -> list[m.Alert]:
    try:
        match = Match.model_validate(sil.matchers)
    except ValueError:
        return []
    return [a for a in alerts if matches(match, a.labels or {})][:50]


_MATCHER_NAMES = {"kind": "类型", "rule": "规则", "sku": "SKU", "source": "数据源", "platform": "平台"}


@page("read")
def silences(req: Req) -> Response:
    now = req.console.now()
    titles = {r.id: r.title for r in req.console.config.rules}
    rows: list[tuple[m.Silence, bool, list[m.Alert]]] = []
    store = req.console.store
    open_alerts = rm.unresolved_alerts(store)
    for sil in rm.silences_since(store, now - timedelta(days=7)):
        active = sil.starts_at <= now < sil.ends_at
        rows.append((sil, active, _matched(sil, open_alerts) if active else []))
    return req.render(
        "silences.html", rows=rows, names=_MATCHER_NAMES, titles=titles, silence_labels=SILENCE_LABELS
    )


@page("alerts")
def silence_expire(req: Req) -> Response:
    sid = req.int_param("silence_id")
    now = req.console.now()
    with req.console.store.transaction() as s:
        sil = s.get(m.Silence, sid)
        if sil is None:
            return req.render("error.html", 404, title="未找到", message=f"静默 #{sid} 不存在")
        if sil.ends_at > now:
            sil.ends_at = now
            sil.comment = (sil.comment + f"（{req.principal.name} 提前结束）")[:2000]
    return RedirectResponse("/silences", status_code=303)


def _ids(req: Req) -> list[int]:
    """The ticked alerts: one ``pick-<id>`` field per checkbox (the form is read as one value a key)."""
    out = [int(k[5:]) for k in req.form if k.startswith("pick-") and k[5:].isdigit()]
    return sorted(out)[:BULK_MAX]


@page("alerts")
def alerts_bulk(req: Req) -> Response:
    """Acknowledge, resolve or silence the ticked alerts at once."""
    c = req.console
    action = req.form.get("action", "")
    ids = _ids(req)
    if not ids:
        return req.render("error.html", 400, title="无法执行", message="请先勾选告警")
    now, by = c.now(), req.principal.name
    for alert_id in ids:
        try:
            if action == "ack":
                alert = rm_alert(req, alert_id)
                if alert is not None and alert.state == "firing":
                    lifecycle.acknowledge(c.store, alert_id, by, now)
            elif action == "resolve":
                lifecycle.resolve_by_hand(c.store, c.config, alert_id, by, now)
            elif action == "silence":
                alert = rm_alert(req, alert_id)
                if alert is None:
                    continue
                duration = SILENCE_CHOICES.get(req.form.get("duration", ""), SILENCE_CHOICES["1h"])
                comment = f"批量静默（告警 #{alert_id}）"
                lifecycle.silence(c.store, silence_matchers(alert), duration, by, comment, now)
            else:
                return req.render("error.html", 400, title="无法执行", message="未知的批量操作")
        except lifecycle.AlertNotFound:
            continue
    target = req.form.get("back", "")
    ok = target.startswith("/") and not target.startswith("//")
    return RedirectResponse(target if ok else "/alerts", status_code=303)


def rm_alert(req: Req, alert_id: int) -> m.Alert | None:
    with req.console.store.session() as s:
        return s.get(m.Alert, alert_id)


@page("read")
def item_full(req: Req) -> Response:
    item_id = req.int_param("item_id")
    with req.console.store.session() as s:
        item = s.get(m.Item, item_id)
        full = s.get(m.ItemFullText, item_id)
    if item is None:
        return req.render("error.html", 404, title="未找到", message=f"评价 #{item_id} 不存在")
    return req.render("item_full.html", item=item, full=full.text if full else item.text)


# ---- report export (a spreadsheet: Excel opens UTF-8 CSV with a BOM) ------------------------------
def _csv_rows(kind: str, data: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = [["报告", "日报" if kind == "daily" else "周报"]]
    rows.append(["评价量", data.get("volume", 0)])
    for k, label in (("neg", "负向"), ("neu", "中性"), ("pos", "正向")):
        rows.append([label, (data.get("by_sentiment") or {}).get(k, 0)])
    rows += [[], ["平台", "评价"]]
    rows += [[platform_name(p), n] for p, n in (data.get("by_platform") or {}).items()]
    rows += [[], ["维度", "负向", "中性", "正向"]]
    for dim, c in (data.get("dim_sentiment") or {}).items():
        rows.append([dim, c.get("neg", 0), c.get("neu", 0), c.get("pos", 0)])
    rows += [[], ["问题", "条数"]]
    rows += [[r[1], r[2]] for r in data.get("top_rules") or []]
    rows += [[r["title"], r["count"]] for r in data.get("recurring") or []]
    rows += [[], ["SKU", "评价", "负向", "差评率"]]
    rows += [[r["sku"], r["items"], r["negative"], f"{r['rate'] * 100:.1f}%"] for r in data.get("skus") or []]
    rows += [[], ["日期", "负向", "中性", "正向"]]
    rows += [[t["day"], t["neg"], t["neu"], t["pos"]] for t in data.get("trend") or []]
    return rows


def _csv_cell(v: object) -> str:
    """One CSV cell; a page-derived value starting with = + - @ is not a formula in Excel."""
    text = "" if v is None else str(v)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not isinstance(v, int | float):
        text = "'" + text
    return text


@page("read")
def report_export(req: Req) -> Response:
    import csv
    import io

    rid = req.int_param("report_id")
    with req.console.store.session() as s:
        row = s.get(m.Report, rid)
    if row is None:
        return req.render("error.html", 404, title="未找到", message=f"报告 #{rid} 不存在")
    buf = io.StringIO()
    writer = csv.writer(buf)
    for r in _csv_rows(row.kind, dict(row.data or {})):
        writer.writerow([_csv_cell(v) for v in r])
    name = f"report-{row.kind}-{row.period}.csv"
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- users (admin) ---------------------------------------------------------------------------
_USER_ERRORS = [
    (re.compile(r"exists"), "该用户名已存在"),
    (re.compile(r"no user"), "没有这个用户"),
    (re.compile(r"1-80 characters"), "用户名需要 1 到 80 个字符"),
    (re.compile(r"at least|password"), "密码太短或不符合要求（至少 12 个字符）"),
    (re.compile(r"disabled"), "该用户已停用，请先启用"),
    (re.compile(r"already revoked"), "该令牌已经吊销"),
    (re.compile(r"no token"), "没有这个令牌"),
    (re.compile(r"unknown role"), "未知角色"),
    (re.compile(r"unknown scope"), "未知权限范围"),
]


def _zh_error(exc: Exception) -> str:
    text = str(exc)
    for pattern, zh in _USER_ERRORS:
        if pattern.search(text):
            return zh
    return "操作失败，请检查输入"


def _users_page(req: Req, status: int = 200, **extra: Any) -> Response:
    now = req.console.now()
    tokens = users.list_tokens(req.console.store)
    ctx: dict[str, Any] = {"message": "", "error": "", "new_token": ""}
    ctx.update(extra)
    return req.render(
        "users.html",
        status,
        users=users.list_users(req.console.store),
        tokens=tokens,
        roles=users.ROLES,
        scopes=users.SCOPES,
        token_state=lambda t: t.state(now),
        **ctx,
    )


@page("admin")
def users_page(req: Req) -> Response:
    return _users_page(req)


@page("admin")
def users_post(req: Req) -> Response:
    c, f = req.console, req.form
    action, name = f.get("action", ""), f.get("name", "").strip()
    now = c.now()
    try:
        if action == "add":
            users.add_user(c.store, name, f.get("role", "viewer"), f.get("password", ""), now)
            return _users_page(req, message=f"已添加用户 {name}")
        if action == "role":
            if name == req.principal.name:
                return _users_page(req, 400, error="不能修改自己的角色")
            users.set_role(c.store, name, f.get("role", ""))
            return _users_page(req, message=f"{name} 的角色已修改")
        if action in ("disable", "enable"):
            if name == req.principal.name:
                return _users_page(req, 400, error="不能停用自己")
            users.set_disabled(c.store, name, action == "disable", now)
            return _users_page(req, message=f"{name} 已{'停用' if action == 'disable' else '启用'}")
        if action == "token":
            days = f.get("days", "90")
            lifetime = timedelta(days=int(days)) if days.isdigit() and int(days) > 0 else None
            token = users.create_token(
                c.store, name, f.get("label", "")[:100], now, scope=f.get("scope", "read"), lifetime=lifetime
            )
            return _users_page(req, message=f"已为 {name} 创建令牌（只显示这一次）", new_token=token)
        if action == "revoke":
            tid = f.get("token_id", "")
            info = users.revoke_token(c.store, int(tid) if tid.isdigit() else -1, now)
            return _users_page(req, message=f"令牌 #{info.id} 已吊销")
    except (users.UserError, ValueError) as exc:
        return _users_page(req, 400, error=_zh_error(exc))
    return _users_page(req, 400, error="未知操作")


# ---- negative reviews no rule covers (rules) ----------------------------------------------------
_ANALYZERS: dict[str, tuple[Any, Analyzer]] = {}  # the analyzer of the config now loaded


@page("rules")
def rules_uncovered(req: Req) -> Response:
    c = req.console
    days = req.q.get("days", "7")
    window = timedelta(days=int(days) if str(days).isdigit() and 0 < int(days) <= 90 else 7)
    config = c.config
    cached = _ANALYZERS.get("current")
    if cached is None or cached[0] is not config:
        try:
            cached = (config, Analyzer.from_config(config))
        except (OSError, ValueError):
            return req.render("error.html", 503, title="暂不可用", message="情感模型无法读取，请查看日志")
        _ANALYZERS["current"] = cached
    analyzer = cached[1]
    report = uncovered(c.store, analyzer, window, c.now())
    since = datetime.fromisoformat(report.since)
    return req.render("uncovered.html", report=report, since=since, days=window.days)


__all__ = [
    "SILENCE_CHOICES",
    "SILENCE_LABELS",
    "alerts_bulk",
    "item_full",
    "report_export",
    "rules_uncovered",
    "silence_expire",
    "silence_matchers",
    "silences",
    "users_page",
    "users_post",
]
