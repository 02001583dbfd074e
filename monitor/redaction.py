"""Secrets never reach a log line, at any level, from any logger.

Two nets, both applied to every log record as it is created (``install``), so every handler sees only
the redacted record (ours, uvicorn's, a test's, a library's; text or JSON), whatever the level:

* **Values**: the secrets this process knows: every ``${VAR}`` the configuration expands (the
  environment's value, plain and URL-encoded), the password of the database URL, the secret parts
  of each channel URL, the sources' ``Cookie``/``Authorization`` values (``remember_config``).
* **Shapes**: what a secret looks like in transit, known or not: DingTalk's ``access_token=`` and
  WeCom's ``key=`` (any secret-named query parameter), Feishu and Lark hook ids, the password in
  ``scheme://user:password@``, the robot token of an apprise URL (``dingtalk://TOKEN``), ``Cookie``
  and ``Authorization`` headers, bearer tokens and this product's own API tokens.

A secret becomes ``***``; what kind of thing it was stays readable.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from monitor.config import Config
from monitor.config.settings import ENV_REF

__all__ = ["MASK", "install", "redact", "remember", "remember_config"]

MASK = "***"
MIN_SECRET = 6  # shorter values would garble ordinary words in the log; no real token is that short
# Apprise schemes whose "host" part is the secret (a robot token or webhook key).
_TOKEN_SCHEMES = (
    "dingtalk",
    "wecombot",
    "feishu",
    "lark",
    "wxteams",
    "tgram",
    "slack",
    "discord",
    "gchat",
    "msteams",
    "pushplus",
    "serverchan",
    "bark",
    "ntfy",
    "gotify",
)
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # a secret-named query parameter: ?access_token= (DingTalk), ?key= (WeCom), sign=, secret= …
    (
        re.compile(
            r"(?i)([?&;](?:%2B|\+|-|:)?(?:access_token|token|key|secret|sign|signature|password|passwd|"
            r"pwd|apikey|api_key|app_secret|appsecret|client_secret|refresh_token|session|sessionid|auth|"
            r"authorization|proxy-authorization|cookie|x-api-key|x-auth-token)=)"
            r"[^&;#\s\"'<>]+"
        ),
        r"\1" + MASK,
    ),
    # Feishu / Lark custom robots: …/open-apis/bot/v2/hook/<id>
    (re.compile(r"(?i)(/bot/v\d+/hook/)[^/?#\s\"'<>]+"), r"\1" + MASK),
    # user:password@ in any URL (database URLs, SMTP, webhooks with basic auth)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/?#@\s\"'<>]*:)[^@/\s\"'<>]+@"), r"\1" + MASK + "@"),
    # the robot token of an apprise URL: dingtalk://TOKEN/…
    (re.compile(r"(?i)\b(" + "|".join(_TOKEN_SCHEMES) + r")://[^/?#\s\"'<>]+"), r"\1://" + MASK),
    # headers, as "Name: value", "name=value" or a dict's "'Name': 'value'"
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token|"
            r"x-access-token)(['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n]+"
        ),
        r"\1\2" + MASK,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    (re.compile(r"\bmon_[A-Za-z0-9_-]{16,}"), "mon_" + MASK),  # this product's API tokens
)

_lock = threading.Lock()
_values: frozenset[str] = frozenset()
_ordered: tuple[str, ...] = ()
_installed = False


def remember(values: Iterable[str | None]) -> None:
    """Redact these exact values from now on (with their URL-encoded forms)."""
    global _values, _ordered
    new = set()
    for v in values:
        if v and len(v) >= MIN_SECRET:
            new |= {v, quote(v, safe=""), quote(v, safe="/")}
    with _lock:
        if new <= _values:
            return
        _values = _values | new
        _ordered = tuple(sorted(_values, key=len, reverse=True))


def redact(text: str) -> str:
    """``text`` with every known secret value and every secret-shaped part masked."""
    for value in _ordered:
        if value in text:
            text = text.replace(value, MASK)
    for pattern, repl in _SHAPES:
        text = pattern.sub(repl, text)
    return text


def _url_secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    out = [parts.password or ""]
    if parts.scheme.lower() in _TOKEN_SCHEMES:
        out.append(parts.netloc.rsplit("@", 1)[-1])
        out += [seg for seg in parts.path.split("/") if len(seg) >= 16]  # second tokens, signing secrets
    for name, value in parse_qsl(parts.query):  # apprise: ?token=…, +Authorization=… (a header)
        if re.search(r"(?i)token|key|secret|sign|pass|auth|cookie", name):
            out += [value, value.partition(" ")[2]]  # "Bearer X": X alone too
    return out


def remember_config(config: Config) -> None:
    """Remember every secret the configuration holds or expands (call after each load)."""
    found: list[str | None] = []
    for text in config.texts.values():
        found += [os.environ.get(m.group(1)) for m in ENV_REF.finditer(text)]
    for channel in config.settings.channels.values():
        for raw in channel.urls:
            expanded = ENV_REF.sub(lambda m: os.environ.get(m.group(1), ""), raw)
            found += _url_secrets(expanded)
    found += _url_secrets(config.database_url)
    for source in config.sources.values():
        found.append(getattr(source, "cookie", None))
        headers: dict[str, str] = getattr(source, "headers", {}) or {}
        found += [v for k, v in headers.items() if k.lower() in ("authorization", "cookie", "x-api-key")]
    remember(v for v in found if v and not ENV_REF.search(v))


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to the handler to report
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install() -> None:
    """Redact every log record as it is made, whichever logger makes it and whichever handler gets
    it (idempotent). Records are formatted once, here; the handlers then only print them."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
