"""``kind: rsshub`` — a route of an RSSHub instance (the community's feed generator for Chinese platforms).

Config: ``instance: https://rsshub.example`` and ``route: /weibo/keyword/品牌``. Known routes set the
platform: ``/weibo/keyword/:keyword``, ``/weibo/user/:uid``, ``/xiaohongshu/user/:user_id/notes``,
``/douyin/hashtag/:cid``. RSSHub has no JD review routes. ``format: json`` asks for JSON Feed.
RSSHub reports a missing or expired platform cookie with an error page in place of the feed; that
is ``blocked``, and a feed that suddenly has no items is ``broken`` (the pipeline's rule). A Weibo
route's text is in both title and description: it is kept once (see ``kind: feed``). RSSHub's Weibo
output carries no engagement counts.
The cookies belong to the RSSHub instance's own configuration, not to this source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, model_validator

from monitor.adapters.base import (
    Adapter,
    BlockedError,
    FetchedPage,
    FetchError,
    ParsedPage,
    SourceError,
    register,
)
from monitor.adapters.feed import FeedAdapter, html_to_text, parse_feed
from monitor.config.sources import SourceConfig

ROUTES: dict[str, tuple[re.Pattern[str], str]] = {
    "weibo keyword": (re.compile(r"^/weibo/keyword/[^/]+/?$"), "weibo"),
    "weibo user": (re.compile(r"^/weibo/user/\d+(/.*)?$"), "weibo"),
    "xiaohongshu user": (re.compile(r"^/xiaohongshu/user/[0-9a-f]+(/(notes|collect))?/?$"), "xiaohongshu"),
    "douyin hashtag": (re.compile(r"^/douyin/hashtag/\d+/?$"), "douyin"),
}
_COOKIE_TROUBLE = re.compile(r"cookie|登录|login|ConfigNotFound|验证|captcha|风控|forbidden", re.I)


def route_platform(route: str) -> str | None:
    for pattern, platform in ROUTES.values():
        if pattern.match(route):
            return platform
    return None


class RsshubConfig(SourceConfig):
    kind: Literal["rsshub"]
    instance: str = Field(pattern=r"^https?://", description="base URL of the RSSHub instance")
    route: str = Field(pattern=r"^/", description="e.g. /weibo/keyword/品牌")
    format: Literal["rss", "json"] = "rss"

    @model_validator(mode="before")
    @classmethod
    def _platform_from_route(cls, data: Any) -> Any:
        if isinstance(data, dict) and "platform" not in data and isinstance(data.get("route"), str):
            platform = route_platform(data["route"])
            if platform:
                return {**data, "platform": platform}
        return data


def error_message(text: str) -> str:
    """The error line of an RSSHub error page, short."""
    plain = html_to_text(text) if "<" in text else text
    lines = [ln.strip() for ln in plain.splitlines() if ln.strip()]
    pick = next((ln for ln in lines if "error" in ln.lower() or "错误" in ln), lines[0] if lines else "")
    return pick[:200]


@register
class RsshubAdapter(Adapter[RsshubConfig]):
    kind = "rsshub"
    Config = RsshubConfig
    MAPPED = FeedAdapter.MAPPED
    IGNORED: ClassVar[Mapping[str, str]] = {}

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        url = self.config.instance.rstrip("/") + quote(self.config.route, safe="/:@")
        return url + "?format=json" if self.config.format == "json" else url

    def parse(self, page: FetchedPage) -> ParsedPage:
        return parse_feed(page.text)

    def classify_error(self, page: FetchedPage) -> SourceError | None:
        msg = error_message(page.text)
        if _COOKIE_TROUBLE.search(page.text[:5000]):
            return BlockedError(
                f"RSSHub answers HTTP {page.status}: {msg} (the instance's cookie for this platform is "
                "missing or expired: renew it in the RSSHub configuration)"
            )
        return FetchError(f"RSSHub answers HTTP {page.status}: {msg}")
