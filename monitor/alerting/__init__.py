"""Alert decisions for one poll's stored items: keyword alerts, bursts, source health.

Runs inside the poll's transaction: alerts and their outbox rows commit together
with the items that caused them, or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.analyze import Analysis
from monitor.config import Config
from monitor.notify import outbox
from monitor.store import models as m

SEVERITY_ORDER = ("low", "medium", "high", "critical")


@dataclass
class AlertEvent:
    alert: m.Alert
    event: str  # firing | update | resolved


def _labels(alert: m.Alert) -> dict[str, object]:
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


def _open_alert(s: Session, key: str) -> m.Alert | None:
    q = (
        select(m.Alert)
        .where(m.Alert.dedup_key == key, m.Alert.state != "resolved")
        .order_by(m.Alert.id.desc())
    )
    return s.scalars(q).first()


def _new_alert(s: Session, now: datetime, **fields: object) -> m.Alert:
    alert = m.Alert(state="firing", created_at=now, updated_at=now, item_count=0, labels={}, **fields)
    s.add(alert)
    s.flush()
    alert.labels = _labels(alert)
    return alert


def evaluate(
    s: Session, config: Config, rows: Sequence[m.Item], analyses: Sequence[Analysis], now: datetime
) -> list[AlertEvent]:
    """Keyword alerts per rule and SKU, and bursts of negative hits per rule and SKU."""
    cfg = config.settings.alerting
    rules = {r.id: r for r in config.rules}
    events: list[AlertEvent] = []
    touched: set[tuple[str, str | None]] = set()
    for row, analysis in zip(rows, analyses, strict=True):
        for rule_id in analysis.rules:
            rule = rules.get(rule_id)
            if rule is None:
                continue
            touched.add((rule_id, row.sku))
            key = f"keyword:{rule_id}:{row.source}:{row.sku or '-'}"
            alert = _open_alert(s, key)
            if alert is None:
                alert = _new_alert(
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
                    title=f"{rule.title}: {row.sku or row.source}",
                    summary=f"关键词「{rule.title}」命中 · {row.platform} · {row.source}",
                )
                burst = _open_alert(s, f"burst:{rule_id}:{row.sku or '-'}")
                if burst is not None:
                    alert.inhibited_by = burst.id
                events.append(AlertEvent(alert, "firing"))
            _attach(s, alert, row, now)
            if SEVERITY_ORDER.index(analysis.severity or "low") > SEVERITY_ORDER.index(alert.severity):
                alert.severity = analysis.severity or alert.severity
    for rule_id, sku in touched:
        ev = _burst(s, config, rule_id, sku, now, cfg.burst_window, cfg.burst_min_count)
        if ev is not None:
            events.append(ev)
    for ev in events:
        if ev.event == "firing":
            explicit = rules[ev.alert.rule_id].notify if ev.alert.rule_id in rules else None
            delay = cfg_group_wait(config) if ev.alert.kind == "keyword" else timedelta(0)
            outbox.enqueue_alert(s, config, ev.alert, "firing", now, explicit=explicit, delay=delay)
    return events


def cfg_group_wait(config: Config) -> timedelta:
    return config.settings.alerting.group_wait


def _attach(s: Session, alert: m.Alert, row: m.Item, now: datetime) -> None:
    if s.get(m.AlertItem, (alert.id, row.id)) is None:
        s.add(m.AlertItem(alert_id=alert.id, item_id=row.id))
        alert.item_count += 1
        alert.updated_at = now


def _burst(
    s: Session,
    config: Config,
    rule_id: str,
    sku: str | None,
    now: datetime,
    window: timedelta,
    min_count: int,
) -> AlertEvent | None:
    """A burst: at least ``min_count`` negative items hitting ``rule_id`` on one SKU within ``window``."""
    since = now - window
    sku_filter = (m.Item.sku == sku) if sku is not None else m.Item.sku.is_(None)
    q = (
        select(m.Item, m.Analysis.rules)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(m.Item.fetched_at >= since, m.Analysis.sentiment != "pos", sku_filter)
    )
    hits = [it for it, fired in s.execute(q) if rule_id in (fired or [])]
    key = f"burst:{rule_id}:{sku or '-'}"
    alert = _open_alert(s, key)
    if len(hits) < min_count:
        return None
    rule = next(r for r in config.rules if r.id == rule_id)
    hours = window.total_seconds() / 3600
    summary = (
        f"{len(hits)} negative items for 「{rule.title}」 on SKU {sku or '-'} in {hours:g} h "
        f"(threshold {min_count})"
    )
    if alert is None:
        alert = _new_alert(
            s,
            now,
            dedup_key=key,
            kind="burst",
            rule_id=rule_id,
            category=rule.category,
            severity="critical",
            grade=None,
            platform=None,
            source=None,
            sku=sku,
            title=f"差评爆发 burst: {rule.title} · SKU {sku or '-'}",
            summary=summary,
        )
        event: AlertEvent | None = AlertEvent(alert, "firing")
    else:
        alert.summary = summary
        event = None
    for it in hits:
        _attach(s, alert, it, now)
    alert_sku = (m.Alert.sku == sku) if sku is not None else m.Alert.sku.is_(None)
    kw = select(m.Alert).where(
        m.Alert.kind == "keyword", m.Alert.rule_id == rule_id, m.Alert.state != "resolved", alert_sku
    )
    for single in s.scalars(kw):
        single.inhibited_by = alert.id
    return event
