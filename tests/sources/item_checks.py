"""What each kind must make of its fixtures: the item-level checks of the contract table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.pipeline import RunResult
from tests.conftest import NOW
from tests.sources.conftest import Request


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def by_id(result: RunResult) -> dict[str, Any]:
    return {it.external_id: it for it in result.items}


def skipped(result: RunResult) -> dict[str, int]:
    out: dict[str, int] = {}
    for page in result.pages:
        for reason, n in page.skipped.items():
            out[reason] = out.get(reason, 0) + n
    return out


def check_jd(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    first = items["17000000001"]
    assert first.text == "杯子颜色很正，保温一整天水还是烫的，物流也快。"  # decoded from GBK
    assert first.rating == 5 and first.author == "用***1"
    assert (first.sku, first.product) == ("100038004391", "100038004387")  # referenceId: the variant
    assert first.published_at == utc(2026, 11, 22, 13, 15, 3)
    assert first.attrs["sku_attrs"] == {"color": "雾霾蓝", "size": "500ml"}
    assert first.attrs["client"] == "来自京东Android客户端"  # the raw <a href=…> is gone
    assert first.attrs["images"] == [
        "https://img30.360buyimg.com/n0/s128x96_jfs/t10/sample-a.jpg",
        "https://img30.360buyimg.com/n0/s128x96_jfs/t10/sample-b.jpg",
    ]
    assert first.attrs["videos"] == ["https://jvod.300hu.com/vod/product/sample-1.mp4"]
    assert first.attrs["has_after_comment"] is True and first.attrs["after_days"] == 14
    after = items["17000000001:after"]  # the nested afterUserComment.hAfterUserComment.content
    assert after.text == "用了两周，杯盖密封圈有点漏水，客服说可以换。"
    assert after.parent_external_id == "17000000001" and (after.sku, after.product) == (
        first.sku,
        first.product,
    )
    assert after.published_at == utc(2026, 11, 23, 1, 40, 11)
    assert after.attrs["images"] == ["https://img30.360buyimg.com/n0/s128x96_jfs/t11/sample-c.jpg"]
    assert "client" not in items["17000000003"].attrs  # an empty userClientShow is no client
    assert {it.product for it in result.items} == {"100038004387"}
    assert {it.sku for it in result.items} == {"100038004391", "100038004392", "100038004393"}
    assert [r.query["page"] for r in requests if r.path.endswith(".action")] == ["0", "1"]  # maxPage 2


def check_jd_without_max_page(result: RunResult, requests: list[Request]) -> None:
    assert [r.query["page"] for r in requests if r.path.endswith(".action")] == ["0", "1", "2"]


def check_tmall(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    first = items["1200000000101"]
    assert first.attrs["sku_attrs"] == {"颜色分类": "雾霾蓝", "容量": "500ml"}
    assert (first.sku, first.product) == ("颜色分类:雾霾蓝;容量:500ml", "600000000001")
    assert first.attrs["images"] == ["https://img.alicdn.com/bao/uploaded/i1/sample-a.jpg"]
    append = items["1200000000101:append"]
    assert append.parent_external_id == "1200000000101" and append.text == "用了一个月，杯底掉漆了。"
    assert append.attrs["images"] == ["https://img.alicdn.com/bao/uploaded/i1/sample-b.jpg"]
    assert items["1200000000102"].author == "小***猫"
    assert items["1200000000102"].published_at == utc(2026, 11, 21, 2, 3)


def check_weibo(result: RunResult, requests: list[Request]) -> None:
    a, b, c, d, e, f = result.items
    assert a.attrs["truncated"] is True and "全文" not in a.text and a.text.endswith("现在觉得 ...")
    assert "[怒]" in a.text and "@示例旗舰店" in a.text and "12315" not in a.text  # cut before the end
    assert a.attrs["reposts"] == 12000 and a.attrs["likes"] == 1_000_000 and a.attrs["comments"] == 35
    assert (
        a.attrs["followers"] == 12000 and a.attrs["images"][0] == "https://wx1.sinaimg.cn/large/sample-p1.jpg"
    )
    assert a.published_at == utc(2026, 11, 23, 2, 30) and a.author == "爱喝水的小鹿"
    assert a.url == "https://weibo.com/6012345678/P3kXa1b2C" and "pinned" not in a.attrs
    assert "[二哈]" in b.text and b.attrs["images"] == ["https://wx2.sinaimg.cn/large/sample-q1.jpg"]
    assert b.attrs["retweeted"]["author"] is None
    assert b.published_at == utc(2026, 11, 23, 3, 55)  # from the id, not "5分钟前"
    # adjacent topic labels separated; the link and video card labels are not post text
    assert c.text == "#示例旗舰店# #保温杯漏水#拍了个视频给大家看看漏成什么样"
    assert [(x["kind"], x["label"]) for x in c.attrs["links"]] == [
        ("web", "网页链接"),
        ("video", "爱喝水的小鹿的微博视频"),
    ]
    assert c.attrs["links"][0]["url"] == "http://t.cn/A6sample1" and c.attrs["page_info"]["type"] == "video"
    assert d.text == "" and d.attrs["image_only"] is True  # text: "" with a picture: kept
    assert d.attrs["images"] == ["https://wx3.sinaimg.cn/large/sample-r1.jpg"]
    assert e.published_at == utc(2026, 11, 22, 4, 30)  # 昨天 12:30, UTC+8, relative to NOW
    assert f.published_at == utc(2026, 11, 2, 16, 0)
    assert result.pages[0].entries == 4 and result.pages[0].failed == 0
    assert skipped(result) == {
        "非帖子卡片 not a post (card_type 42)": 1,
        "非帖子卡片 not a post (card_type 58)": 1,
    }
    assert [r.query.get("page") for r in requests if "getIndex" in r.path] == ["1", "2"]
    assert requests[-1].query["containerid"] == "100103type=61&q=示例旗舰店"
    assert result.parsed[0].cursor == {"since_id": "4901234567890123"}


def check_hotflow(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    top = items["5368370794856449"]
    assert "[哆啦A梦害怕]" in top.text and top.parent_external_id is None and top.attrs["replies"] == 5
    replies = [it for it in result.items if it.parent_external_id == top.external_id]
    assert [r.external_id for r in replies] == ["5368370794856450", "5368375828025252"]  # 楼中楼
    assert replies[0].attrs["likes"] == 11000 and replies[0].text.startswith("回复@吃瓜群众:")
    photo = items["5368380861191053"]
    assert photo.text == "" and photo.attrs["image_only"] is True  # "查看图片" is a card label
    assert photo.attrs["images"] == ["https://wx4.sinaimg.cn/large/sample-c1.jpg"]
    assert [r.query.get("max_id") for r in requests if "hotflow" in r.path] == [None, "138876543210"]
    assert result.parsed[-1].cursor == {"max_id": 0}


def check_feed_once(result: RunResult, requests: list[Request]) -> None:
    first, second = result.items
    # title and description say the same words: kept once, although the title is no clean prefix
    assert first.text == "刚收到的@示例旗舰店 保温杯，盖子就是裂的[怒]\n客服还不回消息 #保温杯漏水#"
    assert first.attrs == {
        "tags": ["示例旗舰店", "保温杯"],
        "enclosures": ["https://wx1.sinaimg.cn/large/sample-p1.jpg"],
    }  # RSSHub's Weibo output has no engagement counts
    assert first.external_id == "https://weibo.com/6012345678/P3kXa1b2C"
    assert first.author == "爱喝水的小鹿" and first.published_at == utc(2026, 11, 23, 2, 30)
    assert second.text.count("客服态度挺好的") == 1 and second.text.endswith("要用点力气")


def check_json_feed(result: RunResult, requests: list[Request]) -> None:
    first, second = result.items
    assert first.attrs == {"tags": ["示例旗舰店"]} and first.author == "爱喝水的小鹿"
    assert first.text == "刚收到的@示例旗舰店 保温杯，盖子就是裂的[怒]\n客服还不回消息 #保温杯漏水#"
    assert second.text.count("客服态度挺好的") == 1
    assert any(r.query.get("format") == "json" for r in requests)


def check_atom(result: RunResult, requests: list[Request]) -> None:
    first = result.items[0]
    assert first.text == "买家秀：杯子很好看\n杯子很好看，保温也不错"  # a title of its own is kept


def check_xhs(result: RunResult, requests: list[Request]) -> None:
    first, second, third = result.items
    assert first.attrs["likes"] == 15000 and first.attrs["collects"] == 56 and first.attrs["shares"] == 3
    assert first.author == "小红薯0001" and first.text == "示例旗舰店保温杯测评"
    assert first.published_at == NOW - timedelta(minutes=6)  # corner_tag_info publish_time "6分钟前"
    assert first.attrs["truncated"] is True  # no desc in search: the note detail completes it
    assert first.url and "xsec_token=ABtoken1xyz=" in first.url
    assert first.attrs["images"] == [
        "http://sns-webpic-qc.xhscdn.com/202611230400/sample/656100000000000000000001!nc_n_webp_mw_1"
    ]
    assert second.attrs["note_type"] == "video" and second.published_at == utc(2026, 11, 19, 16, 0)
    assert third.text == "" and third.published_at is None  # no title, no corner tag: kept, incomplete
    page = result.pages[0]
    assert (page.entries, page.failed, page.missing_fields) == (3, 0, {"corner_tag_info.publish_time": 1})
    assert skipped(result) == {
        "相关搜索 related-search card (rec_query)": 1,
        "热搜词 hot-search card (hot_query)": 1,
        "广告 ad slot (model_type ads)": 1,
    }
    post = next(r for r in requests if r.method == "POST")
    body = json.loads(post.body)
    assert body["keyword"] == "示例旗舰店" and body["page"] == 1


def check_douyin(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    first = items["7300000000000000001"]
    assert first.attrs["likes"] == 1520 and first.author == "抖音用户1"
    assert first.published_at == datetime.fromtimestamp(1795380000, UTC)
    assert items["7300000000000000003"].text == "" and items["7300000000000000003"].attrs["no_caption"]
    assert items["7300000000000000004"].text.startswith("示例旗舰店保温杯合集")  # aweme_mix_info
    assert "7300000000000000009" not in items  # the ad
    assert skipped(result) == {
        "非视频卡片 not a video (type 6)": 1,
        "非视频卡片 not a video (type 4)": 1,
        "广告 ad card": 1,
    }
    first_req, second_req = [r for r in requests if "search/single" in r.path]
    assert first_req.query["keyword"] == "示例旗舰店" and "search_id" not in first_req.query
    assert second_req.query["offset"] == "10" and second_req.query["backtrace"] == "bt-sample-0001"
    assert second_req.query["search_id"] == "20261123120000SAMPLE0001"


def check_douyin_comments(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    shot = items["7300000000000000102"]  # image-only: kept, text empty, its screenshots attached
    assert shot.text == "" and shot.attrs["image_only"] is True and len(shot.attrs["images"]) == 2
    assert (
        shot.attrs["images"][0].startswith("https://p3-pc-sign.douyinpic.com/")
        and "origin" in shot.attrs["images"][0]
    )
    pinned = items["7300000000000000103"]
    assert (
        pinned.attrs["pinned"] is True
        and "image_only" not in pinned.attrs
        and len(pinned.attrs["images"]) == 1
    )
    assert items["7300000000000000101"].attrs["ip_label"] == "广东"


def check_html(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    assert set(items) == {"s-101", "s-102", "s-103", "s-090"}
    assert items["s-102"].rating == 1 and items["s-102"].sku == "SKU-500-PINK"
    assert items["s-101"].published_at == utc(2026, 11, 23, 1, 0)
    assert result.pages[0].missing_fields == {"rating": 1, "sku": 1}


def check_json(result: RunResult, requests: list[Request]) -> None:
    r1, r2 = result.items
    assert (r1.external_id, r1.rating, r1.author, r1.sku) == ("r-1", 5, "买家A", "500ml")
    assert r2.published_at == utc(2026, 11, 20, 2, 0)
