"""One source run end to end against the loopback storefront, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import delivery
from monitor.adapters import registry
from monitor.analyze.pool import AnalysisPool
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.fetch import Fetcher
from monitor.pipeline import Context, run_source
from monitor.store import Store, outbox
from monitor.store import models as m
from tests.conftest import LOOPBACK, NOW, ReviewFeed, write_project


@pytest.fixture
def ctx(tmp_path: Path, storefront: Storefront, sink: WebhookSink, store_url: str) -> Iterator[Context]:
    config = load_config(write_project(tmp_path, storefront.base_url, sink.url, db_url=store_url), registry())
    store = Store.open(config.database_url)
    fetcher = Fetcher(retries=0, min_interval=0, network=LOOPBACK)
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
    report = delivery.deliver_due(ctx.store, ctx.config, NOW)
    assert report.failed == 0 and report.sent >= 3
    with ctx.store.session() as s:
        singles = [
            a.id
            for a in s.scalars(select(m.Alert).where(m.Alert.kind == "keyword", m.Alert.rule_id == "damaged"))
        ]
    assert singles
    sent_for = {k.split("-")[1] for k in sink.keys()}  # noqa: SIM118  (a method of the sink)
    assert not sent_for & {str(i) for i in singles}  # the single 破损 alerts are absorbed by the burst
    again = delivery.deliver_due(ctx.store, ctx.config, NOW + timedelta(hours=2))
    assert again.sent == 0
    keys = sink.keys()
    assert len(keys) == report.sent and set(keys.values()) == {1}
    assert all(k.startswith("alert-") for k in keys)
    burst_msg = next(b for b in sink.messages() if "差评爆发" in b["title"])
    assert "破损" in burst_msg["message"] and "7 条差评提到「商品破损」" in burst_msg["message"]
    assert "张\\*\\*\\*" in burst_msg["message"]  # already masked by JD; the asterisks are escaped
    weibo_msg = next(b for b in sink.messages() if "假货" in b["message"] and "weibo" in b["message"])
    assert "维权的小李" not in weibo_msg["message"] and "维\\*\\*\\*李" in weibo_msg["message"]
    assert "/ack/" in burst_msg["message"] and "批量差评应急 SOP" in burst_msg["message"]


def test_failed_delivery_is_retried_never_dropped(ctx: Context, sink: WebhookSink) -> None:
    run_all(ctx)
    sink.fail_with = 500
    first = delivery.deliver_due(ctx.store, ctx.config, NOW)
    assert first.sent == 0 and first.failed >= 3
    assert delivery.deliver_due(ctx.store, ctx.config, NOW).failed == 0  # backing off: not due yet
    sink.fail_with = None
    later = delivery.deliver_due(ctx.store, ctx.config, NOW + timedelta(hours=2))
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


# ---- catching up after an interruption, and gaps ------------------------------------------------
@pytest.fixture
def feed() -> Iterator[ReviewFeed]:
    f = ReviewFeed().start_serving()
    yield f
    f.stop()


def growing_ctx(tmp_path: Path, feed: ReviewFeed, sink: WebhookSink, store_url: str, fetch: str) -> Context:
    """A project whose one source is ``feed`` (3 head pages a poll), with ``fetch`` lines added."""
    config_path = write_project(tmp_path, feed.url, sink.url, db_url=store_url)
    text = config_path.read_text(encoding="utf-8").replace("\nfetch:\n", "\nfetch:\n" + fetch, 1)
    config_path.write_text(text, encoding="utf-8")
    source = "sources:\n" + feed.source_yaml(max_pages=3)
    (tmp_path / "sources" / "shop.yaml").write_text(source, encoding="utf-8")
    config = load_config(config_path, registry())
    store = Store.open(config.database_url)
    return Context(config, store, Fetcher(retries=0, min_interval=0, network=LOOPBACK),
                   AnalysisPool(config.rules, config.priority_words, None, 0))  # fmt: skip


def stored_ids(ctx: Context) -> set[str]:
    with ctx.store.session() as s:
        return set(s.scalars(select(m.Item.external_id)))


def test_after_downtime_a_source_catches_up_page_by_page_across_polls(
    tmp_path: Path, feed: ReviewFeed, sink: WebhookSink, store_url: str
) -> None:
    """105 reviews published while the daemon was away: 3 head pages and 4 catch-up pages a poll, so two
    polls, resuming where the first stopped; nothing lost, no gap recorded, then back to the head only."""
    ctx = growing_ctx(tmp_path, feed, sink, store_url, "  catchup_pages: 4\n")
    src = ctx.config.sources["growing"]
    try:
        feed.publish(15)
        assert run_source(ctx, src, NOW).verdict == "ok"  # the first poll backfills (5 pages at most)
        feed.publish(105)  # the downtime
        requests_before = len(feed.requests)
        first = run_source(ctx, src, NOW + timedelta(minutes=10))
        assert first.verdict == "ok" and first.new == 70  # 3 head pages + 4 catch-up pages
        assert "catching up after an interruption: 4 extra page(s)" in first.reason
        assert "1 interruption(s) still to catch up" in first.reason
        assert len(feed.requests) - requests_before == 7
        state = ctx.store.read_source_state("growing")
        assert state is not None and state.cursor["catchup"][0]["url"].endswith("page=8")
        second = run_source(ctx, src, NOW + timedelta(minutes=20))
        assert second.verdict == "ok" and second.new == 35  # page 11 reaches the reviews stored before
        assert stored_ids(ctx) == feed.ids()  # nothing lost
        state = ctx.store.read_source_state("growing")
        assert state is not None and "catchup" not in state.cursor
        assert ctx.store.count(m.SourceGap) == 0
        quiet = run_source(ctx, src, NOW + timedelta(minutes=30))
        assert quiet.new == 0 and len(quiet.pages) == 1 and "catching up" not in quiet.reason
        feed.publish(5)  # a page half new, half known, and the platform's paging ends after it: no gap
        assert run_source(ctx, src, NOW + timedelta(minutes=40)).new == 5
        assert ctx.store.count(m.SourceGap) == 0 and stored_ids(ctx) == feed.ids()
    finally:
        ctx.fetcher.close()
        ctx.store.close()


def test_paging_that_cannot_reach_back_records_one_gap_and_tells_the_admins_once(
    tmp_path: Path, sink: WebhookSink, store_url: str
) -> None:
    feed = ReviewFeed(max_page=6).start_serving()  # like JD: the answers stop at a page limit
    ctx = growing_ctx(tmp_path, feed, sink, store_url, "")
    src = ctx.config.sources["growing"]
    try:
        feed.publish(20)
        run_source(ctx, src, NOW)
        feed.publish(100)  # 10 pages of new reviews, only 6 pages reachable
        result = run_source(ctx, src, NOW + timedelta(hours=1))
        assert result.verdict == "ok" and result.new == 60
        assert "gap recorded: items may be missing, the platform's paging ends" in result.reason
        with ctx.store.session() as s:
            gaps = list(s.scalars(select(m.SourceGap)))
            alerts = list(s.scalars(select(m.Alert).where(m.Alert.category == "source_gap")))
            state = s.get(m.SourceState, "growing")
        assert len(gaps) == 1 and gaps[0].source == "growing"
        assert gaps[0].from_at is not None and gaps[0].to_at is not None and gaps[0].from_at < gaps[0].to_at
        assert gaps[0].from_at == NOW + timedelta(seconds=19)  # the newest review seen before
        assert gaps[0].to_at == NOW + timedelta(seconds=60)  # the oldest reached after
        assert len(alerts) == 1 and alerts[0].source == "growing" and "数据缺口" in alerts[0].title
        assert state is not None and "gap recorded" in (state.last_reason or "")
        assert "catchup" not in state.cursor  # nothing left to resume: the gap is on record instead
        feed.publish(100)
        run_source(ctx, src, NOW + timedelta(hours=2))  # a second gap: recorded, no second message
        with ctx.store.session() as s:
            assert len(list(s.scalars(select(m.SourceGap)))) == 2
            assert len(list(s.scalars(select(m.Alert).where(m.Alert.category == "source_gap")))) == 1
        from click.testing import CliRunner

        from monitor.cli import main

        out = CliRunner().invoke(main, ["sources", "gaps", "-c", str(tmp_path / "monitor.yaml")])
        assert out.exit_code == 0, out.output
        assert out.output.count("growing") >= 2 and "2026-11-23 12:00" in out.output, out.output
    finally:
        ctx.fetcher.close()
        ctx.store.close()
        feed.stop()


def test_catching_up_gives_up_after_its_budget_and_records_the_gap(
    tmp_path: Path, feed: ReviewFeed, sink: WebhookSink, store_url: str
) -> None:
    ctx = growing_ctx(tmp_path, feed, sink, store_url, "  catchup_pages: 2\n  catchup_max_pages: 3\n")
    src = ctx.config.sources["growing"]
    try:
        feed.publish(10)
        run_source(ctx, src, NOW)
        feed.publish(200)
        run_source(ctx, src, NOW + timedelta(minutes=1))  # 3 head + 2 catch-up pages
        assert ctx.store.count(m.SourceGap) == 0
        last = run_source(ctx, src, NOW + timedelta(minutes=2))  # 1 more: the segment's 3 pages are spent
        assert "catching up spent its budget of 3 pages" in last.reason
        assert ctx.store.count(m.SourceGap) == 1
    finally:
        ctx.fetcher.close()
        ctx.store.close()


def test_pages_pushed_down_by_new_reviews_do_not_end_a_catch_up_early(
    tmp_path: Path, feed: ReviewFeed, sink: WebhookSink, store_url: str
) -> None:
    """Between two polls new reviews push every page down: the page a catch-up resumes at then holds
    reviews it read last time. Those must not count as having reached the reviews stored before."""
    ctx = growing_ctx(tmp_path, feed, sink, store_url, "  catchup_pages: 4\n")
    src = ctx.config.sources["growing"]
    try:
        feed.publish(15)
        run_source(ctx, src, NOW)
        feed.publish(105)
        run_source(ctx, src, NOW + timedelta(minutes=1))  # 7 pages read, a catch-up segment left open
        for minute in range(2, 8):
            feed.publish(10)  # a page more on top before every poll
            run_source(ctx, src, NOW + timedelta(minutes=minute))
            state = ctx.store.read_source_state("growing")
            assert state is not None
            if "catchup" not in state.cursor:
                break
        assert "catchup" not in state.cursor
        assert stored_ids(ctx) == feed.ids()
        assert ctx.store.count(m.SourceGap) == 0
    finally:
        ctx.fetcher.close()
        ctx.store.close()


# ---- hostile pages at the door ------------------------------------------------------------------
def test_a_nul_byte_or_a_bad_byte_in_one_review_blinds_nothing_and_hides_no_alert(
    tmp_path: Path, sink: WebhookSink, store_url: str
) -> None:
    """On PostgreSQL one review with \\u0000 made every poll of its source fail, with no verdict and no
    alert; one invalid UTF-8 byte turned the page into GB18030 garbage and keyword alerts were missed."""
    from tests.sources.conftest import Loopback, Reply

    reviews = [
        {"id": "1", "content": "盖子\u0000漏水，差评", "nickname": "张\u0000三\u202e", "sku": "SKU\u00001"},
        {"id": "2", "content": "客服态度很差", "nickname": "李四", "sku": "SKU1"},
        {"id": "3", "content": "怀疑是假货，包装粗糙", "nickname": "王五", "sku": "SKU1"},
    ]
    body = json.dumps({"comments": reviews}, ensure_ascii=True).encode()  # \u0000 as JSON writes it
    body = body.replace(b"\\u5ba2\\u670d", "客".encode() + b"\xff")  # 客服 -> 客 + one invalid byte
    server = Loopback().start()
    server.route("/api", Reply(body=body, content_type="application/json; charset=utf-8"),
                 Reply(body="<html><body>internal admin console SECRET-TOKEN-123</body></html>",
                       content_type="application/json"))  # fmt: skip
    config_path = write_project(tmp_path, server.url, sink.url, db_url=store_url)
    (tmp_path / "sources" / "shop.yaml").write_text(
        f'sources:\n  - name: hostile\n    kind: json\n    platform: jd\n    url: "{server.url}/api"\n'
        "    items: comments\n    fields: {id: id, text: content, author: nickname, sku: sku}\n",
        encoding="utf-8",
    )
    config = load_config(config_path, registry())
    store = Store.open(config.database_url)
    ctx = Context(config, store, Fetcher(retries=0, min_interval=0, network=LOOPBACK),
                  AnalysisPool(config.rules, config.priority_words, None, 0))  # fmt: skip
    try:
        result = run_source(ctx, config.sources["hostile"], NOW)
        assert result.verdict == "ok" and result.new == 3, result.reason
        assert "1 item(s) held bytes that could not be decoded" in result.reason
        with store.session() as s:
            rows = {r.external_id: r for r in s.scalars(select(m.Item))}
            alerts = {a.rule_id for a in s.scalars(select(m.Alert))}
        assert rows["1"].text == "盖子漏水，差评" and rows["1"].author == "张三" and rows["1"].sku == "SKU1"
        assert rows["2"].text == "客\ufffd态度很差"
        assert "counterfeit" in alerts  # the other reviews on the page were read as they are
        broken = run_source(ctx, config.sources["hostile"], NOW + timedelta(minutes=1))
        assert broken.verdict == "broken" and "an HTML page" in broken.reason
        with store.session() as s:
            reasons = [p.reason for p in s.scalars(select(m.Poll))]
            state = s.get(m.SourceState, "hostile")
        assert state is not None and not any("SECRET" in r for r in [*reasons, state.last_reason or ""])
    finally:
        ctx.fetcher.close()
        store.close()
        server.stop()


def test_database_gone_while_recording_sent_messages_sends_none_twice(
    ctx: Context, sink: WebhookSink
) -> None:
    """The database restarts between sending and recording: the outcomes are recorded once it is back,
    not re-sent (a PostgreSQL restart under load used to deliver a whole round twice)."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    run_all(ctx)
    failures = [2]  # the first two tries to record fail, as while the server restarts

    def gone(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX") and failures[0] > 0:
            failures[0] -= 1
            raise OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))

    event.listen(ctx.store.engine, "before_cursor_execute", gone)
    try:
        report = delivery.deliver_due(ctx.store, ctx.config, NOW)
    finally:
        event.remove(ctx.store.engine, "before_cursor_execute", gone)
    assert failures == [0] and report.sent >= 3
    again = delivery.deliver_due(ctx.store, ctx.config, NOW + timedelta(hours=2))
    assert again.sent == 0 and outbox.pending_count(ctx.store) == 0
    assert set(sink.keys().values()) == {1}


def test_a_damaged_outbox_row_is_set_aside_and_the_others_still_go(ctx: Context, sink: WebhookSink) -> None:
    run_all(ctx)
    with ctx.store.transaction() as s:
        row = s.scalars(select(m.Outbox).order_by(m.Outbox.id)).first()
        assert row is not None
        row.message = {"title": "x", "event": "exploded", "items": "nope"}  # written by something else
        damaged = row.idempotency_key
    report = delivery.deliver_due(ctx.store, ctx.config, NOW)
    assert report.suppressed == 1 and report.sent >= 3 and damaged not in sink.keys()  # noqa: SIM118
    with ctx.store.session() as s:
        row = s.scalars(select(m.Outbox).where(m.Outbox.idempotency_key == damaged)).one()
    assert row.status == "suppressed" and "not a stored message" in (row.last_error or "")
