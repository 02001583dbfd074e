"""The source plugin contract.

A source kind is one module in ``monitor.adapters`` holding one ``Adapter``
subclass whose ``kind`` is the word admins write in ``sources/*.yaml``. It owns a
strict config schema and knows two things: which URL to fetch first, and how to
turn one fetched page into raw items (plus the next page's URL, if any).
HTTP, politeness, dedupe and storage are not its business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Literal, TypeVar

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
    max_pages: int = Field(default=3, ge=1, le=100)
    max_body_bytes: int = Field(default=10_000_000, ge=1024)
    headers: dict[str, str] = Field(default_factory=dict, description="values may use ${ENV_VAR}")
    sku: str | None = Field(default=None, description="SKU of every item, unless the page says otherwise")
    product: str | None = None

    @field_validator("interval", "jitter", "timeout", mode="before")
    @classmethod
    def _duration(cls, v: object) -> object:
        return None if v is None else parse_duration(v)


C = TypeVar("C", bound=SourceConfig)


@dataclass(frozen=True)
class FetchedPage:
    url: str
    status: int
    headers: Mapping[str, str]
    text: str
    final_url: str = ""
    elapsed_ms: float = 0.0


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


@dataclass
class ParsedPage:
    items: list[RawItem]
    next_url: str | None = None
    verdict: Verdict | None = None  # set when the adapter recognises a blocked/broken page
    reason: str = ""
    missing_fields: dict[str, int] = field(default_factory=dict)


class ParseError(Exception):
    """The page is not in the shape the adapter expects (a ``broken`` verdict)."""


class BlockedError(Exception):
    """The platform refuses us: login wall, captcha, rate limit (a ``blocked`` verdict)."""


class Adapter(ABC, Generic[C]):
    kind: ClassVar[str]
    Config: ClassVar[type[SourceConfig]]

    def __init__(self, config: C) -> None:
        self.config = config

    @abstractmethod
    def first_url(self, cursor: Mapping[str, Any]) -> str:
        """The URL of the newest page, given the stored cursor."""

    @abstractmethod
    def parse(self, page: FetchedPage) -> ParsedPage:
        """Items on ``page`` and the next page's URL. Raise ParseError or BlockedError."""

    def next_cursor(self, cursor: Mapping[str, Any], items: list[RawItem]) -> dict[str, Any]:
        """The cursor to store after a successful poll. Default: unchanged."""
        return dict(cursor)

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
