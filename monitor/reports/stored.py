"""Stored items with what their stored analysis said, as the rule tools read them (replay,
uncovered): one query, newest or oldest first, from a time on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from monitor.analyze.explain import StoredItem
from monitor.store import models as m


def stored_items(
    s: Any, since: datetime, *, newest_first: bool = False, limit: int | None = None
) -> Iterator[StoredItem]:
    """Items fetched at or after ``since`` (UTC) in session ``s``."""
    q = (
        select(
            m.Item.id,
            m.Item.text,
            m.Item.source,
            m.Item.platform,
            m.Item.sku,
            m.Item.rating,
            m.Analysis.rules,
            m.Analysis.sentiment,
        )
        .outerjoin(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(m.Item.fetched_at >= since)
        .order_by(m.Item.id.desc() if newest_first else m.Item.id)
        .execution_options(yield_per=500)
    )
    if limit is not None:
        q = q.limit(limit)
    for row in s.execute(q):
        yield StoredItem(*row)


__all__ = ["stored_items"]
