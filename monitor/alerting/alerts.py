"""The one way to raise, announce and resolve an alert, used by every kind: keyword, burst, 新问题,
source health, gaps, shop authorisation and the monitor's own self-alert. Each runs inside the caller's
transaction: an alert and its outbox rows commit together with their cause, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting.notices import enqueue_alert
from monitor.config import Config
from monitor.notify.message import Event
from monitor.store import models as m

__all__ = ["AlertEvent", "announce", "attach", "labels_of", "open_alert", "raise_alert", "resolve"]


@dataclass
class AlertEvent:
    alert: m.Alert
    event: Event


def labels_of(alert: m.Alert) -> dict[str, object]:
    return {
        "kind": alert.kind,
        "severity": alert.severity,
        "category": alert.category,
        "rule": alert.rule_id,
        "platform": alert.platform,
        "source": alert.source,
        "sku": alert.sku,
        "grade": alert.grade,
    }


def open_alert(s: Session, key: str) -> m.Alert | None:
    """The alert open under ``key`` (its dedup key), if any."""
    q = (
        select(m.Alert)
        .where(m.Alert.dedup_key == key, m.Alert.state != "resolved")
        .order_by(m.Alert.id.desc())
    )
    return s.scalars(q).first()


def raise_alert(s: Session, now: datetime, **fields: object) -> m.Alert:
    """A new firing alert (``dedup_key``, ``kind``, ``title``, ``summary``, ``severity`` …); its
    routing labels are derived from its fields. Callers look for an open one first (``open_alert``)."""
    alert = m.Alert(state="firing", created_at=now, updated_at=now, item_count=0, **fields)
    s.add(alert)
    s.flush()
    alert.labels = {**labels_of(alert), **(alert.labels or {})}
    return alert


def announce(
    s: Session, config: Config, alert: m.Alert, now: datetime, delay: timedelta = timedelta(0)
) -> None:
    """The firing notice to the alert's route (an alert a burst absorbed stays quiet)."""
    if alert.inhibited_by is None:
        enqueue_alert(s, config, alert, "firing", now, delay=delay)


def resolve(
    s: Session, config: Config, alert: m.Alert, now: datetime, *, by: str, summary: str | None = None
) -> None:
    """Close ``alert``; a resolved notice goes to everyone told about it. Alerts it inhibited speak again."""
    alert.state, alert.resolved_at, alert.updated_at = "resolved", now, now
    alert.labels = {**(alert.labels or {}), "resolved_by": by}
    if summary is not None:
        alert.summary = summary
    if alert.inhibited_by is None and alert.last_notified_at is not None:
        enqueue_alert(s, config, alert, "resolved", now)
    for single in s.scalars(
        select(m.Alert).where(m.Alert.inhibited_by == alert.id, m.Alert.state != "resolved")
    ):
        single.inhibited_by = None  # the burst is over; its singles may speak again
        single.notified_item_count = single.item_count
        single.last_notified_at = now


def attach(s: Session, alert: m.Alert, row: m.Item, now: datetime) -> bool:
    if s.get(m.AlertItem, (alert.id, row.id)) is not None:
        return False
    s.add(m.AlertItem(alert_id=alert.id, item_id=row.id))
    alert.item_count += 1
    alert.updated_at = now
    alert.last_item_at = now
    return True
