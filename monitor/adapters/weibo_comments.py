"""``kind: weibo_comments`` — comments on one Weibo post (``m.weibo.cn/comments/hotflow``).

Paging follows ``max_id``: each answer gives the ``max_id`` of the next page, and ``max_id == 0``
marks the end. The last ``max_id`` reached is kept in the cursor. Top-level comments have
``rootid == id``; their replies (楼中楼) come nested in each comment's ``comments`` (a list, or
``false`` when there is none), each with ``rootid`` = the comment it answers, which becomes
``parent_external_id``. The nested list holds the first few replies only (``total_number`` says how
many there are). A picture comment is kept with empty text, its picture in ``attrs.images``.
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
from monitor.adapters.feed import count
from monitor.adapters.json import as_dict
from monitor.adapters.paging import with_query
from monitor.adapters.weibo_shapes import envelope, pics, user_attrs, weibo_text, weibo_time
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
        "data.data[].text": "text (HTML to text: emoji alt kept, card labels to attrs.links)",
        "data.data[].created_at": "published (RFC 2822 or relative; the id's time otherwise)",
        "data.data[].like_count": "attrs.likes",
        "data.data[].total_number": "attrs.replies (all replies; the nested list shows the first few)",
        "data.data[].rootid": "parent_external_id when it differs from id",
        "data.data[].user": "author (screen_name), attrs.author_id/followers/verified",
        "data.data[].pic": "attrs.images (a picture comment: kept, text may be empty)",
        "data.data[].comments": "replies (楼中楼): items whose parent is their rootid; false = none",
        "data.max_id": "pagination and cursor.max_id; 0 ends paging",
        "data.max_id_type": "sent back with max_id",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "data.data[].floor_number": "display order, not content",
        "data.data[].disable_reply": "a UI flag",
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
        max_id = data.get("max_id")
        next_url = None
        if comments and max_id not in (None, 0, "0"):
            next_url = with_query(page.url, max_id=max_id, max_id_type=data.get("max_id_type", 0))
        out = ParsedPage(items=[], next_url=next_url, cursor={"max_id": max_id})
        for c in comments:
            c = as_dict(c)
            self._add(c, None, out)
            replies = c.get("comments")
            if replies not in (None, False) and not isinstance(replies, list):
                out.missing("comments (neither a list nor false)")
            for reply in replies if isinstance(replies, list) else []:
                self._add(as_dict(reply), str(c.get("id") or "") or None, out)
        return out

    def _add(self, c: Mapping[str, Any], parent: str | None, page: ParsedPage) -> None:
        page.entries += 1
        body = weibo_text(str(c.get("text") or ""))
        images = pics([c["pic"]]) if isinstance(c.get("pic"), dict) else []
        if not page.require(id=c.get("id") is not None, text=body.text or images):
            return
        cid = str(c["id"])
        author, attrs = user_attrs(c.get("user"))
        attrs.update(
            {
                "likes": count(c.get("like_count")),
                "replies": count(c.get("total_number")),
                "post_id": self.config.post_id,
                "images": images or None,
                "image_only": True if images and not body.text else None,
                "links": body.links or None,
            }
        )
        root = str(c.get("rootid") or "") or parent or ""
        page.items.append(
            RawItem(
                text=body.text,
                external_id=cid,
                url=f"https://m.weibo.cn/detail/{self.config.post_id}",
                author=author,
                published=weibo_time(c.get("created_at"), cid),
                parent_external_id=root if root and root != cid else None,
                attrs={k: v for k, v in attrs.items() if v is not None},
            )
        )
