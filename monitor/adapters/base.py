"""The source plugin contract.

A source kind is one module in ``monitor.adapters`` holding one ``Adapter``
subclass whose ``kind`` is the word admins write in ``sources/*.yaml``. It owns a
strict config schema and knows three things: which request to make first, how to
turn one fetched page into raw items (plus the next page's URL, if any), and what
to remember between polls (the cursor). HTTP, politeness, dedupe and storage are
not its business.

Exceptions form one tree, so callers can catch ``SourceError`` and read the verdict::

    SourceError
    ├── FetchError       network failure, timeout, HTTP 5xx after retries, oversized body -> "error"
    │   └── HttpStatusError   an HTTP status the fetcher will not retry; carries the page
    ├── BlockedError     login wall, captcha, rate limit, robots.txt -> "blocked"
    │   └── RobotsDisallowed
    └── ParseError       the page is not in the expected shape -> "broken"
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urldefrag

from monitor.config.sources import SourceConfig, Verdict

C = TypeVar("C", bound=SourceConfig)


@dataclass(frozen=True)
class HttpRequest:
    """What to send. ``url`` may carry a ``#fragment`` naming the page; it is never sent."""

    url: str
    method: str = "GET"
    json_body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)  # added on the wire only; may use ${ENV_VAR}

    @property
    def wire_url(self) -> str:
        return urldefrag(self.url)[0]


@dataclass(frozen=True)
class FetchedPage:
    url: str
    status: int
    headers: Mapping[str, str]
    text: str
    final_url: str = ""
    elapsed_ms: float = 0.0
    size: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class RawItem:
    """One item as the page gives it, before normalization."""

    text: str
    external_id: str | None = None
    url: str | None = None
    author: str | None = None
    rating: int | None = None
    sku: str | None = None
    product: str | None = None
    published: str | int | float | datetime | None = None
    parent_external_id: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    version: str | None = None  # changes when the platform amends the item (a 追评 arrives, an edit)


@dataclass
class ParsedPage:
    items: list[RawItem]
    next_url: str | None = None
    verdict: Verdict | None = None  # set when the adapter recognises a blocked/broken page
    reason: str = ""
    missing_fields: dict[str, int] = field(default_factory=dict)
    cursor: dict[str, Any] = field(default_factory=dict)  # paging tokens the platform gave (since_id ...)


class SourceError(Exception):
    """Base of everything a source can fail with; ``verdict`` says how the poll is judged."""

    verdict: ClassVar[Verdict] = "error"


class FetchError(SourceError):
    """Network-level failure (an ``error`` verdict)."""


class HttpStatusError(FetchError):
    """An HTTP error status; the page is kept so the adapter can recognise a platform's error body."""

    def __init__(self, message: str, page: FetchedPage) -> None:
        super().__init__(message)
        self.page = page


class BlockedError(SourceError):
    """The platform refuses us: login wall, captcha, rate limit (a ``blocked`` verdict)."""

    verdict = "blocked"


class RobotsDisallowed(BlockedError):
    """robots.txt disallows the URL and the source does not say ``respect_robots: false``."""


class ParseError(SourceError):
    """The page is not in the shape the adapter expects (a ``broken`` verdict)."""

    verdict = "broken"


_CAPTCHA = re.compile(r"验证码|安全验证|captcha|滑块|请登录|扫码登录|passport\.|login\.taobao", re.I)


def looks_blocked(text: str) -> str | None:
    """A reason if ``text`` (a body where data was expected) is a captcha or login page."""
    head = text[:20000]
    if m := _CAPTCHA.search(head):
        return f"a login or captcha page instead of data (found {m.group(0)!r})"
    return None


class Adapter(ABC, Generic[C]):
    """A source kind. Subclasses set ``kind`` and ``Config`` and implement ``first_url`` and ``parse``.

    ``MAPPED`` and ``IGNORED`` document, per platform field, where it goes or why it is dropped;
    the contract tests check them against the field list in PLATFORMS.md.
    """

    kind: ClassVar[str]
    Config: ClassVar[type[SourceConfig]]
    MAPPED: ClassVar[Mapping[str, str]] = {}
    IGNORED: ClassVar[Mapping[str, str]] = {}

    def __init__(self, config: C) -> None:
        self.config = config

    @abstractmethod
    def first_url(self, cursor: Mapping[str, Any]) -> str:
        """The URL of the newest page, given the stored cursor."""

    @abstractmethod
    def parse(self, page: FetchedPage) -> ParsedPage:
        """Items on ``page`` and the next page's URL. Raise ParseError or BlockedError."""

    def request(self, url: str) -> HttpRequest:
        """The request for a page URL (POST APIs build their body here). Default: GET ``url``."""
        return HttpRequest(url)

    def classify_error(self, page: FetchedPage) -> SourceError | None:
        """A more precise failure for an HTTP error page (e.g. a platform's "cookie expired" body)."""
        return None

    def next_cursor(
        self, cursor: Mapping[str, Any], items: list[RawItem], pages: list[ParsedPage]
    ) -> dict[str, Any]:
        """The cursor to store after a successful poll: by default the last page's paging tokens."""
        out = dict(cursor)
        for p in pages:
            out.update(p.cursor)
        return out

    def request_headers(self) -> dict[str, str]:
        return {}


_REGISTRY: dict[str, type[Adapter[Any]]] = {}


def register(cls: type[Adapter[Any]]) -> type[Adapter[Any]]:
    if cls.kind in _REGISTRY:
        raise ValueError(f"source kind {cls.kind!r} registered twice")
    _REGISTRY[cls.kind] = cls
    return cls


def registry() -> Mapping[str, type[Adapter[Any]]]:
    import monitor.adapters  # noqa: F401  (imports every built-in kind)

    return _REGISTRY


def build(config: SourceConfig) -> Adapter[Any]:
    return registry()[config.kind](config)


def min_interval(config: SourceConfig, default: timedelta) -> timedelta:
    return config.interval or default
