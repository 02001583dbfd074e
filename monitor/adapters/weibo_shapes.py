"""What Weibo's mobile API answers, shared by ``weibo_search`` and ``weibo_comments``: the ``ok``
envelope, times (the id encodes one), users, pictures, and post HTML to text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.adapters.base import FetchedPage, ParseError
from monitor.adapters.feed import count
from monitor.adapters.json import check_blocked, loads
from monitor.adapters.values import https_url

WEIBO_EPOCH_OFFSET = 515483463
_CARD_ICON = re.compile(r"timeline_card_small_([a-z]+)")
_FULL_TEXT = re.compile(r"/status/\w+$")


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
    """``pics`` as a list of ``{url, large{url}}`` or as a dict keyed by index; https URLs."""
    entries = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    out = []
    for p in entries:
        if isinstance(p, dict):
            large = p.get("large")
            url = (large.get("url") if isinstance(large, dict) else None) or p.get("url")
            if (absolute := https_url(url)) is not None:
                out.append(absolute)
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


@dataclass
class WeiboText:
    text: str
    links: list[dict[str, str]] = field(default_factory=list)  # card links: {kind, label, url}


def weibo_text(html: str) -> WeiboText:
    """Post or comment HTML to the words the author wrote.

    Emoji images become their alt text, ``<br>`` a newline. Topics (``#…#``) and mentions stay, with
    a space between labels the HTML glues together. A link drawn with a card icon
    (``timeline_card_small_web|video|article|location|photo…``) is a card label Weibo wrote ("网页链接",
    "某某的微博视频", "查看图片"): it is moved to ``links``. The "全文" link of a truncated post goes.
    """
    if "<" not in html:
        return WeiboText(html.strip())
    tree = LexborHTMLParser(html)
    links: list[dict[str, str]] = []
    for a in tree.css("a"):
        label = _label(a)
        icon = a.css_first("img[src*='timeline_card_small_']")
        href = a.attributes.get("href") or ""
        if icon is not None:
            kind = _CARD_ICON.search(icon.attributes.get("src") or "")
            url = https_url(a.attributes.get("data-url") or href) or href
            links.append({"kind": kind.group(1) if kind else "link", "label": label, "url": url})
            a.decompose()
        elif label == "全文" and _FULL_TEXT.search(href):
            a.decompose()
        else:
            glued = a.next is not None and a.next.tag == "a"
            a.replace_with(label + (" " if glued else ""))
    for img in tree.css("img[alt]"):
        img.replace_with(img.attributes.get("alt") or "")
    for br in tree.css("br"):
        br.replace_with("\n")
    body = tree.body
    text = (body.text(separator="", strip=False) if body else tree.text()).strip()
    return WeiboText(text, links)


def _label(a: LexborNode) -> str:
    for img in a.css("img[alt]"):  # an emoji inside a link label
        img.replace_with(img.attributes.get("alt") or "")
    return a.text(separator="", strip=False).strip()
