"""``kind: douyin_search`` — Douyin video search (``/aweme/v1/web/general/search/single/``).

Request signing is out of scope: the web API wants ``msToken`` and ``a_bogus`` query parameters
and a logged-in cookie. Put what you have in environment variables and reference them::

    cookie: ${DOUYIN_COOKIE}
    params: {msToken: "${DOUYIN_MS_TOKEN}", a_bogus: "${DOUYIN_A_BOGUS}"}

Parameters are added on the wire only (never logged nor stored). Without valid signatures Douyin
answers an empty body, a non-zero ``status_code`` or ``search_nil_type: verify_check``: ``blocked``.

Entries with ``aweme_info`` (or a collection, ``aweme_mix_info.mix_items``) are videos; entries of
other ``type``s (6: related-word cards) carry none and are skipped and counted, as are ads. The next
page is asked with the returned ``cursor`` (as ``offset``), ``backtrace`` and the search id
(``extra.logid``, else ``log_pb.impr_id``), as the web client does: without them Douyin starts over.
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

SKIP_CARD = "非视频卡片 not a video (type {})"
SKIP_AD = "广告 ad card"


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


def aweme_item(info: Mapping[str, Any], page: ParsedPage) -> RawItem | None:
    aid = info.get("aweme_id")
    if not aid:
        page.fail("aweme_id")
        return None
    desc = str(info.get("desc") or "").strip()
    if not desc:
        page.missing("desc")
    if info.get("create_time") in (None, ""):
        page.missing("create_time")
    author = as_dict(info.get("author"))
    stats = as_dict(info.get("statistics"))
    attrs = {
        "author_id": str(author["uid"]) if author.get("uid") else None,
        "likes": count(stats.get("digg_count")),
        "comments": count(stats.get("comment_count")),
        "shares": count(stats.get("share_count")),
        "collects": count(stats.get("collect_count")),
        "no_caption": True if not desc else None,  # a video without words: kept, nothing to read
    }
    return RawItem(
        text=desc,
        external_id=str(aid),
        url=f"https://www.douyin.com/video/{aid}",
        author=author.get("nickname"),
        published=info.get("create_time"),
        attrs={k: v for k, v in attrs.items() if v is not None},
    )


def _video(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    info = entry.get("aweme_info")
    if isinstance(info, dict):
        return info
    mix = as_dict(entry.get("aweme_mix_info")).get("mix_items")
    return mix[0] if isinstance(mix, list) and mix and isinstance(mix[0], dict) else None


def search_id(doc: Mapping[str, Any]) -> str | None:
    sid = as_dict(doc.get("extra")).get("logid") or as_dict(doc.get("log_pb")).get("impr_id")
    return str(sid) if sid else None


@register
class DouyinSearchAdapter(Adapter[DouyinSearchConfig]):
    kind = "douyin_search"
    Config = DouyinSearchConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "data": "items",
        "data[].type": "which card: entries without aweme_info (6: related words) are skipped and counted",
        "data[].aweme_info": "an item",
        "data[].aweme_mix_info.mix_items": "an item: the collection's first video",
        "data[].aweme_info.aweme_id": "external_id and url",
        "data[].aweme_info.desc": "text (empty: the video is kept, attrs.no_caption)",
        "data[].aweme_info.create_time": "published (epoch s)",
        "data[].aweme_info.author.uid": "attrs.author_id",
        "data[].aweme_info.author.nickname": "author",
        "data[].aweme_info.statistics.digg_count": "attrs.likes",
        "data[].aweme_info.statistics.comment_count": "attrs.comments",
        "data[].aweme_info.statistics.share_count": "attrs.shares",
        "data[].aweme_info.statistics.collect_count": "attrs.collects",
        "data[].aweme_info.is_ads": "an ad: skipped and counted",
        "cursor": "the next page's offset",
        "has_more": "pagination: 0 ends it",
        "backtrace": "sent back with the next page",
        "extra.logid": "the search id, sent back with the next page",
        "log_pb.impr_id": "the search id when extra.logid is absent",
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
        offset = query_int(page.url, "offset", 0)
        out = ParsedPage(
            items=[], next_url=self._next(page.url, doc, offset, len(data)), cursor={"offset": offset}
        )
        for entry in data:
            entry = as_dict(entry)
            info = _video(entry)
            if info is None:
                out.skip(SKIP_CARD.format(entry.get("type")))
            elif info.get("is_ads") or entry.get("is_ads"):
                out.skip(SKIP_AD)
            else:
                out.entries += 1
                if (it := aweme_item(info, out)) is not None:
                    out.items.append(it)
        return out

    def _next(self, url: str, doc: Mapping[str, Any], offset: int, entries: int) -> str | None:
        if not entries or doc.get("has_more", 1) in (0, False):
            return None
        nxt = doc.get("cursor") if isinstance(doc.get("cursor"), int) else offset + entries
        tokens: dict[str, object] = {"offset": nxt}
        if sid := search_id(doc):
            tokens["search_id"] = sid
        if doc.get("backtrace"):
            tokens["backtrace"] = doc["backtrace"]
        return with_query(url, **tokens)
