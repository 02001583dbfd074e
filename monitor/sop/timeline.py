"""An incident's timeline as Markdown: items, alert, acknowledgement, steps, notes, notices."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting.compose import mask_name
from monitor.config import Config
from monitor.notify.render import escape_md
from monitor.reports.labels import INCIDENT_STATES, STEP_STATES, platform, zh
from monitor.sop.incidents import checklist_text, get, steps_of
from monitor.store import Store
from monitor.store import models as m

__all__ = ["Entry", "entries", "export_markdown"]

KIND_LABELS = {
    "item": "评价",
    "alert": "告警",
    "ack": "确认",
    "resolved": "告警恢复",
    "notice": "通知",
    "opened": "开启",
    "step": "步骤",
    "note": "备注",
    "overdue": "超时通知",
    "reminder": "进度提醒",
    "closed": "关闭",
    "follow_up": "回访提醒",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    by: str
    text: str


_STEP_CODE = re.compile(r"\b(" + "|".join(STEP_STATES) + r")\b")


def _in_words(text: str) -> str:
    """An event's text as stored (``todo → done: reason``, ``notified webhook``) in words."""
    text = _STEP_CODE.sub(lambda mt: STEP_STATES[mt.group(1)], text)
    text = re.sub(r"(→ [^:：\s]+): ", r"\1：", text, count=1)  # 待办 → 已跳过：并入周复盘会
    return re.sub(r"^notified ", "已通知 ", text)


def entries(s: Session, incident: m.Incident, limit_items: int = 200) -> list[Entry]:
    out: list[Entry] = []
    alert = s.get(m.Alert, incident.alert_id) if incident.alert_id else None
    if alert is not None:
        items = s.scalars(
            select(m.Item)
            .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
            .where(m.AlertItem.alert_id == alert.id)
            .order_by(m.Item.id)
            .limit(limit_items)
        )
        for it in items:
            stars = f"{it.rating}★ " if it.rating else ""
            sku = f" · SKU {escape_md(it.sku)}" if it.sku else ""
            text = f"{stars}{escape_md(it.text, 120)}（{platform(it.platform)}{sku}）"
            out.append(Entry(it.published_at or it.fetched_at, "item", mask_name(it.author), text))
        out.append(
            Entry(
                alert.created_at,
                "alert",
                "",
                f"#{alert.id} {escape_md(alert.title)}【{zh('severity', alert.severity)}】",
            )
        )
        if alert.acked_at is not None:
            out.append(Entry(alert.acked_at, "ack", alert.acked_by or "", f"告警 #{alert.id}"))
        if alert.resolved_at is not None:
            out.append(Entry(alert.resolved_at, "resolved", "", f"告警 #{alert.id}"))
        sent = s.scalars(
            select(m.Outbox)
            .where(m.Outbox.alert_id == alert.id, m.Outbox.status == "sent")
            .order_by(m.Outbox.id)
        )
        for row in sent:
            out.append(
                Entry(
                    row.sent_at or row.created_at,
                    "notice",
                    row.channel,
                    f"已送达（投递编号 {row.idempotency_key}）",
                )
            )
    events = s.scalars(select(m.IncidentEvent).where(m.IncidentEvent.incident_id == incident.id))
    titles = {st.step_key: st.title for st in steps_of(s, incident.id)}
    for e in events:
        what = _in_words(e.text)
        if e.step_key:
            what = f"{titles.get(e.step_key, e.step_key)}：{what}"
        out.append(Entry(e.at, e.kind, e.by or "", what))
    notes = s.scalars(select(m.IncidentNote).where(m.IncidentNote.incident_id == incident.id))
    out += [Entry(n.at, "note", n.by, escape_md(n.text, 2000)) for n in notes]
    order = {k: i for i, k in enumerate(KIND_LABELS)}
    return sorted(out, key=lambda e: (e.at, order.get(e.kind, 99)))


def export_markdown(store: Store, config: Config, incident_id: int, now: datetime) -> str:
    tz = config.settings.tz
    with store.session() as s:
        inc = get(s, incident_id)
        steps = steps_of(s, incident_id)
        timeline = entries(s, inc)
    sop = config.sop(inc.sop)
    state = INCIDENT_STATES.get(inc.state, inc.state)
    if inc.closed_at is not None:
        state += f" {inc.closed_at.astimezone(tz):%Y-%m-%d %H:%M}"
    lines = [
        f"# 事件 #{inc.id}：{escape_md(inc.title)}",
        "",
        f"- SOP：{inc.sop}{' · ' + sop.title if sop else ''}",
        f"- 状态：{state}",
        f"- 开启时间：{inc.opened_at.astimezone(tz):%Y-%m-%d %H:%M}（时区 {config.settings.timezone}）",
    ]
    if inc.alert_id:
        lines.append(f"- 告警：#{inc.alert_id}")
    if sop is not None:
        lines += ["", "## 对外口径", "", sop.statement]
    lines += [
        "",
        "## 处置清单",
        "",
        checklist_text(config, steps, now),
        "",
        "## 时间线",
        "",
    ]
    for e in timeline:
        who = f" · {e.by}" if e.by else ""
        said = f"：{e.text}" if e.text else ""  # closed without a note: no dangling colon
        lines.append(f"- {e.at.astimezone(tz):%m-%d %H:%M} · {KIND_LABELS.get(e.kind, e.kind)}{who}{said}")
    return "\n".join(lines) + "\n"
