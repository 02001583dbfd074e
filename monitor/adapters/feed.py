"""``kind: feed`` — RSS 2.0 / Atom (feedparser) and JSON Feed 1.x, e.g. RSSHub routes.

RSSHub's Weibo items carry ``<stats><reposts_count/><comments_count/><attitudes_count/></stats>``;
those become ``attrs`` (``reposts``, ``comments``, ``likes``), as do categories (``tags``) and
enclosures. ``kind: rsshub`` builds on this module.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import feedparser
from selectolax.lexbor import LexborHTMLParser

from monitor.adapters.base import (
    Adapter,
    BlockedError,
    FetchedPage,
    ParsedPage,
    ParseError,
    RawItem,
    SourceConfig,
    looks_blocked,
    register,
)
from monitor.adapters.json import loads
from monitor.hygiene import body_hint

STATS = {"reposts_count": "reposts", "comments_count": "comments", "attitudes_count": "likes"}


class FeedConfig(SourceConfig):
    kind: Literal["feed"]
    url: str


def html_to_text(html: str) -> str:
    """Platform HTML to plain text: emoji images become their alt text (``[二哈]``), ``<br>`` a newline."""
    if "<" not in html:
        return html.strip()
    tree = LexborHTMLParser(html)
    for img in tree.css("img[alt]"):
        img.replace_with(img.attributes.get("alt") or "")
    for br in tree.css("br"):
        br.replace_with("\n")
    body = tree.body
    return (body.text(separator="", strip=False) if body else tree.text()).strip()


def count(value: object) -> int | None:
    """``"1.2万"`` -> 12000, ``"100万+"`` -> 1000000, ``"3亿"``, ``"1,234"``, ints as they are."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    s = str(value).strip().rstrip("+").replace(",", "")
    mult = 1
    for unit, factor in (("万", 10_000), ("亿", 100_000_000), ("w", 10_000), ("k", 1000)):
        if s.lower().endswith(unit):
            s, mult = s[: -len(unit)], factor
            break
    try:
        return round(float(s) * mult)
    except ValueError:
        return None


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        st = entry.get(key)
        if st:
            return datetime.fromtimestamp(calendar.timegm(st), UTC)
    return None


def _entry(e: Mapping[str, Any]) -> RawItem | None:
    title = html_to_text(e.get("title", ""))
    body = html_to_text(e.get("summary", "") or e.get("description", ""))
    text = (
        body
        if title and body.startswith(title[:20].rstrip("…. "))
        else "\n".join(x for x in (title, body) if x)
    )
    if not text:
        return None
    attrs: dict[str, Any] = {}
    for key, name in STATS.items():
        if (n := count(e.get(key))) is not None:
            attrs[name] = n
    if tags := [t.get("term") for t in e.get("tags", []) if t.get("term")]:
        attrs["tags"] = tags
    if enc := [ln.get("href") for ln in e.get("links", []) if ln.get("rel") == "enclosure"]:
        attrs["enclosures"] = enc
    return RawItem(
        text=text,
        external_id=e.get("id") or e.get("link"),
        url=e.get("link"),
        author=e.get("author"),
        published=_entry_time(e),
        attrs=attrs,
    )


def _json_item(it: Mapping[str, Any]) -> RawItem | None:
    text = html_to_text(it.get("content_html") or it.get("content_text") or it.get("title") or "")
    if not text:
        return None
    authors = it.get("authors") or ([it["author"]] if it.get("author") else [])
    attrs: dict[str, Any] = {"tags": list(it["tags"])} if it.get("tags") else {}
    ext = it.get("id") or it.get("url")
    return RawItem(
        text=text,
        external_id=str(ext) if ext else None,
        url=it.get("url"),
        author=authors[0].get("name") if authors else None,
        published=it.get("date_published") or it.get("date_modified"),
        attrs=attrs,
    )


def parse_feed(text: str) -> ParsedPage:
    """RSS, Atom or JSON Feed text to items; a captcha/login page is BlockedError, junk is ParseError."""
    head = text.lstrip("\ufeff \r\n\t")
    if head.startswith("{"):
        doc = loads(head)
        if not isinstance(doc, dict) or "items" not in doc:
            raise ParseError("JSON body is not a JSON Feed (no 'items')")
        return ParsedPage(items=[r for it in doc["items"] if (r := _json_item(it)) is not None])
    parsed = feedparser.parse(text)
    items = [r for e in parsed.entries if (r := _entry(e)) is not None]
    if not items and (parsed.bozo or not parsed.get("version")):
        if reason := looks_blocked(text):
            raise BlockedError(reason)
        problem = parsed.get("bozo_exception") or f"the answer is {body_hint(head)}"
        raise ParseError(f"not a feed ({problem})")
    return ParsedPage(items=items)


@register
class FeedAdapter(Adapter[FeedConfig]):
    kind = "feed"
    Config = FeedConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "title": "text (first line, unless the description repeats it)",
        "description": "text (HTML to plain text; emoji alt kept)",
        "link": "url (and id when there is no guid)",
        "guid": "external_id",
        "pubDate": "published",
        "author": "author",
        "category": "attrs.tags",
        "enclosure": "attrs.enclosures",
        "stats.reposts_count": "attrs.reposts",
        "stats.comments_count": "attrs.comments",
        "stats.attitudes_count": "attrs.likes",
        "items[].id": "external_id",
        "items[].url": "url",
        "items[].title": "text when there is no content",
        "items[].content_html": "text",
        "items[].date_published": "published",
        "items[].authors[].name": "author",
        "items[].tags": "attrs.tags",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return self.config.url

    def parse(self, page: FetchedPage) -> ParsedPage:
        return parse_feed(page.text)
