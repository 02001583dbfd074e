"""``kind: weibo_search`` — Weibo keyword search via the mobile web API (``m.weibo.cn`` getIndex).

Cards of ``card_type`` 9 hold one ``mblog``; ``card_type`` 11 holds a ``card_group`` of them; other
cards (related searches, "no more") are skipped and counted. Text is HTML: emoji images become their
alt text (``[二哈]``), topics and mentions stay, adjacent link labels are separated, and the labels
of link and video cards (``<a>`` with a ``timeline_card_small_*`` icon: "网页链接", "…的微博视频")
are not post text: they go to ``attrs.links``. Long posts come truncated in lists (``isLongText``,
text cut before "...全文", no inline long text): the item is flagged ``truncated`` and completed by a
follow-up to ``statuses/extend``; when that is refused the truncated text is kept, still flagged.
A pinned post (``isTop``) is marked ``attrs.pinned`` so it never stands for the newest post.

Counts like ``"1.2万"`` / ``"100万+"`` become numbers, ``pics`` may be a list or a dict, a
``retweeted_status`` may have a null ``user``. Relative times (``5分钟前``) are resolved against the
poll time; the id itself encodes the exact creation time and wins over a relative phrase.
``{"ok":-100}`` (cookie expired), HTTP 432/418 (rate limit) are ``blocked``. A logged-in cookie
helps: ``cookie: ${WEIBO_COOKIE}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from monitor.adapters.base import (
    Adapter,
    Completion,
    FetchedPage,
    FollowUp,
    HttpRequest,
    ParsedPage,
    ParseError,
    RawItem,
    register,
)
from monitor.adapters.feed import count
from monitor.adapters.json import as_dict
from monitor.adapters.paging import query_int, with_query
from monitor.adapters.weibo_shapes import envelope, pics, user_attrs, weibo_text, weibo_time
from monitor.config.sources import SourceConfig

SKIP_CARD = "非帖子卡片 not a post (card_type {})"


class WeiboSearchConfig(SourceConfig):
    kind: Literal["weibo_search"]
    platform: str = "weibo"
    keyword: str
    base_url: str = "https://m.weibo.cn"


def mblog_item(mb: Mapping[str, Any], page: ParsedPage) -> RawItem | None:
    """One post; ``None`` (counted as a failed entry on ``page``) when it has no id or no content."""
    ident = mb.get("idstr") or mb.get("id") or mb.get("mid")
    long_text = as_dict(mb.get("longText")).get("longTextContent")
    body = weibo_text(str(long_text or mb.get("text") or ""))
    images = pics(mb.get("pics"))
    if not page.require(idstr=ident is not None, text=body.text or images):
        return None
    if mb.get("created_at") in (None, ""):
        page.missing("created_at")
    author, attrs = user_attrs(mb.get("user"))
    attrs.update(
        {
            "reposts": count(mb.get("reposts_count")),
            "comments": count(mb.get("comments_count")),
            "likes": count(mb.get("attitudes_count")),
            "client": mb.get("source") or None,
            "images": images or None,
            "image_only": True if images and not body.text else None,
            "pic_num": mb.get("pic_num") or None,
            "edit_count": mb.get("edit_count") or None,
            "bid": mb.get("bid"),
            "links": body.links or None,
            "pinned": True if mb.get("isTop") in (1, True) else None,
            "truncated": True if mb.get("isLongText") and not long_text else None,
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
            "text": weibo_text(str(rt.get("text") or "")).text,
        }
    user = mb.get("user")
    uid = user.get("id") if isinstance(user, dict) else None
    bid = mb.get("bid")
    url = f"https://weibo.com/{uid}/{bid}" if uid and bid else f"https://m.weibo.cn/detail/{ident}"
    return RawItem(
        text=body.text,
        external_id=str(ident),
        url=url,
        author=author,
        published=weibo_time(mb.get("created_at"), mb.get("mid") or ident),
        attrs={k: v for k, v in attrs.items() if v is not None},
        version=f"edit:{mb['edit_count']}" if mb.get("edit_count") else None,
    )


def long_text_follow_up(base_url: str, item: RawItem) -> FollowUp | None:
    """``statuses/extend`` for a post the list gave truncated."""
    if not item.attrs.get("truncated") or not item.external_id:
        return None
    url = with_query(f"{base_url.rstrip('/')}/statuses/extend", id=item.external_id)
    key = f"{item.external_id}:{item.attrs.get('edit_count') or 0}"
    return FollowUp(key, HttpRequest(url), "long text")


def long_text(page: FetchedPage) -> Completion:
    data, msg = envelope(page)
    content = data.get("longTextContent")
    if not data or not isinstance(content, str) or not content.strip():
        raise ParseError(f"statuses/extend without longTextContent ({msg or 'no text'})")
    body = weibo_text(content)
    return Completion(body.text, attrs={"links": body.links} if body.links else {})


@register
class WeiboSearchAdapter(Adapter[WeiboSearchConfig]):
    kind = "weibo_search"
    Config = WeiboSearchConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "ok": "envelope: 1 data, 0 an empty/ended search (msg kept as reason), -100 blocked",
        "data.cardlistInfo.page": "pagination: the next page number",
        "data.cardlistInfo.since_id": "cursor.since_id",
        "data.cards[].card_type": "9 = one mblog, 11 = card_group; others skipped and counted",
        "data.cards[].mblog": "an item",
        "data.cards[].card_group[].mblog": "an item",
        "mblog.id": "external_id when there is no idstr",
        "mblog.idstr": "external_id",
        "mblog.mid": "published when created_at is relative ((mid >> 22) + 515483463)",
        "mblog.bid": "url and attrs.bid",
        "mblog.text": "text (HTML to text: emoji alt kept, card labels to attrs.links, '全文' dropped)",
        "mblog.created_at": "published (RFC 2822 or relative)",
        "mblog.source": "attrs.client",
        "mblog.reposts_count": "attrs.reposts (1.2万 -> 12000)",
        "mblog.comments_count": "attrs.comments",
        "mblog.attitudes_count": "attrs.likes",
        "mblog.isLongText": "attrs.truncated unless longText is inline; completed by statuses/extend",
        "mblog.longText.longTextContent": "text when inline (some endpoints)",
        "mblog.pics": "attrs.images (list or dict)",
        "mblog.page_info": "attrs.page_info {type, page_title, page_url}; its labels are not post text",
        "mblog.retweeted_status": "attrs.retweeted {id, author (may be None), text}",
        "mblog.user.id": "attrs.author_id and url",
        "mblog.user.screen_name": "author",
        "mblog.user.followers_count": "attrs.followers",
        "mblog.user.verified": "attrs.verified",
        "mblog.edit_count": "attrs.edit_count and the item version (an edit updates the item)",
        "mblog.pic_num": "attrs.pic_num",
        "mblog.isTop": "attrs.pinned (a pinned post is never the cursor's newest)",
        "msg": "reason of an ok:0 answer",
        "url": "reason of an ok:-100 answer (the login host)",
        "statuses/extend data.longTextContent": "text of a truncated post (follow-up)",
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
        info = as_dict(data.get("cardlistInfo"))
        current = query_int(page.url, "page", 1)
        nxt = info.get("page")
        next_url = (
            with_query(page.url, page=nxt) if cards and isinstance(nxt, int) and nxt > current else None
        )
        if cards and nxt is None and "page" not in info and info.get("since_id") is None:
            next_url = with_query(page.url, page=current + 1)
        cursor = {"since_id": info["since_id"]} if info.get("since_id") else {}
        out = ParsedPage(items=[], next_url=next_url, cursor=cursor)
        for card in cards:
            card = as_dict(card)
            group = card.get("card_group") if card.get("card_type") == 11 else [card]
            for c in group if isinstance(group, list) else []:
                c = as_dict(c)
                if c.get("card_type") != 9:
                    out.skip(SKIP_CARD.format(c.get("card_type")))
                    continue
                out.entries += 1
                mblog = c.get("mblog")
                if not isinstance(mblog, dict):
                    out.fail("mblog")
                elif (it := mblog_item(mblog, out)) is not None:
                    out.items.append(it)
        return out

    def follow_up(self, item: RawItem) -> FollowUp | None:
        return long_text_follow_up(self.config.base_url, item)

    def complete(self, item: RawItem, page: FetchedPage) -> Completion:
        return long_text(page)
