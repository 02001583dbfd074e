"""HTTP fetching for sources: timeouts, retries with backoff, a body cap, encoding detection,
and recognition of blocked responses. Adapters never talk HTTP themselves."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

import httpx

from monitor import __version__
from monitor.adapters.base import FetchedPage, SourceConfig
from monitor.config.settings import expand_env

USER_AGENT = f"opinion-monitor/{__version__} (+https://github.com/opinion-monitor)"
RETRY_STATUS = frozenset({202, 429, 432, 500, 502, 503, 504})
BLOCKED_STATUS = frozenset({401, 403, 418, 432, 461, 471})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w-]+)""", re.I)
_BLOCK_HOSTS = ("passport.jd.com", "passport.weibo.cn", "login.taobao.com", "login.tmall.com")


class FetchError(Exception):
    """Network-level failure (an ``error`` verdict)."""


class Blocked(Exception):
    """The platform answered with a login wall, captcha or rate limit (a ``blocked`` verdict)."""


def decode(body: bytes, content_type: str | None) -> str:
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=")[-1].split(";")[0].strip().strip('"')
    if not charset and (m := _META_CHARSET.search(body[:2048])):
        charset = m.group(1).decode("ascii", "replace").lower()
    if charset in ("gbk", "gb2312", "gb-2312", "cp936"):
        charset = "gb18030"  # superset; GBK pages often contain characters outside gb2312
    if charset:
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("gb18030", errors="replace")


def _retry_after(resp: httpx.Response, cap: float) -> float | None:
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return min(float(value), cap)
    except ValueError:
        try:
            delta = parsedate_to_datetime(value).timestamp() - time.time()
            return min(max(delta, 0.0), cap)
        except (TypeError, ValueError):
            return None


class Fetcher:
    """Shared by all sources of a daemon; ``sleep`` is injectable so tests need not wait."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        retries: int = 2,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        stop: threading.Event | None = None,
    ) -> None:
        self.client = client or httpx.Client(follow_redirects=True, headers={"User-Agent": USER_AGENT})
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self.stop = stop or threading.Event()

    def close(self) -> None:
        self.client.close()

    def get(
        self, url: str, source: SourceConfig, extra_headers: Mapping[str, str] | None = None
    ) -> FetchedPage:
        headers = {k: expand_env(v) for k, v in source.headers.items()}
        headers.update(extra_headers or {})
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                page = self._get_once(url, source, headers)
            except FetchError:
                if attempt > self.retries or self.stop.is_set():
                    raise
                self._wait(self._delay(attempt, None))
                continue
            page_status, resp_wait = page
            if page_status.status in RETRY_STATUS and attempt <= self.retries and not self.stop.is_set():
                self._wait(self._delay(attempt, resp_wait))
                continue
            fp = page_status
            if fp.status in (429, 432):
                raise Blocked(f"HTTP {fp.status} (rate limited) after {attempt} attempts")
            if fp.status in RETRY_STATUS:
                raise FetchError(f"HTTP {fp.status} from {_safe(url)} after {attempt} attempts")
            return FetchedPage(
                fp.url, fp.status, fp.headers, fp.text, fp.final_url, (time.perf_counter() - started) * 1000
            )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        base = self.backoff * (2 ** (attempt - 1))
        return float(min(base + random.uniform(0, base / 2), self.max_wait))

    def _wait(self, seconds: float) -> None:
        if self.stop.wait(0) or seconds <= 0:
            return
        self._sleep(seconds)

    def _get_once(
        self, url: str, source: SourceConfig, headers: Mapping[str, str]
    ) -> tuple[FetchedPage, float | None]:
        timeout = source.timeout.total_seconds()
        try:
            with self.client.stream("GET", url, headers=headers, timeout=timeout) as resp:
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > source.max_body_bytes:
                        raise FetchError(
                            f"response body larger than max_body_bytes={source.max_body_bytes} "
                            f"from {_safe(url)}"
                        )
                    chunks.append(chunk)
                body = b"".join(chunks)
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {timeout:g}s fetching {_safe(url)}") from None
        except httpx.HTTPError as exc:
            raise FetchError(
                f"{type(exc).__name__} fetching {_safe(url)}: {_redact(str(exc), headers)}"
            ) from None
        final = str(resp.url)
        if any(h in final for h in _BLOCK_HOSTS):
            raise Blocked(f"redirected to a login page ({httpx.URL(final).host})")
        if "verifytype" in resp.headers:
            raise Blocked(f"HTTP {resp.status_code} with a Verifytype header (captcha)")
        if resp.status_code in BLOCKED_STATUS and resp.status_code not in RETRY_STATUS:
            raise Blocked(f"HTTP {resp.status_code} (login, captcha or rate limit)")
        page = FetchedPage(
            url, resp.status_code, dict(resp.headers), decode(body, resp.headers.get("content-type")), final
        )
        if resp.status_code >= 400 and resp.status_code not in RETRY_STATUS:
            raise FetchError(f"HTTP {resp.status_code} from {_safe(url)}")
        return page, _retry_after(resp, self.max_wait)


def _safe(url: str) -> str:
    """The URL without its query string (which may carry tokens)."""
    return url.split("?", 1)[0]


def _redact(text: str, headers: Mapping[str, str]) -> str:
    for v in headers.values():
        if len(v) >= 6:
            text = text.replace(v, "***")
    return text
