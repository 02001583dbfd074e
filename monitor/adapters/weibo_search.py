"""``kind: weibo_search`` — Weibo keyword search via the mobile web API (``m.weibo.cn`` getIndex).

Cards of ``card_type`` 9 hold one ``mblog``; ``card_type`` 11 holds a ``card_group`` of them. Text is
HTML: emoji images become their alt text (``[二哈]``); ``longText.longTextContent`` replaces the
truncated text when ``isLongText``. Counts like ``"1.2万"`` / ``"100万+"`` become numbers, ``pics``
may be a list or a dict, a ``retweeted_status`` may have a null ``user``. Relative times (``5分钟前``)
are resolved against the poll time; the id itself encodes the exact creation time and wins over a
relative phrase. ``{"ok":-100}`` (cookie expired), HTTP 432/418 (rate limit) are ``blocked``.
A logged-in cookie helps: ``cookie: ${WEIBO_COOKIE}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from monitor.adapters.base import (
    Adapter,
    FetchedPage,
    ParsedPage,
    ParseError,
    RawItem,
    register,
)
from monitor.adapters.feed import count, html_to_text
from monitor.adapters.json import check_blocked, loads
from monitor.adapters.paging import query_int, with_query
from monitor.config.sources import SourceConfig

WEIBO_EPOCH_OFFSET = 515483463


class WeiboSearchConfig(SourceConfig):
    kind: Literal["weibo_search"]
    platform: str = "weibo"
    keyword: str
    base_url: str = "https://m.weibo.cn"


def mid_time(mid: object) -> datetime | None:
    """A Weibo id encodes its creation time: unix seconds = (mid >> 22) + 515483463."""
    try:
        seconds = (int(str(mid)) >> 22) + WEIBO_EPOCH_OFFSET
    except ValueError:
        return None
    return datetime.fromtimestamp(seconds, UTC) if 1_200_000_000 < seconds < 4_000_000_000 else None


def weibo_time(created_at: object, mid: object) -> str | datetime | None:
    """The absolute ``created_at`` if there is one, else the id's time, else the relative phrase."""
    text = str(created_at or "")
    if "+0800" in text or len(text) >= 19:  # RFC 2822 or a full local date-time
        return text
    return mid_time(mid) or (text or None)


def pics(value: object) -> list[str]:
    """``pics`` as a list of ``{url, large{url}}`` or as a dict keyed by index."""
    entries = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    out = []
    for p in entries:
        if isinstance(p, dict):
            large = p.get("large")
            url = (large.get("url") if isinstance(large, dict) else None) or p.get("url")
            if url:
                out.append(str(url))
    return out


def user_attrs(user: object) -> tuple[str | None, dict[str, Any]]:
    if not isinstance(user, dict):
        return None, {}
    attrs = {
        "author_id": str(user["id"]) if user.get("id") is not None else None,
        "followers": count(user.get("followers_count")),
        "verified": user.get("verified"),
    }
    return user.get("screen_name"), {k: v for k, v in attrs.items() if v is not None}


def mblog_item(mb: Mapping[str, Any]) -> RawItem | None:
    long_text = mb.get("longText")
    html = mb.get("text") or ""
    if mb.get("isLongText") and isinstance(long_text, dict) and long_text.get("longTextContent"):
        html = long_text["longTextContent"]
    text = html_to_text(str(html))
    ident = mb.get("idstr") or mb.get("id") or mb.get("mid")
    if not text or ident is None:
        return None
    author, attrs = user_attrs(mb.get("user"))
    attrs.update(
        {
            "reposts": count(mb.get("reposts_count")),
            "comments": count(mb.get("comments_count")),
            "likes": count(mb.get("attitudes_count")),
            "client": mb.get("source") or None,
            "pics": pics(mb.get("pics")) or None,
            "pic_num": mb.get("pic_num") or None,
            "edit_count": mb.get("edit_count") or None,
            "bid": mb.get("bid"),
        }
    )
    info = mb.get("page_info")
    if isinstance(info, dict):
        attrs["page_info"] = {k: info.get(k) for k in ("type", "page_title", "page_url") if info.get(k)}
    rt = mb.get("retweeted_status")
    if isinstance(rt, dict):
        rt_author, _ = user_attrs(rt.get("user"))
        attrs["retweeted"] = {
            "id": str(rt.get("idstr") or rt.get("id") or ""),
            "author": rt_author,  # None when the original's user is hidden or deleted
            "text": html_to_text(str(rt.get("text") or "")),
        }
    user = mb.get("user")
    uid = user.get("id") if isinstance(user, dict) else None
    bid = mb.get("bid")
    url = f"https://weibo.com/{uid}/{bid}" if uid and bid else f"https://m.weibo.cn/detail/{ident}"
    return RawItem(
        text=text,
        external_id=str(ident),
        url=url,
        author=author,
        published=weibo_time(mb.get("created_at"), mb.get("mid") or ident),
        attrs={k: v for k, v in attrs.items() if v is not None},
        version=f"edit:{mb['edit_count']}" if mb.get("edit_count") else None,
    )


def envelope(page: FetchedPage) -> tuple[dict[str, Any], str]:
    """The ``data`` of an ``{"ok":1,"data":{…}}`` envelope, or ``({}, msg)`` for ``ok:0``."""
    doc = loads(page.text)
    check_blocked(doc)
    if not isinstance(doc, dict) or "ok" not in doc:
        raise ParseError("not a Weibo API envelope (no 'ok')")
    if doc["ok"] != 1:
        return {}, str(doc.get("msg") or f"ok:{doc['ok']}")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise ParseError("Weibo envelope ok:1 without 'data'")
    return data, ""


@register
class WeiboSearchAdapter(Adapter[WeiboSearchConfig]):
    kind = "weibo_search"
    Config = WeiboSearchConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "ok": "envelope: 1 data, 0 an empty/ended search (msg kept as reason), -100 blocked",
        "data.cardlistInfo.page": "pagination: the next page number",
        "data.cardlistInfo.since_id": "cursor.since_id",
        "data.cards[].card_type": "9 = one mblog, 11 = card_group; others skipped",
        "data.cards[].mblog": "an item",
        "data.cards[].card_group[].mblog": "an item",
        "mblog.id": "external_id when there is no idstr",
        "mblog.idstr": "external_id",
        "mblog.mid": "published when created_at is relative ((mid >> 22) + 515483463)",
        "mblog.bid": "url and attrs.bid",
        "mblog.text": "text (HTML to plain text, emoji alt kept)",
        "mblog.created_at": "published (RFC 2822 or relative)",
        "mblog.source": "attrs.client",
        "mblog.reposts_count": "attrs.reposts (1.2万 -> 12000)",
        "mblog.comments_count": "attrs.comments",
        "mblog.attitudes_count": "attrs.likes",
        "mblog.isLongText": "use longText when true",
        "mblog.longText.longTextContent": "text when isLongText",
        "mblog.pics": "attrs.pics (list or dict)",
        "mblog.page_info": "attrs.page_info",
        "mblog.retweeted_status": "attrs.retweeted {id, author (may be None), text}",
        "mblog.user.id": "attrs.author_id and url",
        "mblog.user.screen_name": "author",
        "mblog.user.followers_count": "attrs.followers",
        "mblog.user.verified": "attrs.verified",
        "mblog.edit_count": "attrs.edit_count and the item version (an edit updates the item)",
        "mblog.pic_num": "attrs.pic_num",
        "msg": "reason of an ok:0 answer",
        "url": "reason of an ok:-100 answer (the login host)",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "data.cardlistInfo.total": "a result count, not posts",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return with_query(
            f"{self.config.base_url.rstrip('/')}/api/container/getIndex",
            containerid=f"100103type=61&q={self.config.keyword}",
            page_type="searchall",
            page=1,
        )

    def parse(self, page: FetchedPage) -> ParsedPage:
        data, msg = envelope(page)
        if not data:
            return ParsedPage(items=[], reason=f"Weibo says: {msg}")
        cards = data.get("cards")
        if not isinstance(cards, list):
            raise ParseError("Weibo getIndex data without a 'cards' list")
        items: list[RawItem] = []
        for card in cards:
            group = card.get("card_group") if card.get("card_type") == 11 else [card]
            for c in group or []:
                mblog = c.get("mblog") if isinstance(c, dict) else None
                if isinstance(mblog, dict) and (it := mblog_item(mblog)) is not None:
                    items.append(it)
        info = data.get("cardlistInfo") or {}
        current = query_int(page.url, "page", 1)
        nxt = info.get("page")
        next_url = (
            with_query(page.url, page=nxt) if cards and isinstance(nxt, int) and nxt > current else None
        )
        if cards and nxt is None and "page" not in info and info.get("since_id") is None:
            next_url = with_query(page.url, page=current + 1)
        cursor = {"since_id": info["since_id"]} if info.get("since_id") else {}
        return ParsedPage(items=items, next_url=next_url, cursor=cursor)
