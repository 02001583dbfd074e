"""What every source has in ``sources/*.yaml``, and how a poll of it is judged.

Each source kind (``monitor.adapters``) subclasses ``SourceConfig`` with its own strict fields.
The loader does not know the kinds: its callers hand in the registry (``SourceKinds``), so the
config layer stays the ground floor and imports no adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Literal, Protocol

from pydantic import Field, field_validator

from monitor.config.settings import Strict, parse_duration

Verdict = Literal["ok", "empty", "blocked", "broken", "error"]
"""How a poll is judged: ``ok`` items (or nothing new), ``empty`` a page with no entries, ``blocked``
login/captcha/rate limit, ``broken`` the page is not in the expected shape, ``error`` network trouble."""


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
    max_follow_ups: int = Field(
        default=10,
        ge=0,
        le=100,
        description="follow-up requests per poll that complete truncated items (Weibo long text, "
        "Xiaohongshu note detail); 0 keeps them truncated",
    )
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


class SourceKind(Protocol):
    """What the loader needs of a registered kind: its config schema, and the first URL it would fetch
    (checked against the network policy at load). An adapter class has both."""

    Config: ClassVar[type[SourceConfig]]
    NETWORK: ClassVar[bool]  # False: it reads local files, and its URLs need no network check

    def __init__(self, config: Any) -> None: ...

    def first_url(self, cursor: Mapping[str, Any]) -> str: ...


SourceKinds = Mapping[str, type[SourceKind]]
"""``kind`` word -> the class registered for it; ``monitor.adapters.registry()`` is one."""
