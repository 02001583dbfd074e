"""``kind: jd_reviews`` — JD product reviews from the legacy ``productPageComments.action`` endpoint.

The body is JSONP in GBK. A 追评 (``afterUserComment``) is stored as its own item whose
``parent_external_id`` is the first review's id; the first review's ``version`` changes when the
追评 arrives, so the stored review is updated and its previous revision kept.
``productColor`` / ``productSize`` become ``attrs.sku_attrs``. An HTML page, a 验证码 page or a
redirect to passport.jd.com is ``blocked``. JD's newer signed API (``api.m.jd.com``) is not used:
it answers 403 without a signature or login.
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
from monitor.adapters.json import check_blocked, loads
from monitor.adapters.paging import query_int, with_query
from monitor.config.sources import SourceConfig

SORT = {"time": 6, "recommended": 5}
SCORE = {"all": 0, "poor": 1, "middle": 2, "good": 3}


class JdReviewsConfig(SourceConfig):
    kind: Literal["jd_reviews"]
    platform: str = "jd"
    product_id: str = Field(pattern=r"^\d+$", description="the SKU id in the product URL")
    score: Literal["all", "poor", "middle", "good"] = "all"
    sort: Literal["time", "recommended"] = "time"
    page_size: int = Field(default=10, ge=1, le=10)
    callback: str = "fetchJSON_comment98"
    base_url: str = "https://club.jd.com"


def _text(value: object) -> str:
    return str(value or "").strip()


@register
class JdReviewsAdapter(Adapter[JdReviewsConfig]):
    kind = "jd_reviews"
    Config = JdReviewsConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "maxPage": "pagination: no page past maxPage - 1",
        "comments": "items",
        "comments[].id": "external_id",
        "comments[].content": "text",
        "comments[].creationTime": "published (local time, UTC+8)",
        "comments[].score": "rating",
        "comments[].nickname": "author",
        "comments[].userLevelName": "attrs.user_level",
        "comments[].userClientShow": "attrs.client",
        "comments[].isMobile": "attrs.mobile",
        "comments[].replyCount": "attrs.replies",
        "comments[].usefulVoteCount": "attrs.useful_votes",
        "comments[].imageCount": "attrs.image_count",
        "comments[].images[]": "attrs.images",
        "comments[].productColor": "attrs.sku_attrs.color",
        "comments[].productSize": "attrs.sku_attrs.size",
        "comments[].afterUserComment": "an item of its own: id '<id>:after', parent_external_id '<id>'",
        "comments[].afterUserComment.content": "text of the 追评 item",
        "comments[].afterUserComment.created": "published of the 追评 item",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "productCommentSummary": "aggregate counts, not reviews",
        "productCommentSummary.skuId": "the configured product_id is the SKU",
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
            raise ParseError("JD response without a 'comments' list")
        items: list[RawItem] = []
        missing: dict[str, int] = {}
        for c in doc["comments"]:
            items.extend(self._comment(c, missing))
        current = query_int(page.url, "page", 0)
        max_page = doc.get("maxPage")
        more = bool(doc["comments"]) and (not isinstance(max_page, int) or current + 1 < max_page)
        next_url = with_query(page.url, page=current + 1) if more else None
        return ParsedPage(items=items, next_url=next_url, missing_fields=missing, cursor={"page": current})

    def _comment(self, c: Mapping[str, Any], missing: dict[str, int]) -> list[RawItem]:
        for key in ("id", "content", "creationTime", "score"):
            if c.get(key) in (None, ""):
                missing[key] = missing.get(key, 0) + 1
        if c.get("id") is None or not _text(c.get("content")):
            return []
        cid = str(c["id"])
        sku_attrs = {k: c[f] for k, f in (("color", "productColor"), ("size", "productSize")) if c.get(f)}
        attrs: dict[str, Any] = {
            "user_level": c.get("userLevelName"),
            "client": c.get("userClientShow"),
            "mobile": c.get("isMobile"),
            "replies": c.get("replyCount"),
            "useful_votes": c.get("usefulVoteCount"),
            "image_count": c.get("imageCount"),
            "images": [i.get("imgUrl") if isinstance(i, dict) else i for i in c.get("images") or []],
            "sku_attrs": sku_attrs,
        }
        sku = str(c.get("referenceId") or self.config.product_id)
        after = c.get("afterUserComment")
        after_text = _text(after.get("content")) if isinstance(after, dict) else ""
        review = RawItem(
            text=_text(c["content"]),
            external_id=cid,
            author=c.get("nickname"),
            rating=c.get("score") if isinstance(c.get("score"), int) else None,
            sku=sku,
            published=c.get("creationTime"),
            attrs={k: v for k, v in attrs.items() if v not in (None, [], {})},
            version=f"after:{after_text}" if after_text else None,
        )
        out = [review]
        if isinstance(after, dict) and after_text:
            review.attrs["has_after_comment"] = True
            out.append(
                RawItem(
                    text=after_text,
                    external_id=f"{cid}:after",
                    author=c.get("nickname"),
                    sku=sku,
                    published=after.get("created"),
                    parent_external_id=cid,
                    attrs={"after_comment": True, "sku_attrs": sku_attrs},
                )
            )
        return out
