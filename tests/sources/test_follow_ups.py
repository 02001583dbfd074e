"""The follow-up stage through ``run_source``: Weibo long text (``statuses/extend``) and Xiaohongshu note
detail fetched for new items only, through the poll's Fetcher and host gate, bounded per poll, kept
truncated (and flagged) when refused, and completed later as a revision whose analysis runs again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.adapters import build, registry
from monitor.adapters.base import FetchedPage, RawItem, SourceError
from monitor.analyze.pool import AnalysisPool
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.fetch import Fetcher
from monitor.followup import FollowUpCache
from monitor.normalize import normalize
from monitor.observability import Metrics
from monitor.pipeline import Context, RunResult, run_source
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import LOOPBACK, NOW
from tests.sources.cases import KINDS, WEIBO_PAGES, by_query
from tests.sources.conftest import (
    Loopback,
    Reply,
    Request,
    SleepRecorder,
    file_reply,
    fixture_json,
    fixture_text,
    write_sources,
)

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

SOURCES = """sources:
  - {{name: wb, kind: weibo_search, keyword: 示例旗舰店, base_url: "{base}", backfill_pages: 1}}
  - {{name: wb-one, kind: weibo_search, keyword: 示例旗舰店, base_url: "{base}", backfill_pages: 1,
      max_follow_ups: 1}}
  - {{name: wb-none, kind: weibo_search, keyword: 示例旗舰店, base_url: "{base}", backfill_pages: 1,
      max_follow_ups: 0}}
  - {{name: wb-gated, kind: weibo_search, keyword: 示例旗舰店, base_url: "{base}", backfill_pages: 1,
      request_interval: 3s}}
  - {{name: xhs, kind: xhs_search, keyword: 示例旗舰店, base_url: "{base}"}}
"""
LIST = "/api/container/getIndex"
EXTEND = "/statuses/extend"
LONG_ID = "5368363245121593"
LOGIN = file_reply("weibo_login.json")


@pytest.fixture
def ctx(tmp_path: Path, loopback: Loopback, sink: WebhookSink, sleeps: SleepRecorder) -> Iterator[Context]:
    config = load_config(
        write_sources(tmp_path, loopback.url, sink.url, SOURCES.format(base=loopback.url)), registry()
    )
    store = Store.open(config.database_url)
    fetcher = Fetcher(retries=0, backoff=0.01, min_interval=0, sleep=sleeps, network=LOOPBACK)
    c = Context(config, store, fetcher, AnalysisPool(config.rules, config.priority_words, None, 0))
    yield c
    fetcher.close()
    store.close()


def poll(ctx: Context, name: str, now: datetime = NOW) -> RunResult:
    return run_source(ctx, ctx.config.sources[name], now)


def stored(ctx: Context, source: str, ext: str) -> tuple[m.Item, m.Analysis]:
    with ctx.store.session() as s:
        item = s.scalars(select(m.Item).where(m.Item.source == source, m.Item.external_id == ext)).one()
        analysis = s.get(m.Analysis, item.id)
        assert analysis is not None
        return item, analysis


def test_long_text_is_fetched_once_for_a_new_post_and_analysed_whole(
    ctx: Context, loopback: Loopback
) -> None:
    loopback.route(LIST, by_query("page", WEIBO_PAGES))
    loopback.route(EXTEND, file_reply("weibo_extend.json"))
    first = poll(ctx, "wb")
    assert first.follow_ups.counts == {"fetched": 1}
    [ask] = [r for r in loopback.requests if r.path == EXTEND]
    assert ask.query == {"id": LONG_ID}
    item, analysis = stored(ctx, "wb", LONG_ID)
    assert "12315" in item.text and item.text.endswith("大家避雷。") and "全文" not in item.text
    assert item.attrs["truncated"] is False and item.attrs["follow_up"] == f"{LONG_ID}:1"
    assert "12315" in json.dumps(analysis.hits, ensure_ascii=False)  # a word after the cut is matched
    again = poll(ctx, "wb", NOW + timedelta(minutes=10))
    assert again.follow_ups.counts == {"cached": 1} and (again.new, again.updated) == (0, 0)
    ctx.follow_ups = FollowUpCache()  # a restarted daemon: the store knows the post is complete
    restarted = poll(ctx, "wb", NOW + timedelta(minutes=20))
    assert restarted.follow_ups.counts == {"stored": 1} and (restarted.new, restarted.updated) == (0, 0)
    assert loopback.hits(EXTEND) == 1  # never asked twice


def test_a_refused_long_text_keeps_the_item_truncated_then_completes_it_as_a_revision(
    ctx: Context, loopback: Loopback
) -> None:
    loopback.route(LIST, by_query("page", WEIBO_PAGES))
    loopback.route(EXTEND, LOGIN)
    first = poll(ctx, "wb")
    assert first.verdict == "ok" and first.follow_ups.counts == {"blocked": 1}
    assert "login needed" in first.follow_ups.problem
    item, analysis = stored(ctx, "wb", LONG_ID)
    assert item.attrs["truncated"] is True and "long text refused" in item.attrs["truncated_reason"]
    assert "12315" not in item.text and item.revision == 1
    assert "12315" not in json.dumps(analysis.hits, ensure_ascii=False)

    loopback.route(EXTEND, file_reply("weibo_extend.json"))
    later = poll(ctx, "wb", NOW + timedelta(minutes=10))
    assert later.follow_ups.counts == {"fetched": 1} and (later.new, later.updated) == (0, 1)
    item, analysis = stored(ctx, "wb", LONG_ID)
    assert item.revision == 2 and "12315" in item.text and item.attrs["truncated"] is False
    assert item.attrs["truncated_reason"] is None
    assert "12315" in json.dumps(analysis.hits, ensure_ascii=False)  # analysis ran again
    with ctx.store.session() as s:
        history = list(s.scalars(select(m.ItemRevision).where(m.ItemRevision.item_id == item.id)))
    assert [h.text.endswith("现在觉得 ...") for h in history] == [True]


def _two_long_posts() -> Reply:
    doc = fixture_json("weibo_search_p1.json")
    doc["data"]["cards"][2]["mblog"]["isLongText"] = True
    doc["data"]["cardlistInfo"]["page"] = None
    return Reply(body=json.dumps(doc, ensure_ascii=False))


def test_follow_ups_are_bounded_per_poll(ctx: Context, loopback: Loopback) -> None:
    loopback.route(LIST, _two_long_posts())
    loopback.route(EXTEND, file_reply("weibo_extend.json"))
    result = poll(ctx, "wb-one")
    assert result.follow_ups.counts == {"fetched": 1, "deferred": 1} and loopback.hits(EXTEND) == 1
    item, _ = stored(ctx, "wb-one", "5368370794857449")
    assert item.attrs["truncated"] is True and "budget" in item.attrs["truncated_reason"]
    nothing = poll(ctx, "wb-none")
    assert nothing.follow_ups.counts == {"deferred": 2} and loopback.hits(EXTEND) == 1


def test_after_a_refusal_nothing_more_is_asked_this_poll(ctx: Context, loopback: Loopback) -> None:
    loopback.route(LIST, _two_long_posts())
    loopback.route(EXTEND, Reply(418, ""))
    result = poll(ctx, "wb")
    assert result.follow_ups.counts == {"blocked": 1, "deferred": 1} and loopback.hits(EXTEND) == 1


def test_follow_ups_wait_at_the_same_host_gate(
    ctx: Context, loopback: Loopback, sleeps: SleepRecorder
) -> None:
    loopback.route(LIST, _two_long_posts())
    loopback.route(EXTEND, file_reply("weibo_extend.json"))
    assert poll(ctx, "wb-gated").follow_ups.counts == {"fetched": 2}
    # the list page, then two follow-ups: each follow-up waited its turn at the 3 s gate
    assert len([w for w in sleeps.waits if w > 2]) >= 2


def _note_detail(req: Request) -> Reply:
    note = json.loads(req.body)["source_note_id"]
    if note == "656100000000000000000001":
        return file_reply("xhs_feed_1.json")
    return Reply(461, "{}", headers={"Verifytype": "102", "Verifyuuid": "9f"})


def test_note_detail_completes_a_search_note(ctx: Context, loopback: Loopback) -> None:
    loopback.route("/api/sns/web/v1/search/notes", file_reply("xhs_search.json"))
    loopback.route("/api/sns/web/v1/feed", _note_detail)
    result = poll(ctx, "xhs")
    assert result.follow_ups.counts == {"fetched": 1, "blocked": 1, "deferred": 1}
    asked = [json.loads(r.body) for r in loopback.requests if r.path == "/api/sns/web/v1/feed"]
    assert asked[0] == {
        "source_note_id": "656100000000000000000001",
        "image_formats": ["jpg", "webp", "avif"],
        "extra": {"need_body_topic": "1"},
        "xsec_source": "pc_search",
        "xsec_token": "ABtoken1xyz=",
    }
    note, _ = stored(ctx, "xhs", "656100000000000000000001")
    assert note.text.startswith("示例旗舰店保温杯测评\n用了一周") and "异味" in note.text
    assert note.published_at == datetime.fromtimestamp(1795405920, NOW.tzinfo)  # exact, from the detail
    assert note.attrs["ip_location"] == "浙江" and note.attrs["tags"] == ["保温杯", "避雷"]
    video, _ = stored(ctx, "xhs", "656100000000000000000002")
    assert video.text == "避雷！" and video.attrs["truncated"] is True
    assert "captcha" in video.attrs["truncated_reason"]


def _gone_or_detail(req: Request) -> Reply:
    note = json.loads(req.body)["source_note_id"]
    if note == "656100000000000000000001":  # deleted meanwhile: that note's problem, not a refusal
        return Reply(body='{"code": -510001, "success": false, "msg": "笔记不存在", "data": {}}')
    doc = fixture_json("xhs_feed_1.json")
    doc["data"]["items"][0]["id"] = doc["data"]["items"][0]["note_card"]["note_id"] = note
    return Reply(body=json.dumps(doc, ensure_ascii=False))


def test_a_note_without_detail_does_not_stop_the_others(ctx: Context, loopback: Loopback) -> None:
    loopback.route("/api/sns/web/v1/search/notes", file_reply("xhs_search.json"))
    loopback.route("/api/sns/web/v1/feed", _gone_or_detail)
    result = poll(ctx, "xhs")
    assert result.follow_ups.counts == {"failed": 1, "fetched": 2}
    gone, _ = stored(ctx, "xhs", "656100000000000000000001")
    assert gone.attrs["truncated"] is True and "笔记不存在" in gone.attrs["truncated_reason"]


def test_follow_ups_are_counted_in_metrics(ctx: Context, loopback: Loopback) -> None:
    metrics = Metrics(lambda: ctx.store, lambda: NOW)
    metrics.observe_follow_ups("wb", {"fetched": 2, "blocked": 1})
    text = metrics.render().decode()
    assert 'monitor_follow_ups_total{outcome="fetched",source="wb"} 2.0' in text
    assert 'monitor_follow_ups_total{outcome="blocked",source="wb"} 1.0' in text


@pytest.mark.parametrize(
    ("kind", "seed"), [("weibo_search", "weibo_extend.json"), ("xhs_search", "xhs_feed_1.json")]
)
def test_follow_up_answers_in_any_shape_raise_only_source_errors(kind: str, seed: str) -> None:
    """Garbage in a follow-up answer: a SourceError (the item stays truncated), never a crash."""
    data = {"name": f"fuzz-{kind}", "kind": kind, **KINDS[kind].config("http://127.0.0.1:9")}
    adapter = build(registry()[kind].Config.model_validate(data))
    text = fixture_text(seed)
    item = RawItem(text="截断的", external_id="656100000000000000000001", attrs={"truncated": True})

    @given(cut=st.integers(0, len(text)), noise=st.text(max_size=20), status=st.sampled_from([200, 403]))
    @settings(max_examples=80, deadline=None)
    def run(cut: int, noise: str, status: int) -> None:
        body = text[:cut] + noise + text[cut + len(noise) :]
        page = FetchedPage(url="http://127.0.0.1:9/x", status=status, headers={}, text=body)
        try:
            done = adapter.complete(item, page)
        except SourceError:
            return
        assert isinstance(done.text, str) and done.text

    run()


def test_stored_texts_reads_text_and_attrs_on_both_backends(store: Store) -> None:
    """The follow-up stage's store lookup (SQLite and, with MONITOR_TEST_PG_URL, PostgreSQL)."""
    cfg = registry()["weibo_search"].Config.model_validate(
        {"name": "wb", "kind": "weibo_search", "keyword": "k"}
    )
    raws = [
        RawItem(text="全文", external_id="1", attrs={"truncated": False, "follow_up": "1:0"}),
        RawItem(text="截断 ...", external_id="2", attrs={"truncated": True, "truncated_reason": "budget"}),
    ]
    with store.transaction() as s:
        store.save_items(s, store.diff(s, [normalize(r, cfg, NOW, UTC) for r in raws]), NOW)
    with store.session() as s:
        found = store.stored_texts(s, "wb", ["1", "2", "3"])
    assert found == {
        "1": ("全文", {"truncated": False, "follow_up": "1:0"}),
        "2": ("截断 ...", {"truncated": True, "truncated_reason": "budget"}),
    }
