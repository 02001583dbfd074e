"""``kind: feed`` — RSS 2.0 / Atom (feedparser) and JSON Feed 1.x, e.g. RSSHub routes.

A Weibo route of RSSHub puts the post text in both the title (a plain-text prefix, images as
``[图片]``) and the description (the HTML); the title is not always a clean prefix (a trailing topic
link breaks it), so the title is dropped whenever the description already says it, compared without
markers, spaces and punctuation. Real RSSHub output carries no engagement counts. Categories become
``attrs.tags``, enclosures ``attrs.enclosures``. ``kind: rsshub`` builds on this module.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from difflib import SequenceMatcher
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
    looks_blocked,
    register,
)
from monitor.adapters.json import loads
from monitor.config.sources import SourceConfig
from monitor.hygiene import body_hint

_MARKERS = re.compile(r"\[[^\[\]\s]{1,10}\]|[^\w]+")  # [图片] [二哈], spaces, punctuation, '#'


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


def _squash(text: str) -> str:
    return _MARKERS.sub("", text)


def title_and_body(title: str, body: str) -> str:
    """The item's text: the body alone when it already says the title, else title then body."""
    if not title or not body:
        return title or body
    t, b = _squash(title.rstrip("…. ").removesuffix("...")), _squash(body)
    if not t or t in b:
        return body
    matched = sum(m.size for m in SequenceMatcher(None, t, b, autojunk=False).get_matching_blocks())
    return body if matched >= 0.8 * len(t) else f"{title}\n{body}"


def _entry(e: Mapping[str, Any], page: ParsedPage) -> RawItem | None:
    page.entries += 1
    title = html_to_text(e.get("title", ""))
    body = html_to_text(e.get("summary", "") or e.get("description", ""))
    text = title_and_body(title, body)
    if not text:
        page.fail("title", "description")
        return None
    attrs: dict[str, Any] = {}
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


def _json_item(it: Mapping[str, Any], page: ParsedPage) -> RawItem | None:
    page.entries += 1
    body = html_to_text(it.get("content_html") or it.get("content_text") or "")
    text = title_and_body(html_to_text(str(it.get("title") or "")), body)
    if not text:
        page.fail("content_html", "title")
        return None
    authors = it.get("authors") or ([it["author"]] if it.get("author") else [])
    attrs: dict[str, Any] = {"tags": list(it["tags"])} if it.get("tags") else {}
    ext = it.get("id") or it.get("url")
    return RawItem(
        text=text,
        external_id=str(ext) if ext else None,
        url=it.get("url"),
        author=authors[0].get("name") if authors and isinstance(authors[0], dict) else None,
        published=it.get("date_published") or it.get("date_modified"),
        attrs=attrs,
    )


def parse_feed(text: str) -> ParsedPage:
    """RSS, Atom or JSON Feed text to items; a captcha/login page is BlockedError, junk is ParseError."""
    head = text.lstrip("\ufeff \r\n\t")
    page = ParsedPage(items=[])
    if head.startswith("{"):
        doc = loads(head)
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            raise ParseError("JSON body is not a JSON Feed (no 'items' list)")
        page.items = [r for it in doc["items"] if isinstance(it, dict) and (r := _json_item(it, page))]
        return page
    parsed = feedparser.parse(text)
    page.items = [r for e in parsed.entries if (r := _entry(e, page)) is not None]
    if not page.items and (parsed.bozo or not parsed.get("version")):
        if reason := looks_blocked(text):
            raise BlockedError(reason)
        problem = parsed.get("bozo_exception") or f"the answer is {body_hint(head)}"
        raise ParseError(f"not a feed ({problem})")
    return page


@register
class FeedAdapter(Adapter[FeedConfig]):
    kind = "feed"
    Config = FeedConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "title": "text, unless the description already says it (compared without markers and spaces)",
        "description": "text (HTML to plain text; emoji alt kept)",
        "link": "url (and id when there is no guid)",
        "guid": "external_id",
        "pubDate": "published",
        "author": "author",
        "category": "attrs.tags",
        "enclosure": "attrs.enclosures",
        "items[].id": "external_id",
        "items[].url": "url",
        "items[].title": "text, unless the content already says it",
        "items[].content_html": "text",
        "items[].date_published": "published",
        "items[].authors[].name": "author",
        "items[].tags": "attrs.tags",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return self.config.url

    def parse(self, page: FetchedPage) -> ParsedPage:
        return parse_feed(page.text)
