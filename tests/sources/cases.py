"""The contract table: every source kind, its config against a loopback base URL, and the response
shapes it must judge correctly (ok, empty, blocked, broken, error), in real platform shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.pipeline import RunResult
from tests.sources.conftest import Reply, Request, file_reply, fixture_json, fixture_text, jsonp

Routes = dict[str, list[Any]]


@dataclass
class Shape:
    name: str
    routes: Callable[[str], Routes]  # first-page path -> routes
    verdict: str
    items: int | None = None
    reason: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    check: Callable[[RunResult, list[Request]], None] | None = None


@dataclass
class Kind:
    config: Callable[[str], dict[str, Any]]  # base URL -> source config
    path: str  # the first page's path
    shapes: list[Shape]
    malformed: str = "broken"  # verdict for a garbage body (an HTML selector just finds nothing)
    http: bool = True  # False: a local-file kind, which the HTTP shapes below do not concern


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def by_query(name: str, pages: dict[str, Reply], default: Reply | None = None) -> Callable[[Request], Reply]:
    def pick(req: Request) -> Reply:
        return pages.get(req.query.get(name, ""), default or Reply(404, "no such page", "text/plain"))

    return pick


def only(path: str, *replies: Any) -> Callable[[str], Routes]:
    return lambda _first: {path: list(replies)}


def at_first(*replies: Any) -> Callable[[str], Routes]:
    return lambda first: {first: list(replies)}


# ---- item checks ---------------------------------------------------------------------------------
def by_id(result: RunResult) -> dict[str, Any]:
    return {it.external_id: it for it in result.items}


def check_jd(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    first = items["17000000001"]
    assert first.text == "杯子颜色很正，保温一整天水还是烫的，物流也快。"  # decoded from GBK
    assert first.rating == 5 and first.author == "用***1" and first.sku == "100038004387"
    assert first.published_at == utc(2026, 11, 22, 13, 15, 3)
    assert first.attrs["sku_attrs"] == {"color": "雾霾蓝", "size": "500ml"}
    assert len(first.attrs["images"]) == 2 and first.attrs["client"] == "来自京东Android客户端"
    after = items["17000000001:after"]
    assert after.parent_external_id == "17000000001" and "漏水" in after.text
    assert after.published_at == utc(2026, 11, 23, 1, 40, 11)
    assert [r.query["page"] for r in requests if r.path.endswith(".action")] == ["0", "1"]  # maxPage 2


def check_tmall(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    assert items["1200000000101"].attrs["sku_attrs"] == {"颜色分类": "雾霾蓝", "容量": "500ml"}
    assert items["1200000000101:append"].parent_external_id == "1200000000101"
    assert items["1200000000102"].author == "小***猫"
    assert items["1200000000102"].published_at == utc(2026, 11, 21, 2, 3)


def check_weibo(result: RunResult, requests: list[Request]) -> None:
    items = list(result.items)
    a, b, c, d = items
    assert a.text.endswith("大家避雷。") and "[怒]" in a.text  # longText, emoji alt
    assert a.attrs["reposts"] == 12000 and a.attrs["likes"] == 1_000_000 and a.attrs["comments"] == 35
    assert a.attrs["followers"] == 12000 and a.attrs["pics"][0].endswith("/large/p1.jpg")
    assert a.published_at == utc(2026, 11, 23, 2, 30) and a.author == "爱喝水的小鹿"
    assert a.url == "https://weibo.com/6012345678/P3kXa1b2C"
    assert "[二哈]" in b.text and b.attrs["pics"] == ["https://wx2.sinaimg.cn/large/q1.jpg"]
    assert b.attrs["retweeted"]["author"] is None
    assert b.published_at == utc(2026, 11, 23, 3, 55)  # from the id, not "5分钟前"
    assert c.published_at == utc(2026, 11, 22, 4, 30)  # 昨天 12:30, UTC+8, relative to NOW
    assert d.published_at == utc(2026, 11, 2, 16, 0)
    assert [r.query.get("page") for r in requests if "getIndex" in r.path] == ["1", "2"]
    assert requests[-1].query["containerid"] == "100103type=61&q=示例旗舰店"
    assert result.parsed[0].cursor == {"since_id": "4901234567890123"}


def check_hotflow(result: RunResult, requests: list[Request]) -> None:
    c1, c2, _c3 = result.items
    assert "[哆啦A梦害怕]" in c1.text and c2.parent_external_id == c1.external_id
    assert c2.attrs["likes"] == 11000 and c1.parent_external_id is None
    assert [r.query.get("max_id") for r in requests if "hotflow" in r.path] == [None, "138876543210"]
    assert result.parsed[-1].cursor == {"max_id": 0}


def check_feed_stats(result: RunResult, requests: list[Request]) -> None:
    first = result.items[0]
    assert first.attrs == {
        "reposts": 12000,
        "comments": 35,
        "likes": 1024,
        "tags": ["示例旗舰店", "保温杯"],
        "enclosures": ["https://wx1.sinaimg.cn/large/p1.jpg"],
    }
    assert "[怒]" in first.text and first.external_id == "https://weibo.com/6012345678/P3kXa1b2C"
    assert first.author == "爱喝水的小鹿" and first.published_at == utc(2026, 11, 23, 2, 30)


def check_json_feed(result: RunResult, requests: list[Request]) -> None:
    first = result.items[0]
    assert first.attrs == {"tags": ["示例旗舰店"]} and first.author == "爱喝水的小鹿"
    assert first.text.startswith("刚收到的保温杯") and "[怒]" in first.text
    assert any(r.query.get("format") == "json" for r in requests)


def check_xhs(result: RunResult, requests: list[Request]) -> None:
    first, second = result.items
    assert first.attrs["likes"] == 15000 and first.attrs["collects"] == 56 and first.author == "小红薯0001"
    assert first.published_at == datetime.fromtimestamp(1795400000, UTC)
    assert first.url and "xsec_token=ABtoken1xyz=" in first.url
    assert second.text == "避雷！买的杯子三天就不保温了" and second.attrs["note_type"] == "video"
    post = next(r for r in requests if r.method == "POST")
    body = json.loads(post.body)
    assert body["keyword"] == "示例旗舰店" and body["page"] == 1


def check_douyin(result: RunResult, requests: list[Request]) -> None:
    first = result.items[0]
    assert first.external_id == "7300000000000000001" and first.attrs["likes"] == 1520
    assert first.author == "抖音用户1" and first.published_at == datetime.fromtimestamp(1795380000, UTC)
    assert requests[-1].query["keyword"] == "示例旗舰店"


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


# ---- the table -----------------------------------------------------------------------------------
JD_PATH = "/comment/productPageComments.action"
JD_PAGES = {
    "0": jsonp("jd_comments_p0.json", "fetchJSON_comment98", "gbk"),
    "1": jsonp("jd_comments_p1.json", "fetchJSON_comment98", "gbk"),
}
WEIBO_PAGES = {"1": file_reply("weibo_search_p1.json"), "2": file_reply("weibo_search_p2.json")}
HOTFLOW = "/comments/hotflow"
EMPTY_RSS = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
XML = "application/xml; charset=utf-8"

KINDS: dict[str, Kind] = {
    "jd_reviews": Kind(
        lambda base: {"product_id": "100038004387", "base_url": base},
        JD_PATH,
        [
            Shape("ok", only(JD_PATH, by_query("page", JD_PAGES)), "ok", 6, check=check_jd),
            Shape(
                "captcha-page",
                only(JD_PATH, file_reply("jd_captcha.html", "text/html")),
                "blocked",
                reason="captcha",
            ),
            Shape("empty-body", only(JD_PATH, Reply(body="")), "blocked", reason="empty response body"),
            Shape(
                "shape-changed",
                only(JD_PATH, Reply(body='fetchJSON_comment98({"result":{}});')),
                "broken",
                reason="comments",
            ),
            Shape(
                "no-comments",
                only(JD_PATH, Reply(body='fetchJSON_comment98({"maxPage":0,"comments":[]});')),
                "empty",
            ),
        ],
    ),
    "tmall_reviews": Kind(
        lambda base: {"item_id": "600000000001", "seller_id": "2200000001", "base_url": base},
        "/list_detail_rate.htm",
        [
            Shape("ok", at_first(jsonp("tmall_rate.json", "jsonp128")), "ok", 3, check=check_tmall),
            Shape("202-then-ok", at_first(Reply(202, ""), jsonp("tmall_rate.json", "jsonp128")), "ok", 3),
            Shape("202-always", at_first(Reply(202, "")), "error", reason="busy"),
            Shape("rgv587", at_first(jsonp("tmall_rgv587.json", "jsonp128")), "blocked", reason="rgv587"),
            Shape(
                "login-redirect",
                at_first(Reply(302, headers={"Location": "https://login.taobao.com/member/login.jhtml"})),
                "blocked",
                reason="login.taobao.com",
            ),
        ],
    ),
    "weibo_search": Kind(
        lambda base: {"keyword": "示例旗舰店", "base_url": base},
        "/api/container/getIndex",
        [
            Shape("ok", at_first(by_query("page", WEIBO_PAGES)), "ok", 4, check=check_weibo),
            Shape("ok-100", at_first(file_reply("weibo_login.json")), "blocked", reason="ok:-100"),
            Shape("http-418", at_first(Reply(418, "")), "blocked", reason="418"),
            Shape("ok-0", at_first(file_reply("weibo_nothing.json")), "empty", reason="这里还没有内容"),
        ],
    ),
    "weibo_comments": Kind(
        lambda base: {"post_id": "4999000000000000", "base_url": base},
        HOTFLOW,
        [
            Shape(
                "ok",
                only(
                    HOTFLOW,
                    by_query(
                        "max_id",
                        {
                            "": file_reply("weibo_hotflow_p1.json"),
                            "138876543210": file_reply("weibo_hotflow_p2.json"),
                        },
                    ),
                ),
                "ok",
                3,
                check=check_hotflow,
            ),
            Shape("ok-100", at_first(file_reply("weibo_login.json")), "blocked", reason="login needed"),
        ],
    ),
    "rsshub": Kind(
        lambda base: {"instance": base, "route": "/weibo/keyword/示例旗舰店"},
        "/weibo/keyword/示例旗舰店",
        [
            Shape("ok-rss", at_first(file_reply("rsshub_weibo.xml", XML)), "ok", 2, check=check_feed_stats),
            Shape(
                "ok-json-feed",
                at_first(file_reply("rsshub_weibo_feed.json")),
                "ok",
                2,
                config={"format": "json"},
                check=check_json_feed,
            ),
            Shape(
                "cookie-expired",
                at_first(Reply(503, fixture_text("rsshub_error.html"), "text/html")),
                "blocked",
                reason="ConfigNotFoundError",
            ),
            Shape("zero-items", at_first(Reply(body=EMPTY_RSS, content_type=XML)), "empty"),
        ],
    ),
    "xhs_search": Kind(
        lambda base: {"keyword": "示例旗舰店", "base_url": base},
        "/api/sns/web/v1/search/notes",
        [
            Shape("ok", at_first(file_reply("xhs_search.json")), "ok", 2, check=check_xhs),
            Shape(
                "461-verifytype",
                at_first(Reply(461, "{}", headers={"Verifytype": "102", "Verifyuuid": "9f"})),
                "blocked",
                reason="Verifytype",
            ),
            Shape(
                "471-verifytype",
                at_first(Reply(471, "{}", headers={"Verifytype": "124", "Verifyuuid": "9e"})),
                "blocked",
                reason="captcha",
            ),
            Shape("code-300012", at_first(file_reply("xhs_300012.json")), "blocked", reason="IP blocked"),
            Shape(
                "code-300011", at_first(file_reply("xhs_300011.json")), "blocked", reason="account restricted"
            ),
        ],
    ),
    "douyin_search": Kind(
        lambda base: {"keyword": "示例旗舰店", "base_url": base},
        "/aweme/v1/web/general/search/single/",
        [
            Shape("ok", at_first(file_reply("douyin_search.json")), "ok", 2, check=check_douyin),
            Shape(
                "verify-check", at_first(file_reply("douyin_verify.json")), "blocked", reason="verify_check"
            ),
            Shape("empty-body", at_first(Reply(body="")), "blocked", reason="empty response body"),
        ],
    ),
    "douyin_comments": Kind(
        lambda base: {"aweme_id": "7300000000000000001", "base_url": base},
        "/aweme/v1/web/comment/list/",
        [
            Shape("ok", at_first(file_reply("douyin_comments.json")), "ok", 2),
            Shape(
                "status-code",
                at_first(Reply(body='{"status_code": 8, "status_msg": "用户未登录"}')),
                "blocked",
                reason="用户未登录",
            ),
        ],
    ),
    "html": Kind(
        lambda base: {
            "url": f"{base}/shop/reviews?page=1",
            "item": "div.review",
            "fields": {
                "id": "@data-id",
                "text": "p.content",
                "author": ".author",
                "rating": ".stars@data-score",
                "sku": ".sku",
                "published": "time@datetime",
            },
            "next": "a.next@href",
        },
        "/shop/reviews",
        [
            Shape(
                "ok",
                at_first(
                    by_query(
                        "page",
                        {
                            "1": file_reply("shop_p1.html", "text/html; charset=utf-8"),
                            "2": file_reply("shop_p2.html", "text/html; charset=utf-8"),
                        },
                    )
                ),
                "ok",
                4,
                check=check_html,
            ),
            Shape(
                "captcha-page", at_first(file_reply("jd_captcha.html", "text/html")), "blocked", reason="验证"
            ),
            Shape("redesigned", at_first(file_reply("shop_redesigned.html", "text/html")), "empty"),
        ],
        malformed="empty",
    ),
    "json": Kind(
        lambda base: {
            "url": f"{base}/api/reviews?page={{page}}",
            "items": "data.list",
            "fields": {
                "id": "reviewId",
                "text": "body",
                "rating": "stars",
                "author": "user.nick",
                "published": "ts",
                "sku": "spec",
            },
        },
        "/api/reviews",
        [
            Shape(
                "ok",
                at_first(
                    by_query(
                        "page",
                        {"1": file_reply("generic_reviews.json")},
                        Reply(body='{"code":0,"data":{"list":[]}}'),
                    )
                ),
                "ok",
                2,
                check=check_json,
            ),
            Shape("pdd-54001", at_first(file_reply("pdd_54001.json")), "blocked", reason="54001"),
            Shape(
                "path-gone",
                at_first(Reply(body='{"code":0,"result":{"rows":[]}}')),
                "broken",
                reason="data.list",
            ),
        ],
    ),
    "feed": Kind(
        lambda base: {"url": f"{base}/feeds/shop.atom"},
        "/feeds/shop.atom",
        [
            Shape("ok-atom", at_first(file_reply("atom.xml", "application/atom+xml")), "ok", 2),
            Shape(
                "ok-rss-stats", at_first(file_reply("rsshub_weibo.xml", XML)), "ok", 2, check=check_feed_stats
            ),
            Shape("ok-json-feed", at_first(file_reply("rsshub_weibo_feed.json")), "ok", 2),
            Shape(
                "login-page",
                at_first(Reply(body="<html><title>请登录</title>扫码登录</html>", content_type="text/html")),
                "blocked",
            ),
        ],
    ),
}

MALFORMED = {"html": "<div class='review'<<p>>", "feed": "<rss><channel><item><title>x"}


def generic_shapes(kind: str, spec: Kind) -> list[Shape]:
    """Shapes every kind meets: HTTP errors, rate limits, login redirects, timeouts, garbage, robots
    (for the kinds that honour robots.txt by default)."""
    from monitor.adapters import registry

    garbage = MALFORMED.get(kind, '{"comments": [ {"id": 1,')
    robots = registry()[kind].Config.model_fields["respect_robots"].default
    return [
        Shape(
            "http-500-always",
            at_first(Reply(500, "Internal Server Error", "text/plain")),
            "error",
            reason="HTTP 500",
        ),
        Shape(
            "http-500-then-ok",
            lambda first: {first: [Reply(500, "oops", "text/plain"), *_ok_replies(spec, first)]},
            "ok",
        ),
        Shape("http-403", at_first(Reply(403, "Forbidden", "text/plain")), "blocked", reason="403"),
        Shape("http-432", at_first(Reply(432, "")), "blocked", reason="rate limited"),
        Shape(
            "passport-redirect",
            at_first(Reply(302, headers={"Location": "https://passport.jd.com/new/login.aspx?ReturnUrl=x"})),
            "blocked",
            reason="passport.jd.com",
        ),
        Shape(
            "timeout",
            at_first(Reply(body="{}", delay=1.0)),
            "error",
            reason="timed out",
            config={"timeout": "0.25s"},
        ),
        Shape("malformed", at_first(Reply(body=garbage, content_type="text/html")), spec.malformed),
        Shape(
            "robots-disallow",
            lambda first: {
                "/robots.txt": [Reply(body="User-agent: *\nDisallow: /\n", content_type="text/plain")]
            },
            "blocked",
            reason="robots.txt",
        ),
    ][: None if robots else -1]


def _ok_replies(spec: Kind, first: str) -> list[Any]:
    ok = spec.shapes[0].routes(first)
    return list(ok.get(first) or next(iter(ok.values())))


def cases() -> list[tuple[str, Shape]]:
    out = []
    for kind, spec in KINDS.items():
        out += [(kind, s) for s in spec.shapes]
        out += [(kind, s) for s in generic_shapes(kind, spec)] if spec.http else []
    return out


from tests.sources.merchant_cases import MERCHANT_KINDS  # noqa: E402  (it builds on the helpers above)

KINDS.update(MERCHANT_KINDS)

__all__ = ["KINDS", "Shape", "cases", "fixture_json"]
