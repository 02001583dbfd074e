"""Alerts: the one way to raise and resolve one, and the decisions for one poll's stored items.

``raise_alert`` / ``announce`` / ``resolve`` are used by every kind — keyword and burst alerts
(``evaluate``, here), source health (``monitor.alerting.health``), the monitor's own self-alert
(``monitor.observability``) and operators (``monitor.alerting.lifecycle``). They run inside the
caller's transaction: an alert and its outbox rows commit together with their cause, or not at all.
The lifecycle after that (updates, reminders, escalation, resolution) is ``monitor.alerting.lifecycle``;
incidents subscribe to the events ``evaluate`` returns (``monitor.sop.incidents.open_for_events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting import bursts
from monitor.alerting.notices import enqueue_alert
from monitor.analyze import Analysis
from monitor.config import Config
from monitor.config.settings import BURST_SCOPES
from monitor.config.types import as_severity, higher_severity
from monitor.notify.message import Event
from monitor.store import models as m

__all__ = [
    "AlertEvent",
    "announce",
    "attach",
    "evaluate",
    "labels_of",
    "open_alert",
    "raise_alert",
    "resolve",
]


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


def evaluate(
    s: Session, config: Config, rows: Sequence[m.Item], analyses: Sequence[Analysis], now: datetime
) -> list[AlertEvent]:
    """Keyword alerts per rule, source and SKU; bursts for the scopes these items touch. New alerts are
    announced (keyword ones after ``group_wait``, so a burst can absorb them first)."""
    events = [ev for row, a in zip(rows, analyses, strict=True) for ev in _keyword(s, config, row, a, now)]
    touched: dict[str, bursts.Scope] = {}
    for row, analysis in zip(rows, analyses, strict=True):
        for scope in bursts.scopes_for(
            analysis.rules, analysis.sentiment, row.sku, config.settings.alerting.burst_scopes
        ):
            touched[scope.key] = scope
    # narrow scopes first, so broader ones can see they are the same event
    order: dict[str, int] = {k: i for i, k in enumerate(BURST_SCOPES)}
    for scope in sorted(touched.values(), key=lambda sc: order[sc.kind]):
        ev = burst(s, config, scope, now)
        if ev is not None:
            events.append(ev)
    group_wait = config.settings.alerting.group_wait
    for ev in events:
        if ev.event == "firing":
            announce(s, config, ev.alert, now, group_wait if ev.alert.kind == "keyword" else timedelta(0))
    return events


def _keyword(s: Session, config: Config, row: m.Item, analysis: Analysis, now: datetime) -> list[AlertEvent]:
    """The item joins the open keyword alert of each rule it fired (per source and SKU), or raises one."""
    events = []
    rules = {r.id: r for r in config.rules}
    for rule_id in analysis.rules:
        rule = rules.get(rule_id)
        if rule is None:
            continue
        key = f"keyword:{rule_id}:{row.source}:{row.sku or '-'}"
        alert = open_alert(s, key)
        if alert is None:
            alert = raise_alert(
                s,
                now,
                dedup_key=key,
                kind="keyword",
                rule_id=rule_id,
                category=rule.category,
                severity=analysis.severity or rule.severity,
                grade=analysis.grade,
                platform=row.platform,
                source=row.source,
                sku=row.sku,
                title=f"{rule.title} · {row.sku or row.source}",
                summary=f"关键词「{rule.title}」命中 · {row.platform} · {row.source}",
                labels={},
            )
            events.append(AlertEvent(alert, "firing"))
        attach(s, alert, row, now)
        alert.severity = higher_severity(as_severity(alert.severity) or "low", analysis.severity)
        if (analysis.grade or 0) > (alert.grade or 0):
            alert.grade = analysis.grade
        alert.labels = {**(alert.labels or {}), **labels_of(alert)}
    return events


def burst(s: Session, config: Config, scope: bursts.Scope, now: datetime) -> AlertEvent | None:
    ev = bursts.evaluate(s, config, scope, now)
    alert = open_alert(s, scope.key)
    if alert is None and (not ev.verdict.is_burst or bursts.contained(s, scope, ev.items)):
        return None
    titles = {r.id: r.title for r in config.rules}
    what = scope.describe(titles)
    summary = f"Burst of negative items: {what}. {ev.verdict.explanation}"
    event = None
    if alert is None:
        rule = next((r for r in config.rules if r.id == scope.rule), None)
        alert = raise_alert(
            s,
            now,
            dedup_key=scope.key,
            kind="burst",
            rule_id=scope.rule,
            category=rule.category if rule else "negative_burst",
            severity="critical",
            grade=None,
            platform=None,
            source=None,
            sku=scope.sku,
            title=f"差评爆发 burst: {what}",
            summary=summary,
            labels={"scope": {"kind": scope.kind, "rule": scope.rule, "sku": scope.sku}},
        )
        event = AlertEvent(alert, "firing")
    elif ev.verdict.is_burst:
        alert.summary = summary
    for row in s.scalars(select(m.Item).where(m.Item.id.in_(ev.items))):
        attach(s, alert, row, now)
    inhibit(s, alert, scope)
    return event


def inhibit(s: Session, burst_alert: m.Alert, scope: bursts.Scope) -> None:
    """A burst mutes the single keyword alerts it contains."""
    q = select(m.Alert).where(
        m.Alert.kind == "keyword", m.Alert.state != "resolved", m.Alert.inhibited_by.is_(None)
    )
    if scope.rule is not None:
        q = q.where(m.Alert.rule_id == scope.rule)
    if scope.sku is not None:
        q = q.where(m.Alert.sku == scope.sku)
    if scope.kind in ("sku", "store"):
        return  # broad scopes do not silence specific complaints
    for single in s.scalars(q):
        single.inhibited_by = burst_alert.id
