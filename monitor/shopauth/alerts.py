"""Source-health style alerts about shop authorisations, for the admins (``routing.admins``).

The one place this package talks to the alerting API, so a redesign of alerting touches only here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from monitor.alerting import announce, open_alert, raise_alert, resolve
from monitor.config import Config


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
    alert = raise_alert(
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
    announce(s, config, alert, now)
    return True


def resolve_admin_alert(s: Session, config: Config, now: datetime, *, key: str, summary: str) -> bool:
    alert = open_alert(s, key)
    if alert is None:
        return False
    resolve(s, config, alert, now, by="shop authorisation", summary=summary)
    return True
