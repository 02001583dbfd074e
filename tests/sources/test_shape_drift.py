"""Through ``run_source``: a changed shape is ``broken`` from the first poll on, with the missing fields in
the source-health alert; items without words are stored, read as neutral; a pinned post never stands for
the newest; items keep their variant SKU and their product."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.adapters import registry
from monitor.analyze.pool import AnalysisPool
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.fetch import Fetcher
from monitor.pipeline import Context, run_source
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import LOOPBACK, NOW
from tests.sources.cases import JD_PAGES, by_query
from tests.sources.conftest import Loopback, SleepRecorder, file_reply, write_sources

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

SOURCES = """sources:
  - {{name: xhs, kind: xhs_search, keyword: 示例旗舰店, base_url: "{base}", max_follow_ups: 0}}
  - {{name: dyc, kind: douyin_comments, aweme_id: "7300000000000000001", base_url: "{base}"}}
  - {{name: timeline, kind: weibo_search, keyword: 示例旗舰店, base_url: "{base}"}}
  - {{name: jd, kind: jd_reviews, product_id: "100038004387", base_url: "{base}"}}
  - {{name: jd-cup, kind: jd_reviews, product_id: "100038004387", product: cup-500, base_url: "{base}"}}
"""
XHS = "/api/sns/web/v1/search/notes"


@pytest.fixture
def ctx(tmp_path: Path, loopback: Loopback, sink: WebhookSink, sleeps: SleepRecorder) -> Iterator[Context]:
    path = write_sources(tmp_path, loopback.url, sink.url, SOURCES.format(base=loopback.url))
    config = load_config(path, registry())
    store = Store.open(config.database_url)
    fetcher = Fetcher(retries=0, backoff=0.01, min_interval=0, sleep=sleeps, network=LOOPBACK)
    c = Context(config, store, fetcher, AnalysisPool(config.rules, config.priority_words, None, 0))
    yield c
    fetcher.close()
    store.close()


def health_alerts(ctx: Context, source: str) -> list[m.Alert]:
    with ctx.store.session() as s:
        q = select(m.Alert).where(m.Alert.kind == "source_health", m.Alert.source == source)
        return list(s.scalars(q))


def test_a_new_source_in_a_changed_shape_is_broken_from_its_first_poll(
    ctx: Context, loopback: Loopback
) -> None:
    loopback.route(XHS, file_reply("xhs_app_shape.json"))
    src = ctx.config.sources["xhs"]
    results = [run_source(ctx, src, NOW + timedelta(minutes=10 * i)) for i in range(3)]
    assert [r.verdict for r in results] == ["broken"] * 3  # never "empty": two notes were there
    assert "note_card ×2" in results[0].reason and "2 of 2 entries" in results[0].reason
    state = ctx.store.read_source_state("xhs")
    assert state is not None and not state.had_items and "note_card ×2" in state.last_reason
    [alert] = health_alerts(ctx, "xhs")
    assert "shape changed" in alert.summary and "note_card ×2" in alert.summary
    assert "try-source" in alert.summary  # what to do


def test_a_source_that_had_items_says_which_fields_went_missing(ctx: Context, loopback: Loopback) -> None:
    loopback.route(XHS, file_reply("xhs_search.json"))
    assert run_source(ctx, ctx.config.sources["xhs"], NOW).verdict == "ok"
    loopback.route(XHS, file_reply("xhs_app_shape.json"))
    later = run_source(ctx, ctx.config.sources["xhs"], NOW + timedelta(hours=1))
    assert later.verdict == "broken" and "note_card ×2" in later.reason


def test_image_only_comments_are_stored_and_read_as_neutral(ctx: Context, loopback: Loopback) -> None:
    loopback.route("/aweme/v1/web/comment/list/", file_reply("douyin_comments.json"))
    result = run_source(ctx, ctx.config.sources["dyc"], NOW)
    assert (result.verdict, result.new) == ("ok", 3)
    with ctx.store.session() as s:
        row = s.scalars(select(m.Item).where(m.Item.external_id == "7300000000000000102")).one()
        analysis = s.get(m.Analysis, row.id)
    assert row.text == "" and row.attrs["image_only"] is True and len(row.attrs["images"]) == 2
    assert analysis is not None and (analysis.sentiment, analysis.sentiment_score) == ("neu", 0.5)
    assert analysis.grade is None and analysis.rules == []


def test_a_pinned_post_is_not_the_cursors_newest(ctx: Context, loopback: Loopback) -> None:
    loopback.route("/api/container/getIndex", file_reply("weibo_timeline_pinned.json"))
    result = run_source(ctx, ctx.config.sources["timeline"], NOW)
    assert result.items[0].attrs["pinned"] is True  # first in the answer, out of time order
    state = ctx.store.read_source_state("timeline")
    assert state is not None and state.cursor["newest_id"] == "5368380861191053"
    assert state.cursor["newest_published"] == "2026-11-23T03:40:00+00:00"


def test_reviews_keep_the_variant_sku_and_the_product(ctx: Context, loopback: Loopback) -> None:
    loopback.route("/comment/productPageComments.action", by_query("page", JD_PAGES))
    run_source(ctx, ctx.config.sources["jd"], NOW)
    run_source(ctx, ctx.config.sources["jd-cup"], NOW)
    with ctx.store.session() as s:
        rows = list(s.execute(select(m.Item.source, m.Item.external_id, m.Item.sku, m.Item.product)))
    by_source = {(src, ext): (sku, product) for src, ext, sku, product in rows}
    assert by_source[("jd", "17000000001")] == ("100038004391", "100038004387")
    assert by_source[("jd", "17000000002")] == ("100038004392", "100038004387")
    assert by_source[("jd", "17000000001:after")] == ("100038004391", "100038004387")
    assert by_source[("jd-cup", "17000000001")] == ("100038004391", "cup-500")  # the source names the product
