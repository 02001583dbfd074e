"""``kind: douyin_comments`` — comments on one Douyin video (``/aweme/v1/web/comment/list/``).

Signing and cookies as for ``douyin_search`` (environment variables, never logged). Paging follows
the ``cursor`` the answer gives while ``has_more`` is set.

An image-only comment (``text: ""`` with an ``image_list``) is kept as an item with empty text,
``attrs.image_only`` and its pictures in ``attrs.images``: screenshots of a broken product or of a
chat are how many buyers complain, so a store must see them (and count them) even though there are
no words to match. A comment pinned by the author (``stick_position``) is marked ``attrs.pinned``.
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
from monitor.adapters.json import as_dict, as_list
from monitor.adapters.paging import with_query
from monitor.adapters.values import first_url, urls
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
        "comments[].text": "text (empty with an image_list: an image-only item)",
        "comments[].create_time": "published (epoch s)",
        "comments[].digg_count": "attrs.likes",
        "comments[].reply_comment_total": "attrs.replies",
        "comments[].ip_label": "attrs.ip_label",
        "comments[].image_list": "attrs.images (origin_url); attrs.image_only when there is no text",
        "comments[].user": "author (nickname), attrs.author_id (uid)",
        "comments[].stick_position": "attrs.pinned when non-zero",
        "cursor": "the next page's cursor",
        "has_more": "pagination",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "data": "search results: served by kind: douyin_search",
        "total": "a count, not comments",
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
        more = bool(comments) and bool(doc.get("has_more"))
        nxt = doc.get("cursor")
        next_url = with_query(page.url, cursor=nxt) if more and nxt is not None else None
        out = ParsedPage(items=[], next_url=next_url, cursor={"cursor": nxt})
        for c in comments:
            out.entries += 1
            if (it := self._comment(as_dict(c), out)) is not None:
                out.items.append(it)
        return out

    def _comment(self, c: Mapping[str, Any], page: ParsedPage) -> RawItem | None:
        text = str(c.get("text") or "").strip()
        listed = as_list(c.get("image_list"))
        images = urls(first_url(as_dict(i).get("origin_url") or i) for i in listed)
        if not page.require(cid=c.get("cid"), text=text or images):
            return None
        user = as_dict(c.get("user"))
        attrs = {
            "author_id": str(user["uid"]) if user.get("uid") else None,
            "likes": count(c.get("digg_count")),
            "replies": count(c.get("reply_comment_total")),
            "ip_label": c.get("ip_label") or None,
            "images": images or None,
            "image_only": True if images and not text else None,
            "pinned": True if c.get("stick_position") not in (None, 0, "0") else None,
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
