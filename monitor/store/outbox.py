"""The durable outbox's rows: a notification is a row before it is a request.

Rows are written in the transaction that decided them and sent later by ``monitor.delivery``. Each
row carries its event, its structured message (``monitor.notify.message.Message`` as JSON) and an
idempotency key that travels with the message, so a receiver can drop a repeat.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store import Store
from monitor.store import models as m

__all__ = ["Composed", "due", "enqueue", "pending_count", "stats"]


class Composed(Protocol):
    """What a row stores: a message with a title, an event and a JSON form."""

    @property
    def title(self) -> str: ...

    @property
    def event(self) -> str: ...

    def to_json(self) -> dict[str, object]: ...


def enqueue(
    s: Session,
    channel: str,
    message: Composed,
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
        title=message.title,
        event=message.event,
        message=message.to_json(),
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now + delay,
    )
    s.add(row)
    return row


def due(s: Session, now: datetime, limit: int) -> list[m.Outbox]:
    """Pending rows whose time has come, oldest first."""
    return list(
        s.scalars(
            select(m.Outbox)
            .where(m.Outbox.status == "pending", m.Outbox.next_attempt_at <= now)
            .order_by(m.Outbox.next_attempt_at, m.Outbox.id)
            .limit(limit)
        )
    )


def pending_count(store: Store) -> int:
    return store.count(m.Outbox, m.Outbox.status == "pending")


def stats(store: Store) -> dict[str, int]:
    """Rows by status (pending, sent, suppressed)."""
    with store.session() as s:
        return {
            str(k): int(v)
            for k, v in s.execute(select(m.Outbox.status, func.count()).group_by(m.Outbox.status))
        }
