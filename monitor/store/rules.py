"""Stored rule file versions, and the stored items a rule replay reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monitor.analyze.explain import StoredItem
from monitor.store import Store
from monitor.store import models as m

__all__ = ["StoredItem", "add_version", "items_since", "version", "versions"]


def items_since(
    store: Store, since: datetime, limit: int | None = None, *, newest_first: bool = True
) -> Iterator[StoredItem]:
    """Items fetched since ``since`` with the rules their stored analysis alerted on and its
    sentiment, newest first unless asked otherwise (streamed)."""
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
    with store.session() as s:
        for row in s.execute(q):
            yield StoredItem(*row)


def add_version(store: Store, path: str, sha256: str, content: str, now: datetime) -> bool:
    """Record a rule file's content once per hash; False when that version is known already (also
    when another replica, starting at the same moment, recorded it between the lookup and the insert)."""
    with store.transaction() as s:
        known = s.scalars(
            select(m.RuleVersion.id).where(m.RuleVersion.path == path, m.RuleVersion.sha256 == sha256)
        ).first()
        if known is not None:
            return False
        try:
            with s.begin_nested():  # a savepoint: the unique key decides between racing replicas
                s.add(m.RuleVersion(path=path, sha256=sha256, content=content, loaded_at=now))
        except IntegrityError:
            return False
        return True


def versions(store: Store, path: str) -> list[m.RuleVersion]:
    """The versions of one rule file, newest first."""
    with store.session() as s:
        return list(
            s.scalars(
                select(m.RuleVersion)
                .where(m.RuleVersion.path == path)
                .order_by(m.RuleVersion.loaded_at.desc(), m.RuleVersion.id.desc())
            )
        )


def version(store: Store, version_id: int) -> m.RuleVersion | None:
    with store.session() as s:
        row: m.RuleVersion | None = s.get(m.RuleVersion, version_id)
        return row
