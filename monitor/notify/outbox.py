"""The durable outbox: a notification is a row before it is a request.

Rows are written in the transaction that decided them; delivery happens later,
retried with backoff across restarts, never dropped. Each row carries an
idempotency key that travels in the payload, so a receiver can drop a repeat
after a crash between sending and recording. A channel that keeps failing hands
its messages to its fallback channel as well.
"""

from __future__ import annotations

import logging
import tempfile
import time as clock
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from monitor.alerting.routing import decide, matches
from monitor.config import Config
from monitor.config.settings import Match, expand_env
from monitor.notify.render import Checklist, alert_message, split
from monitor.store import Store
from monitor.store import models as m

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)
_PAYLOAD_SCHEMES = ("json://", "jsons://", "form://", "forms://", "xml://", "xmls://")
# Message size limits of chat robots (characters, with a margin below the documented byte limits).
DEFAULT_LIMITS = {"dingtalk": 6000, "wecombot": 1800, "feishu": 10000, "lark": 10000}
SEVERITY_TOP = "critical"
FOOTER_ROOM = 80  # the `ref <idempotency key>` line added at send time


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
    body_format: str = "markdown",
    attachments: list[dict[str, str]] | None = None,
) -> m.Outbox | None:
    """Add one notification unless ``key`` was already enqueued.

    ``attachments`` are text files ({"name", "content", "mime"}) sent where the channel takes files.
    """
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
        body_format=body_format,
        attachments=list(attachments or []),
    )
    s.add(row)
    return row


@lru_cache(maxsize=8)
def _secret(data_dir: str) -> bytes:
    from monitor.signing import load_secret

    return load_secret(Path(data_dir))


def ack_url(config: Config, alert_id: int, now: datetime) -> str:
    from monitor.signing import ack_token

    token = ack_token(_secret(str(config.path(config.settings.data_dir))), alert_id, now)
    return f"{config.settings.web.base_url.rstrip('/')}/ack/{alert_id}?t={token}"


def _sop(config: Config, alert: m.Alert) -> Any:
    from monitor.sop.select import sop_for

    return sop_for(config, alert.kind, alert.category, alert.platform)


def checklist_for(config: Config, alert: m.Alert) -> tuple[Checklist | None, str | None]:
    """The same SOP as the alert's incident (a Weibo 假货 post gets the social-media SOP)."""
    sop = _sop(config, alert)
    if sop is None:
        return None, None
    steps = [s.line() for s in sop.steps]
    url = f"{config.settings.web.base_url.rstrip('/')}/sops/{sop.id}"
    shown = steps[:8]
    return Checklist(sop.title, shown, len(steps) - len(shown)), url


def enqueue_alert(
    s: Session,
    config: Config,
    alert: m.Alert,
    event: str,
    now: datetime,
    *,
    explicit: list[str] | None = None,
    channels: list[str] | None = None,
    delay: timedelta = timedelta(0),
) -> list[m.Outbox]:
    """Render ``event`` for ``alert`` once and enqueue it to each routed channel."""
    items = list(
        s.scalars(
            select(m.Item)
            .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
            .where(m.AlertItem.alert_id == alert.id)
            .order_by(m.Item.id.desc())
            .limit(5)
        )
    )
    if channels is None:
        channels = decide(config.settings, alert.labels or {}, explicit).channels
    alert.message_seq = (alert.message_seq or 0) + 1
    checklist, checklist_url = checklist_for(config, alert)
    link = ack_url(config, alert.id, now)

    def render(cl: Checklist | None) -> tuple[str, str]:
        return alert_message(alert, items, event, ack_url=link, checklist=cl, checklist_url=checklist_url)

    title, full = render(checklist)
    out = []
    for ch in channels:
        body = full
        limit = limit_for(config, ch) if ch in config.settings.channels else None
        room = limit - FOOTER_ROOM if limit else None
        if room and checklist is not None and len(body) > room:
            body = _trimmed(render, checklist, room)  # the link carries the full checklist
        key = f"alert-{alert.id}-{event}-{alert.message_seq}-{ch}"
        row = enqueue(s, ch, title, body, key, now, alert_id=alert.id, delay=delay)
        if row is not None:
            out.append(row)
    alert.last_notified_at = now
    alert.notified_item_count = alert.item_count
    return out


def _trimmed(render: Any, checklist: Checklist, limit: int) -> str:
    """The message with as many checklist steps as fit the channel's limit (at least none)."""
    steps = list(checklist.steps)
    total = len(steps) + checklist.more
    while steps:
        steps.pop()
        _, body = render(Checklist(checklist.title, steps, total - len(steps)))
        if len(body) <= limit:
            return str(body)
    return str(render(Checklist(checklist.title, [], total))[1])


def with_key(url: str, key: str) -> str:
    """Put the idempotency key into the payload (and a header) of generic webhook channels."""
    if url.startswith(_PAYLOAD_SCHEMES):
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}:idempotency_key={quote(key)}&+X-Idempotency-Key={quote(key)}"
    return url


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=15 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def limit_for(config: Config, channel: str) -> int | None:
    ch = config.settings.channels[channel]
    if ch.max_length:
        return ch.max_length
    limits = [DEFAULT_LIMITS[u.split("://", 1)[0]] for u in ch.urls if u.split("://", 1)[0] in DEFAULT_LIMITS]
    return min(limits) if limits else None


def warm_up() -> None:
    """Load apprise's plugins and ours once, so the first real notification is not slowed by imports."""
    import apprise

    import monitor.notify.console  # noqa: F401  (registers console://)
    from monitor.notify import chatbots

    chatbots.register()
    apprise.Apprise().add("json://127.0.0.1:9/")  # instantiating a URL loads the plugin table


def send(
    config: Config,
    channel: str,
    title: str,
    body: str,
    key: str,
    attachment: str | None = None,
    *,
    body_format: str = "markdown",
    files: list[dict[str, str]] | None = None,
) -> tuple[bool, str | None]:
    """Send through apprise; returns (ok, error). Long bodies are split at the channel's limit."""
    import apprise

    import monitor.notify.console  # noqa: F401  (registers console://)
    from monitor.notify import chatbots

    chatbots.register()
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
    html = body_format == "html"
    body = f"{body}\n<p><small>ref {key}</small></p>" if html else f"{body}\n\n`ref {key}`"
    limit = limit_for(config, channel)
    parts = split(body, limit) if limit and not html else [body]
    with tempfile.TemporaryDirectory(prefix="monitor-att-") as tmp:
        attach = None
        docs = list(files or []) + ([{"name": "checklist.md", "content": attachment}] if attachment else [])
        if docs:
            attach = apprise.AppriseAttachment()
            for doc in docs:
                path = Path(tmp) / Path(doc["name"]).name
                path.write_text(doc["content"], encoding="utf-8")
                attach.add(str(path))
        for i, part in enumerate(parts):
            ok = bool(
                ap.notify(
                    body=part,
                    title=title,
                    body_format=apprise.NotifyFormat.HTML if html else apprise.NotifyFormat.MARKDOWN,
                    attach=attach if i == 0 and _supports_attachments(ap) else None,
                )
            )
            if not ok:
                why = "; ".join(r for server in ap if (r := getattr(server, "last_rejection", None)))
                detail = f"rejected: {why}" if why else "see log"
                return False, f"channel {channel!r}: delivery failed (part {i + 1}/{len(parts)}; {detail})"
    return True, None


def _supports_attachments(ap: Any) -> bool:
    return all(getattr(server, "attachment_support", False) for server in ap)


def silenced(s: Session, labels: dict[str, Any], now: datetime) -> m.Silence | None:
    for sil in s.scalars(select(m.Silence).where(m.Silence.starts_at <= now, m.Silence.ends_at > now)):
        try:
            match = Match.model_validate(sil.matchers)
        except ValueError:
            continue
        if matches(match, labels):
            return sil
    return None


def quiet_until(config: Config, severity: str | None, now: datetime) -> datetime | None:
    """End of the current quiet hours, if ``now`` is inside them and the severity must wait."""
    q = config.settings.alerting.quiet_hours
    if q is None or (severity or "") in q.except_severity:
        return None
    local = now.astimezone(config.settings.tz)
    start, end = (time(int(x[:2]), int(x[3:5])) for x in (q.start, q.end))
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until


BATCH = 100
SEND_PARALLEL = 8


def deliver_due(store: Store, config: Config, now: datetime, limit: int = BATCH) -> DeliveryReport:
    """Send every due row once. Rows of inhibited or silenced alerts are suppressed.

    Decide (read only), send, then record every outcome in one short write transaction, so a round
    waits for the database's write lock once, not per message. A crash after sending and before
    recording re-sends those messages later with the same idempotency keys (at least once).
    """
    report = DeliveryReport()
    to_send: list[tuple[m.Outbox, str | None]] = []
    held: dict[int, tuple[str, str | None, datetime | None]] = {}  # row id -> (status, reason, retry at)
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
            alert = s.get(m.Alert, row.alert_id) if row.alert_id else None
            attachment = None
            if alert is not None:
                reason = _suppression(s, alert, row, now)
                if reason:
                    held[row.id] = ("suppressed", reason, None)
                    continue
                until = quiet_until(config, alert.severity, now)
                if until is not None:
                    held[row.id] = ("pending", None, until)
                    continue
                if "-firing-" in row.idempotency_key or "-escalation-" in row.idempotency_key:
                    attachment = _attachment(config, alert)
            to_send.append((row, attachment))
    results = _send_all(config, to_send)
    _record(store, config, now, held, results, report)
    return report


# Seconds between tries to record a round's outcomes (about 30 s in all: a database restart takes a few).
RECORD_RETRIES = (0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0, 5.0)


def _record(
    store: Store,
    config: Config,
    now: datetime,
    held: dict[int, tuple[str, str | None, datetime | None]],
    results: list[tuple[m.Outbox, bool, str | None]],
    report: DeliveryReport,
) -> None:
    """Record a round's outcomes. Sent messages must not be sent again: while the database is away
    (a restart, a failover), keep the outcomes and try again rather than leave the rows pending."""
    for wait in (*RECORD_RETRIES, None):
        attempt = DeliveryReport()
        try:
            _record_once(store, config, now, held, results, attempt)
        except OperationalError as exc:
            if wait is None:
                raise
            log.warning("recording sent notifications failed, retrying in %.0f s: %s", wait, exc.orig)
            clock.sleep(wait)
            continue
        report.sent, report.failed = attempt.sent, attempt.failed
        report.suppressed, report.deferred = attempt.suppressed, attempt.deferred
        report.errors.extend(attempt.errors)
        return


def _record_once(
    store: Store,
    config: Config,
    now: datetime,
    held: dict[int, tuple[str, str | None, datetime | None]],
    results: list[tuple[m.Outbox, bool, str | None]],
    report: DeliveryReport,
) -> None:
    with store.transaction(urgent=True) as s:
        for row_id, (status, reason, retry_at) in held.items():
            current = s.get(m.Outbox, row_id)
            if current is None or current.status != "pending":
                continue
            if status == "suppressed":
                current.status, current.last_error = "suppressed", reason
                report.suppressed += 1
            elif retry_at is not None:
                current.next_attempt_at = retry_at  # quiet hours: not an attempt
                report.deferred += 1
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


def _send_all(
    config: Config, to_send: list[tuple[m.Outbox, str | None]]
) -> list[tuple[m.Outbox, bool, str | None]]:
    """Send a round's messages side by side: a wave of alerts goes out together, not one after another."""
    if len(to_send) <= 1:
        return [(row, *_try_send(config, row, attachment)) for row, attachment in to_send]
    with ThreadPoolExecutor(max_workers=min(SEND_PARALLEL, len(to_send)), thread_name_prefix="send") as pool:
        futures = [pool.submit(_try_send, config, row, attachment) for row, attachment in to_send]
        return [(row, *f.result()) for (row, _), f in zip(to_send, futures, strict=True)]


def _suppression(s: Session, alert: m.Alert, row: m.Outbox, now: datetime) -> str | None:
    if alert.inhibited_by is not None and "-resolved-" not in row.idempotency_key:
        return f"inhibited by alert #{alert.inhibited_by}"
    if alert.state == "acknowledged" and (
        "-reminder-" in row.idempotency_key or "-escalation-" in row.idempotency_key
    ):
        return "acknowledged"
    sil = silenced(s, alert.labels or {}, now)
    if sil is not None:
        return f"silenced by silence #{sil.id} until {sil.ends_at:%Y-%m-%d %H:%M} UTC"
    return None


def _attachment(config: Config, alert: m.Alert) -> str | None:
    sop = _sop(config, alert)
    return sop.markdown() if sop is not None else None


def _fall_back(s: Session, config: Config, row: m.Outbox, now: datetime) -> None:
    ch = config.settings.channels.get(row.channel)
    if ch is None or not ch.fallback or row.attempts != config.settings.alerting.fallback_after:
        return
    key = f"{row.idempotency_key}-fallback-{ch.fallback}"
    if enqueue(s, ch.fallback, row.title, row.body, key, now, alert_id=row.alert_id) is not None:
        log.warning(
            "channel %s keeps failing; %s goes to fallback %s too",
            row.channel,
            row.idempotency_key,
            ch.fallback,
        )


def _try_send(config: Config, row: m.Outbox, attachment: str | None) -> tuple[bool, str | None]:
    try:
        return send(
            config,
            row.channel,
            row.title,
            row.body,
            row.idempotency_key,
            attachment,
            body_format=row.body_format or "markdown",
            files=list(row.attachments or []),
        )
    except Exception as exc:  # a plugin bug must not stop delivery of the other rows
        log.exception("channel %s raised while sending", row.channel)
        return False, f"{type(exc).__name__}: {exc}"


def pending_count(store: Store) -> int:
    return store.count(m.Outbox, m.Outbox.status == "pending")


def stats(store: Store) -> dict[str, int]:
    with store.session() as s:
        return {
            str(k): int(v)
            for k, v in s.execute(select(m.Outbox.status, func.count()).group_by(m.Outbox.status))
        }
