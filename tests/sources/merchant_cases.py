"""The merchant-API and export kinds in the contract table: loopback platforms (``tests.merchant.platforms``)
answering in the documented shapes, every error shape listed in PLATFORMS.md, and export folders.

JOS error codes other than 19 and Kuaishou's numeric ``result`` codes are not documented where we
looked; their fixtures carry illustrative codes and the adapters recognise them by their text."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from monitor.pipeline import RunResult
from tests.conftest import NOW
from tests.merchant.platforms import JosShop, KuaishouShop, TopShop, top_rating
from tests.sources.cases import Kind, Shape, at_first, utc
from tests.sources.conftest import FIXTURES, Reply, Request, file_reply, fixture_json
from tests.sources.item_checks import by_id

# test-only credentials, read by the sources through ${VAR} like real secrets
for var, value in {
    "MT_TOP_SECRET": "top-secret", "MT_TOP_SESSION": "6100e2session", "MT_WRONG_SECRET": "not-the-secret",
    "MT_JD_SECRET": "jd-secret", "MT_JD_TOKEN": "jd-token", "MT_JD_OLD_TOKEN": "jd-token-expired",
    "MT_KS_SECRET": "ks-app-secret", "MT_KS_SIGN": "ks-sign-secret", "MT_KS_TOKEN": "ks-token",
}.items():  # fmt: skip
    os.environ.setdefault(var, value)

TOP_PATH, JD_PATH, KS_PATH, KS_SUB = (
    "/router/rest",
    "/routerjson",
    "/open/comment/list/get",
    "/open/subcomment/list/get",
)
EXPORTS = FIXTURES / "merchant" / "exports"


def _m(name: str) -> str:
    return f"merchant/{name}"


def top_shop(**kw: Any) -> TopShop:
    doc = fixture_json(_m("top_traderates.json"))
    feeds = fixture_json(_m("top_feeds.json"))["tmall_traderate_feeds_get_response"]["tmall_rate_info"]
    rates = doc["traderates_get_response"]["trade_rates"]["trade_rate"]
    return TopShop(ratings=rates, feeds={"3303000000101": feeds}, **kw)


def check_top(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    first = items["3303000000101:3303000000101:buyer"]
    assert first.rating == 5 and first.author == "小***鹿" and first.sku == "600000000001"
    assert first.published_at == utc(2026, 11, 22, 12, 15, 3)  # UTC+8 on the wire
    assert (
        first.attrs["tags"][0] == {"name": "保温效果好", "positive": True}
        and first.attrs["negative"] is False
    )
    append = items["3303000000101:3303000000101:buyer:append"]
    assert append.parent_external_id == first.external_id and "漏水" in append.text
    assert append.attrs["negative"] is True and append.published_at == utc(2026, 11, 23, 2, 2, 11)
    assert items["3303000000102:3303000000103:buyer"].rating == 1
    listing = [r for r in requests if r.query.get("method") == "taobao.traderates.get"]
    assert listing and all(r.query["rate_type"] == "get" and r.query["role"] == "buyer" for r in listing)
    assert all(r.query["sign"] and r.query["session"] == "6100e2session" for r in requests)
    assert sum(r.query.get("method") == "tmall.traderate.feeds.get" for r in requests) == 3  # first sight


def check_split(result: RunResult, requests: list[Request]) -> None:
    assert len(result.items) == 1600
    starts = {r.query["start_date"] for r in requests}
    assert len(starts) >= 2, "a range with more than 1,500 ratings must be split"
    assert max(int(r.query["page_size"]) for r in requests) <= 150


def many_ratings(n: int) -> TopShop:
    return TopShop(ratings=[top_rating(i, NOW - timedelta(minutes=i)) for i in range(1, n + 1)])


def check_jd(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    a, b = items["17000003001"], items["17000003002"]
    assert a.rating == 5 and a.sku == "100038004387" and a.attrs["order_id"] == "280000000301"
    assert a.published_at == utc(2026, 11, 22, 13, 15, 3) and a.attrs["images"] == [
        "//img30.360buyimg.com/n0/jfs/t1/p1.jpg"
    ]
    assert b.rating == 1 and b.attrs["replied"] is True
    assert all(
        r.query["method"].endswith("getVenderCommentsForJos") and r.query["v"] == "2.0" for r in requests
    )


def check_ks(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    root = items["510000101"]
    assert root.rating == 5 and root.sku == "22000001001" and root.attrs["logistics_score"] == 4
    append = items["510000101:append"]
    assert append.parent_external_id == "510000101" and "漏水" in append.text  # the shop's reply is skipped
    assert "510000902" not in items and "510000102:append" not in items
    subs = [r for r in requests if r.path == KS_SUB]
    assert len(subs) == 1 and subs[0].query["method"] == "open.subcomment.list.get"


def check_export(result: RunResult, requests: list[Request]) -> None:
    items = by_id(result)
    first = items["6900000000000000001:3600000000001:雾霾蓝"]
    assert first.rating == 5 and first.sku == "3600000000001" and first.product == "真空保温杯 500ml"
    assert first.published_at == utc(2026, 11, 21, 3, 1, 0)  # local time, Asia/Shanghai
    assert items["6900000000000000003:3600000000001:樱花粉:append"].parent_external_id.endswith("樱花粉")  # type: ignore[union-attr]
    assert items["6900000000000000004:3600000000001:雾霾蓝"].text.startswith("抖店第4条")  # GBK decoded
    # the XLSX's merged 订单ID and 评价日期 reach both product lines
    assert (
        items["6900000000000000006:3600000000001:樱花粉"].published_at
        == items["6900000000000000006:3600000000001:雾霾蓝"].published_at
    )
    assert requests == []


MERCHANT_KINDS: dict[str, Kind] = {
    "taobao_traderates": Kind(
        lambda base: {
            "app_key": "12345678",
            "app_secret": "${MT_TOP_SECRET}",
            "access_token": "${MT_TOP_SESSION}",
            "gateway": base + TOP_PATH,
            "tmall_feeds": True,
        },
        TOP_PATH,
        [
            Shape("ok", lambda first: {TOP_PATH: [top_shop()]}, "ok", 4, check=check_top),
            Shape(
                "window-over-1500",
                lambda first: {TOP_PATH: [many_ratings(1600)]},
                "ok",
                1600,
                config={"tmall_feeds": False},
                check=check_split,
            ),
            Shape(
                "wrong-secret",
                lambda first: {TOP_PATH: [top_shop()]},
                "blocked",
                reason="签名/密钥错误",
                config={"app_secret": "${MT_WRONG_SECRET}"},
            ),
            Shape(
                "session-invalid",
                at_first(file_reply(_m("top_error_session.json"))),
                "blocked",
                reason="re-authorise",
            ),
            Shape(
                "permission-missing",
                at_first(file_reply(_m("top_error_permission.json"))),
                "blocked",
                reason="taobao.traderates.get needs the permission package",
            ),
            Shape(
                "rate-limited",
                at_first(file_reply(_m("top_error_limit.json"))),
                "blocked",
                reason="(71 s, as the platform says)",
                config={"app_key": "contract-ban-top"},
            ),
            Shape("isp-busy", at_first(file_reply(_m("top_error_busy.json"))), "error", reason="busy"),
            Shape(
                "clock-off",
                lambda first: {TOP_PATH: [top_shop(now=NOW + timedelta(minutes=30))]},
                "error",
                reason="timestamp",
            ),
        ],
    ),
    "jd_vender_comments": Kind(
        lambda base: {
            "app_key": "jdkey",
            "app_secret": "${MT_JD_SECRET}",
            "access_token": "${MT_JD_TOKEN}",
            "gateway": base + JD_PATH,
        },
        JD_PATH,
        [
            Shape(
                "ok",
                lambda first: {
                    JD_PATH: [
                        JosShop(
                            comments=fixture_json(_m("jd_vender_comments.json"))[
                                "jingdong_pop_PopCommentJsfService_getVenderCommentsForJos_responce"
                            ]["comments"]
                        )
                    ]
                },
                "ok",
                2,
                check=check_jd,
            ),
            Shape(
                "token-expired",
                lambda first: {JD_PATH: [JosShop()]},
                "blocked",
                reason="re-authorise",
                config={"access_token": "${MT_JD_OLD_TOKEN}"},
            ),
            Shape(
                "wrong-secret",
                lambda first: {JD_PATH: [JosShop()]},
                "blocked",
                reason="签名/密钥错误",
                config={"app_secret": "${MT_WRONG_SECRET}"},
            ),
            Shape(
                "permission-missing",
                at_first(file_reply(_m("jd_error_permission.json"))),
                "blocked",
                reason="getVenderCommentsForJos needs",
            ),
            Shape(
                "rate-limited",
                at_first(file_reply(_m("jd_error_limit.json"))),
                "blocked",
                reason="rate limited",
                config={"app_key": "contract-ban-jd"},
            ),
        ],
    ),
    "kuaishou_comments": Kind(
        lambda base: {
            "app_key": "ks699",
            "app_secret": "${MT_KS_SECRET}",
            "sign_secret": "${MT_KS_SIGN}",
            "access_token": "${MT_KS_TOKEN}",
            "gateway": base,
        },
        KS_PATH,
        [
            Shape(
                "ok",
                lambda first: {
                    KS_PATH: [
                        KuaishouShop(comments=fixture_json(_m("ks_comments.json"))["data"]["rootComment"][1:])
                    ]
                },
                "ok",
                1,
            ),
            Shape(
                "ok-with-append",
                lambda first: {
                    path: [shop]
                    for shop in [
                        KuaishouShop(
                            comments=fixture_json(_m("ks_comments.json"))["data"]["rootComment"],
                            subs={510000101: fixture_json(_m("ks_subcomments.json"))["data"]["subComment"]},
                        )
                    ]
                    for path in (KS_PATH, KS_SUB)
                },
                "ok",
                3,
                check=check_ks,
            ),
            Shape(
                "wrong-sign-secret",
                lambda first: {KS_PATH: [KuaishouShop()]},
                "blocked",
                reason="签名/密钥错误",
                config={"sign_secret": "${MT_WRONG_SECRET}"},
            ),
            Shape(
                "token-expired",
                at_first(file_reply(_m("ks_error_token.json"))),
                "blocked",
                reason="re-authorise",
            ),
            Shape(
                "scope-missing",
                at_first(file_reply(_m("ks_error_scope.json"))),
                "blocked",
                reason="needs scope merchant_comment",
            ),
            Shape(
                "qps-limit",
                at_first(file_reply(_m("ks_error_qps.json"))),
                "blocked",
                reason="rate limited",
                config={"app_key": "contract-ban-ks1"},
            ),
            Shape(
                "daily-quota",
                at_first(file_reply(_m("ks_error_quota.json"))),
                "blocked",
                reason="00:00 UTC+8",
                config={"app_key": "contract-ban-ks2"},
            ),
            Shape(
                "not-json",
                at_first(Reply(body="<html>502 Bad Gateway</html>", content_type="text/html")),
                "broken",
            ),
        ],
    ),
    "review_export": Kind(
        lambda base: {"folder": str(EXPORTS / "doudian"), "preset": "doudian"},
        "",
        [
            Shape("ok", lambda first: {}, "ok", 8, check=check_export),
            Shape(
                "unknown-header",
                lambda first: {},
                "broken",
                reason="千牛导出.csv:1: unknown header",
                config={"folder": str(EXPORTS / "unknown_header")},
            ),
            Shape(
                "not-a-workbook",
                lambda first: {},
                "broken",
                reason="not_really.xlsx: not an XLSX workbook",
                config={"folder": str(EXPORTS / "broken")},
            ),
            Shape("empty-folder", lambda first: {}, "empty", 0, config={"folder": str(EXPORTS / "empty")}),
            Shape(
                "no-folder",
                lambda first: {},
                "error",
                reason="does not exist",
                config={"folder": str(EXPORTS / "nowhere")},
            ),
        ],
        http=False,
    ),
}

# kind -> (fields named in PLATFORMS.md and the SDK metadata, fixtures holding them)
T = "traderates_get_response.trade_rates.trade_rate[]."
F = "tmall_traderate_feeds_get_response.tmall_rate_info."
J = "jingdong_pop_PopCommentJsfService_getVenderCommentsForJos_responce.comments[]."
K = "data.rootComment[]."


def _paths(prefix: str, names: str) -> str:
    return " ".join(prefix + n for n in names.split())


TOP_FIELDS = " ".join(
    [
        _paths(T, "tid oid role nick result created item_title content reply num_iid ouid"),
        _paths(F, "append_content append_time tags has_negtv append_has_negtv"),
        "traderates_get_response.has_next traderates_get_response.total_results",
        _paths("error_response.", "code msg sub_code sub_msg"),
    ]
)
JOS_FIELDS = " ".join(
    [
        _paths(J, "commentId skuid skuName content creationTime score nickName orderId images[] videos[]"),
        _paths(J, "replies[] isVenderReply"),
        _paths("error_response.", "code zh_desc en_desc"),
    ]
)
KS_FIELDS = " ".join(
    [
        _paths(K, "commentId content createTime qualityScore itemId itemSkuId orderId attached"),
        "data.total result error_msg data.subComment[].content data.subComment[].sellerReply",
    ]
)
MERCHANT_FIELDS: dict[str, list[tuple[str, list[str], str]]] = {
    "taobao_traderates": [
        (
            TOP_FIELDS,
            [
                _m(n)
                for n in (
                    "top_traderates.json",
                    "top_traderates_next.json",
                    "top_feeds.json",
                    "top_error_limit.json",
                )
            ],
            "",
        )
    ],
    "jd_vender_comments": [(JOS_FIELDS, [_m("jd_vender_comments.json"), _m("jd_error_token.json")], "")],
    "kuaishou_comments": [
        (KS_FIELDS, [_m("ks_comments.json"), _m("ks_subcomments.json"), _m("ks_error_token.json")], "")
    ],
}
