"""Whether a notice about an alert may go out now: one ordered list of suppression stages.

Each stage is ``(session, alert, event, now) -> Reason | Defer | None``: ``Reason`` drops the notice
(with why), ``Defer`` holds it until a time, ``None`` lets the next stage decide. The same list is
asked by delivery (``monitor.delivery``) before each send, by the alert lifecycle before it writes an
update or reminder, and by SOP notices (``monitor.sop.incidents``) before they are written.

1. inhibited — a burst absorbed this keyword alert (its resolved notice still goes out);
2. acknowledged — someone took it: no reminders, no escalation;
3. silenced — an active silence matches the alert's labels;
4. quiet hours — the notice waits for their end, unless the severity is exempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting.compose import local_time
from monitor.alerting.routing import matches
from monitor.config import Config
from monitor.config.settings import Match, QuietHours
from monitor.notify.message import Event
from monitor.store import models as m

__all__ = ["Defer", "Reason", "Stage", "Verdict", "active_silence", "first", "quiet_until", "stages"]


@dataclass(frozen=True)
class Reason:
    """The notice is dropped (suppressed), because ``text``."""

    text: str


@dataclass(frozen=True)
class Defer:
    """The notice waits until ``until`` (not an attempt: no backoff, no fallback)."""

    until: datetime
    text: str


Verdict = Reason | Defer | None
Stage = Callable[[Session, m.Alert, Event, datetime], Verdict]


def inhibited(s: Session, alert: m.Alert, event: Event, now: datetime) -> Verdict:
    if alert.inhibited_by is not None and event != "resolved":
        return Reason(f"inhibited by alert #{alert.inhibited_by}")
    return None


def acknowledged(s: Session, alert: m.Alert, event: Event, now: datetime) -> Verdict:
    if alert.state == "acknowledged" and event in ("reminder", "escalation"):
        return Reason("acknowledged")
    return None


def active_silence(s: Session, labels: dict[str, object], now: datetime) -> m.Silence | None:
    for sil in s.scalars(select(m.Silence).where(m.Silence.starts_at <= now, m.Silence.ends_at > now)):
        try:
            match = Match.model_validate(sil.matchers)
        except ValueError:
            continue
        if matches(match, labels):
            return sil
    return None


def silenced(tz: tzinfo) -> Stage:
    def stage(s: Session, alert: m.Alert, event: Event, now: datetime) -> Verdict:
        sil = active_silence(s, alert.labels or {}, now)
        if sil is None:
            return None
        return Reason(f"silenced by silence #{sil.id} until {local_time(sil.ends_at, tz, '%Y-%m-%d %H:%M')}")

    return stage


def quiet_until(quiet: QuietHours | None, tz: tzinfo, severity: str | None, now: datetime) -> datetime | None:
    """End of the current quiet hours, if ``now`` is inside them and the severity must wait."""
    if quiet is None or (severity or "") in quiet.except_severity:
        return None
    local = now.astimezone(tz)
    start, end = (time(int(x[:2]), int(x[3:5])) for x in (quiet.start, quiet.end))
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until


def quiet_hours(quiet: QuietHours | None, tz: tzinfo) -> Stage:
    def stage(s: Session, alert: m.Alert, event: Event, now: datetime) -> Verdict:
        until = quiet_until(quiet, tz, alert.severity, now)
        return None if until is None else Defer(until, f"quiet hours until {local_time(until, tz)}")

    return stage


def stages(config: Config) -> tuple[Stage, ...]:
    """The stages, in order, for the running configuration."""
    tz = config.settings.tz
    return (inhibited, acknowledged, silenced(tz), quiet_hours(config.settings.alerting.quiet_hours, tz))


def first(pipeline: Sequence[Stage], s: Session, alert: m.Alert, event: Event, now: datetime) -> Verdict:
    """The first stage's verdict that is not None (None: the notice may go now)."""
    for stage in pipeline:
        verdict = stage(s, alert, event, now)
        if verdict is not None:
            return verdict
    return None
