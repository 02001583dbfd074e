"""``kind: json`` — JSON (or JSONP) APIs mapped with dotted paths.

``items`` is the path to the list of records (wildcards allowed, e.g.
``data.cards[*].card_group[*].mblog``); ``fields`` maps item fields to paths
inside one record (``|`` separates alternatives).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

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
from monitor.adapters.html import ITEM_FIELDS, _rating
from monitor.adapters.jsonpath import first, select
from monitor.adapters.paging import PageParamMixin
from monitor.config.sources import SourceConfig
from monitor.hygiene import body_hint

_JSONP = re.compile(r"^\s*[A-Za-z_$][\w$.]*\s*\((.*)\)\s*;?\s*$", re.S)


def unwrap_jsonp(text: str) -> str:
    """``fetchJSON_comment98({...});`` -> ``{...}``; plain JSON is returned as is."""
    m = _JSONP.match(text)
    return m.group(1) if m else text


def loads(text: str) -> Any:
    """JSON or JSONP to Python; a captcha or login page raises BlockedError, anything else ParseError."""
    body = text.lstrip("\ufeff").strip()
    if not body:
        raise BlockedError(
            "empty response body where JSON was expected (platforms answer so when throttling)"
        )
    try:
        return json.loads(unwrap_jsonp(body))
    except json.JSONDecodeError as exc:
        if body.startswith("<") and (reason := looks_blocked(body)):
            raise BlockedError(reason) from None
        raise ParseError(f"not JSON ({exc.msg} at char {exc.pos}); the answer is {body_hint(body)}") from None


def blocked_reason(doc: Any) -> str | None:
    """Recognise the "you are blocked" envelopes of the platforms in PLATFORMS.md."""
    if not isinstance(doc, dict):
        return None
    if doc.get("ok") == -100:
        return f"login needed or cookie expired (ok:-100, redirect to {_host(doc.get('url'))})"
    if doc.get("error_code") == 54001 or "verify_auth_token" in doc:
        return f"captcha required (error_code {doc.get('error_code')}, verify_auth_token)"
    if "rgv587_flag" in doc:
        return f"anti-bot verification (rgv587_flag={doc.get('rgv587_flag')!r})"
    code = doc.get("code")
    if doc.get("success") is False and code in XHS_BLOCK_CODES:
        return f"{XHS_BLOCK_CODES[code]} (code {code}: {doc.get('msg', '')})"
    nil = doc.get("search_nil_info")
    if isinstance(nil, dict) and nil.get("search_nil_type") == "verify_check":
        return "captcha required (search_nil_type verify_check)"
    return None


XHS_BLOCK_CODES = {
    300011: "account restricted",
    300012: "IP blocked",
    300013: "access too frequent",
    -100: "login expired",
    -101: "not logged in",
}


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def check_blocked(doc: Any) -> None:
    if reason := blocked_reason(doc):
        raise BlockedError(reason)


def _host(url: object) -> str:
    text = str(url or "")
    return text.split("//", 1)[-1].split("/", 1)[0] or "?"


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


def map_record(record: Any, fields: Mapping[str, str], page: ParsedPage) -> RawItem | None:
    page.entries += 1
    values = {name: first(record, spec) for name, spec in fields.items()}
    absent = [name for name, value in values.items() if value is None]
    text = values.get("text")
    if not text:
        page.fail(*absent)
        return None
    page.missing(*absent)
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
    )


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


@register
class JsonAdapter(Adapter[JsonConfig]):
    kind = "json"
    Config = JsonConfig
    # Pinduoduo has no preset: its web API needs a signed anti_content parameter; a merchant's own
    # shop is better served by the official open-platform API through this generic kind.
    MAPPED: ClassVar[Mapping[str, str]] = {
        "error_code": "54001 (captcha) -> blocked",
        "verify_auth_token": "present -> blocked (captcha)",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "anti_content": "a signed request parameter; signing is out of scope",
    }

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        return self.config.page_url(self.config.url, self.config.first_page)

    def parse(self, page: FetchedPage) -> ParsedPage:
        doc = loads(page.text)
        check_blocked(doc)
        records = select(doc, self.config.items)
        if not records and "*" not in self.config.items:
            keys = ", ".join(list(doc)[:8]) if isinstance(doc, dict) else type(doc).__name__
            raise ParseError(f"no {self.config.items!r} in the response (top level: {keys})")
        if len(records) == 1 and isinstance(records[0], list):
            records = records[0]
        if self.config.next:
            nxt = first(doc, self.config.next)
            next_url = str(nxt) if nxt else None
        else:
            next_url = self.config.next_page_url(self.config.url, page.url) if records else None
        out = ParsedPage(items=[], next_url=next_url)
        out.items = [it for r in records if (it := map_record(r, self.config.fields, out)) is not None]
        return out
