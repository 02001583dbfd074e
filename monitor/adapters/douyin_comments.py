"""``kind: douyin_comments`` — comments on one Douyin video (``/aweme/v1/web/comment/list/``).

Signing and cookies as for ``douyin_search`` (environment variables, never logged). Paging follows
the ``cursor`` the answer gives while ``has_more`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from monitor.adapters.base import (
    Adapter,
    FetchedPage,
    HttpRequest,
    ParsedPage,
    ParseError,
    RawItem,
    register,
)
from monitor.adapters.douyin_search import douyin_envelope
from monitor.adapters.feed import count
from monitor.adapters.json import as_dict
from monitor.adapters.paging import with_query
from monitor.config.sources import SourceConfig


class DouyinCommentsConfig(SourceConfig):
    kind: Literal["douyin_comments"]
    platform: str = "douyin"
    aweme_id: str = Field(pattern=r"^\d+$", description="the video's id")
    count: int = Field(default=20, ge=1, le=50)
    params: dict[str, str] = Field(default_factory=dict, description="extra query parameters; ${ENV_VAR}")
    base_url: str = "https://www.douyin.com"


@register
class DouyinCommentsAdapter(Adapter[DouyinCommentsConfig]):
    kind = "douyin_comments"
    Config = DouyinCommentsConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "comments": "items",
        "comments[].cid": "external_id",
        "comments[].text": "text",
        "comments[].create_time": "published (epoch s)",
        "comments[].digg_count": "attrs.likes",
        "comments[].reply_comment_total": "attrs.replies",
        "comments[].user": "author (nickname), attrs.author_id (uid)",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "data": "search results: served by kind: douyin_search",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return with_query(
            f"{self.config.base_url.rstrip('/')}/aweme/v1/web/comment/list/",
            aweme_id=self.config.aweme_id,
            cursor=0,
            count=self.config.count,
            device_platform="webapp",
            aid=6383,
        )

    def request(self, url: str) -> HttpRequest:
        return HttpRequest(url, params=self.config.params)

    def parse(self, page: FetchedPage) -> ParsedPage:
        doc = douyin_envelope(page)
        comments = doc.get("comments")
        if comments is None and "has_more" in doc:
            comments = []
        if not isinstance(comments, list):
            raise ParseError("Douyin comment answer without a 'comments' list")
        items = [it for c in comments if isinstance(c, dict) and (it := self._comment(c)) is not None]
        more = bool(comments) and bool(doc.get("has_more"))
        nxt = doc.get("cursor")
        next_url = with_query(page.url, cursor=nxt) if more and nxt is not None else None
        return ParsedPage(items=items, next_url=next_url, cursor={"cursor": nxt})

    def _comment(self, c: Mapping[str, Any]) -> RawItem | None:
        text = str(c.get("text") or "").strip()
        if not text or not c.get("cid"):
            return None
        user = as_dict(c.get("user"))
        attrs = {
            "author_id": str(user["uid"]) if user.get("uid") else None,
            "likes": count(c.get("digg_count")),
            "replies": count(c.get("reply_comment_total")),
            "aweme_id": self.config.aweme_id,
        }
        return RawItem(
            text=text,
            external_id=str(c["cid"]),
            url=f"https://www.douyin.com/video/{self.config.aweme_id}",
            author=user.get("nickname"),
            published=c.get("create_time"),
            attrs={k: v for k, v in attrs.items() if v is not None},
        )
