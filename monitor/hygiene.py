"""Text hygiene at the door: everything a page says is untrusted, and some of it cannot even be stored.

Applied to every page-derived string before it is stored (``monitor.normalize``) or shown in a
source's health reason (``monitor.pipeline``):

* NUL and the other C0/C1 control characters are removed (PostgreSQL refuses NUL in text, so one
  such review used to make every poll of its source fail); tab, newline and carriage return stay;
* lone surrogates (``"\\ud800"`` in a JSON string) become U+FFFD: no database encodes them;
* bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) are removed, so a
  right-to-left override cannot make a review or a name read differently from what it holds;
* long texts are capped for storage and display, the full text kept apart (``capped``);
* URLs are kept only as absolute ``http(s)`` URLs (``safe_url``); the console links only to the
  platform's own hosts (``link_allowed``).

Escaping for each output (HTML, chat markdown, e-mail) is the renderers' business, not this module's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

TEXT_CAP = 5_000  # characters of review text stored in the item row and shown; the rest is kept apart
LINE_CAPS = {"author": 200, "sku": 200, "product": 300, "external_id": 200, "parent_external_id": 200}
URL_CAP = 2_048
REASON_CAP = 300
_ATTRS_DEPTH = 8

# C0 controls except \t \n \r, DEL, C1 controls, bidi embeddings/overrides/isolates, noncharacters
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ufffe\uffff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_SPACE = re.compile(r"[\t\n\r\u2028\u2029]+")
_URL_BREAKS = re.compile("[\t\n\r]")

# The hosts each platform's own pages live on: a review's link is rendered as a link only to these.
PLATFORM_HOSTS: Mapping[str, tuple[str, ...]] = {
    "jd": ("jd.com", "jd.hk", "360buy.com", "3.cn"),
    "tmall": ("tmall.com", "taobao.com", "tb.cn"),
    "taobao": ("taobao.com", "tmall.com", "tb.cn"),
    "weibo": ("weibo.com", "weibo.cn"),
    "xhs": ("xiaohongshu.com", "xhslink.com"),
    "xiaohongshu": ("xiaohongshu.com", "xhslink.com"),
    "douyin": ("douyin.com", "iesdouyin.com"),
    "pdd": ("yangkeduo.com", "pinduoduo.com"),
    "pinduoduo": ("yangkeduo.com", "pinduoduo.com"),
    "kuaishou": ("kuaishou.com", "kwai.com"),
}


def clean_text(value: str) -> str:
    """Storable, unambiguous text: no NUL/control/bidi-override characters, no lone surrogates."""
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return _CONTROL.sub("", value)


def clean_line(value: str, cap: int) -> str:
    """``clean_text`` on one line (line breaks and tabs become a space), at most ``cap`` characters."""
    return _LINE_SPACE.sub(" ", clean_text(value)).strip()[:cap]


def clean_optional(value: str | None, cap: int) -> str | None:
    if value is None:
        return None
    return clean_line(value, cap) or None


def clean_value(value: Any, depth: int = 0) -> Any:
    """``clean_text`` through a JSON-like value (keys too); deeper than a few levels it is dropped."""
    if isinstance(value, str):
        return clean_text(value)
    if depth >= _ATTRS_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {clean_text(str(k)): clean_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(v, depth + 1) for v in value]
    return value


def capped(text: str, cap: int = TEXT_CAP) -> tuple[str, str | None]:
    """(the text to store and show, the full text when it had to be cut, else None)."""
    if len(text) <= cap:
        return text, None
    return f"{text[:cap]}…（全文 {len(text):,} 字，已截断 / truncated）", text


def safe_url(url: object) -> str | None:
    """An absolute http(s) URL, or None. Protocol-relative ``//img…`` becomes https.

    Parsed the way browsers parse it (WHATWG): tabs and line breaks inside are dropped and a backslash is
    a slash, so ``java\\tscript:`` and ``http://evil\\@jd.com`` cannot hide their real scheme or host.
    Credentials in the URL are refused (only used to disguise the host)."""
    if not isinstance(url, str):
        return None
    u = _URL_BREAKS.sub("", clean_text(url)).strip(" \x0c").replace("\\", "/").replace(" ", "%20")
    if u.startswith("//"):
        u = "https:" + u
    if len(u) > URL_CAP:
        return None
    try:
        parts = urlsplit(u)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return u


def _host_in(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def link_allowed(url: str | None, platform: str | None, own_hosts: Iterable[str] = ()) -> bool:
    """Whether the console may render ``url`` as a link: http(s) to the platform's own hosts, or to the
    host of the source's own configured URL (``own_hosts``, for a shop's own site)."""
    u = safe_url(url)
    if u is None:
        return False
    host = (urlsplit(u).hostname or "").lower().rstrip(".")
    allowed = (*PLATFORM_HOSTS.get((platform or "").lower(), ()), *(h.lower() for h in own_hosts if h))
    return bool(host) and _host_in(host, allowed)


def body_hint(body: str) -> str:
    """What kind of answer a body is, without a byte of it: remote bodies stay out of reasons, which
    viewers and chat see (an internal answer must not leak, a hostile one must not inject)."""
    head = body.lstrip("\ufeff \r\n\t")[:200].lower()
    if head.startswith(("<!doctype html", "<html")) or "<body" in head or "<head" in head:
        kind = "an HTML page"
    elif head.startswith("<"):
        kind = "XML or markup"
    elif head.startswith(("{", "[")):
        kind = "JSON-like text"
    else:
        kind = "plain text"
    return f"{kind} of {len(body):,} characters"


def reason_line(text: str, cap: int = REASON_CAP) -> str:
    """A source's failure reason as one clean line (it is shown to viewers and sent to chat)."""
    return clean_line(text, cap)
