"""The store: one interface over SQLite (default) and PostgreSQL.

Everything one poll changes (items, analyses, alerts, outbox rows, source state,
the poll record) is written in one transaction, so an interrupted poll leaves
nothing half-done and a retried poll stores nothing twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

from monitor.clock import as_utc
from monitor.normalize import Item as NormItem
from monitor.store import models as m
from monitor.store import rollup
from monitor.store.engine import StoreError, make_engine
from monitor.store.engine import migrate as migrate_schema

__all__ = ["Store", "StoreError", "models"]


@dataclass
class ItemChange:
    item: NormItem
    kind: str  # "new" | "updated"
    row_id: int | None = None


class WriteGate:
    """A re-entrant lock where urgent holders go before the ones already waiting.

    A release wakes one waiter: an urgent one if any waits, else one of the others (waking them all
    had every poll thread queued behind a transaction fight for the GIL to find the gate taken again,
    #18 throughput). A woken waiter that finds the gate taken by a newcomer waits again; that holder's
    release wakes the next one, so no wake-up is lost."""

    def __init__(self) -> None:
        lock = threading.Lock()
        self._lock = lock
        self._urgent = threading.Condition(lock)
        self._normal = threading.Condition(lock)
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0

    def acquire(self, urgent: bool = False) -> None:
        me = threading.get_ident()
        with self._lock:
            if self._owner == me:
                self._depth += 1
                return
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._owner is not None:
                        self._urgent.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                while self._owner is not None or self._urgent_waiting:
                    self._normal.wait()
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                if self._urgent_waiting:
                    self._urgent.notify()
                else:
                    self._normal.notify()


# pg_advisory_xact_lock key every transaction that writes several alert rows takes first
ALERT_WRITERS_LOCK = 0x6F6D5F616C657274  # "om_alert"


def lock_alert_writers(s: Session) -> None:
    """Serialize the transactions that write alert rows (a poll's alert phase, a lifecycle round).

    Each of them updates several alerts in an order of its own (a poll: the keyword alerts its items
    hit, then the bursts and what they inhibit; the lifecycle: every open alert); on PostgreSQL two such
    transactions could each hold a row the other wants next. Taking this lock first makes that
    impossible, and the lock goes with the transaction. SQLite has one writer at a time already.
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(ALERT_WRITERS_LOCK)))


def _new_row(it: NormItem, now: datetime) -> dict[str, object]:
    return {
        "source": it.source,
        "platform": it.platform,
        "external_id": it.external_id,
        "parent_external_id": it.parent_external_id,
        "url": it.url,
        "author": it.author,
        "text": it.text,
        "rating": it.rating,
        "product": it.product,
        "sku": it.sku,
        "attrs": it.attrs,
        "published_at": it.published_at,
        "fetched_at": it.fetched_at,
        "updated_at": now,
        "payload_hash": it.payload_hash,
        "revision": 1,
    }


# built once: a poll looks its items up on every page (#18 throughput)
_KNOWN = select(m.Item.external_id, m.Item.id, m.Item.payload_hash).where(
    m.Item.source == bindparam("source"), m.Item.external_id.in_(bindparam("ids", expanding=True))
)

# on the tables, not the ORM entities: plain Core statements (no ORM bulk-insert step, which would
# also split the rows by which columns are None)
_ITEMS = cast(Table, m.Item.__table__)
_INSERT_ITEMS = insert(_ITEMS).returning(_ITEMS.c.id, _ITEMS.c.source, _ITEMS.c.external_id)
_INSERT_ANALYSES = insert(cast(Table, m.Analysis.__table__))
_INSERT_POLL = insert(cast(Table, m.Poll.__table__))


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        rollup.watch(self._sessions)  # items per local day, kept with every write (#18)
        # lookups outside a transaction: on PostgreSQL in autocommit, so a poll's reads cost their own
        # statements only, no BEGIN and ROLLBACK round trips around each (#18 throughput)
        pg = engine.dialect.name == "postgresql"
        reads = engine.execution_options(isolation_level="AUTOCOMMIT") if pg else engine
        self._reads = sessionmaker(reads, expire_on_commit=False)
        # SQLite has one writer; waiting writers poll with growing sleeps (busy_timeout), so a short
        # write (an outbox row marked sent) can starve behind a stream of poll transactions. Queueing
        # this process's transactions on a lock hands the database over at once instead.
        self._write_gate: WriteGate | None = WriteGate() if engine.dialect.name == "sqlite" else None

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = make_engine(url)
        try:
            if migrate:
                migrate_schema(engine)
        except Exception as exc:  # surface a clear message for the common causes
            engine.dispose()
            raise StoreError(f"cannot open the database {engine.url.render_as_string()}: {exc}") from exc
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            yield s

    @contextmanager
    def reads(self) -> Iterator[Session]:
        """A session for lookups that need no transaction of their own (each statement stands alone:
        autocommit on PostgreSQL). Nothing written through it is rolled back."""
        with self._reads() as s:
            yield s

    @contextmanager
    def transaction(self, urgent: bool = False) -> Iterator[Session]:
        """One transaction; ``urgent`` ones (recording a sent notification) go before queued polls."""
        gate = self._write_gate
        if gate is None:
            with self._sessions.begin() as s:
                yield s
            return
        gate.acquire(urgent)
        try:
            with self._sessions.begin() as s:
                yield s
        finally:
            gate.release()

    def ensure_rollup(self, tz: ZoneInfo) -> bool:
        """Count the items per local day again if the counts are in another timezone (the configured
        one changed); True when it did. Reports call it before they read the counts."""
        with self._sessions() as s:
            if rollup.built_for(s) == tz.key:
                return False
        with self.transaction() as s:
            return rollup.ensure(s.connection(), tz)

    # ---- sources -------------------------------------------------------------------------------
    def failing_sources(self, s: Session) -> list[tuple[str, int, datetime]]:
        """(name, failed polls in a row, last poll) of the sources whose last polls failed."""
        q = select(m.SourceState.name, m.SourceState.consecutive_failures, m.SourceState.last_poll_at).where(
            m.SourceState.consecutive_failures > 0, m.SourceState.last_poll_at.is_not(None)
        )
        return [(str(n), int(c), as_utc(at)) for n, c, at in s.execute(q) if at is not None]

    def source_state(self, s: Session, name: str) -> m.SourceState:
        """The source's state row, created on first use (safe against a concurrent first use)."""
        st = s.get(m.SourceState, name)
        if st is not None:
            return st
        values = {"name": name, "cursor": {}, "consecutive_failures": 0, "polls": 0, "had_items": False}
        if self.dialect in ("sqlite", "postgresql"):
            dialect_insert = sqlite_insert if self.dialect == "sqlite" else pg_insert
            q = dialect_insert(m.SourceState).values(**values).on_conflict_do_nothing()
            created = s.scalars(q.returning(m.SourceState)).first()  # the new row, in one statement
            if created is not None:
                return created
        else:
            s.add(m.SourceState(**values))
            s.flush()
        st = s.get(m.SourceState, name, populate_existing=True)
        assert st is not None
        return st

    @staticmethod
    def attach_state(s: Session, state: m.SourceState) -> m.SourceState:
        """``state``, read earlier in this poll (``source_state``), in the transaction ``s`` without
        reading it again: a flush writes only the columns changed since. For the writer that owns the
        source's poll (the claim on PostgreSQL, the one daemon on SQLite): no one else writes the
        columns a poll changes while it runs (the claim rounds write the lease and due columns only)."""
        return s.merge(state, load=False)

    def read_source_state(self, name: str) -> m.SourceState | None:
        with self.session() as s:
            return s.get(m.SourceState, name)

    def gaps(self, *, since: datetime, source: str | None = None) -> list[m.SourceGap]:
        """Recorded gaps (items a catch-up could not reach) since ``since``, newest first."""
        q = select(m.SourceGap).where(m.SourceGap.recorded_at >= since)
        if source:
            q = q.where(m.SourceGap.source == source)
        with self.session() as s:
            return list(s.scalars(q.order_by(m.SourceGap.recorded_at.desc(), m.SourceGap.id.desc())))

    # ---- items ---------------------------------------------------------------------------------
    def known(self, s: Session, source: str, external_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """external_id -> (row id, payload hash) for the ids already stored."""
        out: dict[str, tuple[int, str]] = {}
        ids = list(dict.fromkeys(external_ids))
        for i in range(0, len(ids), 500):
            rows = s.execute(_KNOWN, {"source": source, "ids": ids[i : i + 500]})
            out.update({ext: (iid, h) for ext, iid, h in rows})
        return out

    def stored_texts(
        self, s: Session, source: str, external_ids: Sequence[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """external_id -> (text, attrs) of the stored items among ``external_ids``."""
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        ids = list(dict.fromkeys(external_ids))
        for i in range(0, len(ids), 500):
            q = select(m.Item.external_id, m.Item.text, m.Item.attrs).where(
                m.Item.source == source, m.Item.external_id.in_(ids[i : i + 500])
            )
            out.update({ext: (text, dict(attrs or {})) for ext, text, attrs in s.execute(q)})
        return out

    def diff(self, s: Session, items: Sequence[NormItem]) -> list[ItemChange]:
        """New and edited items; unchanged ones are dropped. Duplicates within a batch keep the first."""
        if not items:
            return []
        by_source: dict[str, list[NormItem]] = {}
        seen: set[tuple[str, str]] = set()
        for it in items:
            key = (it.source, it.external_id)
            if key in seen:
                continue
            seen.add(key)
            by_source.setdefault(it.source, []).append(it)
        changes: list[ItemChange] = []
        for source, group in by_source.items():
            known = self.known(s, source, [it.external_id for it in group])
            for it in group:
                prev = known.get(it.external_id)
                if prev is None:
                    changes.append(ItemChange(it, "new"))
                elif prev[1] != it.payload_hash:
                    changes.append(ItemChange(it, "updated", prev[0]))
        return changes

    def save_items(self, s: Session, changes: Iterable[ItemChange], now: datetime) -> list[m.Item]:
        """Store ``changes``; returns one row per change, in order. New items go in one bulk INSERT."""
        changes = list(changes)
        rows: list[m.Item | None] = [None] * len(changes)
        new: list[tuple[int, dict[str, object]]] = []
        for i, ch in enumerate(changes):
            it = ch.item
            row = s.get(m.Item, ch.row_id) if ch.kind == "updated" and ch.row_id is not None else None
            if row is None:
                new.append((i, _new_row(it, now)))
                continue
            s.add(
                m.ItemRevision(
                    item_id=row.id,
                    revision=row.revision,
                    text=row.text,
                    rating=row.rating,
                    payload_hash=row.payload_hash,
                    recorded_at=now,
                )
            )
            row.text, row.rating, row.payload_hash = it.text, it.rating, it.payload_hash
            row.sku = it.sku or row.sku
            row.parent_external_id = it.parent_external_id or row.parent_external_id
            row.revision += 1
            row.updated_at = now
            rows[i] = row
        if new:
            # one multi-row INSERT … RETURNING the rows, matched back by their natural key (asking for
            # the parameters' order would make SQLite insert row by row)
            # the rows are built here from what was inserted, not loaded back (#18 throughput)
            wanted = {(p["source"], p["external_id"]): (i, p) for i, p in new}
            for iid, source, ext in s.execute(_INSERT_ITEMS, [params for _, params in new]):
                i, params = wanted[(source, ext)]
                row = m.Item(id=iid, **params)
                row.attrs = dict(row.attrs or {})  # its own copy (before it counts as loaded)
                make_transient_to_detached(row)  # as if loaded: persistent once added, nothing to write
                s.add(row)
                rows[i] = row
        s.flush()
        out = [r for r in rows if r is not None]
        self._save_full_texts(s, [(ch.item, row) for ch, row in zip(changes, rows, strict=True) if row])
        return out

    @staticmethod
    def insert_analyses(s: Session, values: list[dict[str, Any]], facts: Sequence[rollup.NewFact]) -> None:
        """Insert the analyses of items that have none, in one Core statement (no ORM objects to
        flush, #18 throughput), and count them in ``day_counts`` (``facts``: what each counts for)."""
        s.execute(_INSERT_ANALYSES, values)
        rollup.count_inserted(s, facts)

    @staticmethod
    def record_poll(s: Session, values: dict[str, Any]) -> None:
        """The poll's row (``polls``), inserted with a Core statement."""
        s.execute(_INSERT_POLL, values)

    @staticmethod
    def _save_full_texts(s: Session, pairs: Sequence[tuple[NormItem, m.Item]]) -> None:
        """Keep the whole text of capped items apart; drop it when an edit made the text short again."""
        for it, row in pairs:
            kept = s.get(m.ItemFullText, row.id) if row.revision > 1 else None
            if it.full_text is None:
                if kept is not None:
                    s.delete(kept)
            elif kept is None:
                s.add(m.ItemFullText(item_id=row.id, text=it.full_text, chars=len(it.full_text)))
            else:
                kept.text, kept.chars = it.full_text, len(it.full_text)

    def full_text(self, s: Session, item_id: int) -> str | None:
        """The whole text of an item whose stored text was capped, else None."""
        kept = s.get(m.ItemFullText, item_id)
        return kept.text if kept is not None else None

    def count(self, model: type[m.Base], *where: object) -> int:
        with self.session() as s:
            q = select(func.count()).select_from(model)
            for w in where:
                q = q.where(w)  # type: ignore[arg-type]
            return int(s.scalar(q) or 0)
