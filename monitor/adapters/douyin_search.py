"""``kind: douyin_search`` — Douyin video search (``/aweme/v1/web/general/search/single/``).

Request signing is out of scope: the web API wants ``msToken`` and ``a_bogus`` query parameters
and a logged-in cookie. Put what you have in environment variables and reference them::

    cookie: ${DOUYIN_COOKIE}
    params: {msToken: "${DOUYIN_MS_TOKEN}", a_bogus: "${DOUYIN_A_BOGUS}"}

Parameters are added on the wire only (never logged nor stored). Without valid signatures Douyin
answers an empty body, a non-zero ``status_code`` or ``search_nil_type: verify_check``: ``blocked``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from monitor.adapters.base import (
    Adapter,
    BlockedError,
    FetchedPage,
    HttpRequest,
    ParsedPage,
    ParseError,
    RawItem,
    register,
)
from monitor.adapters.feed import count
from monitor.adapters.json import as_dict, check_blocked, loads
from monitor.adapters.paging import query_int, with_query
from monitor.config.sources import SourceConfig


class DouyinSearchConfig(SourceConfig):
    kind: Literal["douyin_search"]
    platform: str = "douyin"
    keyword: str
    count: int = Field(default=10, ge=1, le=20)
    sort_type: Literal[0, 1, 2] = Field(default=2, description="0 general, 1 most liked, 2 newest")
    params: dict[str, str] = Field(default_factory=dict, description="extra query parameters; ${ENV_VAR}")
    base_url: str = "https://www.douyin.com"


def douyin_envelope(page: FetchedPage) -> dict[str, Any]:
    doc = loads(page.text)
    check_blocked(doc)
    if not isinstance(doc, dict):
        raise ParseError("Douyin answer is not a JSON object")
    if doc.get("status_code") not in (0, None):
        raise BlockedError(
            f"Douyin refused the request (status_code {doc['status_code']}: {doc.get('status_msg', '')})"
        )
    return doc


def aweme_item(info: Mapping[str, Any]) -> RawItem | None:
    desc = str(info.get("desc") or "").strip()
    aid = info.get("aweme_id")
    if not desc or not aid:
        return None
    author = as_dict(info.get("author"))
    stats = as_dict(info.get("statistics"))
    attrs = {
        "author_id": str(author["uid"]) if author.get("uid") else None,
        "likes": count(stats.get("digg_count")),
        "comments": count(stats.get("comment_count")),
        "shares": count(stats.get("share_count")),
        "collects": count(stats.get("collect_count")),
    }
    return RawItem(
        text=desc,
        external_id=str(aid),
        url=f"https://www.douyin.com/video/{aid}",
        author=author.get("nickname"),
        published=info.get("create_time"),
        attrs={k: v for k, v in attrs.items() if v is not None},
    )


@register
class DouyinSearchAdapter(Adapter[DouyinSearchConfig]):
    kind = "douyin_search"
    Config = DouyinSearchConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "data": "items",
        "data[].aweme_info": "an item (entries without one are skipped)",
        "data[].aweme_info.aweme_id": "external_id and url",
        "data[].aweme_info.desc": "text",
        "data[].aweme_info.create_time": "published (epoch s)",
        "data[].aweme_info.author.uid": "attrs.author_id",
        "data[].aweme_info.author.nickname": "author",
        "data[].aweme_info.statistics.digg_count": "attrs.likes",
        "data[].aweme_info.statistics.comment_count": "attrs.comments",
        "data[].aweme_info.statistics.share_count": "attrs.shares",
        "data[].aweme_info.statistics.collect_count": "attrs.collects",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "comments": "served by kind: douyin_comments",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        c = self.config
        return with_query(
            f"{c.base_url.rstrip('/')}/aweme/v1/web/general/search/single/",
            keyword=c.keyword,
            offset=0,
            count=c.count,
            search_channel="aweme_general",
            sort_type=c.sort_type,
            device_platform="webapp",
            aid=6383,
        )

    def request(self, url: str) -> HttpRequest:
        return HttpRequest(url, params=self.config.params)

    def parse(self, page: FetchedPage) -> ParsedPage:
        doc = douyin_envelope(page)
        data = doc.get("data")
        if data is None and doc.get("has_more") == 0:
            data = []
        if not isinstance(data, list):
            raise ParseError("Douyin search answer without a 'data' list")
        items = [
            it
            for d in data
            if isinstance(d, dict) and isinstance(d.get("aweme_info"), dict)
            if (it := aweme_item(d["aweme_info"])) is not None
        ]
        offset = query_int(page.url, "offset", 0)
        nxt = doc.get("cursor") if isinstance(doc.get("cursor"), int) else offset + len(data)
        more = bool(data) and doc.get("has_more", 1) not in (0, False)
        return ParsedPage(
            items=items,
            next_url=with_query(page.url, offset=nxt) if more else None,
            cursor={"offset": offset},
        )
