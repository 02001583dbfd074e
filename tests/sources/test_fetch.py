"""Fault and politeness tests of the Fetcher against a loopback server (real httpx, no patching):
retries, Retry-After, timeouts, body cap, encodings, secrets, robots.txt, host spacing, proxies."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.adapters.base import BlockedError, FetchError, HttpStatusError, RobotsDisallowed
from monitor.adapters.feed import FeedConfig
from monitor.fetch import Fetcher, decode
from tests.sources.conftest import Loopback, Reply, SleepRecorder


def source(url: str = "http://127.0.0.1/", **extra: Any) -> FeedConfig:
    return FeedConfig.model_validate({"name": "s", "kind": "feed", "url": url, **extra})


_OPEN: list[Fetcher] = []


@pytest.fixture(autouse=True)
def _close_fetchers() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def fetcher(sleeps: SleepRecorder, **kw: Any) -> Fetcher:
    kw.setdefault("min_interval", 0)
    kw.setdefault("rng", random.Random(7))
    f = Fetcher(sleep=sleeps, **kw)
    _OPEN.append(f)
    return f


def test_500_then_200_retries_with_backoff_and_jitter(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route(
        "/f", Reply(500, "boom", "text/plain"), Reply(502, ""), Reply(body="ok", content_type="text/plain")
    )
    f = fetcher(sleeps, retries=2, backoff=1.0)
    page = f.get(f"{loopback.url}/f", source())
    assert page.status == 200 and page.text == "ok"
    assert len(sleeps.waits) == 2
    assert 1.0 <= sleeps.waits[0] <= 1.5 and 2.0 <= sleeps.waits[1] <= 3.0  # exponential, jittered
    assert loopback.hits("/f") == 3


def test_429_retry_after_is_honoured_then_rate_limit_is_blocked(
    loopback: Loopback, sleeps: SleepRecorder
) -> None:
    loopback.route(
        "/f", Reply(429, "", headers={"Retry-After": "7"}), Reply(body="ok", content_type="text/plain")
    )
    f = fetcher(sleeps, retries=2, backoff=1.0)
    assert f.get(f"{loopback.url}/f", source()).text == "ok"
    assert sleeps.waits == [pytest.approx(7.0, abs=0.05)]
    loopback.route("/g", Reply(432, "", headers={"Retry-After": "3"}))
    with pytest.raises(BlockedError, match="rate limited"):
        f.get(f"{loopback.url}/g", source())
    assert loopback.hits("/g") == 3


def test_202_is_retried_then_reported_as_busy(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route("/f", Reply(202, ""))
    with pytest.raises(HttpStatusError, match="busy"):
        fetcher(sleeps, retries=1).get(f"{loopback.url}/f", source())


def test_timeout_is_a_clear_error_after_retries(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route("/slow", Reply(body="late", delay=0.8))
    with pytest.raises(FetchError, match=r"timed out after 0\.2s"):
        fetcher(sleeps, retries=1, backoff=0.01).get(f"{loopback.url}/slow", source(timeout="0.2s"))
    assert loopback.hits("/slow") == 2


def test_connection_refused_is_an_error(sleeps: SleepRecorder) -> None:
    with pytest.raises(FetchError, match="ConnectError"):
        fetcher(sleeps, retries=1, backoff=0.01).get("http://127.0.0.1:9/x", source(respect_robots=False))


def test_a_50_mb_body_is_capped_with_a_clear_error(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route("/huge", Reply(stream_bytes=50 * 1024 * 1024))
    started = time.monotonic()
    with pytest.raises(FetchError, match="exceeds max_body_bytes=10,000,000"):
        fetcher(sleeps, retries=0).get(f"{loopback.url}/huge", source())
    assert time.monotonic() - started < 10


def test_declared_oversize_fails_before_reading(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route("/big", Reply(body=b"x" * 300_000))
    with pytest.raises(FetchError, match="300,000 bytes exceeds max_body_bytes=100,000"):
        fetcher(sleeps, retries=0).get(f"{loopback.url}/big", source(max_body_bytes=100_000))


@pytest.mark.parametrize(
    "content_type",
    ["text/html; charset=GBK", "text/html;charset=gb2312", "text/html", "application/octet-stream"],
)
def test_gbk_bodies_decode(loopback: Loopback, sleeps: SleepRecorder, content_type: str) -> None:
    text = 'fetchJSON_comment98({"content":"盖子拧不太紧，倒过来会滴水，差评。镕"});'
    loopback.route("/gbk", Reply(body=text.encode("gb18030"), content_type=content_type))
    assert fetcher(sleeps).get(f"{loopback.url}/gbk", source()).text == text


def test_decode_prefers_meta_and_xml_declarations() -> None:
    html = '<html><head><meta charset="gbk"></head><body>评价</body></html>'
    assert decode(html.encode("gbk"), None) == html
    xml = '<?xml version="1.0" encoding="GB2312"?><rss><title>微博</title></rss>'
    assert decode(xml.encode("gbk"), "application/xml") == xml
    assert decode("\ufeff好评".encode(), None) == "好评"


def test_secrets_come_from_the_environment_and_never_show(
    loopback: Loopback,
    sleeps: SleepRecorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("T_COOKIE", "SUB=very-secret-cookie")
    monkeypatch.setenv("T_TOKEN", "tok-123456789")
    loopback.route("/f", Reply(body="ok", content_type="text/plain"))
    src = source(cookie="${T_COOKIE}", headers={"X-Token": "${T_TOKEN}"})
    f = fetcher(sleeps, retries=0)
    with caplog.at_level(logging.DEBUG):
        f.get(f"{loopback.url}/f", src)
        with pytest.raises(FetchError) as err:
            f.get(
                "http://127.0.0.1:9/x?token=tok-123456789", src.model_copy(update={"respect_robots": False})
            )
    req = loopback.requests[-1]
    assert req.headers["cookie"] == "SUB=very-secret-cookie" and req.headers["x-token"] == "tok-123456789"
    assert "very-secret" not in str(err.value) and "tok-123456789" not in str(err.value)
    assert "very-secret" not in caplog.text and "tok-123456789" not in caplog.text
    monkeypatch.delenv("T_COOKIE")
    with pytest.raises(FetchError, match="environment variable T_COOKIE is not set"):
        f.get(f"{loopback.url}/f", src)


def test_robots_txt_is_honoured_and_cached(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route(
        "/robots.txt", Reply(body="User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    )
    loopback.route("/public", Reply(body="ok", content_type="text/plain"))
    f = fetcher(sleeps)
    for _ in range(3):
        f.get(f"{loopback.url}/public", source())
    with pytest.raises(RobotsDisallowed, match="respect_robots: false"):
        f.get(f"{loopback.url}/private/reviews", source())
    assert loopback.hits("/robots.txt") == 1
    assert loopback.hits("/private/reviews") == 0


def test_robots_override_is_explicit_and_logged_once(
    loopback: Loopback, sleeps: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.route("/robots.txt", Reply(body="User-agent: *\nDisallow: /\n", content_type="text/plain"))
    loopback.route("/x", Reply(body="ok", content_type="text/plain"))
    f = fetcher(sleeps)
    with caplog.at_level(logging.WARNING, logger="monitor.fetch"):
        for _ in range(2):
            assert f.get(f"{loopback.url}/x", source(respect_robots=False)).text == "ok"
    assert caplog.text.count("robots.txt is NOT checked") == 1
    assert loopback.hits("/robots.txt") == 0


def test_unreachable_robots_txt_fetches_nothing(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route("/robots.txt", Reply(503, "down", "text/plain"))
    loopback.route("/x", Reply(body="ok", content_type="text/plain"))
    with pytest.raises(FetchError, match=r"robots\.txt .* unreachable"):
        fetcher(sleeps, retries=0).get(f"{loopback.url}/x", source())
    assert loopback.hits("/x") == 0


def test_requests_to_one_host_are_spaced_across_sources(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route("/a", Reply(body="ok", content_type="text/plain"))
    f = fetcher(sleeps, min_interval=2.0, clock=lambda: 100.0)  # a frozen clock: waits add up
    f.get(f"{loopback.url}/a", source())  # robots.txt, then /a
    f.get(f"{loopback.url}/a", source(name="other", request_interval="5s"))  # robots.txt is cached
    f.get(f"{loopback.url}/a", source())
    assert sleeps.waits == [2.0, 4.0, 9.0]  # the slower source's 5 s gap holds for the next request too


def test_per_host_concurrency_is_bounded(loopback: Loopback) -> None:
    loopback.route("/slow", Reply(body="ok", content_type="text/plain", delay=0.25))
    src = source(respect_robots=False)

    def run(per_host: int) -> float:
        f = Fetcher(per_host=per_host, min_interval=0)
        _OPEN.append(f)
        threads = [threading.Thread(target=f.get, args=(f"{loopback.url}/slow", src)) for _ in range(3)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.monotonic() - started

    assert run(1) >= 0.7
    assert run(3) < 0.6


def test_login_redirect_is_blocked_without_following(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route("/r", Reply(302, headers={"Location": "https://passport.weibo.cn/signin/login?r=x"}))
    loopback.route("/moved", Reply(301, headers={"Location": "/final"}))
    loopback.route("/final", Reply(body="here", content_type="text/plain"))
    f = fetcher(sleeps, retries=0)
    with pytest.raises(BlockedError, match=r"passport\.weibo\.cn"):
        f.get(f"{loopback.url}/r", source())
    page = f.get(f"{loopback.url}/moved", source())
    assert page.text == "here" and page.final_url.endswith("/final")


def test_proxy_from_the_environment(
    loopback: Loopback, sleeps: SleepRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_PROXY", loopback.url)
    loopback.route("/shop/reviews", Reply(body="via proxy", content_type="text/plain"))
    f = fetcher(sleeps, retries=0)
    page = f.get("http://shop.invalid/shop/reviews", source(proxy="${T_PROXY}"))
    assert page.text == "via proxy"
    assert loopback.requests[-1].target == "http://shop.invalid/shop/reviews"
