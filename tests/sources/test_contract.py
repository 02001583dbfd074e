"""One contract suite for every source kind: each adapter and preset, through the real Fetcher and
httpx client, against a loopback server replaying fixtures in the platforms' real shapes, including
every blocked and error shape. Plus: every platform field in PLATFORMS.md is mapped or ignored."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.adapters import build, registry
from monitor.config.sources import SourceConfig
from monitor.fetch import Fetcher
from monitor.pipeline import collect
from tests.conftest import LOOPBACK, NOW
from tests.sources.cases import KINDS, Shape, cases
from tests.sources.conftest import FIXTURES, Loopback, SleepRecorder, fixture_json
from tests.sources.merchant_cases import MERCHANT_FIELDS

TZ = ZoneInfo("Asia/Shanghai")
CASES = cases()


def make_config(kind: str, base: str, **extra: Any) -> SourceConfig:
    data = {"name": f"t-{kind}", "kind": kind, **KINDS[kind].config(base), **extra}
    return registry()[kind].Config.model_validate(data)


def test_every_registered_kind_is_in_the_contract() -> None:
    assert set(registry()) == set(KINDS)
    for kind, spec in KINDS.items():
        verdicts = {s.verdict for s in spec.shapes}
        assert "ok" in verdicts and ("blocked" in verdicts or not spec.http), kind


@pytest.mark.parametrize(("kind", "shape"), CASES, ids=[f"{k}-{s.name}" for k, s in CASES])
def test_contract(kind: str, shape: Shape, loopback: Loopback, sleeps: SleepRecorder) -> None:
    spec = KINDS[kind]
    for path, replies in shape.routes(spec.path).items():
        loopback.route(path, *replies)
    cfg = make_config(kind, loopback.url, **shape.config)
    fetcher = Fetcher(retries=1, backoff=0.01, min_interval=0, sleep=sleeps, network=LOOPBACK)
    try:
        result = collect(fetcher, build(cfg), {}, NOW, TZ, page_limit=cfg.backfill_pages)
    finally:
        fetcher.close()
    assert result.verdict == shape.verdict, result.reason
    assert shape.reason in result.reason
    if shape.items is not None:
        assert len(result.items) == shape.items
    if result.verdict != "ok":
        assert result.reason, "a non-ok verdict must say why"
        assert result.verdict == "empty" or (result.pages and result.pages[-1].verdict == result.verdict)
    if shape.check is not None:
        shape.check(result, list(loopback.requests))
    if result.verdict == "ok":
        ids = [it.external_id for it in result.items]
        assert len(ids) == len(set(ids)), "an item parsed twice"
        assert all(it.published_at is None or it.published_at.tzinfo is not None for it in result.items)


# ---- field coverage: PLATFORMS.md (as corrected), transcribed -----------------------------------------
JD = (
    "productCommentSummary.skuId productCommentSummary.commentCount productCommentSummary.goodCount "
    "productCommentSummary.generalCount productCommentSummary.poorCount productCommentSummary.goodRate "
    "productCommentSummary.goodRateShow productCommentSummary.poorRateShow productCommentSummary.commentCountStr "
    "hotCommentTagStatistics[].id hotCommentTagStatistics[].name hotCommentTagStatistics[].count maxPage "
    "comments[].id comments[].guid comments[].content comments[].creationTime comments[].score "
    "comments[].nickname comments[].userLevelName comments[].userClientShow comments[].isMobile "
    "comments[].replyCount comments[].usefulVoteCount comments[].imageCount comments[].images[] "
    "comments[].productColor comments[].productSize comments[].referenceId comments[].afterUserComment "
    "comments[].afterUserComment.created comments[].afterUserComment.hAfterUserComment.content "
    "comments[].afterImages comments[].videos comments[].replies[]"
)
TMALL = (
    "rateDetail.rateList[].id rateDetail.rateList[].rateContent rateDetail.rateList[].rateDate "
    "rateDetail.rateList[].auctionSku rateDetail.rateList[].displayUserNick "
    "rateDetail.rateList[].appendComment.content rateDetail.rateList[].appendComment.commentTime "
    "rateDetail.paginator.lastPage rateDetail.paginator.page rateDetail.paginator.items"
)
WEIBO_SEARCH = (
    "ok data.cardlistInfo.page data.cardlistInfo.since_id data.cardlistInfo.total data.cards[].card_type "
    "data.cards[].mblog data.cards[].card_group[].mblog mblog.id mblog.idstr mblog.mid mblog.bid mblog.text "
    "mblog.created_at mblog.source mblog.reposts_count mblog.comments_count mblog.attitudes_count "
    "mblog.isLongText mblog.pics mblog.page_info mblog.retweeted_status "
    "mblog.user.id mblog.user.screen_name mblog.user.followers_count mblog.user.verified mblog.edit_count "
    "mblog.pic_num mblog.isTop msg url"
)
WEIBO_EXTEND = "data.longTextContent"
WEIBO_COMMENTS = (
    "data.data[].id data.data[].text data.data[].created_at data.data[].like_count data.data[].total_number "
    "data.data[].rootid data.data[].user data.data[].comments data.max_id data.max_id_type"
)
XHS = (
    "success code data.has_more data.items[].id data.items[].model_type data.items[].xsec_token "
    "data.items[].note_card data.items[].note_card.type data.items[].note_card.display_title "
    "data.items[].note_card.user.user_id data.items[].note_card.user.nickname "
    "data.items[].note_card.user.avatar data.items[].note_card.interact_info.liked_count "
    "data.items[].note_card.cover data.items[].note_card.image_list data.items[].note_card.corner_tag_info"
)
XHS_DETAIL = "data.items[].note_card.desc data.items[].note_card.time"
DOUYIN_SEARCH = (
    "data[].type data[].aweme_info.aweme_id data[].aweme_info.desc data[].aweme_info.create_time "
    "data[].aweme_info.author.uid data[].aweme_info.author.nickname data[].aweme_info.statistics.digg_count "
    "data[].aweme_info.statistics.comment_count data[].aweme_info.statistics.share_count "
    "data[].aweme_info.statistics.collect_count cursor has_more backtrace log_pb.impr_id"
)
DOUYIN_COMMENTS = (
    "comments[].cid comments[].text comments[].create_time comments[].digg_count "
    "comments[].reply_comment_total comments[].ip_label comments[].image_list comments[].user "
    "cursor has_more total"
)
RSS = "title description link guid pubDate author category enclosure"
JSON_FEED = (
    "items[].id items[].url items[].title items[].content_html items[].date_published items[].authors[].name "
    "items[].tags"
)
PDD = "error_code verify_auth_token anti_content"

# kind -> [(PLATFORMS.md fields, fixtures holding them, the prefix the adapter's tables give them)]
FIELDS: dict[str, list[tuple[str, list[str], str]]] = {
    "jd_reviews": [(JD, ["jd_comments_p0.json"], "")],
    "tmall_reviews": [(TMALL, ["tmall_rate.json"], "")],
    "weibo_search": [
        (
            WEIBO_SEARCH,
            ["weibo_search_p1.json", "weibo_timeline_pinned.json", "weibo_login.json", "weibo_nothing.json"],
            "",
        ),
        (WEIBO_EXTEND, ["weibo_extend.json"], "statuses/extend "),
    ],
    "weibo_comments": [(WEIBO_COMMENTS, ["weibo_hotflow_p1.json"], "")],
    "xhs_search": [(XHS, ["xhs_search.json"], ""), (XHS_DETAIL, ["xhs_feed_1.json"], "feed ")],
    "douyin_search": [(DOUYIN_SEARCH, ["douyin_search.json"], "")],
    "douyin_comments": [(DOUYIN_COMMENTS, ["douyin_comments.json"], "")],
    "rsshub": [(f"{RSS} {JSON_FEED}", ["rsshub_weibo.xml", "rsshub_weibo_feed.json"], "")],
    "feed": [(f"{RSS} {JSON_FEED}", ["rsshub_weibo.xml", "rsshub_weibo_feed.json"], "")],
    "json": [(PDD, ["pdd_54001.json"], "")],
}
FIELDS.update(MERCHANT_FIELDS)
REQUEST_ONLY = {"anti_content"}  # request parameters: they appear in no response


def has_path(doc: Any, path: str) -> bool:
    if not path:
        return True
    head, _, rest = path.partition(".")
    name, is_list = head.removesuffix("[]"), head.endswith("[]")
    if isinstance(doc, list):
        return any(has_path(el, path) for el in doc)
    if not isinstance(doc, dict) or name not in doc:
        return False
    value = doc[name]
    if is_list and not isinstance(value, list):
        return False
    return has_path(value, rest) if rest else True


def in_fixture(field: str, fixtures: list[str]) -> bool:
    for name in fixtures:
        if name.endswith(".xml"):
            tag = field.split(".")[-1].removesuffix("[]")
            if re.search(rf"<{tag}[\s>/]", (FIXTURES / name).read_text(encoding="utf-8")):
                return True
            continue
        doc = fixture_json(name)
        paths = [field]
        if field.startswith("mblog."):
            rest = field.removeprefix("mblog.")
            paths = [f"data.cards[].mblog.{rest}", f"data.cards[].card_group[].mblog.{rest}"]
        if any(has_path(doc, p) for p in paths):
            return True
    return False


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_every_platform_field_is_mapped_or_ignored(kind: str) -> None:
    cls = registry()[kind]
    declared = set(cls.MAPPED) | set(cls.IGNORED)
    assert not set(cls.MAPPED) & set(cls.IGNORED), "a field cannot be both mapped and ignored"
    assert all(reason.strip() for reason in cls.IGNORED.values())
    for fields, fixtures, prefix in FIELDS[kind]:
        undeclared = [f for f in fields.split() if prefix + f not in declared]
        assert not undeclared, f"{kind}: map these fields or list them in IGNORED with a reason: {undeclared}"
        absent = [f for f in fields.split() if f not in REQUEST_ONLY and not in_fixture(f, fixtures)]
        assert not absent, f"{kind}: fixtures are not in the real shape, missing {absent}"


def test_no_field_is_declared_that_the_corrected_shapes_do_not_have() -> None:
    """The old fixtures' fictions stay out: flat 追评 content, inline long text in lists, a note's desc
    and time in search items, RSSHub Weibo engagement counts."""
    gone = {
        "jd_reviews": "comments[].afterUserComment.content",
        "xhs_search": "data.items[].note_card.desc",
        "feed": "stats.reposts_count",
        "rsshub": "stats.comments_count",
    }
    for kind, field in gone.items():
        cls = registry()[kind]
        assert field not in cls.MAPPED and field not in cls.IGNORED, (kind, field)
    assert "longText" not in fixture_json("weibo_search_p1.json")["data"]["cards"][0]["mblog"]
