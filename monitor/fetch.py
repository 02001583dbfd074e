"""HTTP fetching for sources: politeness (per-host concurrency and spacing, robots.txt), timeouts,
retries with backoff and jitter, conditional GET, a body cap, encoding detection, proxies, secrets
from the environment, and recognition of blocked responses. Adapters never talk HTTP themselves.

One ``Fetcher`` is shared by every source of a daemon, so its host gates space out requests of
different sources that hit the same host.
"""

from __future__ import annotations

import codecs
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from monitor import __version__
from monitor.adapters.base import (
    BlockedError,
    FetchedPage,
    FetchError,
    HttpRequest,
    HttpStatusError,
    ParseError,
    RobotsDisallowed,
)
from monitor.config.netpolicy import NetworkPolicy
from monitor.config.settings import ENV_REF, expand_env
from monitor.config.sources import SourceConfig
from monitor.netguard import AddressRefused, GuardedTransport

__all__ = [
    "Blocked",
    "FetchError",
    "Fetcher",
    "HttpStatusError",
    "Hurry",
    "SlowAnswer",
    "UnsafeTarget",
    "decode",
    "decode_body",
]

log = logging.getLogger(__name__)
Blocked = BlockedError  # the name the pipeline and CLI have always used

ROBOTS_AGENT = "opinion-monitor"
USER_AGENT = f"{ROBOTS_AGENT}/{__version__} (+https://github.com/opinion-monitor)"
RETRY_STATUS = frozenset({202, 429, 432, 500, 502, 503, 504})
RATE_LIMIT_STATUS = frozenset({429, 432})
BLOCKED_STATUS = frozenset({401, 403, 418, 461, 471})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding=["']([\w-]+)""", re.I)
_BLOCK_HOSTS = ("passport.jd.com", "passport.weibo.cn", "passport.weibo.com", "login.taobao.com",
                "login.tmall.com", "sec.taobao.com")  # fmt: skip
_GBK_ALIASES = ("gbk", "gb2312", "gb-2312", "cp936", "x-gbk", "gb_2312-80")
_ROBOTS_MAX = 512_000
# Above this share of undecodable non-ASCII characters in the best charset, and this many, the answer is
# not text at all (random or compressed bytes read as GB18030 still have ~27 %; real pages a few bytes).
_BAD_SHARE = 0.2
_BAD_COUNT = 32
_MAX_REDIRECTS = 5


def decode(body: bytes, content_type: str | None) -> str:
    """Bytes to text (see ``decode_body``); undecodable bytes become U+FFFD where they are."""
    return decode_body(body, content_type)[0]


def decode_body(body: bytes, content_type: str | None) -> tuple[str, int, float]:
    """Bytes to text, with how many characters could not be decoded and their share of the non-ASCII.

    Charsets are tried in order: the header's, a meta/XML declaration's, UTF-8, GB18030; the first
    that fits is taken (no bad bytes, or at least four well-formed multi-byte characters for each bad
    one: GBK text read as UTF-8 has about one in ten), else the one with the fewest bad bytes. Bad
    bytes are replaced one by one, never by re-reading the whole page in another charset: a single
    invalid byte in a UTF-8 page used to turn every review on it into GB18030 garbage, and keyword
    alerts were silently missed."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
        declared: str | None = "utf-8"
    else:
        declared = None
        if content_type and "charset=" in content_type.lower():
            declared = content_type.lower().split("charset=")[-1].split(";")[0].strip().strip("\"'")
        if not declared and (m := _META_CHARSET.search(body[:2048]) or _XML_ENCODING.search(body[:200])):
            declared = m.group(1).decode("ascii", "replace").lower()
        if declared in _GBK_ALIASES:
            declared = "gb18030"  # a superset: GBK pages often hold characters outside gb2312
    names: list[str] = []
    for name in (declared, "utf-8", "gb18030"):
        try:
            canonical = codecs.lookup(name).name if name else None
        except LookupError:
            canonical = None
        if canonical and canonical not in names:
            names.append(canonical)
    best: tuple[str, int, float] | None = None
    for name in names:
        text, bad, good = _decode_as(body, name)
        share = bad / max(bad + good, 1)
        if bad == 0 or good >= 4 * bad:
            return text, bad, share
        if best is None or bad < best[1]:
            best = (text, bad, share)
    assert best is not None
    return best


def _decode_as(body: bytes, charset: str) -> tuple[str, int, int]:
    """(text, undecodable characters, well-formed non-ASCII characters)."""
    text = body.decode(charset, errors="replace")
    replaced = text.count("\ufffd")
    genuine = body.count("\ufffd".encode(charset, errors="ignore") or b"\xef\xbf\xbd") if replaced else 0
    non_ascii = len(text) - len(text.encode("ascii", "ignore")) if replaced else 0
    bad = max(replaced - genuine, 0)
    return text, bad, max(non_ascii - bad, 0)


def _retry_after(headers: Mapping[str, str], cap: float) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), cap)
    except ValueError:
        try:
            delta = parsedate_to_datetime(value).timestamp() - time.time()
            return min(max(delta, 0.0), cap)
        except (TypeError, ValueError):
            return None


class HostGate:
    """At most ``concurrency`` requests in flight to one host, their starts ``interval`` apart."""

    def __init__(self, concurrency: int) -> None:
        self.slots = threading.BoundedSemaphore(concurrency)
        self.lock = threading.Lock()
        self.next_at = 0.0

    def reserve(self, now: float, interval: float) -> float:
        """Book the next start slot; return how long to wait for it."""
        with self.lock:
            start = max(now, self.next_at)
            self.next_at = start + interval
            return start - now

    def hold_off(self, until: float) -> None:
        with self.lock:
            self.next_at = max(self.next_at, until)


class _Secrets:
    """Header and proxy values expanded from the environment: sent, never shown."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def expand(self, text: str, what: str) -> str:
        try:
            value = expand_env(text)
        except KeyError as exc:
            raise FetchError(f"environment variable {exc.args[0]} is not set (needed by {what})") from None
        if value != text or what == "cookie":
            self.values.append(value)
        return value

    def redact(self, text: str) -> str:
        for v in sorted(self.values, key=len, reverse=True):
            if len(v) >= 4:
                text = text.replace(v, "***")
        return text


class SlowAnswer(FetchError):
    """No answer within the hurry limit (``Fetcher.hurry``): an ``error`` verdict, never retried."""


class Hurry:
    """The fetches of one poll in one thread (``Fetcher.hurry``): ``limit``, the seconds a page may take
    (its retries and their waits included, waits for the host gate not), None for the source's own
    timeout; ``slowest``, the longest a request of the poll took from sending to its whole answer."""

    __slots__ = ("end", "limit", "slowest")

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.slowest = 0.0
        self.end: float | None = None  # perf_counter by which the current page must be in

    def left(self, now: float) -> float | None:
        if self.limit is None:
            return None
        if self.end is None:
            self.end = now + self.limit
        return self.end - now


class Fetcher:
    """Shared by all sources of a daemon. ``sleep`` and ``clock`` are injectable so tests need not wait."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        retries: int = 2,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] | None = None,
        stop: threading.Event | None = None,
        per_host: int = 1,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        robots_ttl: float = 24 * 3600.0,
        rng: random.Random | None = None,
        network: NetworkPolicy | None = None,
    ) -> None:
        # where sources may connect; replaced on reload. Default: public addresses only.
        self.network = network or NetworkPolicy()
        self.client = client or self._new_client(None)
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.per_host = per_host
        self.min_interval = min_interval
        self.robots_ttl = robots_ttl
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.stop = stop or threading.Event()
        self._gates: dict[str, HostGate] = {}
        self._proxied: dict[str, httpx.Client] = {}
        self._robots: dict[str, tuple[float, RobotFileParser]] = {}
        self._robots_waived: set[str] = set()
        self._lock = threading.Lock()
        self._hurries = threading.local()

    @contextmanager
    def hurry(self, limit: float | None) -> Iterator[Hurry]:
        """Fetches of this thread inside the block: each page must be in within ``limit`` seconds, retries
        included (a request that times out under the limit is not tried again), or ``SlowAnswer`` is
        raised; None keeps the source's own timeout. The yielded ``Hurry`` tells the slowest answer."""
        h = Hurry(limit)
        outer = getattr(self._hurries, "current", None)
        self._hurries.current = h
        try:
            yield h
        finally:
            self._hurries.current = outer

    def _hurry(self) -> Hurry | None:
        h: Hurry | None = getattr(self._hurries, "current", None)
        return h

    def _new_client(self, proxy: str | None) -> httpx.Client:
        if proxy is not None:  # the proxy resolves names: only the URLs themselves can be checked here
            return httpx.Client(headers={"User-Agent": USER_AGENT}, proxy=proxy)
        if any(k.lower().endswith("_proxy") and k.lower() != "no_proxy" for k in os.environ):
            log.warning("HTTP(S)_PROXY in the environment is not used: set `proxy:` on the sources instead")
        return httpx.Client(
            headers={"User-Agent": USER_AGENT}, transport=GuardedTransport(lambda: self.network)
        )

    def close(self) -> None:
        self.client.close()
        for c in self._proxied.values():
            c.close()

    # ---- public --------------------------------------------------------------------------------
    def get(
        self,
        url: str,
        source: SourceConfig,
        extra_headers: Mapping[str, str] | None = None,
        validators: Mapping[str, str] | None = None,
    ) -> FetchedPage:
        return self.fetch(HttpRequest(url, headers=dict(extra_headers or {})), source, validators)

    def fetch(
        self, req: HttpRequest, source: SourceConfig, validators: Mapping[str, str] | None = None
    ) -> FetchedPage:
        """Fetch one page, politely; raise FetchError, BlockedError or HttpStatusError."""
        secrets = _Secrets()
        headers = {k: secrets.expand(v, f"header {k}") for k, v in source.headers.items()}
        if source.cookie:
            headers["Cookie"] = secrets.expand(source.cookie, "cookie")
        headers.update(req.headers)
        params = {k: secrets.expand(v, f"parameter {k}") for k, v in req.params.items()}
        if validators and source.conditional:
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
        proxy = secrets.expand(source.proxy, "proxy") if source.proxy else None
        client = self._client(proxy)
        url = req.wire_url
        if problem := self.network.url_problem(url):
            raise UnsafeTarget(f"refused to fetch {_safe(url)}: {problem}")
        if (h := self._hurry()) is not None:
            h.end = None  # each page has the whole limit
        try:
            self._check_robots(client, url, source, secrets)
            return self._fetch_with_retries(client, req, url, headers, source, secrets, params)
        except FetchError as exc:
            if isinstance(exc, HttpStatusError):
                raise
            kind = UnsafeTarget if isinstance(exc, UnsafeTarget) else FetchError
            kind = SlowAnswer if isinstance(exc, SlowAnswer) else kind
            raise kind(secrets.redact(str(exc))) from None

    # ---- retries -------------------------------------------------------------------------------
    def _fetch_with_retries(
        self,
        client: httpx.Client,
        req: HttpRequest,
        url: str,
        headers: Mapping[str, str],
        source: SourceConfig,
        secrets: _Secrets,
        params: Mapping[str, str] | None = None,
    ) -> FetchedPage:
        attempt = 0
        while True:
            attempt += 1
            last_try = attempt > self.retries or self.stop.is_set()
            try:
                page = self._send_once(client, req, url, headers, source, params)
            except (HttpStatusError, SlowAnswer):  # in a hurry, a timeout is not tried again
                raise
            except FetchError:
                delay = self._delay(attempt, None)
                if last_try or self._out_of_time(delay):
                    raise
                self._wait(delay)
                continue
            if page.status not in RETRY_STATUS:
                return page
            delay = self._delay(attempt, _retry_after(page.headers, self.max_wait))
            last_try = last_try or self._out_of_time(delay)
            if page.status in RATE_LIMIT_STATUS:
                # every source on this host waits, not just this request; our own wait is the gate's
                self._gate(url).hold_off(self._clock() + delay)
                if not last_try:
                    continue
            if not last_try:
                self._wait(delay)
                continue
            if page.status in RATE_LIMIT_STATUS:
                raise BlockedError(f"HTTP {page.status} (rate limited) after {attempt} attempts; slow down")
            hint = " (the platform is busy: retry later)" if page.status == 202 else ""
            raise HttpStatusError(
                f"HTTP {page.status}{hint} from {_safe(url)} after {attempt} attempts", page
            )

    def _out_of_time(self, delay: float) -> bool:
        """In a hurry: waiting ``delay`` before the next attempt would pass the page's limit."""
        h = self._hurry()
        return h is not None and h.end is not None and time.perf_counter() + delay >= h.end

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        base = self.backoff * (2 ** (attempt - 1))
        return float(min(base + self._rng.uniform(0, base / 2), self.max_wait))

    def _wait(self, seconds: float) -> None:
        if seconds <= 0 or self.stop.is_set():
            return
        if self._sleep is None:
            self.stop.wait(seconds)
        else:
            self._sleep(seconds)

    # ---- politeness ----------------------------------------------------------------------------
    def _gate(self, url: str) -> HostGate:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = HostGate(self.per_host)
            return gate

    @contextmanager
    def _polite(self, url: str, source: SourceConfig) -> Iterator[None]:
        gate = self._gate(url)
        interval = max(
            self.min_interval, source.request_interval.total_seconds() if source.request_interval else 0
        )
        gate.slots.acquire()
        try:
            self._wait(gate.reserve(self._clock(), interval))
            yield
        finally:
            gate.slots.release()

    def _client(self, proxy: str | None) -> httpx.Client:
        if proxy is None:
            return self.client
        with self._lock:
            if proxy not in self._proxied:
                self._proxied[proxy] = self._new_client(proxy)
            return self._proxied[proxy]

    def _check_robots(self, client: httpx.Client, url: str, source: SourceConfig, secrets: _Secrets) -> None:
        if not source.respect_robots:
            if source.name not in self._robots_waived:
                self._robots_waived.add(source.name)
                log.warning("source %s: robots.txt is NOT checked (respect_robots: false)", source.name)
            return
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            cached = self._robots.get(origin)
        if cached is None or self._clock() - cached[0] > self.robots_ttl:
            cached = (self._clock(), self._load_robots(client, origin, source, secrets))
            with self._lock:
                self._robots[origin] = cached
        if not cached[1].can_fetch(ROBOTS_AGENT, url):
            raise RobotsDisallowed(
                f"robots.txt of {parts.netloc} disallows {parts.path or '/'}; "
                "set `respect_robots: false` on the source only if you are entitled to fetch it"
            )

    def _load_robots(
        self, client: httpx.Client, origin: str, source: SourceConfig, secrets: _Secrets
    ) -> RobotFileParser:
        rp = RobotFileParser(origin + "/robots.txt")
        robots = HttpRequest(origin + "/robots.txt")
        try:
            page = self._fetch_with_retries(client, robots, robots.url, {}, source, secrets)
        except HttpStatusError as exc:
            page = exc.page
        if page.status >= 500:
            raise FetchError(f"robots.txt of {urlsplit(origin).netloc} unreachable (HTTP {page.status})")
        # RFC 9309: a 4xx robots.txt means there are no rules
        rp.parse(page.text.splitlines() if page.status < 300 else [])
        return rp

    # ---- one request ---------------------------------------------------------------------------
    def _send_once(
        self,
        client: httpx.Client,
        req: HttpRequest,
        url: str,
        headers: Mapping[str, str],
        source: SourceConfig,
        params: Mapping[str, str] | None,
    ) -> FetchedPage:
        timeout = full = source.timeout.total_seconds()
        robots = url.endswith("/robots.txt") and req.method == "GET"
        cap = _ROBOTS_MAX if robots else source.max_body_bytes
        started = time.perf_counter()
        method, current, payload, query = req.method, url, req.json_body, params or None
        h = self._hurry()
        with self._polite(url, source):
            sent = time.perf_counter()
            deadline = started + timeout  # the whole answer, not only the gap between bytes
            left = h.left(sent) if h is not None else None
            hurried = left is not None and left < timeout
            if hurried:
                assert h is not None and h.limit is not None and left is not None
                if left <= 0:
                    raise self._too_slow(h.limit, full, url)
                timeout, deadline = left, sent + left
            for _hop in range(_MAX_REDIRECTS + 1):
                try:
                    with client.stream(
                        method, current, headers=headers, params=query, json=payload, timeout=timeout,
                        follow_redirects=False,
                    ) as resp:  # fmt: skip
                        location = resp.headers.get("location") if resp.is_redirect else None
                        body = b"" if location else self._read_capped(resp, cap, url, deadline, hurried)
                except httpx.TimeoutException:
                    if h is not None:
                        h.slowest = max(h.slowest, time.perf_counter() - sent)
                    if hurried:
                        assert h is not None and h.limit is not None
                        raise self._too_slow(h.limit, full, url) from None
                    raise FetchError(f"timed out after {timeout:g}s fetching {_safe(url)}") from None
                except SlowAnswer:
                    if h is not None:
                        h.slowest = max(h.slowest, time.perf_counter() - sent)
                    raise
                except httpx.HTTPError as exc:
                    raise FetchError(f"{type(exc).__name__} fetching {_safe(url)}: {exc}") from None
                except AddressRefused as exc:
                    raise UnsafeTarget(f"refused to connect for {_safe(current)}: {exc}") from None
                if not location:
                    break
                # Redirects are followed by hand so a login or captcha page is recognised, never fetched.
                target = urljoin(str(resp.url), location)
                if not robots and (login := _login_host(target)):
                    raise BlockedError(f"redirected to a login or verification page ({login})")
                if problem := self.network.url_problem(target):
                    raise UnsafeTarget(f"refused a redirect to {_safe(target)}: {problem}")
                if _origin(target) != _origin(current):
                    headers = _without_credentials(headers, source)
                current = target
                if resp.status_code in (301, 302, 303) and method != "GET":
                    method, payload = "GET", None
                query = None
            else:
                raise FetchError(f"more than {_MAX_REDIRECTS} redirects fetching {_safe(url)}")
        if h is not None:
            h.slowest = max(h.slowest, time.perf_counter() - sent)
        final = str(resp.url)
        text, bad, share = decode_body(body, resp.headers.get("content-type"))
        if bad >= _BAD_COUNT and share > _BAD_SHARE and not robots and resp.status_code < 300:
            raise ParseError(
                f"HTTP {resp.status_code}: the answer is not text ({share:.0%} of its characters cannot be "
                f"decoded as UTF-8 or GBK; {len(body):,} bytes); nothing stored from it"
            )
        page = FetchedPage(
            url=req.url,
            status=resp.status_code,
            headers=dict(resp.headers),
            text=text,
            final_url=_safe(final) if params else final,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            size=len(body),
        )
        if robots:
            return page
        if "verifytype" in resp.headers:
            raise BlockedError(
                f"HTTP {resp.status_code} with a Verifytype header {resp.headers['verifytype']!r} (captcha)"
            )
        if resp.status_code in BLOCKED_STATUS:
            raise BlockedError(f"HTTP {resp.status_code} (login, captcha or ban) from {_safe(url)}")
        if resp.status_code >= 400 and resp.status_code not in RETRY_STATUS:
            raise HttpStatusError(f"HTTP {resp.status_code} from {_safe(url)}", page)
        return page

    @staticmethod
    def _too_slow(limit: float, full: float, url: str) -> SlowAnswer:
        return SlowAnswer(
            f"no answer within {limit:g}s from {_safe(url)} (schedule.slow_after); polled in the sick share "
            f"from now on, where it may take its full timeout of {full:g}s"
        )

    @staticmethod
    def _read_capped(
        resp: httpx.Response, cap: int, url: str, deadline: float, hurried: bool = False
    ) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(
                f"response body of {int(declared):,} bytes exceeds max_body_bytes={cap:,} from {_safe(url)}"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(
                    f"response body exceeds max_body_bytes={cap:,} from {_safe(url)}; stopped reading"
                )
            chunks.append(chunk)
            if time.perf_counter() > deadline:  # a server dribbling bytes (slowloris) must not hold a poll
                if hurried:
                    raise SlowAnswer(
                        f"response from {_safe(url)} still arriving after schedule.slow_after; gave up"
                    )
                raise FetchError(
                    f"response from {_safe(url)} still arriving after the source's timeout; gave up"
                )
        return b"".join(chunks)


class UnsafeTarget(FetchError):
    """A URL or address sources may not reach (not http(s), or private without an allow-list entry)."""


_CREDENTIAL_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def _without_credentials(headers: Mapping[str, str], source: SourceConfig) -> dict[str, str]:
    """The headers fit to follow a redirect to another origin: no cookie, no authorization, and none
    of the source's headers whose value comes from the environment (how secrets are configured)."""
    secret = {k.lower() for k, v in source.headers.items() if ENV_REF.search(v)}
    return {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS | secret}


def _login_host(url: str) -> str | None:
    host = (urlsplit(url).hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in _BLOCK_HOSTS) or host.startswith(
        ("passport.", "login.")
    ):
        return host
    return None


def _safe(url: str) -> str:
    """The URL without its query string (which may carry tokens)."""
    return url.split("?", 1)[0].split("#", 1)[0]
