"""Alert decisions for one poll's stored items: keyword alerts and bursts.

Runs inside the poll's transaction: alerts and their outbox rows commit together
with the items that caused them, or not at all. The lifecycle after that (updates,
reminders, escalation, resolution) is in ``monitor.alerting.lifecycle``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.analyze import Analysis
from monitor.config import Config
from monitor.store import models as m

SEVERITY_ORDER = ("low", "medium", "high", "critical")


@dataclass
class AlertEvent:
    alert: m.Alert
    event: str  # firing | update | resolved


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
    q = (
        select(m.Alert)
        .where(m.Alert.dedup_key == key, m.Alert.state != "resolved")
        .order_by(m.Alert.id.desc())
    )
    return s.scalars(q).first()


def new_alert(s: Session, now: datetime, **fields: object) -> m.Alert:
    alert = m.Alert(state="firing", created_at=now, updated_at=now, item_count=0, **fields)
    s.add(alert)
    s.flush()
    alert.labels = {**labels_of(alert), **(alert.labels or {})}
    return alert


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
    """Keyword alerts per rule, source and SKU; bursts for the scopes these items touch."""
    from monitor.alerting import burst_alerts, new_problems
    from monitor.notify import outbox
    from monitor.sop.incidents import open_for_alert

    rules = {r.id: r for r in config.rules}
    events: list[AlertEvent] = []
    # the lock order of every poll: burst state rows (sorted) before any alert row
    bursts = burst_alerts.Round.lock(s, config, rows, analyses, now)
    for row, analysis in zip(rows, analyses, strict=True):
        for rule_id in analysis.rules:
            rule = rules.get(rule_id)
            if rule is None:
                continue
            key = f"keyword:{rule_id}:{row.source}:{row.sku or '-'}"
            alert = open_alert(s, key)
            if alert is None:
                alert = new_alert(
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
            if SEVERITY_ORDER.index(analysis.severity or "low") > SEVERITY_ORDER.index(alert.severity):
                alert.severity = analysis.severity or alert.severity
            if (analysis.grade or 0) > (alert.grade or 0):
                alert.grade = analysis.grade
            alert.labels = {**(alert.labels or {}), **labels_of(alert)}
    events.extend(bursts.raise_bursts(s))
    events.extend(new_problems.raise_alerts(s, config, rows, analyses, now))
    for ev in events:
        a = ev.alert
        if ev.event != "firing" or a.inhibited_by is not None:
            continue
        explicit = rules[a.rule_id].notify if a.kind == "keyword" and a.rule_id in rules else None
        delay = config.settings.alerting.group_wait if a.kind == "keyword" else timedelta(0)
        outbox.enqueue_alert(s, config, a, "firing", now, explicit=explicit, delay=delay)
        open_for_alert(s, config, a, now)
    return events


# Names used by modules written before the public ones existed.
_new_alert = new_alert
_open_alert = open_alert
