"""One source run end to end against the loopback storefront, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.analyze.pool import AnalysisPool
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.fetch import Fetcher
from monitor.notify import outbox
from monitor.pipeline import Context, run_source
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import NOW, write_project


@pytest.fixture
def ctx(tmp_path: Path, storefront: Storefront, sink: WebhookSink, store_url: str) -> Iterator[Context]:
    config = load_config(write_project(tmp_path, storefront.base_url, sink.url, db_url=store_url))
    store = Store.open(config.database_url)
    fetcher = Fetcher(retries=0, min_interval=0)
    c = Context(config, store, fetcher, AnalysisPool(config.rules, config.priority_words, None, 0))
    yield c
    fetcher.close()
    store.close()


def run_all(ctx: Context, now: object = NOW) -> dict[str, object]:
    return {name: run_source(ctx, src, now) for name, src in ctx.config.sources.items()}  # type: ignore[arg-type]


def test_every_source_is_fetched_parsed_and_stored(ctx: Context) -> None:
    results = run_all(ctx)
    assert {n: r.verdict for n, r in results.items()} == {"jd-cup": "ok", "shop": "ok", "weibo": "ok"}  # type: ignore[attr-defined]
    with ctx.store.session() as s:
        rows = list(s.scalars(select(m.Item)))
    by_source: dict[str, int] = {}
    for r in rows:
        by_source[r.source] = by_source.get(r.source, 0) + 1
    assert by_source == {"jd-cup": 11, "shop": 4, "weibo": 3}
    jd = next(r for r in rows if r.source == "jd-cup" and "杯盖裂了" in r.text)
    assert jd.rating == 1 and jd.sku == "100012043978" and jd.platform == "jd" and jd.author == "张***"
    assert jd.published_at is not None and jd.published_at.tzinfo is not None
    assert ctx.store.count(m.Analysis) == len(rows)


def test_second_run_stores_nothing_twice(ctx: Context) -> None:
    run_all(ctx)
    before = ctx.store.count(m.Item)
    results = run_all(ctx, NOW + timedelta(minutes=1))
    assert all(r.new == 0 and r.updated == 0 for r in results.values())  # type: ignore[attr-defined]
    assert ctx.store.count(m.Item) == before


def test_negated_mentions_do_not_alert_and_real_ones_do(ctx: Context) -> None:
    run_all(ctx)
    with ctx.store.session() as s:
        analyses = {it.text: a for it, a in s.execute(select(m.Item, m.Analysis).join(m.Analysis))}
        alerts = list(s.scalars(select(m.Alert)))
    assert analyses["包装完好，没有破损，保温时间挺长的。"].rules == []
    assert analyses["在官方旗舰店买的，不是假货，放心。"].rules == []
    assert "damaged" in analyses["收到杯子就是破损的，杯盖裂了一条缝！"].rules
    kinds = {(a.kind, a.rule_id) for a in alerts}
    assert ("burst", "damaged") in kinds
    assert ("keyword", "counterfeit") in kinds
    assert ("keyword", "slow_delivery") in kinds
    single = [a for a in alerts if a.kind == "keyword" and a.rule_id == "damaged"]
    burst = next(a for a in alerts if a.kind == "burst")
    assert single and all(a.inhibited_by == burst.id for a in single)
    assert burst.item_count >= 5


def test_notifications_delivered_once_with_idempotency_keys(ctx: Context, sink: WebhookSink) -> None:
    run_all(ctx)
    report = outbox.deliver_due(ctx.store, ctx.config, NOW)
    assert report.failed == 0 and report.sent >= 3
    with ctx.store.session() as s:
        singles = [
            a.id
            for a in s.scalars(select(m.Alert).where(m.Alert.kind == "keyword", m.Alert.rule_id == "damaged"))
        ]
    assert singles
    sent_for = {k.split("-")[1] for k in sink.keys()}  # noqa: SIM118  (a method of the sink)
    assert not sent_for & {str(i) for i in singles}  # the single 破损 alerts are absorbed by the burst
    again = outbox.deliver_due(ctx.store, ctx.config, NOW + timedelta(hours=2))
    assert again.sent == 0
    keys = sink.keys()
    assert len(keys) == report.sent and set(keys.values()) == {1}
    assert all(k.startswith("alert-") for k in keys)
    burst_msg = next(b for b in sink.messages() if "差评爆发" in b["title"])
    assert "破损" in burst_msg["message"] and "7 条负面" in burst_msg["message"]
    assert "张\\*\\*\\*" in burst_msg["message"]  # already masked by JD; the asterisks are escaped
    weibo_msg = next(b for b in sink.messages() if "假货" in b["message"] and "weibo" in b["message"])
    assert "维权的小李" not in weibo_msg["message"] and "维\\*\\*\\*李" in weibo_msg["message"]
    assert "/ack/" in burst_msg["message"] and "批量差评应急 SOP" in burst_msg["message"]


def test_failed_delivery_is_retried_never_dropped(ctx: Context, sink: WebhookSink) -> None:
    run_all(ctx)
    sink.fail_with = 500
    first = outbox.deliver_due(ctx.store, ctx.config, NOW)
    assert first.sent == 0 and first.failed >= 3
    assert outbox.deliver_due(ctx.store, ctx.config, NOW).failed == 0  # backing off: not due yet
    sink.fail_with = None
    later = outbox.deliver_due(ctx.store, ctx.config, NOW + timedelta(hours=2))
    assert later.sent == first.failed
    assert set(sink.keys().values()) == {1}
    with ctx.store.session() as s:
        history = list(s.scalars(select(m.Delivery)))
    assert sum(not d.ok for d in history) == first.failed and sum(d.ok for d in history) == later.sent


def test_interrupted_run_commits_nothing(ctx: Context) -> None:
    from monitor.pipeline import Interrupted

    ctx.stop.set()
    with pytest.raises(Interrupted):
        run_source(ctx, ctx.config.sources["jd-cup"], NOW)
    assert ctx.store.count(m.Item) == 0 and ctx.store.count(m.Poll) == 0
