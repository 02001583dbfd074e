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

from monitor.config import Config
from monitor.config.sops import Sop
from monitor.config.types import as_severity
from monitor.notify.message import Attachment, Checklist, Event, Fact, Link, Message, MessageItem
from monitor.signing import ack_token, secret_of
from monitor.store import models as m

__all__ = ["ack_url", "alert_message", "checklist_of", "local_time", "mask_name"]

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


def ack_url(config: Config, alert_id: int, now: datetime) -> str:
    """A signed link that acknowledges ``alert_id`` without a login (``monitor.signing``)."""
    token = ack_token(secret_of(config.path(config.settings.data_dir)), alert_id, now)
    return f"{config.settings.web.base_url.rstrip('/')}/ack/{alert_id}?t={token}"


def sop_url(config: Config, sop: Sop) -> str:
    return f"{config.settings.web.base_url.rstrip('/')}/sops/{sop.id}"


def checklist_of(config: Config, sop: Sop) -> Checklist:
    steps = [st.line() for st in sop.steps]
    shown = steps[:CHECKLIST_STEPS]
    return Checklist(
        title=sop.title, steps=tuple(shown), more=len(steps) - len(shown), url=sop_url(config, sop)
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
        )
        for it in rows
    )


def _facts(alert: m.Alert) -> tuple[Fact, ...]:
    facts = []
    if alert.grade:
        facts.append(Fact(label="等级 grade", value=str(alert.grade)))
    if alert.sku:
        facts.append(Fact(label="SKU", value=alert.sku, untrusted=True))
    if alert.source:
        facts.append(Fact(label="来源 source", value=alert.source))
    return tuple(facts)


def alert_message(s: Session, config: Config, alert: m.Alert, event: Event, now: datetime) -> Message:
    """The notification of ``event`` for ``alert``: items, checklist, acknowledge link, attachment."""
    sop = config.sop_for(alert.category, alert.kind, alert.platform)
    with_sop = sop is not None and event in WITH_CHECKLIST
    links = (
        ()
        if event == "resolved"
        else (Link(label="✅ 确认 Acknowledge", url=ack_url(config, alert.id, now)),)
    )
    return Message(
        title=alert.title,
        event=event,
        severity=as_severity(alert.severity),
        summary=alert.summary,
        facts=_facts(alert),
        items=_items(s, config, alert),
        item_total=alert.item_count,
        checklist=checklist_of(config, sop) if with_sop and sop is not None else None,
        links=links,
        attachments=(Attachment(name="checklist.md", content=sop.markdown()),) if with_sop and sop else (),
        footer=f"alert #{alert.id} · {alert.kind} · {event}",
        alert_id=alert.id,
    )
