"""The source plugin contract.

A source kind is one module in ``monitor.adapters`` holding one ``Adapter``
subclass whose ``kind`` is the word admins write in ``sources/*.yaml``. It owns a
strict config schema and knows three things: which request to make first, how to
turn one fetched page into raw items (plus the next page's URL, if any), and what
to remember between polls (the cursor). A kind whose lists truncate items also
says how to complete one (``follow_up`` / ``complete``). HTTP, politeness, dedupe
and storage are not its business.

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
from typing import Any, ClassVar, Generic, Protocol, TypeVar
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
    """One item as the page gives it, before normalization.

    ``sku`` is the variant the buyer bought (JD's ``referenceId``), ``product`` the product the item
    is about (the configured product id unless the source names another). Well-known ``attrs``:
    ``images`` (https URLs), ``image_only`` (no text, only pictures: kept, never dropped),
    ``truncated`` (the list cut the text; a follow-up completes it), ``pinned`` (置顶, out of time order).
    """

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
    """What one page held. Besides the items, the page accounts for every entry it saw, so a shape
    change (entries there, none parsed) is told apart from a quiet day (no entries)::

        entries   entries of the item type (reviews, posts, notes, comments), parsed or not
        failed    of those, how many yielded no item for want of fields (named in missing_fields)
        skipped   entries deliberately not taken, by reason (ad card, related-word card, ...)
    """

    items: list[RawItem]
    next_url: str | None = None
    verdict: Verdict | None = None  # set when the adapter recognises a blocked/broken page
    reason: str = ""
    missing_fields: dict[str, int] = field(default_factory=dict)
    cursor: dict[str, Any] = field(default_factory=dict)  # paging tokens the platform gave (since_id ...)
    entries: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def missing(self, *names: str) -> None:
        """Fields absent from an entry that still became an item."""
        for name in names:
            self.missing_fields[name] = self.missing_fields.get(name, 0) + 1

    def fail(self, *names: str) -> None:
        """An entry of the item type that yielded no item because ``names`` were absent or empty."""
        self.failed += 1
        self.missing(*names)

    def require(self, **present: object) -> bool:
        """True if every named field is there; else the entry failed for want of the others."""
        absent = [name for name, value in present.items() if not value]
        if absent:
            self.fail(*absent)
        return not absent

    def skip(self, reason: str) -> None:
        """An entry deliberately not taken (not of the item type, or an ad)."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def shape_changed(self) -> bool:
        """Entries of the item type were there and none became an item: the page's shape changed."""
        return self.failed > 0 and not self.items

    def shape_reason(self) -> str:
        missing = ", ".join(f"{k} ×{v}" for k, v in sorted(self.missing_fields.items())) or "?"
        return (
            f"页面格式变了 shape changed: {self.failed} of {self.entries} entries yielded no item "
            f"(missing: {missing})"
        )


@dataclass(frozen=True)
class FollowUp:
    """A second request that completes a truncated item (Weibo's long text, a note's detail).

    ``key`` names the answer: one key, one answer (the item id, plus its edit count where the
    platform counts edits), so a completed item is never fetched twice.
    """

    key: str
    request: HttpRequest
    what: str  # "long text", "note detail": for messages


@dataclass(frozen=True)
class Completion:
    """What a follow-up answer adds to its item: the full text, a precise time, more attrs."""

    text: str
    published: str | int | float | datetime | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)


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
    # False for a kind that reads local files: its URLs are not checked against the network policy
    NETWORK: ClassVar[bool] = True

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

    def follow_up(self, item: RawItem) -> FollowUp | None:
        """The request that completes ``item`` when the list gave it truncated, else None."""
        return None

    def complete(self, item: RawItem, page: FetchedPage) -> Completion:
        """Read the follow-up answer for ``item``. Raise ParseError or BlockedError."""
        raise ParseError(f"source kind {self.kind!r} has no follow-up")


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
