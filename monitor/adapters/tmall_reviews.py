"""``kind: tmall_reviews`` — Tmall item reviews from ``rate.tmall.com/list_detail_rate.htm`` (JSONP).

``rateDetail.rateList`` holds the reviews; ``appendComment`` (追评) becomes an item of its own
linked to the first review, like JD's. ``paginator.lastPage`` ends paging. HTTP 202 means "busy,
retry later" and is retried by the fetcher. An ``rgv587_flag`` body or a redirect to
login.taobao.com / sec.taobao.com is ``blocked``. The endpoint needs a logged-in cookie: put it in
an environment variable (``cookie: ${TMALL_COOKIE}``).
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
        "rateDetail.rateList[].auctionSku": "attrs.sku_attrs (key:value;key:value)",
        "rateDetail.rateList[].displayUserNick": "author",
        "rateDetail.rateList[].appendComment": "an item of its own: id '<id>:append', parent '<id>'",
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
        items: list[RawItem] = []
        missing: dict[str, int] = {}
        for r in detail["rateList"]:
            items.extend(self._rate(r, missing))
        pager = detail.get("paginator") or {}
        current = pager.get("page") or query_int(page.url, "currentPage", 1)
        last = pager.get("lastPage")
        more = bool(detail["rateList"]) and (not isinstance(last, int) or current < last)
        next_url = with_query(page.url, currentPage=current + 1) if more else None
        return ParsedPage(items=items, next_url=next_url, missing_fields=missing, cursor={"page": current})

    def _rate(self, r: Mapping[str, Any], missing: dict[str, int]) -> list[RawItem]:
        for key in ("id", "rateContent", "rateDate"):
            if r.get(key) in (None, ""):
                missing[key] = missing.get(key, 0) + 1
        text = str(r.get("rateContent") or "").strip()
        if r.get("id") is None or not text:
            return []
        rid = str(r["id"])
        attrs = {"sku_attrs": sku_attrs(r.get("auctionSku"))}
        append = r.get("appendComment")
        append_text = str(append.get("content") or "").strip() if isinstance(append, dict) else ""
        out = [
            RawItem(
                text=text,
                external_id=rid,
                author=r.get("displayUserNick"),
                published=r.get("rateDate"),
                sku=self.config.sku or self.config.item_id,
                attrs=attrs,
                version=f"append:{append_text}" if append_text else None,
            )
        ]
        if isinstance(append, dict) and append_text:
            out.append(
                RawItem(
                    text=append_text,
                    external_id=f"{rid}:append",
                    author=r.get("displayUserNick"),
                    published=append.get("commentTime"),
                    sku=self.config.sku or self.config.item_id,
                    parent_external_id=rid,
                    attrs={**attrs, "after_comment": True},
                )
            )
        return out
