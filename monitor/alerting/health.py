"""Source health: a source that keeps failing is blind, and admins must hear it once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from monitor.alerting import announce, open_alert, raise_alert, resolve
from monitor.config import Config
from monitor.store import models as m

ADVICE = {
    "blocked": "renew the cookie / login in the source's environment variables, or slow the source down",
    "broken": "the page shape changed: check the source's selectors or field paths with `monitor try-source`",
    "error": "check network reachability and the source URL",
    "empty": "the source returns nothing: check the URL and that the feed still has items",
}
_SPECIFIC = (
    ("robots.txt", "the site's robots.txt forbids this URL: drop the source, or get permission and set "
     "`respect_robots: false`"),
    ("rate limit", "the platform rate-limits us: raise the source's `interval` and `request_interval`"),
    ("environment variable", "set the missing environment variable for the daemon and restart it"),
    ("RSSHub", "renew the platform cookie in the RSSHub instance's configuration"),
)  # fmt: skip


def advice(verdict: str, reason: str) -> str:
    """What an admin should do about a source that fails with ``verdict`` and ``reason``."""
    for needle, text in _SPECIFIC:
        if needle.lower() in reason.lower():
            return text
    return ADVICE.get(verdict, "run `monitor try-source NAME` to see what the source answers")


def record(
    s: Session, config: Config, state: m.SourceState, verdict: str, reason: str, now: datetime
) -> m.Alert | None:
    """Update ``state`` with this poll's verdict; raise or resolve the source-blind alert."""
    state.polls += 1
    state.last_poll_at = now
    state.last_verdict = verdict
    state.last_reason = reason
    healthy = verdict == "ok" or (verdict == "empty" and not state.had_items)
    key = f"source_health:{state.name}"
    if healthy:
        state.last_ok_at = now
        state.consecutive_failures = 0
        alert = open_alert(s, key)
        if alert is not None:
            since = state.blind_since.isoformat(timespec="minutes") if state.blind_since else "?"
            summary = f"恢复 recovered: {state.name} works again ({verdict}); it was blind since {since}"
            resolve(s, config, alert, now, by="auto", summary=summary)
            state.blind_since = None
        return alert
    state.consecutive_failures += 1
    if state.consecutive_failures < config.settings.alerting.blind_after or open_alert(s, key) is not None:
        return None
    state.blind_since = now
    src = config.sources.get(state.name)
    alert = raise_alert(
        s,
        now,
        dedup_key=key,
        kind="source_health",
        rule_id=None,
        category="source_health",
        severity="high",
        grade=None,
        platform=getattr(src, "platform", None),
        source=state.name,
        sku=None,
        title=f"数据源失明 source blind: {state.name} ({verdict})",
        summary=(
            f"{state.consecutive_failures} polls in a row: {reason}. What to do: {advice(verdict, reason)}"
        ),
    )
    announce(s, config, alert, now)
    return alert
