"""``kind: weibo_comments`` — comments on one Weibo post (``m.weibo.cn/comments/hotflow``).

Paging follows ``max_id``: each answer gives the ``max_id`` of the next page, and ``max_id == 0``
marks the end. The last ``max_id`` reached is kept in the cursor. Replies carry ``rootid`` (the
comment they answer), which becomes ``parent_external_id``.
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
from monitor.adapters.feed import count, html_to_text
from monitor.adapters.paging import with_query
from monitor.adapters.weibo_search import envelope, user_attrs, weibo_time
from monitor.config.sources import SourceConfig


class WeiboCommentsConfig(SourceConfig):
    kind: Literal["weibo_comments"]
    platform: str = "weibo"
    post_id: str = Field(pattern=r"^\d+$", description="the post's mid (numeric id)")
    base_url: str = "https://m.weibo.cn"


@register
class WeiboCommentsAdapter(Adapter[WeiboCommentsConfig]):
    kind = "weibo_comments"
    Config = WeiboCommentsConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "data.data": "items",
        "data.data[].id": "external_id",
        "data.data[].text": "text (HTML to plain text, emoji alt kept)",
        "data.data[].created_at": "published (RFC 2822 or relative; the id's time otherwise)",
        "data.data[].like_count": "attrs.likes",
        "data.data[].total_number": "attrs.replies",
        "data.data[].rootid": "parent_external_id when it differs from id",
        "data.data[].user": "author (screen_name), attrs.author_id/followers/verified",
        "data.max_id": "pagination and cursor.max_id; 0 ends paging",
        "data.max_id_type": "sent back with max_id",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        pid = self.config.post_id
        return with_query(
            f"{self.config.base_url.rstrip('/')}/comments/hotflow", id=pid, mid=pid, max_id_type=0
        )

    def parse(self, page: FetchedPage) -> ParsedPage:
        data, msg = envelope(page)
        if not data:
            return ParsedPage(items=[], reason=f"Weibo says: {msg}")
        comments = data.get("data")
        if not isinstance(comments, list):
            raise ParseError("Weibo hotflow data without a 'data' list")
        items = [it for c in comments if isinstance(c, dict) and (it := self._comment(c)) is not None]
        max_id = data.get("max_id")
        next_url = None
        if comments and max_id not in (None, 0, "0"):
            next_url = with_query(page.url, max_id=max_id, max_id_type=data.get("max_id_type", 0))
        return ParsedPage(items=items, next_url=next_url, cursor={"max_id": max_id})

    def _comment(self, c: Mapping[str, Any]) -> RawItem | None:
        text = html_to_text(str(c.get("text") or ""))
        if not text or c.get("id") is None:
            return None
        cid = str(c["id"])
        author, attrs = user_attrs(c.get("user"))
        attrs.update({"likes": count(c.get("like_count")), "replies": count(c.get("total_number"))})
        attrs["post_id"] = self.config.post_id
        root = str(c.get("rootid") or "")
        return RawItem(
            text=text,
            external_id=cid,
            url=f"https://m.weibo.cn/detail/{self.config.post_id}",
            author=author,
            published=weibo_time(c.get("created_at"), cid),
            parent_external_id=root if root and root != cid else None,
            attrs={k: v for k, v in attrs.items() if v is not None},
        )
