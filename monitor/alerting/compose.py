"""What an alert notification says: the message for one event of one alert.

Composition decides the content — the latest items (nicknames masked), the SOP checklist with a
link to all of it and the checklist file attached, the signed acknowledge link, the facts — as a
``monitor.notify.message.Message``. How it is written for a channel (escaping, trimming the
checklist to a size limit, splitting) is the renderer's business, at send time.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import oncall
from monitor.config import Config
from monitor.config.sops import Sop
from monitor.config.types import as_severity
from monitor.notify.message import (
    Attachment,
    Checklist,
    Event,
    Fact,
    Link,
    Mention,
    Message,
    MessageItem,
)
from monitor.signing import action_token, secret_of
from monitor.store import models as m

__all__ = [
    "KIND_NAMES",
    "STATE_NAMES",
    "ack_url",
    "alert_message",
    "checklist_of",
    "detail_url",
    "local_time",
    "mask_name",
    "mentions_for",
    "silence_url",
]
KIND_NAMES = {
    "keyword": "关键词",
    "burst": "差评突增",
    "new_problem": "新问题",
    "source_health": "数据源",
    "system": "系统",
}
STATE_NAMES = {"firing": "告警中", "acknowledged": "已认领", "resolved": "已恢复"}
EVENT_NAMES = {
    "firing": "告警",
    "update": "更新",
    "reminder": "提醒",
    "escalation": "升级",
    "resolved": "恢复",
    "claimed": "认领",
}
SILENCE_FOR = "1h"

LATEST_ITEMS = 5
CHECKLIST_STEPS = 8  # shown inline; the link and the attached file carry the rest
WITH_CHECKLIST: tuple[Event, ...] = ("firing", "escalation")


def mask_name(name: str | None) -> str:
    """Personal data masked by default: 张三丰 -> 张*丰, ab -> a*."""
    if not name:
        return "匿名"
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * min(len(name) - 2, 4) + name[-1]


def local_time(t: datetime, tz: tzinfo, fmt: str = "%m-%d %H:%M") -> str:
    """``t`` in the configured time zone, labelled with its offset: ``11-23 12:00 UTC+8``."""
    local = t.astimezone(tz)
    offset = local.utcoffset()
    hours = offset.total_seconds() / 3600 if offset is not None else 0.0
    label = f"UTC{hours:+g}" if hours else "UTC"
    return f"{local.strftime(fmt)} {label}"


def _base(config: Config) -> str:
    return config.settings.web.base_url.rstrip("/")


def ack_url(config: Config, alert_id: int, now: datetime, person: str = "") -> str:
    """A signed link that claims/acknowledges ``alert_id`` without a login (``monitor.signing``), for
    ``person`` when given (the page then does not ask a name); it lives ``chat.ack_link_ttl``."""
    secret = secret_of(config.path(config.settings.data_dir))
    token = action_token(secret, alert_id, now, config.settings.chat.ack_link_ttl, "ack", person)
    return f"{_base(config)}/ack/{alert_id}?t={token}"


def silence_url(config: Config, alert_id: int, now: datetime, person: str = "") -> str:
    """A signed link to silence ``alert_id``'s kind of alert for an hour (confirmed by a POST)."""
    secret = secret_of(config.path(config.settings.data_dir))
    token = action_token(secret, alert_id, now, config.settings.chat.ack_link_ttl, "silence", person)
    return f"{_base(config)}/ack/{alert_id}/silence?t={token}"


def incident_of(s: Session, alert_id: int) -> int | None:
    return s.scalar(select(m.Incident.id).where(m.Incident.alert_id == alert_id).order_by(m.Incident.id))


def detail_url(s: Session, config: Config, alert_id: int) -> str:
    """The console page of the alert's incident (its checklist, drafts, timeline), else the alert's."""
    inc = incident_of(s, alert_id)
    return f"{_base(config)}/incidents/{inc}" if inc else f"{_base(config)}/alerts/{alert_id}"


def mentions_for(config: Config, alert: m.Alert, now: datetime) -> tuple[Mention, ...]:
    """Who to @mention: the on-duty person of the alert's rota, or further along the chain as it
    escalates unclaimed (``monitor.oncall``); nobody once claimed."""
    if alert.state != "firing":
        return ()
    role = oncall.role_for(config, {**(alert.labels or {}), "kind": alert.kind, "grade": alert.grade})
    if role is None:
        return ()
    people = oncall.chain(config, role, alert.created_at)
    if not people:
        return ()
    name, p = people[min(alert.escalation_level, len(people) - 1)]
    return (Mention(name=name, dingtalk=p.dingtalk, wecom=p.wecom, feishu=p.feishu),)


def sop_url(config: Config, sop: Sop) -> str:
    return f"{config.settings.web.base_url.rstrip('/')}/sops/{sop.id}"


def checklist_of(config: Config, sop: Sop, url: str | None = None) -> Checklist:
    """The SOP's steps; ``url`` (this incident's page) instead of the generic SOP page when known."""
    steps = [st.line() for st in sop.steps]
    shown = steps[:CHECKLIST_STEPS]
    return Checklist(
        title=sop.title, steps=tuple(shown), more=len(steps) - len(shown), url=url or sop_url(config, sop)
    )


def _items(s: Session, config: Config, alert: m.Alert) -> tuple[MessageItem, ...]:
    rows = s.scalars(
        select(m.Item)
        .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
        .where(m.AlertItem.alert_id == alert.id)
        .order_by(m.Item.id.desc())
        .limit(LATEST_ITEMS)
    )
    tz = config.settings.tz
    return tuple(
        MessageItem(
            text=it.text,
            author=mask_name(it.author),
            platform=it.platform,
            sku=it.sku,
            rating=it.rating if it.rating and 1 <= it.rating <= 5 else None,
            when=local_time(it.published_at, tz) if it.published_at else "",
            url=it.url,
        )
        for it in rows
    )


def _facts(alert: m.Alert) -> tuple[Fact, ...]:
    facts = []
    if alert.grade:
        facts.append(Fact(label="等级", value=f"{alert.grade} 级"))
    if alert.sku:
        facts.append(Fact(label="SKU", value=alert.sku, untrusted=True))
    if alert.source:
        facts.append(Fact(label="来源", value=alert.source, untrusted=True))
    return tuple(facts)


def alert_message(s: Session, config: Config, alert: m.Alert, event: Event, now: datetime) -> Message:
    """The notification of ``event`` for ``alert``: items, checklist of this incident, buttons
    (认领/确认, 查看事件, 静默 1 小时), the on-duty person @mentioned, the checklist attached."""
    sop = config.sop_for(alert.category, alert.kind, alert.platform)
    with_sop = sop is not None and event in WITH_CHECKLIST
    detail = detail_url(s, config, alert.id)
    mentions = mentions_for(config, alert, now) if event in ("firing", "reminder", "escalation") else ()
    person = mentions[0].name if mentions else ""
    links: tuple[Link, ...] = ()
    if event not in ("resolved", "claimed"):
        links = (
            Link(label="🙋 认领/确认", url=ack_url(config, alert.id, now, person)),
            Link(label="查看事件", url=detail),
            Link(label="静默 1 小时", url=silence_url(config, alert.id, now, person)),
        )
    else:
        links = (Link(label="查看事件", url=detail),)
    inc = incident_of(s, alert.id)
    checklist_url = f"{_base(config)}/incidents/{inc}" if inc else None
    state = STATE_NAMES.get(alert.state, alert.state)
    return Message(
        title=alert.title,
        event=event,
        severity=as_severity(alert.severity),
        summary=alert.summary,
        facts=_facts(alert),
        items=_items(s, config, alert),
        item_total=alert.item_count,
        checklist=checklist_of(config, sop, checklist_url) if with_sop and sop is not None else None,
        links=links,
        attachments=(Attachment(name="checklist.md", content=sop.markdown()),) if with_sop and sop else (),
        footer=" · ".join(
            (
                f"告警 #{alert.id}",
                KIND_NAMES.get(alert.kind, alert.kind),
                EVENT_NAMES.get(event, event),
                state,
                local_time(now, config.settings.tz),
            )
        ),
        alert_id=alert.id,
        detail_url=detail,
        mentions=mentions,
    )
