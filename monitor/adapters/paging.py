"""Pagination by a ``{page}`` placeholder in the source URL."""

from __future__ import annotations

import re

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
