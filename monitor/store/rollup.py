"""Items per (local day, platform, product, SKU, sentiment) in ``day_counts`` (#18): the daily and
weekly reports read their trend, previous-day volume, drifts and SKU rates here instead of grouping
up to a million items.

Kept in the transaction that writes: a flush hook on the store's sessions (``watch``) reads, for the
items a flush touches (an analysis added, its sentiment changed, an item's publication time,
platform, product or SKU changed, an item or analysis deleted), what they counted for before the
flush and after it, and adds the difference. Every write of items and analyses in the package goes
through the ORM (``Store.save_items`` inserts items with a Core statement, but they count only once
their analysis is added, which is an ORM write). A writer that inserts analyses with a Core
statement (the poll's new items, ``monitor.pipeline``) tells ``count_inserted`` what they count for.
Other writes that bypass the ORM (raw SQL, Core UPDATE/DELETE on items or analyses) are not seen:
``rebuild`` afterwards (bench/report.py does).

A local day depends on the timezone. ``rollup_state`` records the one the counts were made in;
writers count in that one whatever their own configuration says, and ``ensure`` (called before a
report is built, in a write transaction) counts everything again when the configured timezone
differs. Until then the reports see the mismatch (``built_for``) and group the items themselves.
On PostgreSQL writers read the state row FOR SHARE and a rebuild takes it FOR UPDATE, so no write
counted in the old timezone lands after a rebuild in the new one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, event, func, insert, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from monitor.store import models as m

STATE = "day_counts"
DEFAULT_TIMEZONE = "Asia/Shanghai"  # monitor.config.settings.Settings.timezone's default
KEY_FIELDS = ("published_at", "platform", "product", "sku")
_BEFORE = "rollup_before"
_PENDING = "rollup_pending"  # differences of this transaction, written at commit
T = m.DayCount

Key = tuple[date, str, str, str, str]  # (day, platform, product or '', sku or '', sentiment)
Fact = tuple[datetime, str, str, str, str]  # (published_at, platform, product or '', sku or '', sentiment)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    """The local day whose window [day_start(d), day_start(d + 1)) holds ``at``: the windows the
    reports count in, also where midnight does not exist (a DST change at 00:00)."""
    d = at.astimezone(tz).date()
    if at < day_start(d, tz):
        return d - timedelta(days=1)
    if at >= day_start(d + timedelta(days=1), tz):
        return d + timedelta(days=1)
    return d


# ---- reading -----------------------------------------------------------------------------------
_BUILT_FOR = select(m.RollupState.timezone).where(m.RollupState.name == STATE)
_BUILT_FOR_SHARED = _BUILT_FOR.with_for_update(read=True)


def built_for(conn: Connection | Session, *, lock: bool = False) -> str | None:
    """The timezone the counts are in (None: never counted). ``lock``: FOR SHARE on PostgreSQL."""
    q = _BUILT_FOR_SHARED if lock and _dialect(conn) == "postgresql" else _BUILT_FOR
    value = conn.execute(q).scalar()
    return None if value is None else str(value)


def day_rows(s: Session, first: date, last: date) -> list[tuple[date, str, str | None, str, int]]:
    """(day, platform, product or None, sentiment, items) from ``first`` through ``last``."""
    n = func.sum(T.items)
    q = (
        select(T.day, T.platform, T.product, T.sentiment, n)
        .where(T.day >= first, T.day <= last)
        .group_by(T.day, T.platform, T.product, T.sentiment)
    )
    return [
        (d, str(platform), str(product) or None, str(sentiment), int(k))
        for d, platform, product, sentiment, k in s.execute(q)
        if k
    ]


def sku_counts(s: Session, first: date, last: date, by_product: bool = False) -> dict[str, tuple[int, int]]:
    """sku (or product: the product, else the SKU) -> (items, negative items) from ``first`` through
    ``last``; items with neither are left out."""
    out: Counter[str] = Counter()
    neg: Counter[str] = Counter()
    q = (
        select(T.product, T.sku, T.sentiment, func.sum(T.items))
        .where(T.day >= first, T.day <= last)
        .group_by(T.product, T.sku, T.sentiment)
    )
    for product, sku, sentiment, n in s.execute(q):
        key = (product or sku) if by_product else sku
        if not key:
            continue
        out[key] += int(n)
        if sentiment == "neg":
            neg[key] += int(n)
    return {k: (n, neg[k]) for k, n in out.items() if n}


# ---- writing -----------------------------------------------------------------------------------
def _dialect(conn: Connection | Session) -> str:
    return conn.get_bind().dialect.name if isinstance(conn, Session) else conn.dialect.name


def _chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def _counted(conn: Connection, ids: set[int]) -> dict[int, tuple[datetime, str, str, str, str]]:
    """item id -> (published_at, platform, product, sku, sentiment) of the items among ``ids`` that
    count: they have an analysis and a publication time."""
    out: dict[int, tuple[datetime, str, str, str, str]] = {}
    for chunk in _chunks(ids):
        q = (
            select(
                m.Item.id,
                m.Item.published_at,
                m.Item.platform,
                m.Item.product,
                m.Item.sku,
                m.Analysis.sentiment,
            )
            .join(m.Analysis, m.Analysis.item_id == m.Item.id)
            .where(m.Item.id.in_(chunk), m.Item.published_at.is_not(None))
        )
        for iid, at, platform, product, sku, sentiment in conn.execute(q):
            assert at is not None
            out[int(iid)] = (at, str(platform), product or "", sku or "", str(sentiment))
    return out


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT adding to the items, built once per dialect."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        base = (pg_insert if dialect == "postgresql" else sqlite_insert)(T)
        stmt = _UPSERTS[dialect] = base.on_conflict_do_update(
            index_elements=[T.day, T.platform, T.product, T.sku, T.sentiment],
            set_={"items": T.items + base.excluded["items"]},
        )
    return stmt


def add(conn: Connection, deltas: Counter[Key]) -> None:
    """Add ``deltas`` to the counts (in key order, so two writers lock rows in the same order) and
    drop the rows that reach zero."""
    rows: list[dict[str, Any]] = [
        {"day": k[0], "platform": k[1], "product": k[2], "sku": k[3], "sentiment": k[4], "items": n}
        for k, n in sorted(deltas.items())
        if n
    ]
    if not rows:
        return
    stmt = _upsert(conn.dialect.name)
    conn.execute(stmt, rows[0] if len(rows) == 1 else rows)  # one row (a poll's usual): no executemany
    if any(r["items"] < 0 for r in rows):
        days = sorted({r["day"] for r in rows if r["items"] < 0})
        conn.execute(delete(T).where(T.day.in_(days), T.items == 0))


def _touched(session: Session, *, added: bool = True) -> set[int]:
    """Ids of the items whose count this flush may change; ``added``: with the items given a new
    analysis (not needed before the flush: an item has one analysis, so it counted for nothing)."""
    ids: set[int] = set()
    for obj in session.deleted:
        if isinstance(obj, m.Item) and obj.id is not None:
            ids.add(obj.id)
        elif isinstance(obj, m.Analysis) and obj.item_id is not None:
            ids.add(obj.item_id)
    if added:
        for obj in session.new:
            if isinstance(obj, m.Analysis) and obj.item_id is not None:
                ids.add(obj.item_id)
    for obj in session.dirty:
        if isinstance(obj, m.Item):
            attrs = inspect(obj).attrs
            if obj.id is not None and any(attrs[f].history.has_changes() for f in KEY_FIELDS):
                ids.add(obj.id)
        elif isinstance(obj, m.Analysis):
            attrs = inspect(obj).attrs
            if attrs.sentiment.history.has_changes() or attrs.item_id.history.has_changes():
                ids.update(i for i in (*attrs.item_id.history.deleted, obj.item_id) if i is not None)
    return ids


def _before_flush(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    ids = _touched(session, added=False)
    session.info[_BEFORE] = (ids, _counted(session.connection(), ids) if ids else {})


def _in_session(session: Session, ids: set[int]) -> dict[int, tuple[datetime, str, str, str, str] | None]:
    """What the items among ``ids`` that only got a new analysis in this flush count for, read from the
    session's own objects (no query: a poll's new items and their analyses are all in it); None for one
    that counts for nothing (no publication time). Items not in the session, or with a field not loaded
    or a naive time, are left out (counted by query)."""
    mapper = inspect(m.Item)
    out: dict[int, tuple[datetime, str, str, str, str] | None] = {}
    for obj in session.new:
        if not isinstance(obj, m.Analysis) or obj.item_id not in ids:
            continue
        item = session.identity_map.get(mapper.identity_key_from_primary_key((obj.item_id,)))
        if not isinstance(item, m.Item) or inspect(item).unloaded & {*KEY_FIELDS, "platform"}:
            continue
        at = item.published_at
        if at is not None and at.tzinfo is None:
            continue
        product, sku = item.product or "", item.sku or ""
        out[obj.item_id] = None if at is None else (at, str(item.platform), product, sku, str(obj.sentiment))
    return out


def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    ids_before, before = session.info.pop(_BEFORE, (set(), {}))
    changed = _touched(session, added=False)  # deleted, or a counted field changed
    ids = ids_before | _touched(session)
    if not ids:
        return
    known = _in_session(session, ids - ids_before - changed)
    after = _counted(session.connection(), ids - known.keys()) if ids - known.keys() else {}
    after.update({iid: fact for iid, fact in known.items() if fact is not None})
    if before == after:
        return
    facts: Counter[Fact] = session.info.setdefault(_PENDING, Counter())
    facts.update(after.values())
    facts.subtract(before.values())


def _before_commit(session: Session) -> None:
    """Write the transaction's differences at its end, all in key order: every poll of a store adds to
    the same few rows (today × platform × sentiment), and on PostgreSQL a row written stays locked
    until commit. Written at each flush, the rows were held for the rest of the poll's transaction
    (alerting, bursts), so concurrent polls queued behind each other, and two transactions whose
    flushes reached the rows in different orders could deadlock."""
    session.flush()  # the commit's own flush comes after this event: its differences belong here
    facts: Counter[Fact] | None = session.info.pop(_PENDING, None)
    if not facts or not any(facts.values()):
        return
    conn = session.connection()
    # the zone is read (FOR SHARE) here, once per transaction: a rebuild that committed before counted
    # none of this transaction's rows, one that waits for this commit will count them all
    zone = built_for(conn, lock=True)
    if zone is None:  # never counted: the next ensure() counts everything
        return
    tz = ZoneInfo(zone)
    deltas: Counter[Key] = Counter()
    for (at, platform, product, sku, sent), n in facts.items():
        if n:
            deltas[(local_day(at, tz), platform, product, sku, sent)] += n
    add(conn, deltas)


NewFact = tuple[datetime | None, str, str | None, str | None, str]  # published_at None: not counted


def count_inserted(session: Session, facts: Iterable[NewFact]) -> None:
    """Count analyses a writer inserted without the ORM (a Core INSERT, which the flush hooks do not
    see), one (item's published_at, platform, product, SKU; the analysis' sentiment) per analysis of
    an item that had none; written at commit with the rest of the transaction's differences."""
    pending: Counter[Fact] = session.info.setdefault(_PENDING, Counter())
    for at, platform, product, sku, sentiment in facts:
        if at is not None:
            pending[(at, platform, product or "", sku or "", sentiment)] += 1


def _forget(session: Session, *_: object) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_BEFORE, None)


def watch(sessions: sessionmaker[Session]) -> None:
    """Keep ``day_counts`` with every transaction of ``sessions``."""
    event.listen(sessions, "before_flush", _before_flush)
    event.listen(sessions, "after_flush", _after_flush)
    event.listen(sessions, "before_commit", _before_commit)
    event.listen(sessions, "after_rollback", _forget)


# ---- counting everything -------------------------------------------------------------------------
def rebuild(conn: Connection, tz: ZoneInfo) -> int:
    """Count every item with an analysis again, in ``tz``, and record ``tz``; returns the rows written.

    Day by day over the days that have items (the next day with items found by the published_at
    index), each day one grouped query over its window, as the reports count.
    """
    _lock(conn)
    conn.execute(delete(T))
    written = 0
    first_at = select(func.min(m.Item.published_at))
    at = conn.execute(first_at).scalar()
    while at is not None:
        day = local_day(at, tz)
        start, end = day_start(day, tz), day_start(day + timedelta(days=1), tz)
        q = (
            select(m.Item.platform, m.Item.product, m.Item.sku, m.Analysis.sentiment, func.count())
            .select_from(m.Item)
            .join(m.Analysis, m.Analysis.item_id == m.Item.id)
            .where(m.Item.published_at >= start, m.Item.published_at < end)
            .group_by(m.Item.platform, m.Item.product, m.Item.sku, m.Analysis.sentiment)
        )
        counts: Counter[Key] = Counter()
        for platform, product, sku, sentiment, n in conn.execute(q):
            counts[(day, str(platform), product or "", sku or "", str(sentiment))] += int(n)
        rows: list[dict[str, Any]] = [
            {"day": k[0], "platform": k[1], "product": k[2], "sku": k[3], "sentiment": k[4], "items": n}
            for k, n in sorted(counts.items())
        ]
        if rows:
            conn.execute(insert(T), rows)
            written += len(rows)
        at = conn.execute(first_at.where(m.Item.published_at >= end)).scalar()
    st = m.RollupState
    if conn.execute(update(st).where(st.name == STATE).values(timezone=tz.key)).rowcount == 0:
        conn.execute(insert(st).values(name=STATE, timezone=tz.key))
    return written


def ensure(conn: Connection, tz: ZoneInfo) -> bool:
    """Count everything again when the counts are not in ``tz``; True when it did."""
    if built_for(conn) == tz.key:
        return False
    _lock(conn)
    if built_for(conn) == tz.key:  # another process did it meanwhile
        return False
    rebuild(conn, tz)
    return True


def _lock(conn: Connection) -> None:
    """On PostgreSQL: wait for the writers counting in the old zone, keep new ones out until commit."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(m.RollupState.name).where(m.RollupState.name == STATE).with_for_update())
