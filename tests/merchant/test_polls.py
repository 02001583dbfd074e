"""Merchant sources poll after poll through the real pipeline and store (SQLite and PostgreSQL): windows
past TOP's 1,500 cap, page limits, errors mid-poll, bans, 追评 found later, quiet shops. Every review
is stored exactly once, whatever cut a poll short."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from monitor.pipeline import run_source
from monitor.store import models as m
from tests.conftest import NOW
from tests.merchant.conftest import MakeCtx
from tests.merchant.platforms import JosShop, KuaishouShop, TopShop, jd_comment, ks_comment, top_rating
from tests.sources.conftest import Loopback

TOP = """sources:
  - name: top
    kind: taobao_traderates
    app_key: "12345678"
    app_secret: "${{MT_TOP_SECRET}}"
    access_token: "${{MT_TOP_SESSION}}"
    gateway: "{base}/router/rest"
    backfill: 10d
    max_pages: {pages}
    backfill_pages: {pages}
{extra}"""


def stored(ctx: object, source: str) -> list[m.Item]:
    with ctx.store.session() as s:  # type: ignore[attr-defined]
        return list(s.scalars(select(m.Item).where(m.Item.source == source)))


def test_top_page_limits_errors_and_new_ratings_lose_nothing_and_store_nothing_twice(
    loopback: Loopback, make_ctx: MakeCtx
) -> None:
    shop = TopShop(ratings=[top_rating(i, NOW - timedelta(minutes=20 * i)) for i in range(1, 701)])
    shop.cap = 200  # a small cap makes the split visible with few ratings
    loopback.route("/router/rest", shop)
    ctx = make_ctx(TOP.format(base=loopback.url, pages=3, extra="    page_size: 50\n"))
    src = ctx.config.sources["top"]
    src_adapter_cap = type(src)  # noqa: F841  (the config type; the cap below is the adapter's)
    from monitor.adapters.taobao_traderates import TaobaoTraderatesAdapter

    TaobaoTraderatesAdapter.max_per_window = 200
    try:
        now, verdicts = NOW, []
        for poll in range(40):
            if poll == 3:
                shop.errors.append(
                    {"code": 15, "msg": "Remote service error", "sub_code": "isp.remote-service-timeout"}
                )
            if poll == 5:  # new ratings arrive while the backfill is still running
                shop.ratings += [top_rating(1000 + i, now - timedelta(seconds=30 * i)) for i in range(1, 40)]
            shop.now = now
            verdicts.append(run_source(ctx, src, now).verdict)
            now += timedelta(minutes=1)
        items = stored(ctx, "top")
    finally:
        TaobaoTraderatesAdapter.max_per_window = 1500
    assert "error" in verdicts and verdicts[-1] == "ok"
    keys = [it.external_id for it in items]
    assert len(keys) == len(set(keys)) == 700 + 39
    with ctx.store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.ItemRevision)) == 0  # nothing re-stored as an edit
    assert max(int(q["page_size"]) for q in shop.calls if "page_size" in q) == 50
    starts = {q["start_date"] for q in shop.calls if q.get("method") == "taobao.traderates.get"}
    assert len(starts) > 5  # windows were split and walked


def test_a_ban_is_kept_no_request_is_sent_until_it_ends(loopback: Loopback, make_ctx: MakeCtx) -> None:
    shop = TopShop(ratings=[top_rating(1, NOW - timedelta(hours=1))])
    shop.errors.append(
        {"code": 7, "msg": "App Call Limited", "sub_code": "accesscontrol.limited-by-app-access-count",
         "sub_msg": "This ban will last 71 more seconds"}
    )  # fmt: skip
    loopback.route("/router/rest", shop)
    ctx = make_ctx(TOP.format(base=loopback.url, pages=5, extra=""))
    src = ctx.config.sources["top"]
    first = run_source(ctx, src, NOW)
    assert first.verdict == "blocked" and "71 s, as the platform says" in first.reason
    calls = len(shop.calls)
    shop.now = NOW + timedelta(seconds=60)
    second = run_source(ctx, src, NOW + timedelta(seconds=60))
    assert second.verdict == "blocked" and "no request sent" in second.reason and len(shop.calls) == calls
    shop.now = NOW + timedelta(seconds=72)
    third = run_source(ctx, src, NOW + timedelta(seconds=72))
    assert third.verdict == "ok" and len(stored(ctx, "top")) == 1


def test_tmall_append_found_days_later_is_a_revision_and_an_item(
    loopback: Loopback, make_ctx: MakeCtx
) -> None:
    rating = top_rating(1, NOW - timedelta(hours=2), content="杯子很好看，保温也不错。")
    shop = TopShop(ratings=[rating])
    shop.feeds[str(rating["oid"])] = {"user_nick": rating["nick"], "content": rating["content"],
                                      "comment_time": rating["created"], "has_negtv": False}  # fmt: skip
    loopback.route("/router/rest", shop)
    ctx = make_ctx(TOP.format(base=loopback.url, pages=5, extra="    tmall_feeds: true\n"))
    src = ctx.config.sources["top"]
    assert run_source(ctx, src, NOW).new == 1
    shop.feeds[str(rating["oid"])].update(
        append_content="用了三天杯盖就漏水了。", append_time="2026-11-24 09:00:00"
    )
    later = NOW + timedelta(days=1)
    shop.now = later
    assert run_source(ctx, src, later).updated == 0  # not due yet: the next check is at 2 days
    due = NOW + timedelta(days=2, minutes=1)
    shop.now = due
    result = run_source(ctx, src, due)
    assert result.new == 1 and result.updated == 1
    items = {it.external_id: it for it in stored(ctx, "top")}
    key = f"{rating['tid']}:{rating['oid']}:buyer"
    assert items[f"{key}:append"].parent_external_id == key and "漏水" in items[f"{key}:append"].text
    with ctx.store.session() as s:
        revisions = list(s.scalars(select(m.ItemRevision)))
    assert len(revisions) == 1 and revisions[0].text == "杯子很好看，保温也不错。"
    feeds = [q for q in shop.calls if q.get("method") == "tmall.traderate.feeds.get"]
    assert len(feeds) == 2  # first sight, then the 2-day check; nothing at 1 day
    shop.now = due + timedelta(minutes=5)
    again = run_source(ctx, src, due + timedelta(minutes=5))
    assert again.new == 0 and again.updated == 0


def test_kuaishou_append_found_later_by_its_order(loopback: Loopback, make_ctx: MakeCtx) -> None:
    root = ks_comment(1, NOW - timedelta(hours=3))
    shop = KuaishouShop(comments=[root])
    loopback.route("/open/comment/list/get", shop)
    loopback.route("/open/subcomment/list/get", shop)
    ctx = make_ctx(
        f"""sources:
  - name: ks
    kind: kuaishou_comments
    app_key: ks699
    app_secret: "${{MT_KS_SECRET}}"
    sign_secret: "${{MT_KS_SIGN}}"
    access_token: "${{MT_KS_TOKEN}}"
    gateway: "{loopback.url}"
    sign_method: MD5
"""
    )
    src = ctx.config.sources["ks"]
    assert run_source(ctx, src, NOW).new == 1
    root["attached"] = True
    shop.subs[root["commentId"]] = [
        {"commentId": 9, "content": "追评：第三天就坏了。", "createTime": 1795500000000}
    ]
    due = NOW + timedelta(days=2, minutes=1)
    result = run_source(ctx, src, due)
    assert (result.new, result.updated) == (1, 1)
    by_order = [q for q in shop.calls if '"outOrderNo"' in q.get("param", "")]
    assert by_order and all(q["signMethod"] == "MD5" for q in shop.calls)


def test_a_quiet_shop_is_nothing_new_not_broken(loopback: Loopback, make_ctx: MakeCtx) -> None:
    shop = JosShop(comments=[jd_comment(1, NOW - timedelta(days=3))])
    loopback.route("/routerjson", shop)
    ctx = make_ctx(
        f"""sources:
  - name: jd
    kind: jd_vender_comments
    app_key: jdkey
    app_secret: "${{MT_JD_SECRET}}"
    access_token: "${{MT_JD_TOKEN}}"
    gateway: "{loopback.url}/routerjson"
    overlap: 1h
"""
    )
    src = ctx.config.sources["jd"]
    assert run_source(ctx, src, NOW).new == 1
    for hours in (1, 2, 30):  # days without a review: the tail still finds the newest one
        later = NOW + timedelta(hours=hours)
        result = run_source(ctx, src, later)
        assert result.verdict == "ok" and result.new == 0, result.reason
    assert len(stored(ctx, "jd")) == 1
