"""Alerts: the decisions for one poll's stored items, and (re-exported from ``alerting.alerts``) the one
way to raise and resolve an alert.

``raise_alert`` / ``announce`` / ``resolve`` are used by every kind — keyword alerts (``evaluate``,
here), bursts (``monitor.alerting.burst_alerts``), 新问题 (``monitor.alerting.new_problems``), source
health (``monitor.alerting.health``), the monitor's own self-alert (``monitor.observability``) and
operators (``monitor.alerting.lifecycle``). The lifecycle after that (updates, reminders, escalation,
resolution) is ``monitor.alerting.lifecycle``; incidents subscribe to the events ``evaluate`` returns
(``monitor.sop.incidents.open_for_events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from monitor.alerting import burst_alerts, new_problems
from monitor.alerting.alerts import (
    AlertEvent,
    announce,
    attach,
    labels_of,
    open_alert,
    raise_alert,
    resolve,
)
from monitor.analyze import Analysis
from monitor.config import Config
from monitor.config.types import as_severity, higher_severity
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


def evaluate(
    s: Session, config: Config, rows: Sequence[m.Item], analyses: Sequence[Analysis], now: datetime
) -> list[AlertEvent]:
    """Keyword alerts per rule, source and SKU; bursts for the scopes these items touch; 新问题 for
    phrases no rule covers. New alerts are announced (keyword ones after ``group_wait``, so a burst can
    absorb them first)."""
    # the lock order of every poll: burst state rows (sorted) before any alert row
    bursts = burst_alerts.Round.lock(s, config, rows, analyses, now)
    events = [ev for row, a in zip(rows, analyses, strict=True) for ev in _keyword(s, config, row, a, now)]
    events.extend(bursts.raise_bursts(s))
    events.extend(new_problems.raise_alerts(s, config, rows, analyses, now))
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
