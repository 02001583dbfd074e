"""Schema of ``monitor.yaml``: database, timezone, channels, routing, schedule profiles, web."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from monitor.config.netpolicy import NetworkPolicy, parse_allow_entry
from monitor.config.types import AlertKind, Severity

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """``30s``, ``5m``, ``2h``, ``1d`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError("expected a duration like 30s, 5m, 2h or 1d")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _optional_duration(value: object) -> timedelta | None:
    return None if value is None else parse_duration(value)


# A duration field: `30s`, `5m`, `2h`, `1d` or seconds in YAML, a timedelta in Python.
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
# The same, where null switches the feature off.
OptionalDuration = Annotated[timedelta | None, BeforeValidator(_optional_duration)]


def expand_env(text: str) -> str:
    """Replace ``${VAR}``; raise KeyError naming the first unset variable."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in os.environ:
            raise KeyError(name)
        return os.environ[name]

    return ENV_REF.sub(sub, text)


def mask_secrets(url: str) -> str:
    """Show a channel URL without its secrets: env refs stay as names, tokens become ***."""
    masked = ENV_REF.sub(lambda m: "${" + m.group(1) + "}", url)
    return re.sub(r"(://)([^/@${}]{6,})", lambda m: m.group(1) + m.group(2)[:2] + "***", masked)


class Channel(Strict):
    """A named destination; one or more apprise URLs (sent to all)."""

    urls: list[str] = Field(min_length=1)
    description: str = ""
    max_length: int | None = Field(default=None, ge=200, description="split messages longer than this")
    fallback: str | None = Field(default=None, description="channel to use when this one keeps failing")

    @field_validator("urls")
    @classmethod
    def _has_scheme(cls, urls: list[str]) -> list[str]:
        for u in urls:
            if "://" not in u:
                raise ValueError(f"{u!r} is not an apprise URL (scheme://...)")
        return urls

    def env_vars(self) -> list[str]:
        return [m.group(1) for u in self.urls for m in ENV_REF.finditer(u)]


class Match(Strict):
    severity: list[Severity] | None = None
    category: list[str] | None = None
    rule: list[str] | None = None
    kind: list[AlertKind] | None = None
    platform: list[str] | None = None
    source: list[str] | None = None
    sku: list[str] | None = None
    grade: list[int] | None = None


class Escalation(Strict):
    """Not acknowledged ``after`` this long since the alert fired: notify ``channels`` too."""

    after: Duration
    channels: list[str] = Field(min_length=1)


class Route(Strict):
    """A node of the routing tree: the deepest matching node's channels receive the alert."""

    name: str = ""
    match: Match = Match()
    channels: list[str] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue", description="also try the next sibling route")
    routes: list[Route] = Field(default_factory=list, description="child routes, tried in order")
    escalate: list[Escalation] = Field(default_factory=list, description="tiers while nobody acknowledges")

    @model_validator(mode="after")
    def _has_target(self) -> Route:
        if not self.channels and not self.routes:
            raise ValueError("a route needs channels or child routes")
        return self


class Routing(Strict):
    default: list[str] = Field(default_factory=lambda: ["console"])
    routes: list[Route] = Field(default_factory=list)
    admins: list[str] = Field(default_factory=lambda: ["console"], description="source-health alerts")
    escalate: list[Escalation] = Field(default_factory=list, description="escalation for the default route")

    def all_routes(self) -> Iterator[tuple[list[str | int], Route]]:
        """Every route of the tree with its key path (``routing.routes[0].routes[1]`` …), parents first."""

        def walk(routes: list[Route], path: list[str | int]) -> Iterator[tuple[list[str | int], Route]]:
            for i, r in enumerate(routes):
                yield [*path, i], r
                yield from walk(r.routes, [*path, i, "routes"])

        return walk(self.routes, ["routing", "routes"])


class QuietHours(Strict):
    """Local times between which only ``except_severity`` alerts are sent at once; the rest wait."""

    start: str = Field(default="22:00", pattern=r"^\d{2}:\d{2}$")
    end: str = Field(default="08:00", pattern=r"^\d{2}:\d{2}$")
    except_severity: list[Severity] = Field(default=["critical"])


class Promotion(Strict):
    """A calendar window (month-day, inclusive) during which the promotion profile applies."""

    name: str
    start: str = Field(pattern=r"^\d{2}-\d{2}$")
    end: str = Field(pattern=r"^\d{2}-\d{2}$")

    @model_validator(mode="after")
    def _valid_days(self) -> Promotion:
        for md in (self.start, self.end):
            month, day = (int(x) for x in md.split("-"))
            date(2024, month, day)  # 2024 is a leap year: accepts 02-29
        return self

    def contains(self, day: date) -> bool:
        md = f"{day.month:02d}-{day.day:02d}"
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end  # window across new year


class Profile(Strict):
    interval: Duration = timedelta(minutes=10)
    jitter: Duration = timedelta(seconds=30)
    interval_factor: float = Field(default=1.0, gt=0, le=10)


class Schedule(Strict):
    normal: Profile = Profile()
    promotion: Profile = Profile(interval=timedelta(minutes=2), interval_factor=0.25)
    backoff_after: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "failed polls in a row (blocked, broken, error) after which a source is polled less often: "
            "its interval doubles with each further failure, up to backoff_max; a poll that works resets it"
        ),
    )
    backoff_max: Duration = Field(
        default=timedelta(hours=1), description="the longest a failing source waits between polls"
    )
    sick_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description=(
            "the share of `workers` that polls of sick sources (last poll failed, or answered slower than "
            "slow_after) may hold at once, at least one worker; while it is full their due polls are "
            "skipped, not queued ahead of healthy sources"
        ),
    )
    slow_after: Duration = Field(
        default=timedelta(seconds=5),
        gt=timedelta(0),
        description=(
            "outside the sick share (healthy and new sources) a page must answer within this, retries "
            "included, or the poll ends as an error and the source is sick; polls in the share wait the "
            "source's full timeout"
        ),
    )

    promotions: list[Promotion] = Field(
        default_factory=lambda: [
            Promotion(name="年货节", start="01-10", end="01-25"),
            Promotion(name="618", start="05-31", end="06-20"),
            Promotion(name="双11", start="10-20", end="11-12"),
            Promotion(name="双12", start="12-08", end="12-13"),
        ]
    )

    def profile_for(self, day: date) -> tuple[str, Profile]:
        for promo in self.promotions:
            if promo.contains(day):
                return f"promotion:{promo.name}", self.promotion
        return "normal", self.normal


BurstScope = Literal["rule_sku", "rule", "sku", "product", "platform", "store"]
BURST_SCOPES: tuple[BurstScope, ...] = ("rule_sku", "rule", "sku", "product", "platform", "store")
# Every scope is on by default: the detector judges each against its own learned negative share,
# so a busy store's first day is no longer noise (platform scopes only exist with 2+ platforms).
DEFAULT_BURST_SCOPES: tuple[BurstScope, ...] = BURST_SCOPES


class Alerting(Strict):
    group_wait: Duration = Field(
        default=timedelta(seconds=30), description="hold keyword alerts this long so a burst can absorb them"
    )
    group_interval: Duration = Field(
        default=timedelta(minutes=30), description="at most one update message per alert in this time"
    )
    repeat_interval: Duration = Field(
        default=timedelta(hours=1), description="reminders while unacknowledged"
    )
    resolve_after: Duration = Field(
        default=timedelta(hours=6), description="a keyword alert with no new item for this long resolves"
    )
    burst_min_count: int = Field(
        default=5, ge=2, le=10_000, description="never a burst with fewer negative items in the window"
    )
    burst_window: Duration = Field(
        default=timedelta(hours=1),
        description="the sliding window bursts are counted in (it moves every 1/12 of its length)",
    )
    burst_baseline: Duration = Field(
        default=timedelta(days=14),
        description="how much history normal is learned from (level, daily and weekly profile, noise)",
    )
    burst_scopes: list[BurstScope] = Field(
        default_factory=lambda: list(DEFAULT_BURST_SCOPES),
        description="where bursts are looked for",
    )
    burst_new_problems: bool = Field(
        default=True,
        description="新问题: raise an alert when a phrase no rule covers rises far above its own baseline "
        "among negative items",
    )
    blind_after: int = Field(default=3, ge=1, description="non-ok polls in a row before a source-blind alert")
    fallback_after: int = Field(
        default=3, ge=1, description="failed attempts before the fallback channel is used"
    )
    quiet_hours: QuietHours | None = None
    evaluate_every: Duration = Field(default=timedelta(seconds=30), description="lifecycle and burst checks")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        if isinstance(data, dict) and "burst_bucket" in data:
            raise ValueError("burst_bucket was replaced by burst_window (a sliding window, e.g. 1h)")
        return data

    @field_validator("burst_window")
    @classmethod
    def _window(cls, v: timedelta) -> timedelta:
        if not timedelta(minutes=5) <= v <= timedelta(days=1):
            raise ValueError("burst_window must be between 5m and 1d")
        return v

    @field_validator("burst_baseline")
    @classmethod
    def _baseline(cls, v: timedelta) -> timedelta:
        if v < timedelta(days=2):
            raise ValueError("burst_baseline must be at least 2d (normal is learned from it)")
        return v


def burst_window_errors(settings: Settings, sources: Mapping[str, object]) -> list[str]:
    """Polls further apart than the burst window: a burst could fall between two of them unseen by
    the open window (it would still count, late, but it could not be judged while it happens)."""
    window = settings.alerting.burst_window
    out = []
    for name, profile in (("normal", settings.schedule.normal), ("promotion", settings.schedule.promotion)):
        if profile.interval > window:
            out.append(
                f"burst_window {_span(window)} is shorter than the {name} poll interval "
                f"{_span(profile.interval)}"
            )
    for name, src in sources.items():
        interval = getattr(src, "interval", None)
        if isinstance(interval, timedelta) and interval > window:
            out.append(
                f"burst_window {_span(window)} is shorter than source {name}'s interval {_span(interval)}"
            )
    return out


def _span(t: timedelta) -> str:
    s = int(t.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0 and s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def _allow_entry(entry: str) -> str:
    parse_allow_entry(entry)
    return entry


AllowEntry = Annotated[str, AfterValidator(_allow_entry)]


class Fetch(Strict):
    """Politeness shared by every source of this daemon (a source's ``request_interval`` may only add)."""

    per_host: int = Field(default=1, ge=1, le=32, description="concurrent requests to one host")
    min_interval: Duration = Field(default=timedelta(seconds=1), description="between requests to one host")
    retries: int = Field(default=2, ge=0, le=10, description="on connection errors, 5xx, 429, 432, 202")
    allow_private: list[AllowEntry] = Field(
        default_factory=list,
        description="private addresses sources may reach (IPs, networks, host names); default: public only",
    )
    catchup_pages: int = Field(
        default=10, ge=1, le=200, description="extra pages per poll to catch up after an interruption"
    )
    catchup_max_pages: int = Field(
        default=200, ge=1, le=10_000, description="pages spent catching up before the gap is recorded"
    )

    @property
    def network(self) -> NetworkPolicy:
        return NetworkPolicy.allowing(self.allow_private)


class Analysis(Strict):
    sentiment_model: str | None = Field(default=None, description="a model from `monitor sentiment train`")
    problem_model: str | None = Field(
        default=None, description="a 模型建议 model from `monitor rules train-suggest` (default: shipped)"
    )
    workers: int = Field(
        default=1, ge=0, le=32, description="analysis processes; 0 analyzes in the poll thread"
    )


class Login(Strict):
    """Login throttling (``monitor.admin.logins``), per account name and per client address. After
    ``max_failures`` failed logins the account is locked for ``lockout``; each further failure after a
    lock doubles it, up to ``max_lockout``. Failures are forgotten ``forget_after`` the last one, and a
    successful login forgets the account's. Attempts while locked are refused without being checked."""

    max_failures: int = Field(default=5, ge=1, le=100, description="failed logins of one account name")
    max_failures_per_address: int = Field(
        default=20, ge=1, le=10000, description="failed logins from one client address (IPv6: one /64)"
    )
    lockout: Duration = Field(default=timedelta(minutes=1), description="the first lock")
    max_lockout: Duration = Field(default=timedelta(minutes=15), description="the longest lock")
    forget_after: Duration = Field(default=timedelta(hours=1), description="since the last failure")

    @model_validator(mode="after")
    def _order(self) -> Login:
        if not timedelta(seconds=1) <= self.lockout <= self.max_lockout:
            raise ValueError("lockout must be at least 1s and at most max_lockout")
        if self.forget_after < self.max_lockout:
            raise ValueError("forget_after must be at least max_lockout")
        return self


class Web(Strict):
    """The console, its sessions and the daily/weekly reports it sends."""

    bind: str = "127.0.0.1:8080"
    base_url: str = Field(default="http://127.0.0.1:8080", description="https here makes cookies Secure")
    language: Literal["zh", "en"] = Field(default="zh", description="console language unless ?lang= / cookie")
    session_ttl: Duration = Field(default=timedelta(hours=12), description="a login lasts this long")
    login: Login = Login()
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="reverse proxies (addresses or networks) whose X-Forwarded-For names the client",
    )
    report_time: str | None = Field(
        default="09:00",
        pattern=r"^\d{2}:\d{2}$",
        description="local time the daily report for yesterday is sent (weekly on Mondays); null: never",
    )
    report_channels: list[str] | None = Field(
        default=None, description="channels receiving the reports; default: routing.default"
    )
    departments: dict[str, str] = Field(
        default_factory=lambda: {
            "商品质量": "供应链/品控",
            "物流时效": "仓储物流",
            "服务态度": "客服",
            "价格": "运营",
            "其他": "运营",
            "counterfeit": "法务",
        },
        description="rule category or dimension → department that must act (weekly review)",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return v

    @field_validator("bind")
    @classmethod
    def _bind(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("expected host:port")
        return v


class Cluster(Strict):
    """Several ``monitor run`` replicas on one PostgreSQL database share the polls (``monitor.cluster``).

    SQLite is single-process: a second daemon on the same file stops with an error.
    """

    enabled: bool | None = Field(
        default=None,
        description="share work through the database; default: on for PostgreSQL, off for SQLite",
    )
    lease: Duration = Field(
        default=timedelta(seconds=60),
        description="a claimed poll is its replica's this long; a dead replica's work moves on after it",
    )
    claim_every: Duration = Field(
        default=timedelta(seconds=1), description="how often a replica claims due polls"
    )
    replica_id: str | None = Field(default=None, max_length=120, description="default: host:pid")

    @model_validator(mode="after")
    def _sane(self) -> Cluster:
        if self.lease < timedelta(seconds=2) or self.claim_every <= timedelta(0):
            raise ValueError("lease must be at least 2s and claim_every positive")
        if self.claim_every * 2 > self.lease:
            raise ValueError("claim_every must be at most half the lease (leases are renewed on each claim)")
        return self


class Heartbeat(Strict):
    """A dead-man's switch: ping ``url`` (healthchecks.io style, HTTP POST) or send to ``channel``
    every ``every`` while polls succeed; the receiver alarms when the pings stop."""

    url: str | None = Field(default=None, pattern=r"^https?://")
    channel: str | None = None
    every: Duration = timedelta(minutes=5)

    @model_validator(mode="after")
    def _one_target(self) -> Heartbeat:
        if (self.url is None) == (self.channel is None):
            raise ValueError("give exactly one of url or channel")
        if self.every < timedelta(seconds=1):
            raise ValueError("every must be at least 1s")
        return self


class Observability(Strict):
    """Metrics, the heartbeat and the self-alert (``monitor.observability``)."""

    metrics: bool = Field(default=True, description="serve Prometheus metrics at /metrics")
    heartbeat: Heartbeat | None = None
    stale_after: OptionalDuration = Field(
        default=timedelta(minutes=30),
        description="system alert to routing.admins when no poll succeeded for this long; null: never",
    )


from monitor.config.oncall import Chat, OnCall  # noqa: E402  (it uses Match, defined above)


class Settings(Strict):
    data_dir: str = "data"
    database: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    timezone: str = "Asia/Shanghai"
    sources_dir: str = "sources"
    rules_dir: str = "rules"
    reload_check: Duration = timedelta(seconds=2)
    deliver_every: Duration = timedelta(seconds=5)
    workers: int = Field(default=4, ge=1, le=64, description="concurrent source polls")
    switch_interval: Duration = Field(
        default=timedelta(milliseconds=5),
        gt=timedelta(0),
        le=timedelta(seconds=1),
        description=(
            "how long one thread of the daemon may hold Python's interpreter lock while others wait "
            "(sys.setswitchinterval; 5ms is Python's own default): shorter lets alert delivery cut in "
            "sooner while many polls run, at some CPU per poll (bench/RESULTS.md)"
        ),
    )
    delivery_first: Duration = Field(
        default=timedelta(milliseconds=100),
        ge=timedelta(0),
        le=timedelta(seconds=5),
        description=(
            "while a delivery round woken by new notifications runs, polls pause between their stages "
            "for at most this long from the round's start, so the alert leaves first (0s: never pause)"
        ),
    )
    channels: dict[str, Channel] = Field(default_factory=lambda: {"console": Channel(urls=["console://"])})
    routing: Routing = Routing()
    schedule: Schedule = Schedule()
    alerting: Alerting = Alerting()
    analysis: Analysis = Analysis()
    fetch: Fetch = Fetch()
    web: Web = Web()
    cluster: Cluster = Cluster()
    observability: Observability = Observability()
    oncall: OnCall = OnCall()
    chat: Chat = Chat()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r}") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
