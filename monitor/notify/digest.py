"""Many messages due at once for one chat robot become one digest message.

A robot takes 20 messages a minute (DingTalk, WeCom) and throttles for 10 minutes beyond that; when a
wave of alerts is due together, delivery (``monitor.delivery``) sends one digest with the counts and a
link per alert instead of a flood. Every outbox row it covers is recorded with the digest's outcome, so
nothing is dropped and a failed digest is retried like any message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from monitor.config.types import SEVERITIES
from monitor.notify.message import Link, Message
from monitor.notify.render import HEADS, severity_name

__all__ = ["SHOWN", "digest"]

SHOWN = 10  # alerts listed with a link; the rest are counted


def digest(messages: Sequence[Message]) -> Message:
    """One message standing for ``messages`` (their titles, severities and links onward)."""
    by_sev = Counter(severity_name(m.severity) for m in messages if m.severity)
    by_event = Counter(HEADS.get(m.event, ("", m.event))[1].strip("：【】") or "新告警" for m in messages)
    counts = "，".join(f"{k} {v} 条" for k, v in by_sev.most_common())
    events = "，".join(f"{k} {v}" for k, v in by_event.most_common())
    links = tuple(
        Link(label=f"{severity_name(m.severity)}·{m.title}"[:60], url=m.detail_url)
        for m in messages[:SHOWN]
        if m.detail_url
    )
    more = len(messages) - min(len(messages), SHOWN)
    worst = next((s for s in reversed(SEVERITIES) if any(m.severity == s for m in messages)), None)
    return Message(
        title=f"{len(messages)} 条通知合并发送",
        event="digest",
        severity=worst,
        summary=f"同时到期 {len(messages)} 条（{events}）" + (f"；按等级：{counts}" if counts else ""),
        links=links,
        footer=(f"另有 {more} 条见控制台；" if more else "") + "为免刷屏（机器人每分钟限 20 条）已合并",
    )
