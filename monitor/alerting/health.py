"""Source health: a source that keeps failing is blind, and admins must hear it once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from monitor.config import Config
from monitor.notify import outbox
from monitor.store import models as m

ADVICE = {
    "blocked": "renew the cookie / login in the source's environment variables, or slow the source down",
    "broken": "the page shape changed: check the source's selectors or field paths with `monitor try-source`",
    "error": "check network reachability and the source URL",
    "empty": "the source returns nothing: check the URL and that the feed still has items",
}


def record(
    s: Session, config: Config, state: m.SourceState, verdict: str, reason: str, now: datetime
) -> m.Alert | None:
    """Update ``state`` with this poll's verdict; open or resolve the source-blind alert."""
    state.polls += 1
    state.last_poll_at = now
    state.last_verdict = verdict
    state.last_reason = reason
    healthy = verdict == "ok" or (verdict == "empty" and not state.had_items)
    key = f"source_health:{state.name}"
    from monitor.alerting import _new_alert, _open_alert

    if healthy:
        state.last_ok_at = now
        state.consecutive_failures = 0
        alert = _open_alert(s, key)
        if alert is not None:
            alert.state, alert.resolved_at, alert.updated_at = "resolved", now, now
            state.blind_since = None
            outbox.enqueue_alert(s, config, alert, "resolved", now)
        return alert
    state.consecutive_failures += 1
    if state.consecutive_failures < config.settings.alerting.blind_after or _open_alert(s, key) is not None:
        return None
    state.blind_since = now
    src = config.sources.get(state.name)
    alert = _new_alert(
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
            f"{state.consecutive_failures} polls in a row: {reason}. What to do: {ADVICE.get(verdict, '')}"
        ),
    )
    outbox.enqueue_alert(s, config, alert, "firing", now)
    return alert
