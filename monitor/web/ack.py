"""Signed chat links: 认领/确认 (claim) and 静默 1 小时 (silence), without a login.

A link works only for its alert, its purpose and (when the chat @mentioned someone) its person, for
``chat.ack_link_ttl`` (``monitor.signing``). A GET never changes anything (chat apps preview links):
it shows the alert — title, severity, items, the incident's checklist — with links onward to the
incident, its reply drafts and the console, and a button that POSTs. A claim is single-purpose: the
second person is told who took it and when; a link used after the alert resolved says so.
"""

from __future__ import annotations

import html
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from monitor.alerting import lifecycle
from monitor.notify.message import Message
from monitor.notify.render import platform_name, severity_name
from monitor.runtime import Runtime
from monitor.signing import secret_of, verify_action

__all__ = ["PUBLIC", "routes"]

PUBLIC = ("/ack/{alert_id:int}", "/ack/{alert_id:int}/silence")
STYLE = "font-family:sans-serif;max-width:40em;margin:1em auto;padding:0 .8em;line-height:1.5"
REASONS = {
    "malformed link": "链接不完整",
    "invalid signature": "链接无效（签名不符）",
    "link expired": "链接已过期",
}
SILENCE = timedelta(hours=1)
esc = html.escape


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)}</title></head><body style="{STYLE}">'
        f"<h1>{esc(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _refused(problem: str) -> HTMLResponse:
    zh = REASONS.get(problem, problem)
    return _page("链接无效", f"<p>{esc(zh)}（{esc(problem)}）。请在控制台登录后处理。</p>", 403)


def _alert_html(msg: Message) -> str:
    """The alert as the chat showed it, every field escaped (review text is never markup here)."""
    out = [f"<p><b>{esc(severity_name(msg.severity))}</b> · {esc(msg.title)}</p>"]
    if msg.summary:
        out.append(f"<p>{esc(msg.summary)}</p>")
    if msg.items:
        rows = "".join(
            f"<li>{esc(str(it.rating) + '★ ' if it.rating else '')}{esc(it.text[:300])} — {esc(it.author)}，"
            f"{esc(platform_name(it.platform))}{esc(' · ' + it.when if it.when else '')}</li>"
            for it in msg.items
        )
        out.append(f"<p>共 {max(msg.item_total, len(msg.items))} 条：</p><ul>{rows}</ul>")
    if msg.checklist:
        steps = "".join(f"<li>{esc(st)}</li>" for st in msg.checklist.steps)
        more = f"<li>…另有 {msg.checklist.more} 步</li>" if msg.checklist.more else ""
        out.append(f"<p><b>处置清单</b>（{esc(msg.checklist.title)}）：</p><ol>{steps}{more}</ol>")
    onward = []
    if msg.detail_url:
        onward.append(f'<a href="{esc(msg.detail_url)}">查看事件</a>')
        if "/incidents/" in msg.detail_url:
            onward.append(f'<a href="{esc(msg.detail_url)}#drafts">回复草稿</a>')
    if msg.alert_id is not None:
        onward.append(f'<a href="/alerts/{msg.alert_id}">控制台</a>')
    out.append(f"<p>{' · '.join(onward)}</p>")
    return "".join(out)


def _status_html(c: lifecycle.Claim) -> str:
    if c.outcome == "resolved":
        return f"<p><b>此告警已于 {esc(c.at)} 恢复（{esc(c.by or '自动')}），链接已失效，无需再处理。</b></p>"
    if c.outcome in ("taken",):
        return f"<p><b>已由 {esc(c.by or '?')} 于 {esc(c.at)} 认领。</b></p>"
    if c.outcome == "claimed":
        return f"<p><b>已认领：{esc(c.by or '')}，{esc(c.at)}。群里已通知，提醒与升级停止。</b></p>"
    return ""


def routes(runtime: Runtime) -> list[Route]:
    def secret() -> bytes:
        return secret_of(runtime.config.path(runtime.config.settings.data_dir))

    def check(alert_id: int, token: str, action: str) -> tuple[str | None, str]:
        return verify_action(secret(), alert_id, token, runtime.now(), action)

    async def ack_form(request: Request) -> Response:
        alert_id = int(request.path_params["alert_id"])
        token = request.query_params.get("t", "")
        problem, person = check(alert_id, token, "ack")
        if problem:
            return _refused(problem)
        try:
            c = await run_in_threadpool(
                lifecycle.view, runtime.store, runtime.config, alert_id, runtime.now()
            )
        except lifecycle.AlertNotFound:
            return _page("告警不存在", f"<p>告警 #{alert_id}</p>", 404)
        form = ""
        if c.outcome == "open":  # a GET changes nothing: the button POSTs
            who = (
                f'<input type="hidden" name="by" value="{esc(person)}">'
                f"<p>以 <b>{esc(person)}</b> 的身份认领。</p>"
                if person
                else '<label>姓名 <input name="by" required maxlength="60"></label> '
            )
            form = (
                f'<form method="post"><input type="hidden" name="t" value="{esc(token)}">{who}'
                '<button type="submit">认领/确认</button></form>'
            )
        return _page(f"告警 #{alert_id}：{c.state}", _status_html(c) + form + _alert_html(c.message))

    async def ack_post(request: Request) -> Response:
        alert_id = int(request.path_params["alert_id"])
        form = await request.form()
        token = str(form.get("t", ""))
        problem, person = check(alert_id, token, "ack")
        if problem:
            return _refused(problem)
        by = person or str(form.get("by", "")).strip()[:60]
        if not by:
            return _page("请填写姓名", "<p>认领需要姓名。</p>", 400)
        try:
            c = await run_in_threadpool(
                lifecycle.claim, runtime.store, runtime.config, alert_id, f"{by}（链接）", runtime.now()
            )
        except lifecycle.AlertNotFound:
            return _page("告警不存在", f"<p>告警 #{alert_id}</p>", 404)
        title = {"claimed": "已认领（已确认）", "taken": "已被他人认领", "resolved": "告警已恢复"}[c.outcome]
        return _page(f"{title} · 告警 #{alert_id}", _status_html(c) + _alert_html(c.message))

    async def silence_form(request: Request) -> Response:
        alert_id = int(request.path_params["alert_id"])
        token = request.query_params.get("t", "")
        problem, _ = check(alert_id, token, "silence")
        if problem:
            return _refused(problem)
        return _page(
            f"静默 1 小时 · 告警 #{alert_id}",
            "<p>同类告警在 1 小时内不再发到群里（控制台仍可见）。</p>"
            f'<form method="post"><input type="hidden" name="t" value="{esc(token)}">'
            '<button type="submit">静默 1 小时</button></form>',
        )

    async def silence_post(request: Request) -> Response:
        alert_id = int(request.path_params["alert_id"])
        form = await request.form()
        token = str(form.get("t", ""))
        problem, person = check(alert_id, token, "silence")
        if problem:
            return _refused(problem)
        try:
            sil = await run_in_threadpool(
                lifecycle.silence_alert,
                runtime.store,
                runtime.config,
                alert_id,
                f"{person or '链接'}（链接）",
                SILENCE,
                runtime.now(),
            )
        except lifecycle.AlertNotFound:
            return _page("告警不存在", f"<p>告警 #{alert_id}</p>", 404)
        return _page("已静默 1 小时", f"<p>静默 #{sil.id} 已生效。</p>")

    return [
        Route("/ack/{alert_id:int}", ack_form, methods=["GET"]),
        Route("/ack/{alert_id:int}", ack_post, methods=["POST"]),
        Route("/ack/{alert_id:int}/silence", silence_form, methods=["GET"]),
        Route("/ack/{alert_id:int}/silence", silence_post, methods=["POST"]),
    ]
