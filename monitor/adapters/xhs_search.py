"""``kind: xhs_search`` — Xiaohongshu note search (``POST /api/sns/web/v1/search/notes`` on edith).

Request signing is out of scope: the API wants signed headers (``X-S``, ``X-T``) and a logged-in
cookie. Copy them from a browser session into environment variables and reference them::

    cookie: ${XHS_COOKIE}
    headers: {X-S: "${XHS_X_S}", X-T: "${XHS_X_T}"}

They expire quickly; when they do the source turns ``blocked`` and the admins hear about it.

Search items carry a title (``display_title``, sometimes empty) but **no** ``desc`` and **no**
``time``: the publish time is read from ``corner_tag_info[type=publish_time].text`` ("MM-DD",
"YYYY-MM-DD", "6分钟前", "昨天 12:30"), and each new note is flagged ``truncated`` and completed by a
follow-up to the note-detail endpoint (``POST /api/sns/web/v1/feed``: ``desc`` and the exact
``time``). Only ``model_type: note`` entries are notes; ``rec_query`` / ``hot_query`` (search
suggestions) and ad slots are skipped and counted. Entries of another shape (a relay's or the app's
``note{…}`` without ``note_card``) yield no note: all of them failing is a changed shape, ``broken``.
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
from monitor.adapters.json import as_dict, check_blocked, loads
from monitor.adapters.paging import query_value
from monitor.adapters.values import https_url, urls
from monitor.config.sources import SourceConfig

SKIP = {
    "rec_query": "相关搜索 related-search card (rec_query)",
    "hot_query": "热搜词 hot-search card (hot_query)",
}
SKIP_AD = "广告 ad slot (model_type {})"


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


def xhs_envelope(page: FetchedPage, *, unknown_code_blocks: bool = True) -> dict[str, Any]:
    """The ``data`` of a ``{"success":true,"code":0,"data":{…}}`` answer; refusals raise.

    The known block codes are always ``blocked``; another non-zero code is too for the search itself,
    but for one note's detail it is that note's problem (deleted, private): a failed follow-up.
    """
    doc = loads(page.text)
    check_blocked(doc)
    if not isinstance(doc, dict) or ("data" not in doc and "success" not in doc):
        raise ParseError("not a Xiaohongshu API envelope")
    if doc.get("success") is False or doc.get("code") not in (0, None):
        said = f"code {doc.get('code')}: {doc.get('msg', '')}"
        if unknown_code_blocks:
            raise BlockedError(f"Xiaohongshu refused the request ({said})")
        raise ParseError(f"Xiaohongshu has no answer for this note ({said})")
    data = doc.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
        raise ParseError("Xiaohongshu answer without data.items")
    return data


def publish_time(card: Mapping[str, Any]) -> str | None:
    tags = card.get("corner_tag_info")
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, dict) and tag.get("type") == "publish_time" and tag.get("text"):
            return str(tag["text"])
    return None


def _images(card: Mapping[str, Any]) -> list[str]:
    found: list[object] = []
    images = card.get("image_list")
    for image in images if isinstance(images, list) else []:
        infos = as_dict(image).get("info_list")
        infos = [as_dict(i) for i in infos] if isinstance(infos, list) else []
        best = next((i for i in infos if i.get("image_scene") == "WB_DFT"), infos[0] if infos else {})
        found.append(best.get("url") or as_dict(image).get("url_default"))
    return urls(found)


def _title_and_desc(title: str, desc: str) -> str:
    if title and desc.startswith(title):
        return desc
    return "\n".join(x for x in (title, desc) if x)


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
        "data.items[].model_type": "'note' is a note; rec_query / hot_query / ads are skipped and counted",
        "data.items[].xsec_token": "url query (needed to open the note and ask its detail)",
        "data.items[].note_card": "a note (an entry without one yields nothing: a changed shape)",
        "data.items[].note_card.type": "attrs.note_type (normal / video)",
        "data.items[].note_card.display_title": "text until the detail arrives (may be empty)",
        "data.items[].note_card.corner_tag_info": "published: the entry of type publish_time",
        "data.items[].note_card.user.user_id": "attrs.author_id",
        "data.items[].note_card.user.nickname": "author (nick_name in some answers)",
        "data.items[].note_card.interact_info.liked_count": "attrs.likes (string to number)",
        "data.items[].note_card.interact_info.collected_count": "attrs.collects",
        "data.items[].note_card.interact_info.comment_count": "attrs.comments",
        "data.items[].note_card.interact_info.shared_count": "attrs.shares",
        "data.items[].note_card.image_list": "attrs.images",
        "data.items[].note_card.cover": "attrs.cover (url_default)",
        "feed data.items[].note_card.desc": "text with the title (note detail, a follow-up)",
        "feed data.items[].note_card.time": "published, exact (epoch ms; note detail)",
        "feed data.items[].note_card.ip_location": "attrs.ip_location (note detail)",
        "feed data.items[].note_card.tag_list": "attrs.tags (note detail)",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "data.items[].note_card.user.avatar": "a picture of the author",
        "data.items[].note_card.interact_info.liked": "whether our own account liked it",
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
        data = xhs_envelope(page)
        entries = data.get("items") or []
        current = _page_of(page.url)
        more = bool(data.get("has_more")) and bool(entries)
        out = ParsedPage(
            items=[],
            next_url=f"{page.url.partition('#')[0]}#page={current + 1}" if more else None,
            cursor={"page": current},
        )
        for entry in entries:
            entry = as_dict(entry)
            model = entry.get("model_type")
            if model is not None and model != "note":
                out.skip(SKIP.get(str(model)) or SKIP_AD.format(model))
                continue
            out.entries += 1
            if (it := self._note(entry, out)) is not None:
                out.items.append(it)
        return out

    def _note(self, entry: Mapping[str, Any], page: ParsedPage) -> RawItem | None:
        card = entry.get("note_card")
        note_id = entry.get("id") or as_dict(card).get("note_id")
        if not page.require(note_card=isinstance(card, dict), id=note_id) or not isinstance(card, dict):
            return None
        when = publish_time(card)
        if when is None:
            page.missing("corner_tag_info.publish_time")
        user = as_dict(card.get("user"))
        stats = as_dict(card.get("interact_info"))
        attrs = {
            "note_type": card.get("type"),
            "author_id": user.get("user_id"),
            "likes": count(stats.get("liked_count")),
            "collects": count(stats.get("collected_count")),
            "comments": count(stats.get("comment_count")),
            "shares": count(stats.get("shared_count")),
            "images": _images(card) or None,
            "cover": https_url(as_dict(card.get("cover")).get("url_default")),
            "truncated": True,  # search items carry no desc: the note detail completes them
        }
        token = entry.get("xsec_token")
        url = f"https://www.xiaohongshu.com/explore/{note_id}" + (f"?xsec_token={token}" if token else "")
        return RawItem(
            text=str(card.get("display_title") or "").strip(),
            external_id=str(note_id),
            url=url,
            author=user.get("nickname") or user.get("nick_name"),
            published=when,
            attrs={k: v for k, v in attrs.items() if v is not None},
        )

    def follow_up(self, item: RawItem) -> FollowUp | None:
        if not item.attrs.get("truncated") or not item.external_id:
            return None
        body = {
            "source_note_id": item.external_id,
            "image_formats": ["jpg", "webp", "avif"],
            "extra": {"need_body_topic": "1"},
            "xsec_source": "pc_search",
            "xsec_token": query_value(item.url or "", "xsec_token") or "",
        }
        url = f"{self.config.base_url.rstrip('/')}/api/sns/web/v1/feed#note={item.external_id}"
        return FollowUp(item.external_id, HttpRequest(url, method="POST", json_body=body), "note detail")

    def complete(self, item: RawItem, page: FetchedPage) -> Completion:
        entries = xhs_envelope(page, unknown_code_blocks=False).get("items") or []
        cards = [as_dict(e).get("note_card") for e in entries]
        card = next((c for c in cards if isinstance(c, dict)), None)
        if not isinstance(card, dict):
            raise ParseError("note detail without data.items[].note_card")
        if card.get("note_id") not in (None, item.external_id):
            raise ParseError(f"note detail answers for note {card.get('note_id')}, not {item.external_id}")
        title = str(card.get("title") or card.get("display_title") or item.text).strip()
        desc = str(card.get("desc") or "").strip()
        if not (title or desc):
            raise ParseError("note detail without title or desc")
        tags = [str(t["name"]) for t in card.get("tag_list") or [] if isinstance(t, dict) and t.get("name")]
        attrs = {"ip_location": card.get("ip_location"), "tags": tags or None}
        return Completion(
            _title_and_desc(title, desc),
            published=card.get("time") if isinstance(card.get("time"), int) else None,
            attrs={k: v for k, v in attrs.items() if v is not None},
        )
