"""The durable outbox: a notification is a row before it is a request.

Rows are written in the transaction that decided them; delivery happens later,
retried with backoff across restarts, never dropped. Each row carries an
idempotency key that travels in the payload, so a receiver can drop a repeat
after a crash between sending and recording.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting.routing import route
from monitor.config import Config
from monitor.config.settings import expand_env
from monitor.notify.render import alert_message
from monitor.store import Store
from monitor.store import models as m

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)
_PAYLOAD_SCHEMES = ("json://", "jsons://", "form://", "forms://", "xml://", "xmls://")


def enqueue(
    s: Session,
    channel: str,
    title: str,
    body: str,
    key: str,
    now: datetime,
    *,
    alert_id: int | None = None,
    delay: timedelta = timedelta(0),
) -> m.Outbox | None:
    """Add one notification unless ``key`` was already enqueued."""
    if s.scalars(select(m.Outbox.id).where(m.Outbox.idempotency_key == key)).first() is not None:
        return None
    row = m.Outbox(
        idempotency_key=key,
        alert_id=alert_id,
        channel=channel,
        title=title,
        body=body,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now + delay,
    )
    s.add(row)
    return row


def enqueue_alert(
    s: Session,
    config: Config,
    alert: m.Alert,
    event: str,
    now: datetime,
    *,
    explicit: list[str] | None = None,
    delay: timedelta = timedelta(0),
    seq: int = 0,
) -> list[m.Outbox]:
    items = list(
        s.scalars(
            select(m.Item)
            .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
            .where(m.AlertItem.alert_id == alert.id)
            .order_by(m.Item.id.desc())
            .limit(5)
        )
    )
    channels = route(config.settings, alert.labels or {}, explicit)
    out = []
    for ch in channels:
        title, body = alert_message(alert, items, None, event)
        key = f"alert-{alert.id}-{event}-{seq}-{ch}"
        row = enqueue(s, ch, title, body, key, now, alert_id=alert.id, delay=delay)
        if row is not None:
            out.append(row)
    alert.last_notified_at = now
    return out


def with_key(url: str, key: str) -> str:
    """Put the idempotency key into the payload of generic webhook channels."""
    if url.startswith(_PAYLOAD_SCHEMES):
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}:idempotency_key={quote(key)}&+X-Idempotency-Key={quote(key)}"
    return url


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=15 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def send(config: Config, channel: str, title: str, body: str, key: str) -> tuple[bool, str | None]:
    """Send through apprise; returns (ok, error)."""
    import apprise

    import monitor.notify.console  # noqa: F401  (registers console://)

    ch = config.settings.channels.get(channel)
    if ch is None:
        return False, f"unknown channel {channel!r}"
    ap = apprise.Apprise()
    for raw in ch.urls:
        try:
            url = expand_env(raw)
        except KeyError as exc:
            return False, f"channel {channel!r}: environment variable {exc.args[0]} is not set"
        if not ap.add(with_key(url, key)):
            return False, f"channel {channel!r}: apprise does not accept the URL {raw.split('://')[0]}://…"
    footer = f"\n\n`ref {key}`"
    ok = bool(ap.notify(body=body + footer, title=title, body_format=apprise.NotifyFormat.MARKDOWN))
    return ok, None if ok else f"channel {channel!r}: apprise reported a failed delivery"


def deliver_due(store: Store, config: Config, now: datetime, limit: int = 100) -> DeliveryReport:
    """Send every due row once. Rows of keyword alerts absorbed by a burst are suppressed."""
    report = DeliveryReport()
    with store.session() as s:
        due = list(
            s.scalars(
                select(m.Outbox)
                .where(m.Outbox.status == "pending", m.Outbox.next_attempt_at <= now)
                .order_by(m.Outbox.next_attempt_at, m.Outbox.id)
                .limit(limit)
            )
        )
    for row in due:
        with store.transaction() as s:
            current = s.get(m.Outbox, row.id)
            if current is None or current.status != "pending":
                continue
            alert = s.get(m.Alert, current.alert_id) if current.alert_id else None
            if alert is not None and alert.inhibited_by is not None and "-firing-" in current.idempotency_key:
                current.status = "suppressed"
                current.last_error = f"inhibited by alert #{alert.inhibited_by}"
                report.suppressed += 1
                continue
        ok, error = _try_send(config, row)
        with store.transaction() as s:
            current = s.get(m.Outbox, row.id)
            if current is None:
                continue
            current.attempts += 1
            s.add(m.Delivery(outbox_id=current.id, channel=current.channel, at=now, ok=ok, error=error))
            if ok:
                current.status, current.sent_at, current.last_error = "sent", now, None
                report.sent += 1
            else:
                current.next_attempt_at = now + backoff(current.attempts)
                current.last_error = error
                report.failed += 1
                report.errors.append(error or "failed")
                log.warning(
                    "notification %s to %s failed (attempt %d): %s",
                    current.idempotency_key,
                    current.channel,
                    current.attempts,
                    error,
                )
    return report


def _try_send(config: Config, row: m.Outbox) -> tuple[bool, str | None]:
    try:
        return send(config, row.channel, row.title, row.body, row.idempotency_key)
    except Exception as exc:  # a plugin bug must not kill delivery of the other rows
        log.exception("channel %s raised while sending", row.channel)
        return False, f"{type(exc).__name__}: {exc}"


def pending_count(store: Store) -> int:
    return store.count(m.Outbox, m.Outbox.status == "pending")


def stats(store: Store) -> dict[str, Any]:
    from sqlalchemy import func

    with store.session() as s:
        return {str(k): int(v) for k, v in s.execute(select(m.Outbox.status, func.count()).group_by(m.Outbox.status))}
