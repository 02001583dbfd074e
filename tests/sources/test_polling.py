"""Sources through ``run_source``: incremental polling, cursors, backfill, 追评 and edits as updates,
conditional GET, fault sequences that store nothing twice, and source-blind alerts with exactly one
notice each way (delivered to the webhook sink)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import delivery
from monitor.adapters import registry
from monitor.analyze.pool import AnalysisPool
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.fetch import Fetcher
from monitor.pipeline import Context, RunResult, run_source
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import LOOPBACK, NOW
from tests.sources.cases import JD_PAGES, WEIBO_PAGES, by_query
from tests.sources.conftest import Loopback, Reply, SleepRecorder, file_reply, fixture_json, write_sources

# apprise imports its e-mail plugin lazily, which imports the deprecated stdlib imghdr
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

SOURCES = """sources:
  - {{name: jd, kind: jd_reviews, product_id: "100038004387", base_url: "{base}", backfill_pages: 5, max_pages: 2}}
  - {{name: wb, kind: weibo_search, keyword: 示例旗舰店, base_url: "{base}"}}
  - {{name: wb1, kind: weibo_search, keyword: 示例旗舰店, base_url: "{base}", backfill_pages: 1}}
  - {{name: feed, kind: rsshub, instance: "{base}", route: /weibo/keyword/示例旗舰店}}
  - name: shop
    kind: html
    url: "{base}/shop/reviews?page=1"
    item: div.review
    fields: {{id: "@data-id", text: p.content, rating: ".stars@data-score"}}
    next: "a.next@href"
"""


@pytest.fixture
def ctx(tmp_path: Path, loopback: Loopback, sink: WebhookSink, sleeps: SleepRecorder) -> Iterator[Context]:
    config = load_config(
        write_sources(tmp_path, loopback.url, sink.url, SOURCES.format(base=loopback.url)), registry()
    )
    store = Store.open(config.database_url)
    fetcher = Fetcher(retries=1, backoff=0.01, min_interval=0, sleep=sleeps, network=LOOPBACK)
    c = Context(config, store, fetcher, AnalysisPool(config.rules, config.priority_words, None, 0))
    yield c
    fetcher.close()
    store.close()


def poll(ctx: Context, name: str, now: datetime = NOW) -> RunResult:
    return run_source(ctx, ctx.config.sources[name], now)


def rows(ctx: Context, source: str) -> dict[str, m.Item]:
    with ctx.store.session() as s:
        return {r.external_id: r for r in s.scalars(select(m.Item).where(m.Item.source == source))}


def verdicts(ctx: Context, source: str) -> list[str]:
    with ctx.store.session() as s:
        return list(s.scalars(select(m.Poll.verdict).where(m.Poll.source == source).order_by(m.Poll.id)))


def jd_reply(doc: dict[str, object]) -> Reply:
    body = f"fetchJSON_comment98({json.dumps(doc, ensure_ascii=False)});"
    return Reply(body=body, content_type="text/html;charset=GBK", encoding="gbk")


def test_first_poll_backfills_then_polls_stop_at_known_pages(ctx: Context, loopback: Loopback) -> None:
    loopback.route("/api/container/getIndex", by_query("page", WEIBO_PAGES))
    loopback.route("/statuses/extend", file_reply("weibo_extend.json"))
    first = poll(ctx, "wb")
    assert (first.verdict, first.new, len(first.pages)) == ("ok", 6, 2)
    state = ctx.store.read_source_state("wb")
    assert state is not None and state.had_items
    assert state.cursor["since_id"] == "4901234567890123"
    assert state.cursor["newest_published"] == "2026-11-23T03:55:00+00:00"
    again = poll(ctx, "wb", NOW + timedelta(minutes=10))
    # page 1 all known, the long post too: its list text is truncated, the stored one complete
    assert (again.verdict, again.new, again.updated, len(again.pages)) == ("ok", 0, 0, 1)
    assert len(rows(ctx, "wb")) == 6


def test_backfill_is_bounded(ctx: Context, loopback: Loopback) -> None:
    loopback.route("/api/container/getIndex", by_query("page", WEIBO_PAGES))
    result = poll(ctx, "wb1")
    assert (result.new, len(result.pages)) == (4, 1)


def test_after_comment_updates_the_review_and_keeps_history(ctx: Context, loopback: Loopback) -> None:
    after = fixture_json("jd_comments_p0.json")
    after["maxPage"] = 1
    before = copy.deepcopy(after)
    del before["comments"][0]["afterUserComment"]  # before the 追评, the key is absent
    loopback.route("/comment/productPageComments.action", jd_reply(before))
    assert poll(ctx, "jd").new == 3
    loopback.route("/comment/productPageComments.action", jd_reply(after))
    result = poll(ctx, "jd", NOW + timedelta(hours=1))
    assert (result.new, result.updated) == (1, 1)
    stored = rows(ctx, "jd")
    review, follow_up = stored["17000000001"], stored["17000000001:after"]
    assert review.revision == 2 and review.attrs["has_after_comment"] is True
    assert follow_up.parent_external_id == "17000000001" and "漏水" in follow_up.text
    with ctx.store.session() as s:
        history = list(s.scalars(select(m.ItemRevision).where(m.ItemRevision.item_id == review.id)))
    assert [h.revision for h in history] == [1] and history[0].text == review.text
    assert poll(ctx, "jd", NOW + timedelta(hours=2)).updated == 0  # nothing changes twice


def test_an_edited_weibo_post_is_an_update(ctx: Context, loopback: Loopback) -> None:
    doc = fixture_json("weibo_search_p2.json")
    loopback.route("/api/container/getIndex", Reply(body=json.dumps(doc, ensure_ascii=False)))
    poll(ctx, "wb")
    doc["data"]["cards"][0]["mblog"].update(text="示例旗舰店的客服态度挺好的（已编辑）", edit_count=1)
    loopback.route("/api/container/getIndex", Reply(body=json.dumps(doc, ensure_ascii=False)))
    assert poll(ctx, "wb", NOW + timedelta(minutes=5)).updated == 1
    assert rows(ctx, "wb")["100"].revision == 2


def test_not_modified_is_healthy_and_sends_validators(ctx: Context, loopback: Loopback) -> None:
    path = "/weibo/keyword/示例旗舰店"
    loopback.route(path, file_reply("rsshub_weibo.xml", "application/xml", etag='"v1"'))
    assert poll(ctx, "feed").verdict == "ok"
    second = poll(ctx, "feed", NOW + timedelta(minutes=5))
    assert loopback.requests[-1].headers.get("if-none-match") == '"v1"'
    assert (second.verdict, second.pages[0].status, second.new) == ("ok", 304, 0)
    state = ctx.store.read_source_state("feed")
    assert state is not None and state.consecutive_failures == 0 and state.cursor["http"] == {"etag": '"v1"'}


def test_faults_give_verdicts_and_store_nothing_twice(ctx: Context, loopback: Loopback) -> None:
    path = "/comment/productPageComments.action"
    sequence = [
        ("ok", by_query("page", JD_PAGES)),
        ("error", Reply(500, "down", "text/plain")),
        ("ok", by_query("page", JD_PAGES)),
        ("broken", Reply(body='fetchJSON_comment98({"comments": [{"id": 1,', content_type="text/html")),
        ("blocked", file_reply("jd_captcha.html", "text/html")),
        ("error", Reply(body="{}", delay=1.0)),
        ("broken", Reply(body='fetchJSON_comment98({"maxPage":0,"comments":[]});')),  # used to have items
        ("ok", by_query("page", JD_PAGES)),
    ]
    source = ctx.config.sources["jd"].model_copy(update={"timeout": timedelta(seconds=0.25)})
    for i, (expected, reply) in enumerate(sequence):
        loopback.route(path, reply)
        result = run_source(ctx, source, NOW + timedelta(minutes=10 * i))
        assert result.verdict == expected, (i, result.reason)
        assert result.reason or expected == "ok"
    assert len(rows(ctx, "jd")) == 6
    assert verdicts(ctx, "jd") == [v for v, _ in sequence]


def test_a_selector_that_stops_matching_is_broken(ctx: Context, loopback: Loopback) -> None:
    loopback.route(
        "/shop/reviews",
        by_query(
            "page",
            {"1": file_reply("shop_p1.html", "text/html"), "2": file_reply("shop_p2.html", "text/html")},
        ),
    )
    assert poll(ctx, "shop").verdict == "ok"
    loopback.route("/shop/reviews", file_reply("shop_redesigned.html", "text/html"))
    result = poll(ctx, "shop", NOW + timedelta(minutes=10))
    assert result.verdict == "broken" and "used to yield items" in result.reason


def test_blocked_three_times_then_recovering_alerts_once_each_way(
    ctx: Context, loopback: Loopback, sink: WebhookSink
) -> None:
    path = "/api/container/getIndex"
    loopback.route(path, file_reply("weibo_login.json"))
    for i in range(5):  # blocked 5 times: the alert fires at the 3rd, and only once
        now = NOW + timedelta(minutes=10 * i)
        assert poll(ctx, "wb", now).verdict == "blocked"
        delivery.deliver_due(ctx.store, ctx.config, now)
    loopback.route(path, by_query("page", WEIBO_PAGES))
    for i in range(5, 7):
        now = NOW + timedelta(minutes=10 * i)
        assert poll(ctx, "wb", now).verdict == "ok"
        delivery.deliver_due(ctx.store, ctx.config, now + timedelta(minutes=5))
    messages = [msg for msg in sink.messages() if "数据源失明" in msg.get("title", "")]
    titles = [msg["title"] for msg in messages]
    assert len(messages) == 2, titles
    blind, recovered = messages
    # Chinese first: the platform and the verdict by name, no raw ids (#15)
    assert "微博 · wb（被拦截/需要登录）" in blind["title"] and "blocked" not in blind["title"]
    assert "ok:-100" in blind["message"] and "更新 Cookie" in blind["message"]
    assert "已恢复" in recovered["message"] and recovered["title"] != blind["title"]
    assert verdicts(ctx, "wb") == ["blocked"] * 5 + ["ok"] * 2
    with ctx.store.session() as s:
        alerts = list(s.scalars(select(m.Alert).where(m.Alert.kind == "source_health")))
    assert len(alerts) == 1 and alerts[0].state == "resolved"
