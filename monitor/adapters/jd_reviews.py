"""``kind: jd_reviews`` — JD product reviews from the legacy ``productPageComments.action`` endpoint.

The body is JSONP in GBK. A 追评 arrives nested, ``afterUserComment.hAfterUserComment.content``
(``afterUserComment.created`` its time; older pages have no ``afterUserComment``). It is stored as an
item of its own whose ``parent_external_id`` is the review's id, and it is a revision of the review:
the review's ``version`` changes, so the stored review is updated, its previous revision kept and
its analysis run again.

One product page mixes its variants' reviews: ``referenceId`` is the variant SKU the buyer bought
(``sku``), the configured ``product_id`` is the product (``product``, unless the source names
another). ``productColor`` / ``productSize`` become ``attrs.sku_attrs``. ``userClientShow`` may be
raw HTML (``<a href=…>来自京东iPhone客户端</a>``): only its text is kept. Image URLs come
protocol-relative (``//img30.360buyimg.com/…``) and are stored as https.

An HTML page, a 验证码 page or a redirect to passport.jd.com is ``blocked``. JD's newer signed API
(``api.m.jd.com``) is not used: it answers 403 without a signature or login.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from monitor.adapters.base import (
    Adapter,
    FetchedPage,
    ParsedPage,
    ParseError,
    RawItem,
    register,
)
from monitor.adapters.feed import html_to_text
from monitor.adapters.json import as_dict, as_list, check_blocked, loads
from monitor.adapters.paging import query_int, with_query
from monitor.adapters.reviews import with_after_comment
from monitor.adapters.values import urls
from monitor.config.sources import SourceConfig

SORT = {"time": 6, "recommended": 5}
SCORE = {"all": 0, "poor": 1, "middle": 2, "good": 3}


class JdReviewsConfig(SourceConfig):
    kind: Literal["jd_reviews"]
    platform: str = "jd"
    product_id: str = Field(pattern=r"^\d+$", description="the id in the product URL (item.jd.com/ID.html)")
    score: Literal["all", "poor", "middle", "good"] = "all"
    sort: Literal["time", "recommended"] = "time"
    page_size: int = Field(default=10, ge=1, le=10)
    callback: str = "fetchJSON_comment98"
    base_url: str = "https://club.jd.com"


def _text(value: object) -> str:
    return str(value or "").strip()


def _score(value: object) -> int | None:
    try:
        score = int(str(value))
    except ValueError:
        return None
    return score if 1 <= score <= 5 else None


def _image_urls(entries: object) -> list[str]:
    return urls(e.get("imgUrl") if isinstance(e, dict) else e for e in as_list(entries))


@register
class JdReviewsAdapter(Adapter[JdReviewsConfig]):
    kind = "jd_reviews"
    Config = JdReviewsConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "maxPage": "pagination: no page past maxPage - 1 (absent: page until a page is empty)",
        "comments": "items",
        "comments[].id": "external_id",
        "comments[].content": "text",
        "comments[].creationTime": "published (local time, UTC+8)",
        "comments[].score": "rating",
        "comments[].nickname": "author",
        "comments[].userLevelName": "attrs.user_level",
        "comments[].userClientShow": "attrs.client (text only: the value may be an HTML link)",
        "comments[].isMobile": "attrs.mobile",
        "comments[].replyCount": "attrs.replies",
        "comments[].usefulVoteCount": "attrs.useful_votes",
        "comments[].imageCount": "attrs.image_count",
        "comments[].images[]": "attrs.images (imgUrl, protocol-relative made https)",
        "comments[].videos": "attrs.videos (remark: the video URL)",
        "comments[].productColor": "attrs.sku_attrs.color",
        "comments[].productSize": "attrs.sku_attrs.size",
        "comments[].referenceId": "sku: the variant bought (product: the configured product_id)",
        "comments[].isTop": "attrs.pinned (a pinned review is out of time order)",
        "comments[].afterDays": "attrs.after_days",
        "comments[].afterUserComment": "the 追评: item '<id>:after' (parent '<id>'); the review's revision",
        "comments[].afterUserComment.hAfterUserComment.content": "text of the 追评 item",
        "comments[].afterUserComment.created": "published of the 追评 item",
        "comments[].afterImages": "attrs.images of the 追评 item",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "productCommentSummary": "aggregate counts, not reviews",
        "productCommentSummary.skuId": "the product's id: the configured product_id",
        "productCommentSummary.commentCount": "aggregate",
        "productCommentSummary.goodCount": "aggregate",
        "productCommentSummary.generalCount": "aggregate",
        "productCommentSummary.poorCount": "aggregate",
        "productCommentSummary.goodRate": "aggregate",
        "productCommentSummary.goodRateShow": "aggregate",
        "productCommentSummary.poorRateShow": "aggregate",
        "productCommentSummary.commentCountStr": "aggregate",
        "hotCommentTagStatistics": "tag cloud, not reviews",
        "hotCommentTagStatistics[].id": "tag cloud",
        "hotCommentTagStatistics[].name": "tag cloud",
        "hotCommentTagStatistics[].count": "tag cloud",
        "comments[].guid": "a second id; id is used",
        "comments[].replies[]": "the shop's own replies are not customer voice",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        c = self.config
        return with_query(
            f"{c.base_url.rstrip('/')}/comment/productPageComments.action",
            productId=c.product_id,
            score=SCORE[c.score],
            sortType=SORT[c.sort],
            page=0,
            pageSize=c.page_size,
            callback=c.callback,
        )

    def parse(self, page: FetchedPage) -> ParsedPage:
        doc = loads(page.text)
        check_blocked(doc)
        if not isinstance(doc, dict) or not isinstance(doc.get("comments"), list):
            keys = ", ".join(list(doc)[:8]) if isinstance(doc, dict) else type(doc).__name__
            raise ParseError(f"JD response without a 'comments' list (top level: {keys})")
        current = query_int(page.url, "page", 0)
        max_page = doc.get("maxPage")
        more = bool(doc["comments"]) and (not isinstance(max_page, int) or current + 1 < max_page)
        out = ParsedPage(
            items=[],
            next_url=with_query(page.url, page=current + 1) if more else None,
            cursor={"page": current},
        )
        for c in doc["comments"]:
            out.entries += 1
            out.items.extend(self._comment(as_dict(c), out))
        return out

    def _comment(self, c: Mapping[str, Any], page: ParsedPage) -> list[RawItem]:
        content = _text(c.get("content"))
        if not page.require(id=c.get("id") is not None, content=content):
            return []
        page.missing(*[k for k in ("creationTime", "score") if c.get(k) in (None, "")])
        cid = str(c["id"])
        cfg = self.config
        sku = str(c.get("referenceId") or cfg.sku or cfg.product_id)
        product = cfg.product or cfg.product_id
        sku_attrs = {k: c[f] for k, f in (("color", "productColor"), ("size", "productSize")) if c.get(f)}
        attrs: dict[str, Any] = {
            "user_level": c.get("userLevelName"),
            "client": html_to_text(str(c.get("userClientShow") or "")) or None,
            "mobile": c.get("isMobile"),
            "replies": c.get("replyCount"),
            "useful_votes": c.get("usefulVoteCount"),
            "image_count": c.get("imageCount"),
            "images": _image_urls(c.get("images")),
            "videos": urls(as_dict(v).get("remark") for v in as_list(c.get("videos"))),
            "sku_attrs": sku_attrs,
            "pinned": True if c.get("isTop") is True else None,
            "after_days": c.get("afterDays") or None,
        }
        after = as_dict(c.get("afterUserComment"))
        after_text = _text(as_dict(after.get("hAfterUserComment")).get("content"))
        if after and not after_text:
            page.missing("afterUserComment.hAfterUserComment.content")
        review = RawItem(
            text=content,
            external_id=cid,
            author=c.get("nickname"),
            rating=_score(c.get("score")),
            sku=sku,
            product=product,
            published=c.get("creationTime"),
            attrs={k: v for k, v in attrs.items() if v not in (None, [], {})},
        )
        images = _image_urls(c.get("afterImages"))
        return with_after_comment(review, after_text, after.get("created"), images, "after")
