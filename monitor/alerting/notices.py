"""An alert event becomes outbox rows: routed, composed once, one row per channel.

Written in the transaction that decided the event, so the notice commits with its cause or not at
all. The row's idempotency key is ``alert-<id>-<event>-<seq>-<channel>`` and its event is a column;
delivery (``monitor.delivery``) sends it later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from monitor.alerting.compose import alert_message
from monitor.alerting.routing import channels_so_far, decide_alert
from monitor.config import Config
from monitor.notify.message import Event
from monitor.store import models as m
from monitor.store import outbox

__all__ = ["enqueue_alert"]


def enqueue_alert(
    s: Session,
    config: Config,
    alert: m.Alert,
    event: Event,
    now: datetime,
    *,
    delay: timedelta = timedelta(0),
) -> list[m.Outbox]:
    """Compose ``event`` for ``alert`` and enqueue it to its route: the first notice to the alert's
    channels, later ones also to the escalation tiers it has reached."""
    if event == "firing":
        channels = decide_alert(config, alert).channels
    else:
        channels = channels_so_far(config, alert)
    alert.message_seq = (alert.message_seq or 0) + 1
    message = alert_message(s, config, alert, event, now)
    rows = []
    for ch in channels:
        key = f"alert-{alert.id}-{event}-{alert.message_seq}-{ch}"
        row = outbox.enqueue(s, ch, message, key, now, alert_id=alert.id, delay=delay)
        if row is not None:
            rows.append(row)
    alert.last_notified_at = now
    alert.notified_item_count = alert.item_count
    return rows
