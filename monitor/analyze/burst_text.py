"""What a burst verdict says to people, in Chinese: the counts, the baseline and the decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Reading", "explain", "sentence"]


@dataclass(frozen=True)
class Reading:
    count: float  # negative items in the window
    expected: float
    total: float | None  # all items in the window, when known
    share: float | None  # the negative share judged against, when known
    window: timedelta


def explain(
    r: Reading,
    *,
    first: bool,
    is_burst: bool,
    cooling: bool,
    below_minimum: bool,
    at_or_below: bool,
    last_alert: datetime | None,
    min_count: int,
) -> str:
    """The verdict in one line, e.g. ``最近 1 小时 7 条负面（共 9 条，77.8%），基线负面占比 5.0%，
    预期 0.5 条；为基线的 15.6 倍，判定为爆发``."""
    span = _span(r.window)
    if r.total is not None and r.total > 0 and r.share is not None:
        head = (
            f"最近{span} {_fmt(r.count)} 条负面（共 {_fmt(r.total)} 条，{100 * r.count / r.total:.1f}%），"
            f"基线负面占比 {100 * r.share:.1f}%，预期 {_fmt(r.expected)} 条"
        )
    else:
        head = f"最近{span} {_fmt(r.count)} 条负面，基线预期 {_fmt(r.expected)} 条"
    if first:
        return f"{head}；首个时段，正在学习基线"
    ratio = f"为基线的 {r.count / r.expected:.1f} 倍" if r.expected > 0.05 else "基线几乎为零"
    if is_burst:
        tail = f"{ratio}，判定为爆发"
    elif cooling:
        when = last_alert.strftime("%m-%d %H:%M") if last_alert else "?"
        tail = f"{ratio}，仍偏高，已于 {when} 告警"
    elif below_minimum:
        tail = f"{ratio}，异常但不足 {min_count} 条"
    elif at_or_below:
        tail = "不高于基线"
    else:
        tail = f"{ratio}，在正常波动范围内"
    return f"{head}；{tail}"


def sentence(
    subject: str,
    topic: str | None,
    count: float,
    expected: float,
    window: timedelta,
    total: float | None = None,
    until: str | None = None,
) -> str:
    """A burst in one plain sentence for the person on duty: who, how many in how long, and the usual
    level; no scores, no ids, e.g. ``SKU 100012 近 20 分钟 6 条差评提到「破损」，平时同一时段约 0.4 条``.

    ``subject`` is who (``SKU 100012``, ``全店``, ``京东``), ``topic`` the rule's title (already
    escaped by whoever renders it), ``total`` all items in the window when the usual level is a share
    of them, ``until`` the end of the window as the chat writes times (configured timezone, labelled:
    ``12-01 10:20 UTC+8``)."""
    span = _span(window).strip()
    if subject[-1:].isascii() and subject[-1:].isalnum():
        subject += " "  # SKU 100012 近 …, 全店近 …
    what = f"{_count(count)} 条差评" + (f"提到「{topic}」" if topic else "")
    if total is not None and total > 0:
        head = f"{subject}近 {span}，共 {_count(total)} 条评价，其中 {what}"
        usual = f"按平时的差评比例{_usual(expected)}"
    else:
        head = f"{subject}近 {span} {what}"
        usual = f"平时同一时段{_usual(expected)}"
    when = f"（截至 {until}）" if until else ""
    return f"{head}，{usual}{when}"


def _count(x: float) -> str:
    return f"{round(x):,}"


def _usual(x: float) -> str:
    if x < 0.05:
        return "几乎没有"
    return f"约 {_fmt(x)} 条"


def _fmt(x: float) -> str:
    if 0 < x < 0.05:
        return "不到 0.1"
    if abs(x - round(x)) < 1e-9:
        return f"{round(x):,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}"


def _span(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    if minutes % 1440 == 0:
        return f" {minutes // 1440} 天"
    if minutes % 60 == 0:
        return f" {minutes // 60} 小时"
    return f" {minutes} 分钟"
