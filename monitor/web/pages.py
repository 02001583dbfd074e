"""Console pages: reviews board, alerts, incidents, sources, reports, settings, SOPs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from starlette.responses import RedirectResponse, Response

from monitor import oncall
from monitor.admin import rules as rules_admin
from monitor.alerting import lifecycle
from monitor.alerting.new_problems import with_suggested_rule
from monitor.analyze.hits import DECISIONS
from monitor.config.rules import DIMENSIONS
from monitor.config.settings import mask_secrets
from monitor.redaction import redact
from monitor.runtime import Runtime
from monitor.sop.timeline import export_markdown
from monitor.store import models as m
from monitor.web import display
from monitor.web import incidents as inc_mod
from monitor.web import readmodel as rm
from monitor.web.context import Req
from monitor.web.guard import page
from monitor.web.more_pages import (
    SILENCE_CHOICES,
    SILENCE_LABELS,
    silence_matchers,
    silenced_map,
    silences_of,
)


def _not_found(req: Req, what: str) -> Response:
    return req.render("error.html", 404, title="未找到", message=what)


@page("read")
def home(req: Req) -> Response:
    return RedirectResponse("/items", status_code=303)


@page("read")
def items(req: Req) -> Response:
    tz = req.console.config.settings.tz
    f = rm.ItemFilter.from_query(req.q, tz)
    rows = rm.items(req.console.store, f)
    platforms, skus = rm.facets(req.console.store)
    more = len(rows) > rm.PAGE_SIZE
    rules = [(r.id, r.title) for r in req.console.config.rules]
    titles = dict(rules)
    args = {k: v for k, v in req.q.items() if k not in ("page", "lang")}
    return req.render(
        "items.html",
        rows=rows[: rm.PAGE_SIZE],
        f=f,
        more=more,
        platforms=platforms,
        skus=skus,
        rules=rules,
        titles=titles,
        decisions=DECISIONS,
        dimensions=DIMENSIONS,
        args=args,
    )


@page("read")
def alerts(req: Req) -> Response:
    state = str(req.q.get("state", "open"))
    rows = rm.alerts(req.console.store, state)
    elevated = rm.elevated(req.console.store, req.console.config)
    return req.render(
        "alerts.html",
        alerts=rows,
        state=state,
        silences=SILENCE_CHOICES,
        silence_labels=SILENCE_LABELS,
        silenced=silenced_map(req, rows),
        elevated=elevated,
    )


@page("read")
def alert_detail(req: Req) -> Response:
    alert_id = req.int_param("alert_id")
    store = req.console.store
    alert = rm.alert(store, alert_id)
    if alert is None:
        return _not_found(req, f"alert #{alert_id}")
    rows = rm.alert_items(store, alert_id)
    incidents = rm.incidents_of_alert(store, alert_id)
    suggested = str((alert.labels or {}).get("suggested_rule") or "")
    previews: list[tuple[str, str]] = []  # 新问题: (rules file, its text with the rule) for the editor
    if suggested and req.principal.can("rules"):
        for name, path in sorted(rules_admin.files(req.console.config).items()):
            text = with_suggested_rule(path.read_text(encoding="utf-8"), suggested)
            if text is not None:
                previews.append((name, text))
    return req.render(
        "alert.html",
        alert=alert,
        rows=rows,
        incidents=incidents,
        silences=SILENCE_CHOICES,
        silence_labels=SILENCE_LABELS,
        alert_silences=silences_of(req, alert),
        titles={r.id: r.title for r in req.console.config.rules},
        suggested=suggested,
        previews=previews,
    )


def _back(req: Req, default: str) -> Response:
    target = req.form.get("back", "")
    ok = target.startswith("/") and not target.startswith("//")
    return RedirectResponse(target if ok else default, status_code=303)


@page("alerts")
def alert_ack(req: Req) -> Response:
    alert_id = req.int_param("alert_id")
    try:
        lifecycle.acknowledge(req.console.store, alert_id, req.principal.name, req.console.now())
    except lifecycle.AlertNotFound:
        return _not_found(req, f"alert #{alert_id}")
    return _back(req, f"/alerts/{alert_id}")


@page("alerts")
def alert_resolve(req: Req) -> Response:
    alert_id = req.int_param("alert_id")
    c = req.console
    try:
        lifecycle.resolve_by_hand(c.store, c.config, alert_id, req.principal.name, c.now())
    except lifecycle.AlertNotFound:
        return _not_found(req, f"alert #{alert_id}")
    return _back(req, f"/alerts/{alert_id}")


@page("alerts")
def alert_silence(req: Req) -> Response:
    alert_id = req.int_param("alert_id")
    c = req.console
    duration = SILENCE_CHOICES.get(req.form.get("duration", ""), SILENCE_CHOICES["1h"])
    alert = rm.alert(c.store, alert_id)
    if alert is None:
        return _not_found(req, f"alert #{alert_id}")
    matchers = silence_matchers(alert)
    comment = req.form.get("comment", "")[:500] or f"alert #{alert_id}"
    lifecycle.silence(c.store, matchers, duration, req.principal.name, comment, c.now())
    return _back(req, f"/alerts/{alert_id}")


@page("read")
def incidents(req: Req) -> Response:
    rows = [inc for inc, _ in rm.incidents(req.console.store)]
    sop_titles = {x.id: x.title for x in req.console.config.sops}
    return req.render("incidents.html", incidents=rows, sop_titles=sop_titles)


@page("read")
def incident_detail(req: Req) -> Response:
    c = req.console
    view = rm.incident_view(c.store, c.config, req.int_param("incident_id"))
    if view is None:
        return _not_found(req, f"incident #{req.param('incident_id')}")
    now = c.now()

    def on_duty(role: str) -> oncall.Owner | None:
        """The person on duty for a step's role (the rota in monitor.yaml), if the role has a rota."""
        return oncall.owner_for(c.config, role, now)

    return req.render(
        "incident.html", v=view, clock=rm.step_clock, timeline_labels=rm.TIMELINE_LABELS, on_duty=on_duty
    )


@page("incidents")
def incident_close(req: Req) -> Response:
    incident_id = req.int_param("incident_id")
    try:
        found = inc_mod.close(req.console, incident_id, req.principal.name)
    except inc_mod.StepRefused as exc:
        return req.render("error.html", 400, title="无法关闭", message=str(exc))
    if not found:
        return _not_found(req, f"事件 #{incident_id} 不存在")
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


@page("read")
def incident_export(req: Req) -> Response:
    c = req.console
    incident_id = req.int_param("incident_id")
    try:
        text = export_markdown(c.store, c.config, incident_id, c.now())
    except LookupError:
        return _not_found(req, f"事件 #{incident_id} 不存在")
    name = f"incident-{incident_id}.md"
    # shown in the browser (a phone can share or save it from there), named for saving
    return Response(
        text,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@page("incidents")
def incident_step(req: Req) -> Response:
    incident_id, step_id = req.int_param("incident_id"), req.int_param("step_id")
    action = req.form.get("action", "done")
    try:
        ok = inc_mod.set_step(
            req.console, incident_id, step_id, action, req.principal.name, req.form.get("reason", "")
        )
    except inc_mod.StepRefused as exc:
        return req.render("error.html", 400, title="无法更新", message=str(exc))
    if not ok:
        return _not_found(req, f"step #{step_id}")
    return RedirectResponse(f"/incidents/{incident_id}#step-{step_id}", status_code=303)


@page("incidents")
def incident_note(req: Req) -> Response:
    incident_id = req.int_param("incident_id")
    text = req.form.get("text", "").strip()
    try:
        found = not text or inc_mod.add_note(req.console, incident_id, req.principal.name, text[:5000])
    except inc_mod.StepRefused as exc:
        return req.render("error.html", 400, title="无法记录", message=str(exc))
    if not found:
        return _not_found(req, f"incident #{incident_id}")
    return RedirectResponse(f"/incidents/{incident_id}#notes", status_code=303)


@page("read")
def sources(req: Req) -> Response:
    c = req.console
    states, polls = rm.sources(c.store)
    gaps = rm.gaps(c.store)
    recent: dict[str, list[m.Poll]] = {}
    for p in polls:
        recent.setdefault(p.source, []).append(p)
    names = list(dict.fromkeys([*c.config.sources, *states]))
    rows = [(n, c.config.sources.get(n), states.get(n), recent.get(n, [])[:10]) for n in names]
    return req.render("sources.html", rows=rows, gaps=gaps)


@page("read")
def reports(req: Req) -> Response:
    return req.render("reports.html", reports=rm.reports(req.console.store))


@page("read")
def report_detail(req: Req) -> Response:
    report = rm.report(req.console.store, req.int_param("report_id"))
    if report is None:
        return _not_found(req, f"report #{req.param('report_id')}")
    return req.render("report.html", report=report, report_html=display.archived_report(report.html))


def duration_zh(d: timedelta) -> str:
    """``timedelta(minutes=90)`` → ``1 小时 30 分钟``."""
    total = int(d.total_seconds())
    parts = []
    for size, unit in ((86400, "天"), (3600, "小时"), (60, "分钟"), (1, "秒")):
        if total >= size:
            parts.append(f"{total // size} {unit}")
            total %= size
    return " ".join(parts) or "0 秒"


def flat_settings(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, value in words) for every leaf: durations in Chinese, lists joined, secrets masked."""
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out += flat_settings(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, timedelta):
        return [(prefix, duration_zh(value))]
    if isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list) for v in value):
            return [(prefix, "、".join(str(v) for v in value) or "（空）")]
        out = []
        for i, v in enumerate(value, 1):
            out += flat_settings(v, f"{prefix}[{i}]")
        return out
    if isinstance(value, bool):
        return [(prefix, "是" if value else "否")]
    return [(prefix, "（未设置）" if value is None else str(value))]


@page("admin")
def settings(req: Req) -> Response:
    c = req.console
    st = c.config.settings
    channels = {name: [mask_secrets(u) for u in ch.urls] for name, ch in st.channels.items()}
    data: dict[str, Any] = st.model_dump(mode="python", exclude={"channels"}, by_alias=True)
    if data.get("database"):
        data["database"] = mask_secrets(str(data["database"]))
    status = _status(c.runtime)
    failed = rm.failed_deliveries(c.store, c.now() - timedelta(hours=24))
    return req.render(
        "settings.html",
        failed_deliveries=[(f, redact(f.error)[:300]) for f in failed],
        channels=channels,
        settings_rows=flat_settings(data),
        reload_errors=list(c.runtime.reload_errors),
        status_rows=flat_settings(json.loads(json.dumps(status, default=str))),
    )


def _status(runtime: Runtime) -> dict[str, Any]:
    try:
        return dict(runtime.status())
    except Exception as exc:  # the page still shows the settings
        return {"error": str(exc)}


@page("read")
def sop(req: Req) -> Response:
    sop_id = req.param("sop_id")
    found = next((x for x in req.console.config.sops if x.id == sop_id), None)
    if found is None:
        return _not_found(req, f"SOP {sop_id}")
    return req.render("sop.html", sop=found)
