"""Pagination helpers: a ``{page}`` placeholder in the source URL, query parameters."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, Field

_PAGE_STATE = re.compile(r"[?&]__page=(\d+)")


class PageParamMixin(BaseModel):
    first_page: int = Field(default=1, ge=0)

    def page_url(self, template: str, page: int) -> str:
        return template.replace("{page}", str(page))

    def page_of(self, template: str, url: str) -> int | None:
        """Recover the page number of ``url`` built from ``template``."""
        if "{page}" not in template:
            return None
        pre, _, post = template.partition("{page}")
        if not url.startswith(pre):
            return None
        rest = url[len(pre) :]
        m = re.match(r"-?\d+", rest)
        if not m or rest[m.end() :] != post:
            return None
        return int(m.group())

    def next_page_url(self, template: str, url: str) -> str | None:
        page = self.page_of(template, url)
        return None if page is None else self.page_url(template, page + 1)


def with_query(url: str, **params: object) -> str:
    """``url`` with the given query parameters set (others kept, order kept)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in params.items()})
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_value(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def query_int(url: str, name: str, default: int) -> int:
    value = query_value(url, name)
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
