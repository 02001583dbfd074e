"""Source-health style alerts about shop authorisations, for the admins (``routing.admins``).

The one place this package talks to the alerting API, so a redesign of alerting touches only here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from monitor.alerting import new_alert, open_alert
from monitor.config import Config
from monitor.notify import outbox


def raise_admin_alert(
    s: Session,
    config: Config,
    now: datetime,
    *,
    key: str,
    title: str,
    summary: str,
    platform: str,
    source: str | None,
    severity: str = "high",
) -> bool:
    """Open an alert for the admins unless one with ``key`` is already open; True when one was raised."""
    if open_alert(s, key) is not None:
        return False
    alert = new_alert(
        s,
        now,
        dedup_key=key,
        kind="source_health",
        rule_id=None,
        category="source_health",
        severity=severity,
        grade=None,
        platform=platform,
        source=source,
        sku=None,
        title=title,
        summary=summary,
    )
    outbox.enqueue_alert(s, config, alert, "firing", now)
    return True


def resolve_admin_alert(s: Session, config: Config, now: datetime, *, key: str, summary: str) -> bool:
    alert = open_alert(s, key)
    if alert is None:
        return False
    alert.state, alert.resolved_at, alert.updated_at, alert.summary = "resolved", now, now, summary
    outbox.enqueue_alert(s, config, alert, "resolved", now)
    return True
