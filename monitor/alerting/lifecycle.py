"""What happens to alerts after they fire: batched updates, reminders, escalation,
resolution, acknowledgement and silences. ``now`` is always passed in.

Run periodically by the daemon (``evaluate_every``); each step is idempotent, so a
missed or repeated run only delays or repeats nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import oncall
from monitor.alerting import burst_scopes, suppress
from monitor.alerting.alerts import resolve
from monitor.alerting.compose import (
    STATE_NAMES,
    alert_message,
    detail_url,
    local_time,
)
from monitor.alerting.notices import enqueue_alert
from monitor.alerting.routing import channels_so_far, decide_alert
from monitor.config import Config
from monitor.notify.message import Link, Message
from monitor.store import Store, lock_alert_writers, outbox
from monitor.store import models as m

log = logging.getLogger(__name__)


@dataclass
class Tick:
    updates: int = 0
    reminders: int = 0
    escalations: int = 0
    resolved: list[int] = field(default_factory=list)


class AlertNotFound(LookupError):
    pass


def tick(store: Store, config: Config, now: datetime) -> Tick:
    """One lifecycle round over every open alert."""
    result = Tick()
    stages = suppress.stages(config)
    with store.transaction() as s:
        lock_alert_writers(s)  # polls take it before their alert rows too: no deadlock between them
        alerts = list(
            s.scalars(select(m.Alert).where(m.Alert.state != "resolved", m.Alert.kind != "source_health"))
        )
        for alert in alerts:
            if _maybe_resolve(s, config, alert, now):
                result.resolved.append(alert.id)
                continue
            if isinstance(suppress.first(stages, s, alert, "update", now), suppress.Reason):
                continue  # inhibited or silenced: nothing is written (acknowledged alerts still get updates)
            if alert.state == "firing":
                if _escalate(s, config, alert, now):
                    result.escalations += 1
                    continue
                if _remind(s, config, alert, now):
                    result.reminders += 1
                    continue
            if _update(s, config, alert, now):
                result.updates += 1
    return result


def _update(s: Session, config: Config, alert: m.Alert, now: datetime) -> bool:
    """New items since the last message, and group_interval has passed: one message for the wave."""
    if alert.item_count <= alert.notified_item_count or alert.last_notified_at is None:
        return False
    if now - alert.last_notified_at < config.settings.alerting.group_interval:
        return False
    enqueue_alert(s, config, alert, "update", now)
    return True


def _remind(s: Session, config: Config, alert: m.Alert, now: datetime) -> bool:
    if alert.last_notified_at is None:
        return False
    if now - alert.last_notified_at < config.settings.alerting.repeat_interval:
        return False
    enqueue_alert(s, config, alert, "reminder", now)
    return True


def _escalate(s: Session, config: Config, alert: m.Alert, now: datetime) -> bool:
    """Not acknowledged within a tier's ``after``: the next tier is told too (and reminded with the rest).
    With an on-call rota, unclaimed for ``escalate_after``: the next person in its chain is @mentioned."""
    steps = decide_alert(config, alert).escalate
    level = alert.escalation_level
    role = oncall.role_for(config, {**(alert.labels or {}), "kind": alert.kind, "grade": alert.grade})
    if role is not None and oncall.escalation_due(config, role, level, alert.created_at, now):
        alert.escalation_level = level + 1
        enqueue_alert(s, config, alert, "escalation", now)
        log.warning("alert #%d not claimed: escalated to the next person on call (%s)", alert.id, role)
        return True
    if level >= len(steps) or now - alert.created_at < steps[level].after:
        return False
    alert.escalation_level = level + 1
    enqueue_alert(s, config, alert, "escalation", now)
    log.warning(
        "alert #%d not acknowledged after %s: escalated to %s",
        alert.id,
        steps[level].after,
        steps[level].channels,
    )
    return True


def _maybe_resolve(s: Session, config: Config, alert: m.Alert, now: datetime) -> bool:
    a = config.settings.alerting
    if alert.kind in ("keyword", "new_problem"):
        last = alert.last_item_at or alert.created_at
        if now - last < a.resolve_after:
            return False
    elif alert.kind == "burst":
        scope = burst_scopes.Scope.from_labels((alert.labels or {}).get("scope") or {})
        if scope is None:
            return False
        if now - alert.created_at < a.burst_window:
            return False
        if _recent_count(s, alert, now - a.burst_window) >= a.burst_min_count:
            return False
        if burst_scopes.still_bursting(s, config, scope, now):  # reads the scope's state, never locks it
            return False
    else:
        return False
    resolve(s, config, alert, now, by="auto")
    return True


def _recent_count(s: Session, alert: m.Alert, since: datetime) -> int:
    q = (
        select(m.Item.published_at, m.Item.fetched_at)
        .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
        .where(m.AlertItem.alert_id == alert.id)
    )
    return sum(1 for pub, fetched in s.execute(q) if (pub or fetched) >= since)


# ---- operator actions -------------------------------------------------------------------------
def get(s: Session, alert_id: int) -> m.Alert:
    alert = s.get(m.Alert, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert #{alert_id}")
    return alert


def alerts(store: Store, state: str = "open", limit: int = 200) -> list[m.Alert]:
    """Alerts newest first: ``open`` (not resolved), ``all``, or those in one state."""
    q = select(m.Alert)
    if state == "open":
        q = q.where(m.Alert.state != "resolved")
    elif state != "all":
        q = q.where(m.Alert.state == state)
    with store.session() as s:
        return list(s.scalars(q.order_by(m.Alert.id.desc()).limit(limit)))


def acknowledge(store: Store, alert_id: int, by: str, now: datetime) -> m.Alert:
    """Stops reminders and escalation; the alert stays open until it resolves."""
    with store.transaction() as s:
        alert = get(s, alert_id)
        if alert.state == "firing":
            alert.state, alert.acked_by, alert.acked_at, alert.updated_at = "acknowledged", by, now, now
        return alert


def resolve_by_hand(store: Store, config: Config, alert_id: int, by: str, now: datetime) -> m.Alert:
    with store.transaction() as s:
        lock_alert_writers(s)
        alert = get(s, alert_id)
        if alert.state != "resolved":
            resolve(s, config, alert, now, by=by)
        return alert


def silence(
    store: Store, matchers: dict[str, list[object]], duration: timedelta, by: str, comment: str, now: datetime
) -> m.Silence:
    from monitor.config.settings import Match

    Match.model_validate(matchers)  # same matcher language as routes; raises on unknown keys
    with store.transaction() as s:
        sil = m.Silence(
            matchers=matchers,
            starts_at=now,
            ends_at=now + duration,
            created_by=by,
            comment=comment,
            created_at=now,
        )
        s.add(sil)
        s.flush()
        return sil


# ---- claiming from a chat link ----------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """What a 认领/确认 link did: ``claimed`` now, already ``taken`` by someone, or ``resolved``."""

    outcome: str
    alert_id: int
    title: str
    state: str
    by: str | None
    at: str  # local time, labelled
    message: Message  # the alert as a notification would show it (for the page)


def view(store: Store, config: Config, alert_id: int, now: datetime) -> Claim:
    """What a 认领/确认 link shows before it is pressed (read only): open, taken or resolved."""
    with store.session() as s:
        alert = get(s, alert_id)
        return _claim_of(s, config, alert, _outcome(alert), now)


def _outcome(alert: m.Alert) -> str:
    return {"resolved": "resolved", "acknowledged": "taken"}.get(alert.state, "open")


def _claim_of(s: Session, config: Config, alert: m.Alert, outcome: str, now: datetime) -> Claim:
    if alert.state == "resolved":
        who, at = (alert.labels or {}).get("resolved_by"), alert.resolved_at
    else:
        who, at = alert.acked_by, alert.acked_at
    return Claim(
        outcome,
        alert.id,
        alert.title,
        STATE_NAMES.get(alert.state, alert.state),
        str(who) if who else None,
        local_time(at, config.settings.tz) if at else "",
        alert_message(s, config, alert, "firing", now),
    )


def claim(store: Store, config: Config, alert_id: int, by: str, now: datetime) -> Claim:
    """Claim ``alert_id`` for ``by`` once: a second person learns who took it and when; a link used
    after the alert resolved says so. A claim tells the alert's channels in one short message."""
    with store.transaction() as s:
        alert = s.scalars(select(m.Alert).where(m.Alert.id == alert_id).with_for_update()).first()
        if alert is None:
            raise AlertNotFound(f"no alert #{alert_id}")
        outcome = _outcome(alert)
        if outcome == "open":
            alert.state, alert.acked_by, alert.acked_at, alert.updated_at = "acknowledged", by, now, now
            outcome = "claimed"
            _tell_claimed(s, config, alert, by, now)
        return _claim_of(s, config, alert, outcome, now)


def _tell_claimed(s: Session, config: Config, alert: m.Alert, by: str, now: datetime) -> None:
    """One short message to everyone told about the alert: who took it, when."""
    when = local_time(now, config.settings.tz, "%H:%M")
    message = Message(
        title=alert.title,
        event="claimed",
        severity=None,
        summary=f"{by} 已于 {when} 认领，提醒与升级停止",
        links=(Link(label="查看事件", url=detail_url(s, config, alert.id)),),
        footer=f"告警 #{alert.id} · 已认领",
        alert_id=alert.id,
    )
    for ch in channels_so_far(config, alert):
        outbox.enqueue(s, ch, message, f"alert-{alert.id}-claimed-{ch}", now, alert_id=alert.id)


def silence_alert(
    store: Store, config: Config, alert_id: int, by: str, duration: timedelta, now: datetime
) -> m.Silence:
    """Silence alerts like ``alert_id`` (same kind and rule, or source, or SKU) for ``duration``."""
    with store.session() as s:
        alert = get(s, alert_id)
        labels = dict(alert.labels or {})
    matchers: dict[str, list[object]] = {"kind": [labels.get("kind") or alert.kind]}
    for key in ("rule", "sku", "source"):
        if labels.get(key):
            matchers[key] = [labels[key]]
            break
    return silence(store, matchers, duration, by, f"静默 1 小时（告警 #{alert_id} 的链接）", now)
