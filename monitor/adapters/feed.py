"""``kind: feed`` — RSS 2.0 / Atom (feedparser) and JSON Feed, e.g. RSSHub routes."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import feedparser
from selectolax.lexbor import LexborHTMLParser

from monitor.adapters.base import (
    Adapter,
    FetchedPage,
    ParsedPage,
    ParseError,
    RawItem,
    SourceConfig,
    register,
)
from monitor.adapters.json import loads


class FeedConfig(SourceConfig):
    kind: Literal["feed"]
    url: str


def html_to_text(html: str) -> str:
    if "<" not in html:
        return html.strip()
    tree = LexborHTMLParser(html)
    for img in tree.css("img[alt]"):  # platform emoji like [二哈] live in alt text
        img.replace_with(img.attributes.get("alt") or "")
    for br in tree.css("br"):
        br.replace_with("\n")
    body = tree.body
    return (body.text(separator="", strip=False) if body else tree.text()).strip()


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        st = entry.get(key)
        if st:
            return datetime.fromtimestamp(calendar.timegm(st), UTC)
    return None


@register
class FeedAdapter(Adapter[FeedConfig]):
    kind = "feed"
    Config = FeedConfig

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return self.config.url

    def parse(self, page: FetchedPage) -> ParsedPage:
        if page.text.lstrip().startswith("{"):
            return self._json_feed(loads(page.text))
        parsed = feedparser.parse(page.text)
        if parsed.bozo and not parsed.entries:
            raise ParseError(f"not a feed: {parsed.get('bozo_exception')}")
        items = []
        for e in parsed.entries:
            title = html_to_text(e.get("title", ""))
            body = html_to_text(e.get("summary", "") or e.get("description", ""))
            text = body if title and body.startswith(title[:20]) else "\n".join(x for x in (title, body) if x)
            if not text:
                continue
            items.append(
                RawItem(
                    text=text,
                    external_id=e.get("id") or e.get("link"),
                    url=e.get("link"),
                    author=e.get("author"),
                    published=_entry_time(e),
                )
            )
        return ParsedPage(items=items)

    def _json_feed(self, doc: Any) -> ParsedPage:
        if not isinstance(doc, dict) or "items" not in doc:
            raise ParseError("JSON body is not a JSON Feed (no 'items')")
        items = []
        for it in doc["items"]:
            text = html_to_text(it.get("content_html") or it.get("content_text") or it.get("title") or "")
            if not text:
                continue
            authors = it.get("authors") or ([it["author"]] if it.get("author") else [])
            items.append(
                RawItem(
                    text=text,
                    external_id=str(it.get("id") or it.get("url")),
                    url=it.get("url"),
                    author=authors[0].get("name") if authors else None,
                    published=it.get("date_published"),
                )
            )
        return ParsedPage(items=items)
