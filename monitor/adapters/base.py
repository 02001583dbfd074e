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
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar
from urllib.parse import urldefrag

from pydantic import Field, field_validator

from monitor.config.settings import Strict, parse_duration

Verdict = Literal["ok", "empty", "blocked", "broken", "error"]


class SourceConfig(Strict):
    """Fields every source has. Each kind subclasses this with its own strict fields."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: str
    platform: str = "other"
    enabled: bool = True
    interval: timedelta | None = Field(default=None, description="default: the schedule profile's interval")
    jitter: timedelta | None = None
    timeout: timedelta = timedelta(seconds=20)
    max_pages: int = Field(default=3, ge=1, le=100, description="pages per poll once the source has items")
    backfill_pages: int = Field(default=5, ge=1, le=200, description="pages on the first poll")
    max_body_bytes: int = Field(default=10_000_000, ge=1024)
    headers: dict[str, str] = Field(default_factory=dict, description="values may use ${ENV_VAR}")
    cookie: str | None = Field(default=None, description="Cookie header, usually ${ENV_VAR}; never logged")
    proxy: str | None = Field(default=None, description="http(s)/socks proxy URL, e.g. ${HTTP_PROXY_URL}")
    request_interval: timedelta | None = Field(
        default=None, description="minimum gap between requests to this host (default: the fetcher's)"
    )
    respect_robots: bool = Field(default=True, description="false skips robots.txt (logged at each start)")
    conditional: bool = Field(default=True, description="send If-None-Match / If-Modified-Since")
    sku: str | None = Field(default=None, description="SKU of every item, unless the page says otherwise")
    product: str | None = None

    @field_validator("interval", "jitter", "timeout", "request_interval", mode="before")
    @classmethod
    def _duration(cls, v: object) -> object:
        return None if v is None else parse_duration(v)


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


class PageFetcher(Protocol):
    """What an adapter may fetch through: the daemon's shared, polite HTTP ``Fetcher``."""

    def fetch(
        self, req: HttpRequest, source: SourceConfig, validators: Mapping[str, str] | None = None
    ) -> FetchedPage: ...


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

    def fetch(
        self,
        fetcher: PageFetcher,
        request: HttpRequest,
        validators: Mapping[str, str] | None,
        now: datetime,
    ) -> FetchedPage:
        """Get one page. Default: one request through the shared fetcher. Signed APIs override this to
        sign with the current time (and may make several calls for one page); local-file kinds read
        their files here."""
        return fetcher.fetch(request, self.config, validators)

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
