"""#18: items per local day (day_counts) kept in the writing transaction, on SQLite and PostgreSQL:
always equal to a recount from the items, after inserts, re-analysis, edits, deletions, a rolled
back transaction, a timezone change and the migration's backfill; and the reports read from them
give the numbers they give from the items."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, insert, select

from monitor.analyze import Analysis
from monitor.normalize import Item as NormItem
from monitor.pipeline import _save_analyses
from monitor.reports import data
from monitor.store import Store, rollup
from monitor.store import models as m
from monitor.store.engine import make_engine, upgrade
from tests.conftest import NOW

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")  # leaves DST on 2026-11-01, inside the items' span


def kept(store: Store) -> Counter[tuple[date, str, str, str, str]]:
    with store.session() as s:
        rows = s.execute(select(m.DayCount)).scalars().all()
        assert all(r.items > 0 for r in rows), "rows that reached zero are dropped"
        return Counter({(r.day, r.platform, r.product, r.sku, r.sentiment): r.items for r in rows})


def recount(store: Store, tz: ZoneInfo) -> Counter[tuple[date, str, str, str, str]]:
    """From the items, with the reports' own day windows (not the rollup's code)."""
    out: Counter[tuple[date, str, str, str, str]] = Counter()
    with store.session() as s:
        q = select(
            m.Item.published_at, m.Item.platform, m.Item.product, m.Item.sku, m.Analysis.sentiment
        ).join(m.Analysis, m.Analysis.item_id == m.Item.id)
        for at, platform, product, sku, sentiment in s.execute(q):
            if at is None:
                continue
            day = at.astimezone(tz).date()
            if at < data.day_window(day, tz)[0]:
                day -= timedelta(days=1)
            elif at >= data.day_window(day, tz)[1]:
                day += timedelta(days=1)
            assert data.day_window(day, tz)[0] <= at < data.day_window(day, tz)[1]
            out[(day, platform, product or "", sku or "", sentiment)] += 1
    return out


def norm(i: int, rng: random.Random, sku: str | None = None) -> NormItem:
    at = NOW - timedelta(hours=rng.randrange(24 * 30), minutes=rng.randrange(60))
    if rng.random() < 0.1:  # exactly local midnight in one of the two zones
        at = at.astimezone(rng.choice([SHANGHAI, NEW_YORK])).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
    return NormItem(
        source="jd-cup" if i % 2 else "tmall-cup",
        platform="jd" if i % 2 else "tmall",
        external_id=f"x{i}",
        text=f"评价{i}",
        payload_hash=f"h{i}-{rng.random()}",
        fetched_at=NOW,
        published_at=None if rng.random() < 0.05 else at,
        product=rng.choice([None, "P1", "P2"]),
        sku=sku if sku is not None else rng.choice([None, "S1", "S2", "S3"]),
    )


def analysis(sentiment: str) -> Analysis:
    return Analysis(
        normalized="x", hits=[], rules=[], sentiment=sentiment, sentiment_score=0.5, dimensions=[], grade=None
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_day_counts_equal_a_recount_through_every_kind_of_write(store: Store, seed: int) -> None:
    """Random rounds of the pipeline's own writes (Store.save_items + pipeline._save_analyses: new
    items, edited items with a new SKU and a new sentiment), analyses replaced in place, items and
    analyses deleted, a transaction rolled back; after each round the counts equal a recount."""
    rng = random.Random(seed)
    stored: list[int] = []
    n = 0
    for _ in range(12):
        kind = rng.choice(["new", "new", "edit", "reanalyze", "delete", "rollback"])
        if kind in ("new", "edit", "rollback") or not stored:
            try:
                with store.transaction() as s:
                    items = []
                    for _ in range(rng.randrange(1, 15)):
                        n += 1
                        items.append(norm(n, rng))
                    if kind == "edit" and n > 5:  # edits of stored items: new text, SKU and sentiment
                        for k in rng.sample(range(1, n - 4), min(4, n - 5)):
                            items.append(norm(k, rng, sku=rng.choice(["S1", "S4"])))
                    changes = store.diff(s, items)
                    rows = store.save_items(s, changes, NOW)
                    sentiments = [analysis(rng.choice(data.SENTIMENTS)) for _ in rows]
                    _save_analyses(s, changes, rows, sentiments, NOW)
                    if kind == "rollback":
                        raise RuntimeError("the poll failed")
            except RuntimeError:
                pass
            with store.session() as s:
                stored = list(s.scalars(select(m.Item.id)))
        elif kind == "reanalyze":
            with store.transaction() as s:
                for a in s.scalars(
                    select(m.Analysis).where(
                        m.Analysis.item_id.in_(rng.sample(stored, 5 if len(stored) > 5 else 1))
                    )
                ):
                    a.sentiment = rng.choice(data.SENTIMENTS)
        else:
            with store.transaction() as s:
                gone = rng.sample(stored, min(3, len(stored)))
                s.delete(s.get(m.Item, gone[0]))  # the analysis goes with it (ON DELETE CASCADE)
                for iid in gone[1:]:
                    a = s.get(m.Analysis, iid)
                    if a is not None:
                        s.delete(a)  # the item stays, no longer counted
                stored.remove(gone[0])
        assert kept(store) == recount(store, SHANGHAI), kind
    assert sum(recount(store, SHANGHAI).values()) > 20


def test_a_rolled_back_write_leaves_the_counts(store: Store) -> None:
    rng = random.Random(5)
    with store.transaction() as s:
        changes = store.diff(s, [norm(i, rng) for i in range(10)])
        rows = store.save_items(s, changes, NOW)
        _save_analyses(s, changes, rows, [analysis("neg") for _ in rows], NOW)
    before = kept(store)
    assert before == recount(store, SHANGHAI) and before
    with pytest.raises(RuntimeError), store.transaction() as s:
        changes = store.diff(s, [norm(i, rng) for i in range(10, 20)])
        rows = store.save_items(s, changes, NOW)
        _save_analyses(s, changes, rows, [analysis("pos") for _ in rows], NOW)
        assert kept(store) == before  # another connection does not see this transaction's counts
        raise RuntimeError("the poll failed")
    assert kept(store) == before == recount(store, SHANGHAI)


def test_a_changed_timezone_is_counted_again(store: Store) -> None:
    rng = random.Random(9)
    with store.transaction() as s:
        changes = store.diff(s, [norm(i, rng) for i in range(60)])
        rows = store.save_items(s, changes, NOW)
        _save_analyses(s, changes, rows, [analysis(rng.choice(data.SENTIMENTS)) for _ in rows], NOW)
    assert kept(store) == recount(store, SHANGHAI) != recount(store, NEW_YORK)
    with store.session() as s:
        assert not data.rolled_up(s, NEW_YORK)  # the reports group the items themselves meanwhile
    assert store.ensure_rollup(NEW_YORK) is True
    assert store.ensure_rollup(NEW_YORK) is False
    assert kept(store) == recount(store, NEW_YORK)
    with store.transaction() as s:  # later writes count in the zone recorded
        changes = store.diff(s, [norm(i, rng) for i in range(60, 90)])
        rows = store.save_items(s, changes, NOW)
        _save_analyses(s, changes, rows, [analysis("neg") for _ in rows], NOW)
    assert kept(store) == recount(store, NEW_YORK)


def test_the_migration_counts_the_items_already_stored(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine, "0018")
    rng = random.Random(3)
    with engine.begin() as conn:
        for i in range(1, 80):
            it = norm(i, rng)
            conn.execute(
                insert(m.Item).values(
                    id=i, source=it.source, platform=it.platform, external_id=it.external_id, text=it.text,
                    product=it.product, sku=it.sku, attrs={}, published_at=it.published_at, fetched_at=NOW,
                    updated_at=NOW, payload_hash=it.payload_hash, revision=1,
                )
            )  # fmt: skip
            if i % 7:  # not every item was analysed
                conn.execute(
                    insert(m.Analysis).values(
                        item_id=i, normalized="x", rules=[], hits=[], sentiment=rng.choice(data.SENTIMENTS),
                        sentiment_score=0.5, dimensions=[], grade_reasons=[], rules_version="", analyzed_at=NOW,
                    )
                )  # fmt: skip
    upgrade(engine)
    engine.dispose()
    store = Store.open(store_url)
    try:
        with store.session() as s:
            assert rollup.built_for(s) == "Asia/Shanghai"
        assert kept(store) == recount(store, SHANGHAI)
        assert sum(kept(store).values()) > 50
    finally:
        store.close()


def test_reports_read_from_the_counts_give_the_numbers_of_the_items(store: Store) -> None:
    """The daily and weekly numbers with the counts and without them (the fallback that groups the
    items), with several platforms, products and SKUs and a rise of one product's negative share."""
    rng = random.Random(11)
    with store.transaction() as s:
        items, sentiments = [], []
        for i in range(1500):
            it = norm(i, rng)
            items.append(it)
            late = it.published_at is not None and it.published_at > NOW - timedelta(days=8)
            neg = 0.6 if late and it.product == "P2" else 0.15
            sentiments.append("neg" if rng.random() < neg else rng.choice(["pos", "pos", "neu"]))
        changes = store.diff(s, items)
        rows = store.save_items(s, changes, NOW)
        by_id = {it.external_id: k for it, k in zip(items, sentiments, strict=True)}  # diff groups by source
        _save_analyses(s, changes, rows, [analysis(by_id[ch.item.external_id]) for ch in changes], NOW)
    day = NOW.astimezone(SHANGHAI).date()
    monday = day - timedelta(days=day.weekday())

    def both() -> tuple[Any, Any]:
        with store.session() as s:
            d = data.daily(s, day, SHANGHAI, {}, NOW).to_json()
            w = data.weekly(s, monday - timedelta(days=7), SHANGHAI, {}, {}, {}, NOW).to_json()
        return d, w

    with store.session() as s:
        assert data.rolled_up(s, SHANGHAI)
    rolled = both()
    with store.transaction() as s:
        s.execute(delete(m.RollupState))
    with store.session() as s:
        assert not data.rolled_up(s, SHANGHAI)
    assert both() == rolled
    daily, _ = rolled
    assert daily["volume"] > 0 and daily["skus"] and daily["products"] and daily["trend"]
    assert any(d["scope"] == "商品 P2" for d in daily["drifts"]), daily["drifts"]


def test_concurrent_writers_keep_the_counts(store: Store) -> None:
    """Four threads storing and re-analysing items of the same days, platforms and SKUs at once (on
    PostgreSQL each in its own transaction, rows locked in key order): no deadlock, no lost update."""
    import threading

    errors: list[BaseException] = []

    def writer(w: int) -> None:
        rng = random.Random(w)
        try:
            for r in range(8):
                with store.transaction() as s:
                    items = [
                        norm(w * 1000 + r * 10 + i, rng, sku=rng.choice(["S1", "S2"])) for i in range(10)
                    ]
                    items += [norm(w * 1000 + k, rng, sku="S1") for k in range(0, r * 10, 7)]  # edits
                    changes = store.diff(s, items)
                    rows = store.save_items(s, changes, NOW)
                    sentiments = [analysis(rng.choice(data.SENTIMENTS)) for _ in rows]
                    _save_analyses(s, changes, rows, sentiments, NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert kept(store) == recount(store, SHANGHAI)
    assert 250 < sum(kept(store).values()) <= 4 * 8 * 10  # 5 % have no publication time
