"""``kind: tmall_reviews`` — Tmall item reviews from ``rate.tmall.com/list_detail_rate.htm`` (JSONP).

``rateDetail.rateList`` holds the reviews; ``appendComment`` (追评) becomes an item of its own
linked to the first review and a new revision of it, like JD's. ``paginator.lastPage`` ends paging.
The list names no variant id: ``sku`` is the variant as Tmall words it (``auctionSku``, e.g.
``颜色分类:星空蓝;容量:500ml``; the source's ``sku`` where there is none); ``product`` is the configured
``item_id`` unless the source names another. Picture URLs come protocol-relative and are stored as
https. HTTP 202 means "busy, retry later" and is retried by the fetcher. An ``rgv587_flag`` body or
a redirect to login.taobao.com / sec.taobao.com is ``blocked``. The endpoint needs a logged-in
cookie: put it in an environment variable (``cookie: ${TMALL_COOKIE}``).
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
from monitor.adapters.json import as_dict, as_list, check_blocked, loads
from monitor.adapters.paging import query_int, with_query
from monitor.adapters.reviews import with_after_comment
from monitor.adapters.values import urls
from monitor.config.sources import SourceConfig


class TmallReviewsConfig(SourceConfig):
    kind: Literal["tmall_reviews"]
    platform: str = "tmall"
    item_id: str = Field(pattern=r"^\d+$")
    seller_id: str = Field(pattern=r"^\d+$")
    order: Literal[1, 3] = Field(default=1, description="1 newest first, 3 default order")
    callback: str = "jsonp128"
    base_url: str = "https://rate.tmall.com"


def sku_attrs(auction_sku: object) -> dict[str, str]:
    """``"颜色分类:星空蓝;容量:500ml"`` -> ``{"颜色分类": "星空蓝", "容量": "500ml"}``."""
    out: dict[str, str] = {}
    for part in str(auction_sku or "").split(";"):
        key, sep, value = part.partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


@register
class TmallReviewsAdapter(Adapter[TmallReviewsConfig]):
    kind = "tmall_reviews"
    Config = TmallReviewsConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "rateDetail.rateList": "items",
        "rateDetail.rateList[].id": "external_id",
        "rateDetail.rateList[].rateContent": "text",
        "rateDetail.rateList[].rateDate": "published (local time, UTC+8)",
        "rateDetail.rateList[].auctionSku": "sku (the variant as worded) and attrs.sku_attrs (key:value;…)",
        "rateDetail.rateList[].pics": "attrs.images (protocol-relative made https)",
        "rateDetail.rateList[].displayUserNick": "author",
        "rateDetail.rateList[].appendComment": "the 追评: item '<id>:append' (parent '<id>'), a new revision",
        "rateDetail.rateList[].appendComment.content": "text of the 追评 item",
        "rateDetail.rateList[].appendComment.commentTime": "published of the 追评 item",
        "rateDetail.paginator.lastPage": "pagination end",
        "rateDetail.paginator.page": "pagination: current page",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "rateDetail.paginator.items": "total count, not reviews",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        c = self.config
        return with_query(
            f"{c.base_url.rstrip('/')}/list_detail_rate.htm",
            itemId=c.item_id,
            sellerId=c.seller_id,
            order=c.order,
            currentPage=1,
            callback=c.callback,
        )

    def parse(self, page: FetchedPage) -> ParsedPage:
        doc = loads(page.text)
        check_blocked(doc)
        detail = doc.get("rateDetail") if isinstance(doc, dict) else None
        if not isinstance(detail, dict) or not isinstance(detail.get("rateList"), list):
            raise ParseError("Tmall response without rateDetail.rateList")
        pager = as_dict(detail.get("paginator"))
        current = pager.get("page")
        if not isinstance(current, int):
            current = query_int(page.url, "currentPage", 1)
        last = pager.get("lastPage")
        more = bool(detail["rateList"]) and (not isinstance(last, int) or current < last)
        out = ParsedPage(
            items=[],
            next_url=with_query(page.url, currentPage=current + 1) if more else None,
            cursor={"page": current},
        )
        for r in detail["rateList"]:
            out.entries += 1
            out.items.extend(self._rate(as_dict(r), out))
        return out

    def _rate(self, r: Mapping[str, Any], page: ParsedPage) -> list[RawItem]:
        text = str(r.get("rateContent") or "").strip()
        if not page.require(id=r.get("id") is not None, rateContent=text):
            return []
        page.missing(*[k for k in ("rateDate", "auctionSku") if r.get(k) in (None, "")])
        rid = str(r["id"])
        cfg = self.config
        variant = str(r.get("auctionSku") or "").strip()[:200]
        sku, product = variant or cfg.sku, cfg.product or cfg.item_id
        attrs: dict[str, Any] = {"sku_attrs": sku_attrs(variant)}
        if images := urls(as_list(r.get("pics"))):
            attrs["images"] = images
        append = as_dict(r.get("appendComment"))
        append_text = str(append.get("content") or "").strip()
        review = RawItem(
            text=text,
            external_id=rid,
            author=r.get("displayUserNick"),
            published=r.get("rateDate"),
            sku=sku,
            product=product,
            attrs=attrs,
        )
        images = urls(as_list(append.get("pics")))
        return with_after_comment(review, append_text, append.get("commentTime"), images, "append")
