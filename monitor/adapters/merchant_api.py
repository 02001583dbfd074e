"""What the merchant open-platform kinds share: credentials from the environment or the token store,
a strict config with the platform limits, the platform's errors turned into verdicts, and bans.

Verdicts, whatever the platform calls them:

* rate limited → ``blocked``; the stated ban ("This ban will last 71 more seconds") is remembered per
  app key and no request is sent until it is over (other sources with the same app key wait too);
* session / token invalid or expired → ``blocked``, and the token store is told, which raises a
  "re-authorise" alert to the admins at once;
* permission missing → ``blocked`` naming the API and the permission (package / scope) it needs;
* signature rejected (a wrong secret) → ``blocked`` naming the environment variable to check;
* the platform busy (``isp.*``) → ``error`` (tried again at the next poll).
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

from pydantic import Field, field_validator

from monitor.adapters.base import (
    BlockedError,
    FetchedPage,
    FetchError,
    HttpRequest,
    PageFetcher,
    ParseError,
    looks_blocked,
)
from monitor.adapters.credentials import TokenUnavailable, installed
from monitor.config.settings import ENV_REF, expand_env
from monitor.config.sources import SourceConfig

CHINA = timezone(timedelta(hours=8), "UTC+8")  # the gateways' clock, whatever the daemon's timezone
_BAN_SECONDS = re.compile(r"last\s+(?:for\s+)?(\d+)\s+more\s+seconds?", re.I)


class MerchantApiConfig(SourceConfig):
    """Fields every merchant-API kind has. Secrets must come from the environment (``${VAR}``)."""

    app_key: str = Field(min_length=1, description="the app's key; may be ${VAR}")
    app_secret: str = Field(description="${VAR} holding the app secret (never the secret itself)")
    access_token: str | None = Field(
        default=None, description="${VAR} holding a session/access token; default: the token store"
    )
    shop: str = Field(
        default="default", pattern=r"^[A-Za-z0-9_.\-]+$", description="name under `monitor auth --shop`"
    )
    gateway: str = Field(pattern=r"^https?://")
    authorize_url: str = Field(pattern=r"^https?://", description="OAuth authorize page (monitor auth)")
    token_url: str = Field(pattern=r"^https?://", description="OAuth token endpoint (monitor auth)")
    refresh_url: str | None = Field(default=None, description="OAuth refresh endpoint, if not token_url")
    backfill: timedelta = Field(default=timedelta(days=7), description="how far back the first poll reads")
    overlap: timedelta = Field(default=timedelta(hours=1), description="re-read before the cursor")
    rate_limit_backoff: timedelta = Field(
        default=timedelta(minutes=1), description="wait after a rate limit that states no duration"
    )
    follow_up_ages: list[timedelta] = Field(
        default_factory=lambda: [timedelta(0), timedelta(days=2), timedelta(days=7), timedelta(days=30)],
        description="when to look for a 追评 after a review (first sight, then these ages)",
        max_length=12,
    )
    follow_ups_per_poll: int = Field(default=100, ge=0, le=5000)
    follow_up_queue_max: int = Field(default=10_000, ge=0, le=100_000)
    respect_robots: bool = Field(
        default=False, description="an authenticated call to the platform's own API is not crawling"
    )
    max_pages: int = Field(default=50, ge=1, le=200)
    backfill_pages: int = Field(default=50, ge=1, le=200)

    @field_validator("app_secret")
    @classmethod
    def _secret_from_env(cls, v: str) -> str:
        if not ENV_REF.search(v):
            raise ValueError("put the secret in an environment variable and write ${THAT_VARIABLE} here")
        return v

    @field_validator("access_token")
    @classmethod
    def _token_from_env(cls, v: str | None) -> str | None:
        if v is not None and not ENV_REF.search(v):
            raise ValueError("write ${VARIABLE} naming the environment variable that holds the token")
        return v

    @field_validator("backfill", "overlap", "rate_limit_backoff", mode="before")
    @classmethod
    def _durations(cls, v: object) -> object:
        from monitor.config.settings import parse_duration

        return parse_duration(v)

    @field_validator("follow_up_ages", mode="before")
    @classmethod
    def _ages(cls, v: object) -> object:
        from monitor.config.settings import parse_duration

        return [parse_duration(x) for x in v] if isinstance(v, list) else v


def env_value(text: str, what: str) -> str:
    try:
        return expand_env(text)
    except KeyError as exc:
        raise FetchError(f"environment variable {exc.args[0]} is not set (needed by {what})") from None


class RateLimited(BlockedError):
    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class SessionInvalid(BlockedError):
    """The shop's token was rejected: it must be re-authorised."""


class PermissionMissing(BlockedError):
    pass


class CredentialsRejected(BlockedError):
    """The platform rejects our signature or app key: the secret in the environment is wrong."""


class Bans:
    """Per app key, when the platform lets us call again. Shared by every source in the process."""

    _lock = threading.Lock()
    _until: ClassVar[dict[str, datetime]] = {}

    @classmethod
    def check(cls, key: str, now: datetime) -> None:
        with cls._lock:
            until = cls._until.get(key)
        if until is not None and now < until:
            left = int((until - now).total_seconds()) + 1
            raise RateLimited(
                f"限流中 rate limited: the platform's ban lasts until {_clock(until)} ({left} s more); "
                "no request sent",
                until,
            )

    @classmethod
    def ban(cls, key: str, until: datetime) -> None:
        with cls._lock:
            cls._until[key] = max(until, cls._until.get(key, until))

    @classmethod
    def clear(cls) -> None:
        with cls._lock:
            cls._until.clear()


def _clock(t: datetime) -> str:
    return t.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S UTC+8")


def ban_seconds(message: str) -> int | None:
    m = _BAN_SECONDS.search(message)
    return int(m.group(1)) if m else None


class MerchantCalls:
    """Credential and error plumbing of one merchant-API source (used by the kinds' adapters)."""

    platform: ClassVar[str]
    auth_command: ClassVar[str]

    def __init__(self, config: MerchantApiConfig) -> None:
        self.cfg = config

    @property
    def ban_key(self) -> str:
        return f"{self.platform}:{self.cfg.app_key}"

    def secret(self) -> str:
        return env_value(self.cfg.app_secret, "app_secret")

    def app_key(self) -> str:
        return env_value(self.cfg.app_key, "app_key")

    def token(self, now: datetime) -> str:
        if self.cfg.access_token is not None:
            return env_value(self.cfg.access_token, "access_token")
        provider = installed()
        if provider is None:
            raise TokenUnavailable(
                f"no token store in this process for shop {self.cfg.shop!r}: run the daemon or "
                f"`monitor try-source`, or set access_token: ${{VAR}} on the source"
            )
        return provider.access_token(self.platform, self.cfg.shop, now)

    def rate_limited(self, detail: str, now: datetime, seconds: int | None) -> RateLimited:
        wait = timedelta(seconds=seconds) if seconds is not None else self.cfg.rate_limit_backoff
        until = now + wait
        Bans.ban(self.ban_key, until)
        said = "as the platform says" if seconds is not None else "no duration stated: our default"
        return RateLimited(
            f"限流 rate limited ({detail}); no request before {_clock(until)} "
            f"({int(wait.total_seconds())} s, {said})",
            until,
        )

    def session_invalid(self, detail: str, now: datetime) -> SessionInvalid:
        what = (
            f"re-authorise the shop and put the new token in {self.cfg.access_token}"
            if self.cfg.access_token
            else f"re-authorise: `{self.auth_command} --shop {self.cfg.shop}` (or the console's 店铺授权)"
        )
        provider = installed()
        if provider is not None and self.cfg.access_token is None:
            provider.report_invalid(self.platform, self.cfg.shop, self.cfg.name, detail, now)
        return SessionInvalid(f"店铺授权失效 shop authorisation invalid ({detail}): {what}")

    def permission_missing(self, api: str, permission: str, detail: str) -> PermissionMissing:
        return PermissionMissing(
            f"权限不足 permission missing: {api} needs {permission} ({detail}); grant it to the app in the "
            "platform's open-platform console, then re-authorise the shop if the platform asks"
        )

    def credentials_rejected(self, detail: str) -> CredentialsRejected:
        return CredentialsRejected(
            f"签名/密钥错误 the platform rejects our signature or app key ({detail}): check that "
            f"{self.cfg.app_secret} holds the secret of app {self.cfg.app_key}"
        )


def utc_epoch(t: datetime) -> int:
    return int(t.astimezone(UTC).timestamp())


def china_time(epoch: int) -> str:
    """Epoch seconds as the gateways want them: ``yyyy-MM-dd HH:mm:ss`` in UTC+8."""
    return datetime.fromtimestamp(epoch, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def parse_china_time(value: object) -> int | None:
    """``yyyy-MM-dd HH:mm:ss`` (UTC+8), epoch seconds or milliseconds, to epoch seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value / 1000 if value > 1e11 else value)
    if isinstance(value, str):
        s = value.strip()
        if s.isdigit():
            return parse_china_time(int(s))
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                return int(datetime.strptime(s, fmt).replace(tzinfo=CHINA).timestamp())
            except ValueError:
                continue
    return None


def call_json(fetcher: PageFetcher, config: SourceConfig, req: HttpRequest) -> tuple[FetchedPage, Any]:
    """One gateway call through the shared fetcher; the answer as JSON, or why it is not."""
    page = fetcher.fetch(req, config, None)
    text = page.text.strip()
    if not text:
        raise BlockedError(f"empty response body (HTTP {page.status}) from the gateway")
    try:
        return page, json.loads(text)
    except ValueError:
        if why := looks_blocked(text):
            raise BlockedError(why) from None
        raise ParseError(f"the gateway answered something that is not JSON: {text[:80]!r}") from None
