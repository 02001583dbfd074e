"""``kind: html`` — review pages scraped with CSS selectors (selectolax, lexbor engine).

Field specs: ``".selector"`` (the node's text), ``".selector@attr"`` (an attribute),
``"@attr"`` (an attribute of the item node itself). Pagination: ``next`` (the next-page
link, ``selector@href``) or a ``{page}`` placeholder in ``url``; the pipeline stops at
``max_pages``. A page with no item that reads like a captcha or login page is ``blocked``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urljoin

from pydantic import Field, field_validator
from selectolax.lexbor import LexborHTMLParser, LexborNode

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
from monitor.adapters.paging import PageParamMixin
from monitor.config.sources import SourceConfig

ITEM_FIELDS = ("id", "text", "url", "author", "rating", "sku", "product", "published", "parent_id")


class HtmlConfig(SourceConfig, PageParamMixin):
    kind: Literal["html"]
    url: str
    item: str = Field(description="CSS selector of one review")
    fields: dict[str, str]
    next: str | None = Field(default=None, description="selector@attr of the next-page link")

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = set(v) - set(ITEM_FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; known: {', '.join(ITEM_FIELDS)}")
        if "text" not in v:
            raise ValueError("a 'text' field is required")
        return v


def _extract(node: LexborNode, spec: str) -> str | None:
    selector, _, attr = spec.partition("@")
    target = node.css_first(selector) if selector.strip() else node
    if target is None:
        return None
    if attr:
        value = target.attributes.get(attr)
        return value.strip() if value else None
    text = target.text(separator="\n", strip=True)
    return text or None


@register
class HtmlAdapter(Adapter[HtmlConfig]):
    kind = "html"
    Config = HtmlConfig

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return self.config.page_url(self.config.url, self.config.first_page)

    def parse(self, page: FetchedPage) -> ParsedPage:
        try:
            tree = LexborHTMLParser(page.text)
        except Exception as exc:  # selectolax raises plain exceptions on broken input
            raise ParseError(f"HTML could not be parsed: {exc}") from exc
        nodes = tree.css(self.config.item)
        if not nodes and (reason := looks_blocked(page.text)):
            raise BlockedError(reason)
        out = ParsedPage(items=[])
        for node in nodes:
            out.entries += 1
            values = {name: _extract(node, spec) for name, spec in self.config.fields.items()}
            absent = [name for name, value in values.items() if value is None]
            if not values.get("text"):
                out.fail(*absent)
                continue
            out.missing(*absent)
            out.items.append(_raw_item(values, page.url))
        next_url: str | None = None
        if self.config.next:
            root = tree.root
            link = _extract(root, self.config.next) if root is not None else None
            next_url = urljoin(page.url, link) if link else None
        elif nodes:
            next_url = self.config.next_page_url(self.config.url, page.url)
        out.next_url = next_url
        return out


def _raw_item(values: Mapping[str, Any], base_url: str) -> RawItem:
    rating = values.get("rating")
    url = values.get("url")
    return RawItem(
        text=str(values["text"]),
        external_id=values.get("id"),
        url=urljoin(base_url, url) if url else None,
        author=values.get("author"),
        rating=_rating(rating),
        sku=values.get("sku"),
        product=values.get("product"),
        published=values.get("published"),
        parent_external_id=values.get("parent_id"),
    )


def _rating(value: object) -> int | None:
    if value is None:
        return None
    digits = "".join(ch for ch in str(value) if ch.isdigit() or ch == ".")
    try:
        r = round(float(digits))
    except ValueError:
        return None
    return r if 1 <= r <= 5 else None
