"""Normalize raw items: text hygiene, times to UTC, a stable dedupe key, a payload hash.

Text folding for matching lives in ``monitor.analyze.text``. The text is kept as the platform gave it,
less what must never be stored or shown (``monitor.hygiene``: NUL and control characters, bidi
overrides, lone surrogates, non-http(s) URLs); a very long text is capped, its full text kept apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

from monitor import hygiene as h
from monitor.adapters.base import RawItem
from monitor.config.sources import SourceConfig

_REL_MIN = re.compile(r"^(\d+)\s*分钟前$")
_REL_HOUR = re.compile(r"^(\d+)\s*小时前$")
_REL_SEC = re.compile(r"^(\d+)\s*秒前$")
_REL_DAY = re.compile(r"^(\d+)\s*天前$")
_YESTERDAY = re.compile(r"^昨天\s*(\d{1,2}):(\d{2})$")
_TODAY = re.compile(r"^今天\s*(\d{1,2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_LOCAL_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)


def parse_time(value: object, now: datetime, tz: tzinfo) -> datetime | None:
    """A platform time to an aware UTC datetime.

    Accepts datetimes, epoch seconds or milliseconds, ISO 8601, RFC 2822 (Weibo's
    ``Sun Apr 22 09:08:06 +0800 2018``), local times without a zone (taken in ``tz``)
    and relative phrases (刚刚, 5分钟前, 3小时前, 昨天 12:30, 04-24) relative to ``now``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    s = str(value).strip()
    if s.isdigit():
        return parse_time(int(s), now, tz)
    if len(s) >= 10 and s[:4].isdigit() and s[4] == "-":  # the common case, in C: 2026-11-20 10:00:00
        try:
            t = datetime.fromisoformat(s.replace("Z", "+00:00"))
            return (t if t.tzinfo else t.replace(tzinfo=tz)).astimezone(UTC)
        except ValueError:
            pass
    local_now = now.astimezone(tz)
    if s in ("刚刚", "just now"):
        return now.astimezone(UTC)
    for pattern, unit in (
        (_REL_SEC, "seconds"),
        (_REL_MIN, "minutes"),
        (_REL_HOUR, "hours"),
        (_REL_DAY, "days"),
    ):
        if m := pattern.match(s):
            return (now - timedelta(**{unit: int(m.group(1))})).astimezone(UTC)
    if m := _YESTERDAY.match(s):
        day = local_now - timedelta(days=1)
        return day.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0).astimezone(
            UTC
        )
    if m := _TODAY.match(s):
        return local_now.replace(
            hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0
        ).astimezone(UTC)
    if m := _MONTH_DAY.match(s):
        mon, mday = int(m.group(1)), int(m.group(2))
        hour, minute = int(m.group(3) or 0), int(m.group(4) or 0)
        try:
            t = local_now.replace(month=mon, day=mday, hour=hour, minute=minute, second=0, microsecond=0)
        except ValueError:
            return None
        if t > local_now + timedelta(days=1):  # "12-30" seen in January is last year
            t = t.replace(year=t.year - 1)
        return t.astimezone(UTC)
    for fmt in _LOCAL_FORMATS:
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=tz).astimezone(UTC)
        except ValueError:
            pass
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
        return (t if t.tzinfo else t.replace(tzinfo=tz)).astimezone(UTC)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(s).astimezone(UTC)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.strptime(s, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except ValueError:
        return None


@dataclass
class Item:
    """A normalized item, ready to dedupe, analyze and store."""

    source: str
    platform: str
    external_id: str
    text: str
    payload_hash: str
    fetched_at: datetime
    published_at: datetime | None = None
    url: str | None = None
    author: str | None = None
    rating: int | None = None
    sku: str | None = None
    product: str | None = None
    parent_external_id: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    full_text: str | None = None  # the whole text when ``text`` had to be capped (hygiene.TEXT_CAP)

    @property
    def analysis_text(self) -> str:
        """What the analyzer reads: the whole text, so a keyword past the cap still alerts."""
        return self.full_text or self.text


def payload_hash(raw: RawItem) -> str:
    """What counts as an edit: text, rating, SKU and the linked follow-up."""
    body = json.dumps([raw.text, raw.rating, raw.sku, raw.parent_external_id], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def content_key(author: str | None, published: object, text: str) -> str:
    """Fallback id for platforms without one: a hash of (author, time, text)."""
    body = json.dumps([author or "", str(published or ""), text.strip()], ensure_ascii=False)
    return "h:" + hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def normalize(raw: RawItem, source: SourceConfig, now: datetime, tz: tzinfo) -> Item:
    """``raw`` made storable and safe to show (see ``monitor.hygiene``); the payload hash and the
    fallback id are computed on the raw values, so they do not change with the cleaning rules."""
    published = parse_time(raw.published, now, tz)
    ext = h.clean_line(raw.external_id, h.LINE_CAPS["external_id"]) if raw.external_id else ""
    attrs = {k: v for k, v in raw.attrs.items() if k != "raw"}
    caps = h.LINE_CAPS
    text, full = h.capped(h.clean_text(raw.text).strip())
    return Item(
        source=source.name,
        platform=source.platform,
        external_id=ext or content_key(raw.author, raw.published, raw.text),
        text=text,
        full_text=full,
        payload_hash=payload_hash(raw),
        fetched_at=now.astimezone(UTC),
        published_at=published,
        url=h.safe_url(raw.url),
        author=h.clean_optional(raw.author, caps["author"]),
        rating=raw.rating,
        sku=h.clean_optional(raw.sku, caps["sku"]) or source.sku,
        product=h.clean_optional(raw.product, caps["product"]) or source.product,
        parent_external_id=h.clean_optional(raw.parent_external_id, caps["parent_external_id"]),
        attrs=h.clean_value(attrs),
    )
