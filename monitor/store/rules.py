"""Stored rule file versions, and the stored items a rule replay reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from monitor.store import Store
from monitor.store import models as m

__all__ = ["StoredItem", "add_version", "items_since", "version", "versions"]


@dataclass(frozen=True)
class StoredItem:
    id: int
    text: str
    source: str
    platform: str
    sku: str | None
    rating: int | None
    rules: tuple[str, ...]  # the rules that fired when it was analyzed


def items_since(store: Store, since: datetime, limit: int | None = None) -> Iterator[StoredItem]:
    """Items fetched since ``since`` with the rules they fired, newest first (streamed)."""
    q = (
        select(
            m.Item.id,
            m.Item.text,
            m.Item.source,
            m.Item.platform,
            m.Item.sku,
            m.Item.rating,
            m.Analysis.rules,
        )
        .outerjoin(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(m.Item.fetched_at >= since)
        .order_by(m.Item.id.desc())
        .execution_options(yield_per=500)
    )
    if limit is not None:
        q = q.limit(limit)
    with store.session() as s:
        for iid, text, source, platform, sku, rating, rules in s.execute(q):
            yield StoredItem(iid, text, source, platform, sku, rating, tuple(rules or ()))


def add_version(store: Store, path: str, sha256: str, content: str, now: datetime) -> bool:
    """Record a rule file's content once per hash; False when that version is known already."""
    with store.transaction() as s:
        known = s.scalars(
            select(m.RuleVersion.id).where(m.RuleVersion.path == path, m.RuleVersion.sha256 == sha256)
        ).first()
        if known is not None:
            return False
        s.add(m.RuleVersion(path=path, sha256=sha256, content=content, loaded_at=now))
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
