"""``kind: json`` — JSON (or JSONP) APIs mapped with dotted paths.

``items`` is the path to the list of records (wildcards allowed, e.g.
``data.cards[*].card_group[*].mblog``); ``fields`` maps item fields to paths
inside one record (``|`` separates alternatives).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from monitor.adapters.base import (
    Adapter,
    FetchedPage,
    ParsedPage,
    ParseError,
    RawItem,
    SourceConfig,
    register,
)
from monitor.adapters.html import ITEM_FIELDS, _rating
from monitor.adapters.jsonpath import first, select
from monitor.adapters.paging import PageParamMixin

_JSONP = re.compile(r"^\s*[A-Za-z_$][\w$.]*\s*\((.*)\)\s*;?\s*$", re.S)


def unwrap_jsonp(text: str) -> str:
    """``fetchJSON_comment98({...});`` -> ``{...}``; plain JSON is returned as is."""
    m = _JSONP.match(text)
    return m.group(1) if m else text


def loads(text: str) -> Any:
    try:
        return json.loads(unwrap_jsonp(text.lstrip("\ufeff")))
    except json.JSONDecodeError as exc:
        snippet = text[:80].replace("\n", " ")
        raise ParseError(f"not JSON ({exc.msg} at char {exc.pos}); body starts {snippet!r}") from None


class JsonConfig(SourceConfig, PageParamMixin):
    kind: Literal["json"]
    url: str
    items: str = Field(description="path to the list of records")
    fields: dict[str, str]
    next: str | None = Field(default=None, description="path to the next page's URL in the response")

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = set(v) - set(ITEM_FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; known: {', '.join(ITEM_FIELDS)}")
        if "text" not in v:
            raise ValueError("a 'text' field is required")
        return v


def map_record(record: Any, fields: Mapping[str, str], missing: dict[str, int]) -> RawItem | None:
    values = {name: first(record, spec) for name, spec in fields.items()}
    for name, value in values.items():
        if value is None:
            missing[name] = missing.get(name, 0) + 1
    text = values.get("text")
    if not text:
        return None
    ext = values.get("id")
    return RawItem(
        text=str(text),
        external_id=str(ext) if ext is not None else None,
        url=_str(values.get("url")),
        author=_str(values.get("author")),
        rating=_rating(values.get("rating")),
        sku=_str(values.get("sku")),
        product=_str(values.get("product")),
        published=values.get("published"),
        parent_external_id=_str(values.get("parent_id")),
        attrs={"raw": record} if isinstance(record, dict) else {},
    )


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


@register
class JsonAdapter(Adapter[JsonConfig]):
    kind = "json"
    Config = JsonConfig

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return self.config.page_url(self.config.url, self.config.first_page)

    def parse(self, page: FetchedPage) -> ParsedPage:
        doc = loads(page.text)
        records = select(doc, self.config.items)
        if len(records) == 1 and isinstance(records[0], list):
            records = records[0]
        missing: dict[str, int] = {}
        items = [it for r in records if (it := map_record(r, self.config.fields, missing)) is not None]
        if self.config.next:
            nxt = first(doc, self.config.next)
            next_url = str(nxt) if nxt else None
        else:
            next_url = self.config.next_page_url(self.config.url, page.url) if records else None
        return ParsedPage(items=items, next_url=next_url, missing_fields=missing)
