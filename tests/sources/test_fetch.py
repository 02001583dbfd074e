"""Fault and politeness tests of the Fetcher against a loopback server (real httpx, no patching):
retries, Retry-After, timeouts, body cap, encodings, secrets, robots.txt, host spacing, proxies."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.adapters.base import BlockedError, FetchError, HttpStatusError, ParseError, RobotsDisallowed
from monitor.adapters.feed import FeedConfig
from monitor.config.netpolicy import NetworkPolicy
from monitor.fetch import Fetcher, UnsafeTarget, decode
from tests.conftest import LOOPBACK
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
    kw.setdefault("network", LOOPBACK)
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
        f = Fetcher(per_host=per_host, min_interval=0, network=LOOPBACK)
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


# ---- credentials and redirects ------------------------------------------------------------------
def test_credentials_are_dropped_on_a_redirect_to_another_origin(
    loopback: Loopback, sleeps: SleepRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source's cookie, Authorization and secret headers go to its own origin only: not to another
    host, nor to another port of the same host (two loopback servers here)."""
    other = Loopback().start()
    try:
        monkeypatch.setenv("T_COOKIE", "SUB=session-cookie-value")
        monkeypatch.setenv("T_TOKEN", "Bearer token-value-123")
        monkeypatch.setenv("T_SIGN", "signature-value-456")
        src = source(
            cookie="${T_COOKIE}",
            headers={
                "Authorization": "${T_TOKEN}",
                "X-Sign": "${T_SIGN}",
                "Referer": "https://shop.example/",
            },
            respect_robots=False,
        )
        loopback.route("/away", Reply(302, headers={"Location": f"{other.url}/landing"}))
        loopback.route("/here", Reply(302, headers={"Location": "/landing"}))
        loopback.route("/landing", Reply(body="same origin", content_type="text/plain"))
        other.route("/landing", Reply(body="other origin", content_type="text/plain"))
        f = fetcher(sleeps, retries=0)
        assert f.get(f"{loopback.url}/away", src).text == "other origin"
        assert f.get(f"{loopback.url}/here", src).text == "same origin"
    finally:
        other.stop()
    sent = other.requests[-1].headers
    assert "cookie" not in sent and "authorization" not in sent and "x-sign" not in sent, sent
    assert sent["referer"] == "https://shop.example/"  # not a secret: kept
    assert "session-cookie-value" not in str(sent) and "token-value" not in str(sent)
    kept = loopback.requests[-1].headers  # a redirect within the origin keeps them
    assert kept["cookie"] == "SUB=session-cookie-value" and kept["authorization"] == "Bearer token-value-123"


# ---- SSRF ---------------------------------------------------------------------------------------
def test_private_addresses_are_refused_unless_allowed(loopback: Loopback, sleeps: SleepRecorder) -> None:
    loopback.route("/x", Reply(body="internal", content_type="text/plain"))
    public_only = fetcher(sleeps, retries=0, network=NetworkPolicy())
    for url in (f"{loopback.url}/x", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/x",
                "http://localhost:9/x", "http://10.0.0.1/x", "http://[::ffff:127.0.0.1]:9/"):  # fmt: skip
        with pytest.raises(UnsafeTarget, match=r"fetch\.allow_private"):
            public_only.get(url, source())
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/x", "ftp://example.com/"):
        with pytest.raises(UnsafeTarget, match="only http and https"):
            public_only.get(url, source())
    assert loopback.hits("/x") == 0 and loopback.hits("/robots.txt") == 0  # refused before connecting
    allowed = fetcher(sleeps, retries=0, network=NetworkPolicy.allowing(["127.0.0.0/8"]))
    assert allowed.get(f"{loopback.url}/x", source()).text == "internal"


def test_a_name_that_resolves_to_a_private_address_is_refused_at_connect_time(
    loopback: Loopback, sleeps: SleepRecorder
) -> None:
    """``2130706433`` is not an address to a URL check, but the resolver reads it as 127.0.0.1 — as a
    rebinding DNS name would answer at connect time. The connection goes only to checked addresses."""
    loopback.route("/x", Reply(body="internal", content_type="text/plain"))
    port = loopback.url.rsplit(":", 1)[1]
    f = fetcher(sleeps, retries=0, network=NetworkPolicy())
    for host in ("2130706433", "0x7f000001", "127.1"):
        with pytest.raises(UnsafeTarget, match=r"127\.0\.0\.1.*private"):
            f.get(f"http://{host}:{port}/x", source(respect_robots=False))
    assert loopback.hits("/x") == 0


def test_redirects_to_internal_addresses_are_refused(loopback: Loopback, sleeps: SleepRecorder) -> None:
    """Only 127.0.0.1 is allowed: a redirect to the metadata service, to a file, or to a name that
    resolves to another loopback address (127.0.0.2) is refused by the policy, not by the network."""
    port = loopback.url.rsplit(":", 1)[1]
    loopback.route("/meta", Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    loopback.route("/file", Reply(302, headers={"Location": "file:///etc/passwd"}))
    loopback.route("/rebind", Reply(302, headers={"Location": f"http://2130706434:{port}/admin"}))
    f = fetcher(sleeps, retries=0, network=NetworkPolicy.allowing(["127.0.0.1"]))
    src = source(respect_robots=False)
    with pytest.raises(UnsafeTarget, match=r"169\.254\.169\.254 is a private"):
        f.get(f"{loopback.url}/meta", src)
    with pytest.raises(UnsafeTarget, match="only http and https"):
        f.get(f"{loopback.url}/file", src)
    with pytest.raises(UnsafeTarget, match=r"2130706434 \(127\.0\.0\.2\) is a private"):
        f.get(f"{loopback.url}/rebind", src)


# ---- decoding -----------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json"])
def test_one_invalid_byte_spoils_one_character_not_the_page(
    loopback: Loopback, sleeps: SleepRecorder, content_type: str
) -> None:
    """It used to re-decode the whole page as GB18030: every review garbled, every keyword missed."""
    reviews = ["收到就是破损的", "客服态度很差", "怀疑是假货，包装粗糙"]
    body = json.dumps({"comments": [{"content": r} for r in reviews]}, ensure_ascii=False).encode()
    spoiled = body.replace("态度".encode(), b"\xff\xfe" + "度".encode())  # one review gets two invalid bytes
    loopback.route("/r", Reply(body=spoiled, content_type=content_type))
    text = fetcher(sleeps).get(f"{loopback.url}/r", source()).text
    assert "收到就是破损的" in text and "怀疑是假货，包装粗糙" in text
    assert "客服\ufffd\ufffd度很差" in text


def test_a_page_that_is_not_text_in_any_charset_is_a_verdict(
    loopback: Loopback, sleeps: SleepRecorder
) -> None:
    noise = random.Random(3).randbytes(4096)
    loopback.route("/bin", Reply(body=noise, content_type="application/json"))
    with pytest.raises(ParseError, match="not text"):
        fetcher(sleeps).get(f"{loopback.url}/bin", source())
