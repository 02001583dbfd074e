"""``kind: xhs_search`` — Xiaohongshu note search (``POST /api/sns/web/v1/search/notes`` on edith).

Request signing is out of scope: the API wants signed headers (``X-S``, ``X-T``) and a logged-in
cookie. Copy them from a browser session into environment variables and reference them::

    cookie: ${XHS_COOKIE}
    headers: {X-S: "${XHS_X_S}", X-T: "${XHS_X_T}"}

They expire quickly; when they do the source turns ``blocked`` and the admins hear about it.
Only ``model_type: note`` items are kept (``rec_query`` / ``hot_query`` are search suggestions).
Blocked: HTTP 461/471 with ``Verifytype``/``Verifyuuid`` headers (captcha), code 300012 (IP
blocked), 300011 (account restricted), -100 (login expired).
"""

from __future__ import annotations

import hashlib
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
from monitor.config.sources import SourceConfig


class XhsSearchConfig(SourceConfig):
    kind: Literal["xhs_search"]
    platform: str = "xiaohongshu"
    keyword: str
    sort: Literal["time_descending", "general", "popularity_descending"] = "time_descending"
    page_size: int = Field(default=20, ge=1, le=20)
    base_url: str = "https://edith.xiaohongshu.com"


def _page_of(url: str) -> int:
    _, _, frag = url.partition("#page=")
    return int(frag) if frag.isdigit() else 1


@register
class XhsSearchAdapter(Adapter[XhsSearchConfig]):
    kind = "xhs_search"
    Config = XhsSearchConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "success": "envelope: false is blocked (known codes) or broken",
        "code": "envelope: 300011/300012/-100 blocked",
        "data.has_more": "pagination",
        "data.items": "items",
        "data.items[].id": "external_id (and url)",
        "data.items[].model_type": "only 'note' is kept",
        "data.items[].xsec_token": "url query (needed to open the note)",
        "data.items[].note_card.note_id": "external_id when the item has no id",
        "data.items[].note_card.type": "attrs.note_type (normal / video)",
        "data.items[].note_card.display_title": "text (first line)",
        "data.items[].note_card.desc": "text",
        "data.items[].note_card.time": "published (epoch ms)",
        "data.items[].note_card.user.user_id": "attrs.author_id",
        "data.items[].note_card.user.nickname": "author",
        "data.items[].note_card.interact_info.liked_count": "attrs.likes (string to number)",
        "data.items[].note_card.interact_info.collected_count": "attrs.collects",
        "data.items[].note_card.interact_info.comment_count": "attrs.comments",
        "data.items[].note_card.interact_info.share_count": "attrs.shares",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return f"{self.config.base_url.rstrip('/')}/api/sns/web/v1/search/notes#page=1"

    def request(self, url: str) -> HttpRequest:
        c = self.config
        search_id = hashlib.sha1(c.keyword.encode("utf-8")).hexdigest()[:21]
        body = {
            "keyword": c.keyword,
            "page": _page_of(url),
            "page_size": c.page_size,
            "search_id": search_id,
            "sort": c.sort,
            "note_type": 0,
        }
        return HttpRequest(url, method="POST", json_body=body)

    def parse(self, page: FetchedPage) -> ParsedPage:
        doc = loads(page.text)
        check_blocked(doc)
        if not isinstance(doc, dict) or ("data" not in doc and "success" not in doc):
            raise ParseError("not a Xiaohongshu API envelope")
        if doc.get("success") is False or doc.get("code") not in (0, None):
            raise BlockedError(
                f"Xiaohongshu refused the request (code {doc.get('code')}: {doc.get('msg', '')})"
            )
        data = doc.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise ParseError("Xiaohongshu answer without data.items")
        missing: dict[str, int] = {}
        items = [
            it
            for entry in data.get("items") or []
            if isinstance(entry, dict) and entry.get("model_type") == "note"
            if (it := self._note(entry, missing)) is not None
        ]
        current = _page_of(page.url)
        more = bool(data.get("has_more")) and bool(data.get("items"))
        next_url = f"{page.url.partition('#')[0]}#page={current + 1}" if more else None
        return ParsedPage(items=items, next_url=next_url, missing_fields=missing, cursor={"page": current})

    def _note(self, entry: Mapping[str, Any], missing: dict[str, int]) -> RawItem | None:
        card = entry.get("note_card")
        if not isinstance(card, dict):
            missing["note_card"] = missing.get("note_card", 0) + 1
            return None
        note_id = entry.get("id") or card.get("note_id")
        title = str(card.get("display_title") or "").strip()
        desc = str(card.get("desc") or "").strip()
        text = "\n".join(x for x in (title, desc) if x and not (x == title and desc.startswith(title)))
        for key in ("time", "desc"):
            if card.get(key) in (None, ""):
                missing[key] = missing.get(key, 0) + 1
        if not note_id or not text:
            return None
        user = as_dict(card.get("user"))
        stats = as_dict(card.get("interact_info"))
        attrs = {
            "note_type": card.get("type"),
            "author_id": user.get("user_id"),
            "likes": count(stats.get("liked_count")),
            "collects": count(stats.get("collected_count")),
            "comments": count(stats.get("comment_count")),
            "shares": count(stats.get("share_count")),
        }
        token = entry.get("xsec_token")
        url = f"https://www.xiaohongshu.com/explore/{note_id}" + (f"?xsec_token={token}" if token else "")
        return RawItem(
            text=text,
            external_id=str(note_id),
            url=url,
            author=user.get("nickname"),
            published=card.get("time"),
            attrs={k: v for k, v in attrs.items() if v is not None},
        )
