"""Incidents: an alert that needs the crisis checklist opens one, and its steps run on clocks.

Which alerts open an incident (per SOP, ``incident:`` in ``rules/sops/*.yaml``): every new
burst alert, and a keyword alert whose severity reaches ``min_severity`` (default high) or
whose grade reaches ``min_grade`` (default 4: quality/counterfeit disputes, legal and media
threats; DOMAIN.md grades 3-5 go to senior staff, and grade 3 alone is common enough that an
incident for each would drown the checklist). ``open: false`` keeps an SOP for manual use.

Each step is due relative to the first item's publication (``from: published``) or to the
alert. ``tick`` (run by the daemon) sends, through the outbox and with idempotency keys:

- one overdue notice per step, to the alert's route and its first escalation tier
  (``routing.admins`` when the route has none): the owner's role is in the labels;
- a checklist reminder every ``remind_every`` while steps are open;
- one follow-up (回访) reminder ``follow_up_after`` (24 h) after the incident closes.

An incident closes only when every required step is done or skipped with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.alerting import AlertEvent, suppress
from monitor.alerting.compose import local_time
from monitor.alerting.routing import decide, decide_alert
from monitor.config import Config
from monitor.config.sops import Sop
from monitor.config.types import severity_rank
from monitor.notify.message import Link, Message
from monitor.store import Store, outbox
from monitor.store import models as m

log = logging.getLogger(__name__)

STATES = ("todo", "doing", "done", "skipped")
FINISHED = ("done", "skipped")


class IncidentError(Exception):
    """An operator action that cannot be done (unknown step, closing with open steps …)."""


class IncidentNotFound(IncidentError, LookupError):
    pass


@dataclass
class IncidentTick:
    opened: int = 0
    overdue: int = 0
    reminders: int = 0
    follow_ups: int = 0

    @property
    def notified(self) -> bool:
        return bool(self.overdue or self.reminders or self.follow_ups)


# ---- opening ------------------------------------------------------------------------------------
def should_open(sop: Sop, alert: m.Alert) -> bool:
    policy = sop.incident
    if not policy.open or alert.inhibited_by is not None:
        return False
    if alert.kind == "burst":
        return True
    if alert.kind != "keyword":
        return False
    severe = severity_rank(alert.severity) >= severity_rank(policy.min_severity)
    return severe or (alert.grade or 0) >= policy.min_grade


def sop_of_alert(config: Config, alert: m.Alert) -> Sop | None:
    return config.sop_for(alert.category, alert.kind, alert.platform)


def first_published(s: Session, alert: m.Alert) -> datetime:
    """When the first item of the alert was published (fetched, if the platform gives no time)."""
    q = (
        select(func.min(func.coalesce(m.Item.published_at, m.Item.fetched_at)))
        .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
        .where(m.AlertItem.alert_id == alert.id)
    )
    first = s.scalar(q)
    if first is None:
        return alert.created_at
    from monitor.clock import as_utc

    return as_utc(first) if isinstance(first, datetime) else alert.created_at


def incident_of_alert(s: Session, alert_id: int) -> m.Incident | None:
    return s.scalars(select(m.Incident).where(m.Incident.alert_id == alert_id)).first()


def open_for_events(
    s: Session, config: Config, events: Iterable[AlertEvent], now: datetime
) -> list[m.Incident]:
    """Incidents subscribe to alerts: the pipeline hands over the events of a poll, in its transaction,
    and each alert that fired and calls for an incident gets one."""
    opened = []
    for ev in events:
        if ev.event == "firing" and (inc := open_for_alert(s, config, ev.alert, now)) is not None:
            opened.append(inc)
    return opened


def open_for_alert(s: Session, config: Config, alert: m.Alert, now: datetime) -> m.Incident | None:
    """Open the incident ``alert`` calls for, once."""
    existing = incident_of_alert(s, alert.id)
    if existing is not None:
        return existing
    sop = sop_of_alert(config, alert)
    if sop is None or not should_open(sop, alert):
        return None
    return open_incident(s, sop, alert, now)


def open_incident(s: Session, sop: Sop, alert: m.Alert, now: datetime, by: str | None = None) -> m.Incident:
    inc = m.Incident(alert_id=alert.id, sop=sop.id, title=alert.title, state="open", opened_at=now)
    s.add(inc)
    s.flush()
    published = first_published(s, alert)
    for step in sop.steps:
        due = None
        if step.deadline is not None:
            due = (published if step.from_ == "published" else alert.created_at) + step.deadline
        s.add(
            m.IncidentStep(
                incident_id=inc.id,
                step_key=step.key,
                title=step.title,
                owner_role=step.owner,
                required=step.required,
                due_at=due,
                state="todo",
            )
        )
    _event(s, inc.id, now, "opened", by=by, text=f"SOP {sop.id}：{sop.title}（告警 #{alert.id}）")
    s.flush()
    log.info("incident #%d opened for alert #%d with SOP %s", inc.id, alert.id, sop.id)
    return inc


def open_by_hand(
    store: Store, config: Config, alert_id: int, sop_id: str | None, by: str, now: datetime
) -> m.Incident:
    """Open an incident for an alert with a chosen SOP (恶意差评 is a judgement, never automatic)."""
    with store.transaction() as s:
        alert = s.get(m.Alert, alert_id)
        if alert is None:
            raise IncidentNotFound(f"no alert #{alert_id}")
        existing = incident_of_alert(s, alert_id)
        if existing is not None:
            raise IncidentError(f"alert #{alert_id} already has incident #{existing.id}")
        sop = config.sop(sop_id) if sop_id else sop_of_alert(config, alert)
        if sop is None:
            known = ", ".join(x.id for x in config.sops)
            raise IncidentError(f"no SOP {sop_id or 'for this alert'!r} (known: {known})")
        return open_incident(s, sop, alert, now, by=by)


# ---- operator actions ---------------------------------------------------------------------------
def _event(
    s: Session,
    incident_id: int,
    at: datetime,
    kind: str,
    *,
    step_key: str | None = None,
    by: str | None = None,
    text: str = "",
) -> None:
    s.add(m.IncidentEvent(incident_id=incident_id, at=at, kind=kind, step_key=step_key, by=by, text=text))


def get(s: Session, incident_id: int) -> m.Incident:
    inc = s.get(m.Incident, incident_id)
    if inc is None:
        raise IncidentNotFound(f"no incident #{incident_id}")
    return inc


def steps_of(s: Session, incident_id: int) -> list[m.IncidentStep]:
    q = select(m.IncidentStep).where(m.IncidentStep.incident_id == incident_id).order_by(m.IncidentStep.id)
    return list(s.scalars(q))


def set_step(
    store: Store,
    incident_id: int,
    step_key: str,
    state: str,
    by: str,
    now: datetime,
    reason: str | None = None,
) -> m.IncidentStep:
    """Move a step to todo/doing/done/skipped; skipping (a waiver) needs a reason."""
    if state not in STATES:
        raise IncidentError(f"unknown state {state!r} (one of {', '.join(STATES)})")
    reason = (reason or "").strip() or None
    if state == "skipped" and reason is None:
        raise IncidentError("skipping a step needs a reason (--reason)")
    with store.transaction() as s:
        inc = get(s, incident_id)
        if inc.state != "open":
            raise IncidentError(f"incident #{incident_id} is {inc.state}")
        step = next((x for x in steps_of(s, incident_id) if x.step_key == step_key), None)
        if step is None:
            keys = ", ".join(x.step_key for x in steps_of(s, incident_id))
            raise IncidentError(f"incident #{incident_id} has no step {step_key!r} (steps: {keys})")
        before = step.state
        step.state, step.by, step.at, step.reason = state, by, now, reason
        text = f"{before} → {state}" + (f": {reason}" if reason else "")
        _event(s, incident_id, now, "step", step_key=step_key, by=by, text=text)
        return step


def add_note(store: Store, incident_id: int, text: str, by: str, now: datetime) -> m.IncidentNote:
    if not text.strip():
        raise IncidentError("empty note")
    with store.transaction() as s:
        get(s, incident_id)
        note = m.IncidentNote(incident_id=incident_id, by=by, at=now, text=text.strip())
        s.add(note)
        s.flush()
        return note


def listing(
    store: Store, *, include_closed: bool = True, limit: int = 200
) -> list[tuple[m.Incident, list[m.IncidentStep]]]:
    """Incidents newest first, each with its steps."""
    q = select(m.Incident).order_by(m.Incident.id.desc()).limit(limit)
    if not include_closed:
        q = q.where(m.Incident.state == "open")
    with store.session() as s:
        return [(inc, steps_of(s, inc.id)) for inc in list(s.scalars(q))]


def with_notes(
    store: Store, incident_id: int
) -> tuple[m.Incident, list[m.IncidentStep], list[m.IncidentNote]]:
    """One incident, its steps and its notes (oldest first); ``IncidentNotFound`` if there is none."""
    with store.session() as s:
        inc = get(s, incident_id)
        q = (
            select(m.IncidentNote)
            .where(m.IncidentNote.incident_id == incident_id)
            .order_by(m.IncidentNote.at)
        )
        return inc, steps_of(s, incident_id), list(s.scalars(q))


def blockers(steps: Sequence[m.IncidentStep]) -> list[m.IncidentStep]:
    return [x for x in steps if x.required and x.state not in FINISHED]


def close(store: Store, incident_id: int, by: str, now: datetime) -> m.Incident:
    """Close when every required step is done or waived (skipped with a reason)."""
    with store.transaction() as s:
        inc = get(s, incident_id)
        if inc.state != "open":
            raise IncidentError(f"incident #{incident_id} is already {inc.state}")
        left = blockers(steps_of(s, incident_id))
        if left:
            names = ", ".join(f"{x.step_key} ({x.state})" for x in left)
            raise IncidentError(
                f"incident #{incident_id} has required steps not done: {names}; "
                "finish them or skip them with --reason"
            )
        inc.state, inc.closed_at = "closed", now
        _event(s, incident_id, now, "closed", by=by)
        return inc


# ---- clocks -------------------------------------------------------------------------------------
def _minutes(d: timedelta) -> str:
    mins = int(abs(d.total_seconds()) // 60)
    return f"{mins // 60} 小时 {mins % 60} 分钟" if mins >= 60 else f"{mins} 分钟"


def step_line(config: Config, step: m.IncidentStep, now: datetime) -> str:
    """One checklist line with its clock, e.g. ``⚠️ 逐一私信差评顾客 — 客服 · 已超时 12 分钟（应于 11-23
    12:50 UTC+8 完成）``; times in the configured timezone, labelled."""
    tz = config.settings.tz
    optional = "" if step.required else "（可选）"
    head = f"{step.title}{optional} — {step.owner_role}"
    who = f" {step.by} {local_time(step.at, tz)}" if step.by and step.at else ""
    if step.state == "done":
        return f"✅ {head} · 已完成{who}"
    if step.state == "skipped":
        return f"⏭️ {head} · 已跳过{who}：{step.reason}"
    doing = f" · 进行中{who}" if step.state == "doing" else ""
    if step.due_at is None:
        return f"{'🔄' if doing else '⬜'} {head}{doing}"
    due = local_time(step.due_at, tz)
    if step.due_at <= now:
        return f"⚠️ {head}{doing} · 已超时 {_minutes(now - step.due_at)}（应于 {due} 完成）"
    return f"{'🔄' if doing else '⏳'} {head}{doing} · {due} 前完成（还剩 {_minutes(step.due_at - now)}）"


def checklist_text(config: Config, steps: Sequence[m.IncidentStep], now: datetime) -> str:
    return "\n".join(f"- {step_line(config, x, now)}" for x in steps)


# ---- the daemon's round -------------------------------------------------------------------------
def route_channels(config: Config, alert: m.Alert | None, role: str | None, escalate: bool) -> list[str]:
    """The alert's route (with the owner's role among the labels); with ``escalate``, its first tier too."""
    if alert is None:
        d = decide(config.settings, {"role": role} if role else {})
    else:
        d = decide_alert(config, alert, role)
    channels = list(d.channels)
    if escalate:
        extra = d.escalate[0].channels if d.escalate else list(config.settings.routing.admins)
        channels += [c for c in extra if c not in channels]
    return channels


def _send(
    s: Session,
    config: Config,
    alert: m.Alert | None,
    channels: Sequence[str],
    message: Message,
    key: str,
    now: datetime,
) -> bool:
    """Enqueue to each channel unless a suppression stage drops the notice (the next round retries);
    a deferred notice (quiet hours) is enqueued to leave when they end."""
    delay = timedelta(0)
    if alert is not None:
        verdict = suppress.first(suppress.stages(config), s, alert, message.event, now)
        if isinstance(verdict, suppress.Reason):
            return False
        if isinstance(verdict, suppress.Defer):
            delay = verdict.until - now
    for ch in channels:
        outbox.enqueue(s, ch, message, f"{key}-{ch}", now, delay=delay)
    return True


def incident_url(config: Config, inc: m.Incident, step: m.IncidentStep | None = None) -> str:
    """The console page of ``inc`` (at ``step``, when given): where staff on a phone mark it done."""
    url = f"{config.settings.web.base_url.rstrip('/')}/incidents/{inc.id}"
    return f"{url}#step-{step.id}" if step is not None else url


def _footer(config: Config, inc: m.Incident) -> str:
    sop = config.sop(inc.sop)
    return f"事件 #{inc.id} · 处置流程：{sop.title if sop is not None else inc.sop}"


def tick(store: Store, config: Config, now: datetime) -> IncidentTick:
    """One round: open incidents alerts still call for, overdue notices, reminders, follow-ups."""
    result = IncidentTick()
    with store.transaction() as s:
        result.opened = _catch_up(s, config, now)
        for inc in s.scalars(select(m.Incident).where(m.Incident.state == "open").order_by(m.Incident.id)):
            _open_round(s, config, inc, now, result)
        done = select(m.IncidentEvent.id).where(
            m.IncidentEvent.incident_id == m.Incident.id, m.IncidentEvent.kind == "follow_up"
        )
        for inc in s.scalars(select(m.Incident).where(m.Incident.state == "closed", ~done.exists())):
            if _follow_up(s, config, inc, now):
                result.follow_ups += 1
    return result


def _catch_up(s: Session, config: Config, now: datetime) -> int:
    """Alerts that qualify but have no incident (grew severe later, or fired before an upgrade)."""
    has = select(m.Incident.id).where(m.Incident.alert_id == m.Alert.id)
    q = select(m.Alert).where(
        m.Alert.state != "resolved",
        m.Alert.kind.in_(("keyword", "burst")),
        m.Alert.inhibited_by.is_(None),
        ~has.exists(),
    )
    return sum(1 for a in list(s.scalars(q)) if open_for_alert(s, config, a, now) is not None)


def _events(s: Session, incident_id: int, kind: str) -> list[m.IncidentEvent]:
    q = (
        select(m.IncidentEvent)
        .where(m.IncidentEvent.incident_id == incident_id, m.IncidentEvent.kind == kind)
        .order_by(m.IncidentEvent.at, m.IncidentEvent.id)
    )
    return list(s.scalars(q))


def _open_round(s: Session, config: Config, inc: m.Incident, now: datetime, result: IncidentTick) -> None:
    alert = s.get(m.Alert, inc.alert_id) if inc.alert_id else None
    steps = steps_of(s, inc.id)
    notified = {e.step_key for e in _events(s, inc.id, "overdue")}
    for step in steps:
        if step.state in FINISHED or step.due_at is None or step.due_at > now or step.step_key in notified:
            continue
        channels = route_channels(config, alert, step.owner_role, escalate=True)
        due = local_time(step.due_at, config.settings.tz)
        message = Message(
            title=f"{inc.title} · {step.title}",
            event="overdue",
            summary=(
                f"步骤超时：「{step.title}」应于 {due} 完成，负责：{step.owner_role}。完成后请在事件页标记。"
            ),
            text=checklist_text(config, steps, now),
            links=(
                Link(label=f"打开事件 #{inc.id}，标记「{step.title}」", url=incident_url(config, inc, step)),
            ),
            footer=_footer(config, inc),
            alert_id=inc.alert_id,
            detail_url=incident_url(config, inc),
        )
        if _send(s, config, alert, channels, message, f"incident-{inc.id}-overdue-{step.step_key}", now):
            _event(s, inc.id, now, "overdue", step_key=step.step_key, text=f"notified {', '.join(channels)}")
            result.overdue += 1
    sop = config.sop(inc.sop)
    every = sop.remind_every if sop is not None else timedelta(hours=1)
    if not any(x.state not in FINISHED for x in steps):
        return
    sent = _events(s, inc.id, "reminder")
    last = sent[-1].at if sent else inc.opened_at
    if now - last < every:
        return
    channels = route_channels(config, alert, None, escalate=False)
    message = Message(
        title=inc.title,
        event="checklist",
        summary="处置进度",
        text=checklist_text(config, steps, now),
        links=(Link(label=f"打开事件 #{inc.id}", url=incident_url(config, inc)),),
        footer=_footer(config, inc),
        alert_id=inc.alert_id,
        detail_url=incident_url(config, inc),
    )
    key = f"incident-{inc.id}-checklist-{len(sent) + 1}"
    if _send(s, config, alert, channels, message, key, now):
        _event(s, inc.id, now, "reminder", text=f"notified {', '.join(channels)}")
        result.reminders += 1


def _follow_up(s: Session, config: Config, inc: m.Incident, now: datetime) -> bool:
    sop = config.sop(inc.sop)
    after = sop.follow_up_after if sop is not None else timedelta(hours=24)
    if inc.closed_at is None or now - inc.closed_at < after:
        return False
    alert = s.get(m.Alert, inc.alert_id) if inc.alert_id else None
    channels = route_channels(config, alert, "客服", escalate=False)
    closed = local_time(inc.closed_at, config.settings.tz)
    message = Message(
        title=inc.title,
        event="follow_up",
        summary="回访",
        text=f"事件已于 {closed} 关闭，请联系相关顾客确认问题已解决、是否满意，并把结果记在事件页的备注里。",
        links=(Link(label=f"打开事件 #{inc.id}，记录回访结果", url=f"{incident_url(config, inc)}#notes"),),
        footer=_footer(config, inc),
        alert_id=inc.alert_id,
        detail_url=incident_url(config, inc),
    )
    if not _send(s, config, alert, channels, message, f"incident-{inc.id}-follow-up", now):
        return False
    _event(s, inc.id, now, "follow_up", text=f"notified {', '.join(channels)}")
    return True
