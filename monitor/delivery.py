"""Delivery: the outbox's due rows, past the suppression stages, through the transport.

One round (``deliver_due``): read the due rows and decide each (read only) — a row about an alert
asks ``monitor.alerting.suppress`` whether it is dropped or deferred —, send the rest side by side
(``monitor.notify.transport``), then record every outcome in one short write transaction, so a round
waits for the database's write lock once, not per message. Failures back off exponentially across
restarts and are never dropped; a channel that keeps failing hands its messages to its fallback
channel as well. A crash after sending and before recording re-sends those messages later with the
same idempotency keys (at least once); a database that is away while recording is waited out.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from monitor.alerting import suppress
from monitor.config import Config
from monitor.notify.digest import digest
from monitor.notify.message import Message, MessageError
from monitor.notify.transport import room_for, send
from monitor.store import Store, outbox
from monitor.store import models as m

__all__ = ["BATCH", "DeliveryReport", "backoff", "deliver_due"]

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)
BATCH = 100
SEND_PARALLEL = 8
RATE_WAIT = timedelta(seconds=20)  # a robot over its rate is asked again after this
UNDIGESTED = ("report", "test", "heartbeat", "digest")  # sent whole, never folded into a digest
# Seconds between tries to record a round's outcomes (about 30 s in all: a database restart takes a few).
RECORD_RETRIES = (0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0, 5.0)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Held:
    status: str  # suppressed | pending (deferred)
    reason: str
    retry_at: datetime | None = None


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=15 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def deliver_due(store: Store, config: Config, now: datetime, limit: int = BATCH) -> DeliveryReport:
    """Send every due row once; rows the suppression stages drop or defer are recorded as such."""
    report = DeliveryReport()
    to_send: list[tuple[m.Outbox, Message]] = []
    held: dict[int, _Held] = {}
    stages = suppress.stages(config)
    with store.session() as s:
        for row in outbox.due(s, now, limit):
            try:
                message = Message.from_json(row.message)
            except MessageError as exc:
                held[row.id] = _Held("suppressed", str(exc))  # nothing to send; kept for the record
                continue
            alert = s.get(m.Alert, row.alert_id) if row.alert_id else None
            verdict = suppress.first(stages, s, alert, message.event, now) if alert is not None else None
            if isinstance(verdict, suppress.Reason):
                held[row.id] = _Held("suppressed", verdict.text)
            elif isinstance(verdict, suppress.Defer):
                held[row.id] = _Held("pending", verdict.text, verdict.until)
            else:
                to_send.append((row, message))
    to_send, batches = _batched(config, to_send, held, now)
    results = _send_all(config, to_send)
    results = [(r, ok, err) for row, ok, err in results for r in batches.get(row.id, [row])]
    _record(store, config, now, held, results, report)
    return report


def _batched(
    config: Config, to_send: list[tuple[m.Outbox, Message]], held: dict[int, _Held], now: datetime
) -> tuple[list[tuple[m.Outbox, Message]], dict[int, list[m.Outbox]]]:
    """Per chat robot channel: rows beyond its rate wait (not an attempt), and more rows than
    ``chat.digest_over`` due at once go as one digest (``monitor.notify.digest``) whose outcome is
    recorded for each row it covers. Returns what to send and, per digest row, the rows it covers."""
    by_channel: dict[str, list[tuple[m.Outbox, Message]]] = {}
    for row, message in to_send:
        by_channel.setdefault(row.channel, []).append((row, message))
    out: list[tuple[m.Outbox, Message]] = []
    batches: dict[int, list[m.Outbox]] = {}
    for name, rows in by_channel.items():
        channel = config.settings.channels.get(name)
        room = room_for(channel) if channel is not None else None
        if room is None:
            out += rows
            continue
        if room <= 0:  # the robot's rate is used up: wait, it is not a failure
            for row, _ in rows:
                held[row.id] = _Held("pending", "chat robot rate limit", now + RATE_WAIT)
            continue
        whole = [(row, msg) for row, msg in rows if msg.event in UNDIGESTED]  # reports keep their body
        short = [(row, msg) for row, msg in rows if msg.event not in UNDIGESTED]
        out += whole
        if len(short) > 1 and (len(short) > config.settings.chat.digest_over or len(rows) > room):
            head = short[0][0]
            out.append((head, digest([msg for _, msg in short])))
            batches[head.id] = [row for row, _ in short]
            log.info("%d notifications to %s go as one digest", len(short), name)
        else:
            out += short
    return out, batches


def _send_all(
    config: Config, to_send: list[tuple[m.Outbox, Message]]
) -> list[tuple[m.Outbox, bool, str | None]]:
    """Send a round's messages side by side: a wave of alerts goes out together, not one after another."""
    if len(to_send) <= 1:
        return [(row, *_try_send(config, row, message)) for row, message in to_send]
    with ThreadPoolExecutor(max_workers=min(SEND_PARALLEL, len(to_send)), thread_name_prefix="send") as pool:
        futures = [pool.submit(_try_send, config, row, message) for row, message in to_send]
        return [(row, *f.result()) for (row, _), f in zip(to_send, futures, strict=True)]


def _try_send(config: Config, row: m.Outbox, message: Message) -> tuple[bool, str | None]:
    channel = config.settings.channels.get(row.channel)
    if channel is None:
        return False, f"unknown channel {row.channel!r}"
    try:
        return send(row.channel, channel, message, row.idempotency_key)
    except Exception as exc:  # a plugin bug must not stop delivery of the other rows
        log.exception("channel %s raised while sending", row.channel)
        return False, f"{type(exc).__name__}: {exc}"


def _record(
    store: Store,
    config: Config,
    now: datetime,
    held: dict[int, _Held],
    results: list[tuple[m.Outbox, bool, str | None]],
    report: DeliveryReport,
) -> None:
    """Record a round's outcomes. Sent messages must not be sent again: while the database is away
    (a restart, a failover), keep the outcomes and try again rather than leave the rows pending."""
    for wait in (*RECORD_RETRIES, None):
        attempt = DeliveryReport()
        try:
            with store.transaction(urgent=True) as s:
                _record_held(s, held, attempt)
                _record_sent(s, config, now, results, attempt)
        except OperationalError as exc:
            if wait is None:
                raise
            # at debug: an outage is logged once by the daemon's database state, not per attempt (#17)
            log.debug("recording sent notifications failed, retrying in %.1f s: %s", wait, exc.orig)
            time.sleep(wait)
            continue
        report.sent, report.failed = attempt.sent, attempt.failed
        report.suppressed, report.deferred = attempt.suppressed, attempt.deferred
        report.errors.extend(attempt.errors)
        return


def _record_held(s: Session, held: dict[int, _Held], report: DeliveryReport) -> None:
    for row_id, h in held.items():
        current = s.get(m.Outbox, row_id)
        if current is None or current.status != "pending":
            continue
        if h.status == "suppressed":
            current.status, current.last_error = "suppressed", h.reason
            report.suppressed += 1
        elif h.retry_at is not None:
            current.next_attempt_at = h.retry_at  # quiet hours: not an attempt
            report.deferred += 1


def _record_sent(
    s: Session,
    config: Config,
    now: datetime,
    results: list[tuple[m.Outbox, bool, str | None]],
    report: DeliveryReport,
) -> None:
    for row, ok, error in results:
        current = s.get(m.Outbox, row.id)
        if current is None:
            continue
        current.attempts += 1
        s.add(m.Delivery(outbox_id=current.id, channel=current.channel, at=now, ok=ok, error=error))
        if ok:
            current.status, current.sent_at, current.last_error = "sent", now, None
            report.sent += 1
            continue
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
        _fall_back(s, config, current, now)


def _fall_back(s: Session, config: Config, row: m.Outbox, now: datetime) -> None:
    ch = config.settings.channels.get(row.channel)
    if ch is None or not ch.fallback or row.attempts != config.settings.alerting.fallback_after:
        return
    key = f"{row.idempotency_key}-fallback-{ch.fallback}"
    message = Message.from_json(row.message)
    if outbox.enqueue(s, ch.fallback, message, key, now, alert_id=row.alert_id) is not None:
        log.warning(
            "channel %s keeps failing; %s goes to fallback %s too",
            row.channel,
            row.idempotency_key,
            ch.fallback,
        )
