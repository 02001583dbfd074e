"""The contract table: every source kind, its config against a loopback base URL, and the response
shapes it must judge correctly (ok, empty, blocked, broken, error), in real platform shapes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.pipeline import RunResult
from tests.sources import item_checks as ck
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
    malformed: str = "broken"  # verdict for a garbage body
    sample: str = ""  # a fixture of the first page: cut in half, it must be "broken", never "empty"
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


# ---- the table -----------------------------------------------------------------------------------
def doc_reply(name: str, change: Callable[[Any], None], callback: str = "", encoding: str = "utf-8") -> Reply:
    """A fixture changed by ``change``, served as JSON (or JSONP with ``callback``)."""
    doc = copy.deepcopy(fixture_json(name))
    change(doc)
    body = json.dumps(doc, ensure_ascii=False)
    if callback:
        return Reply(
            body=f"{callback}({body});", content_type=f"text/html;charset={encoding}", encoding=encoding
        )
    return Reply(body=body)


def each(path: str, key: str, value: Any = None, *, drop: bool = False) -> Callable[[Any], None]:
    """Set (or drop) ``key`` in every entry of the list at dotted ``path``."""

    def change(doc: Any) -> None:
        node = doc
        for part in path.split("."):
            node = node[part]
        for entry in node:
            target = entry
            *parents, last = key.split(".")
            for part in parents:
                target = target.get(part) if isinstance(target, dict) else None
            if not isinstance(target, dict):
                continue
            if drop:
                target.pop(last, None)
            else:
                target[last] = value

    return change


def no_max_page(doc: Any) -> None:
    doc.pop("maxPage")


def one_page(doc: Any) -> None:
    doc["maxPage"] = 1


JD_PATH = "/comment/productPageComments.action"
JD_PAGES = {
    "0": jsonp("jd_comments_p0.json", "fetchJSON_comment98", "gbk"),
    "1": jsonp("jd_comments_p1.json", "fetchJSON_comment98", "gbk"),
}
JD_NO_MAX_PAGE = {
    "0": doc_reply("jd_comments_p0.json", no_max_page, "fetchJSON_comment98", "gbk"),
    "1": doc_reply("jd_comments_p1.json", no_max_page, "fetchJSON_comment98", "gbk"),
    "2": Reply(body='fetchJSON_comment98({"comments":[]});', content_type="text/html;charset=GBK"),
}
WEIBO_PAGES = {"1": file_reply("weibo_search_p1.json"), "2": file_reply("weibo_search_p2.json")}
HOTFLOW = "/comments/hotflow"
HOTFLOW_PAGES = {"": file_reply("weibo_hotflow_p1.json"), "138876543210": file_reply("weibo_hotflow_p2.json")}
DOUYIN_PAGES = {"0": file_reply("douyin_search.json"), "10": file_reply("douyin_search_p2.json")}
EMPTY_RSS = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
XML = "application/xml; charset=utf-8"


def weibo_without_text(doc: Any) -> None:
    for card in doc["data"]["cards"]:
        for c in card.get("card_group") or [card]:
            if "mblog" in c:
                c["mblog"].update(text="", pics=[])


KINDS: dict[str, Kind] = {
    "jd_reviews": Kind(
        lambda base: {"product_id": "100038004387", "base_url": base},
        JD_PATH,
        [
            Shape("ok", only(JD_PATH, by_query("page", JD_PAGES)), "ok", 6, check=ck.check_jd),
            Shape(
                "no-max-page-pages-until-empty",
                only(JD_PATH, by_query("page", JD_NO_MAX_PAGE)),
                "ok",
                6,
                check=ck.check_jd_without_max_page,
            ),
            Shape(
                "other-callback-name",
                only(
                    JD_PATH, doc_reply("jd_comments_p1.json", one_page, "jQuery3310123_1795400000000", "gbk")
                ),
                "ok",
                2,
            ),
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
                "content-renamed",
                only(JD_PATH, doc_reply("jd_comments_p0.json", each("comments", "content", drop=True), "cb")),
                "broken",
                reason="missing: content ×3",
            ),
            Shape(
                "no-comments",
                only(JD_PATH, Reply(body='fetchJSON_comment98({"maxPage":0,"comments":[]});')),
                "empty",
            ),
        ],
        sample="jd_comments_p0.json",
    ),
    "tmall_reviews": Kind(
        lambda base: {"item_id": "600000000001", "seller_id": "2200000001", "base_url": base},
        "/list_detail_rate.htm",
        [
            Shape("ok", at_first(jsonp("tmall_rate.json", "jsonp128")), "ok", 3, check=ck.check_tmall),
            Shape(
                "other-callback-name",
                at_first(jsonp("tmall_rate.json", "jsonp_tbcrate_reviews_list")),
                "ok",
                3,
            ),
            Shape("202-then-ok", at_first(Reply(202, ""), jsonp("tmall_rate.json", "jsonp128")), "ok", 3),
            Shape("202-always", at_first(Reply(202, "")), "error", reason="busy"),
            Shape("rgv587", at_first(jsonp("tmall_rgv587.json", "jsonp128")), "blocked", reason="rgv587"),
            Shape(
                "login-redirect",
                at_first(Reply(302, headers={"Location": "https://login.taobao.com/member/login.jhtml"})),
                "blocked",
                reason="login.taobao.com",
            ),
            Shape(
                "rate-content-renamed",
                at_first(
                    doc_reply("tmall_rate.json", each("rateDetail.rateList", "rateContent", drop=True), "j")
                ),
                "broken",
                reason="rateContent ×2",
            ),
        ],
        sample="tmall_rate.json",
    ),
    "weibo_search": Kind(
        lambda base: {"keyword": "示例旗舰店", "base_url": base},
        "/api/container/getIndex",
        [
            Shape("ok", at_first(by_query("page", WEIBO_PAGES)), "ok", 6, check=ck.check_weibo),
            Shape("ok-100", at_first(file_reply("weibo_login.json")), "blocked", reason="ok:-100"),
            Shape("http-418", at_first(Reply(418, "")), "blocked", reason="418"),
            Shape("ok-0", at_first(file_reply("weibo_nothing.json")), "empty", reason="这里还没有内容"),
            Shape(
                "posts-without-text",
                at_first(doc_reply("weibo_search_p1.json", weibo_without_text)),
                "broken",
                reason="text ×4",
            ),
        ],
        sample="weibo_search_p1.json",
    ),
    "weibo_comments": Kind(
        lambda base: {"post_id": "4999000000000000", "base_url": base},
        HOTFLOW,
        [
            Shape("ok", only(HOTFLOW, by_query("max_id", HOTFLOW_PAGES)), "ok", 5, check=ck.check_hotflow),
            Shape(
                "replies-false",
                only(HOTFLOW, doc_reply("weibo_hotflow_p2.json", each("data.data", "comments", False))),
                "ok",
                1,
            ),
            Shape("ok-100", at_first(file_reply("weibo_login.json")), "blocked", reason="login needed"),
            Shape(
                "text-renamed",
                only(HOTFLOW, doc_reply("weibo_hotflow_p2.json", each("data.data", "text", drop=True))),
                "broken",
                reason="text ×1",
            ),
        ],
        sample="weibo_hotflow_p1.json",
    ),
    "rsshub": Kind(
        lambda base: {"instance": base, "route": "/weibo/keyword/示例旗舰店"},
        "/weibo/keyword/示例旗舰店",
        [
            Shape("ok-rss", at_first(file_reply("rsshub_weibo.xml", XML)), "ok", 2, check=ck.check_feed_once),
            Shape(
                "ok-json-feed",
                at_first(file_reply("rsshub_weibo_feed.json")),
                "ok",
                2,
                config={"format": "json"},
                check=ck.check_json_feed,
            ),
            Shape(
                "cookie-expired",
                at_first(Reply(503, fixture_text("rsshub_error.html"), "text/html")),
                "blocked",
                reason="ConfigNotFoundError",
            ),
            Shape("zero-items", at_first(Reply(body=EMPTY_RSS, content_type=XML)), "empty"),
        ],
        sample="rsshub_weibo_feed.json",
    ),
    "xhs_search": Kind(
        lambda base: {"keyword": "示例旗舰店", "base_url": base},
        "/api/sns/web/v1/search/notes",
        [
            Shape("ok", at_first(file_reply("xhs_search.json")), "ok", 3, check=ck.check_xhs),
            Shape(
                "app-shape-no-note-card",
                at_first(file_reply("xhs_app_shape.json")),
                "broken",
                reason="note_card ×2",
            ),
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
        sample="xhs_search.json",
    ),
    "douyin_search": Kind(
        lambda base: {"keyword": "示例旗舰店", "base_url": base},
        "/aweme/v1/web/general/search/single/",
        [
            Shape("ok", at_first(by_query("offset", DOUYIN_PAGES)), "ok", 4, check=ck.check_douyin),
            Shape(
                "verify-check", at_first(file_reply("douyin_verify.json")), "blocked", reason="verify_check"
            ),
            Shape("empty-body", at_first(Reply(body="")), "blocked", reason="empty response body"),
            Shape(
                "aweme-id-renamed",
                at_first(
                    doc_reply(
                        "douyin_search.json",
                        each(
                            "data",
                            "aweme_info.aweme_id",
                            drop=True,
                        ),
                    )
                ),
                "broken",
                reason="aweme_id",
            ),
        ],
        sample="douyin_search.json",
    ),
    "douyin_comments": Kind(
        lambda base: {"aweme_id": "7300000000000000001", "base_url": base},
        "/aweme/v1/web/comment/list/",
        [
            Shape(
                "ok", at_first(file_reply("douyin_comments.json")), "ok", 3, check=ck.check_douyin_comments
            ),
            Shape(
                "status-code",
                at_first(Reply(body='{"status_code": 8, "status_msg": "用户未登录"}')),
                "blocked",
                reason="用户未登录",
            ),
            Shape(
                "cid-renamed",
                at_first(doc_reply("douyin_comments.json", each("comments", "cid", drop=True))),
                "broken",
                reason="cid ×3",
            ),
        ],
        sample="douyin_comments.json",
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
                check=ck.check_html,
            ),
            Shape(
                "captcha-page", at_first(file_reply("jd_captcha.html", "text/html")), "blocked", reason="验证"
            ),
            Shape("redesigned", at_first(file_reply("shop_redesigned.html", "text/html")), "empty"),
            Shape(
                "text-selector-gone",
                at_first(
                    Reply(
                        body=fixture_text("shop_p1.html").replace('class="content"', 'class="body"'),
                        content_type="text/html; charset=utf-8",
                    )
                ),
                "broken",
                reason="text ×",
            ),
        ],
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
                check=ck.check_json,
            ),
            Shape("pdd-54001", at_first(file_reply("pdd_54001.json")), "blocked", reason="54001"),
            Shape(
                "path-gone",
                at_first(Reply(body='{"code":0,"result":{"rows":[]}}')),
                "broken",
                reason="data.list",
            ),
            Shape(
                "field-renamed",
                at_first(doc_reply("generic_reviews.json", each("data.list", "body", drop=True))),
                "broken",
                reason="text ×2",
            ),
        ],
        sample="generic_reviews.json",
    ),
    "feed": Kind(
        lambda base: {"url": f"{base}/feeds/shop.atom"},
        "/feeds/shop.atom",
        [
            Shape(
                "ok-atom",
                at_first(file_reply("atom.xml", "application/atom+xml")),
                "ok",
                2,
                check=ck.check_atom,
            ),
            Shape("ok-rss", at_first(file_reply("rsshub_weibo.xml", XML)), "ok", 2, check=ck.check_feed_once),
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
        Shape("login-wall-200", at_first(Reply(body=LOGIN_WALL, content_type="text/html")), "blocked"),
        *(
            [Shape("truncated-json", at_first(Reply(body=_half(spec.sample))), "broken", reason="not JSON")]
            if spec.sample
            else []
        ),
        Shape(
            "robots-disallow",
            lambda first: {
                "/robots.txt": [Reply(body="User-agent: *\nDisallow: /\n", content_type="text/plain")]
            },
            "blocked",
            reason="robots.txt",
        ),
    ][: None if robots else -1]


LOGIN_WALL = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>微博 - 登录</title></head><body>"
    "<div class='login'>请登录后继续访问</div><a href='https://passport.weibo.cn/signin/login'>登录</a>"
    "</body></html>"
)


def _half(fixture: str) -> str:
    text = fixture_text(fixture)
    return text[: len(text) // 2]


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
