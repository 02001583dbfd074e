"""The daemon's system jobs, as a table, and the one wrapper every run goes through.

| job       | when                               | across replicas | does                                  |
|-----------|------------------------------------|-----------------|---------------------------------------|
| deliver   | woken by new rows, and every       | one at a time   | sends due outbox rows                 |
|           | ``deliver_every`` (its own thread) |                 | (``monitor.delivery``)                |
| lifecycle | every ``alerting.evaluate_every``  | once per period | updates, reminders, escalation,       |
|           |                                    |                 | resolution (``alerting.lifecycle``)   |
| incidents | every ``alerting.evaluate_every``  | once per period | overdue notices, checklist reminders, |
|           |                                    |                 | follow-ups (``sop.incidents``)        |
| watchdog  | every 30 s                         | one at a time   | the self-alert and the heartbeat      |
| reports   | daily at ``web.report_time``       | once a day      | the daily report, weekly on Mondays   |

The wrapper (``run``): nothing once the daemon stops; the job's cluster-wide lock, which also keeps
two threads of one process from running it at once (``Coordinator.exclusive``); a failure logged and
retried next round, never raised (a database outage only once: ``monitor.outage``); the outcome
counted in the metrics; delivery woken when the job wrote notifications. Adding a job is one row here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from monitor import delivery, reports
from monitor.alerting import lifecycle
from monitor.cluster import Coordinator
from monitor.config import Config
from monitor.config.settings import Settings
from monitor.observability import Metrics, Watchdog
from monitor.outage import DatabaseState
from monitor.sop import incidents
from monitor.store import Store

__all__ = ["JOBS", "Host", "Job", "Outcome", "by_name", "run"]

log = logging.getLogger(__name__)


class Host(Protocol):
    """What a job needs from the daemon."""

    @property
    def store(self) -> Store: ...

    @property
    def config(self) -> Config: ...

    @property
    def cluster(self) -> Coordinator: ...

    @property
    def watchdog(self) -> Watchdog: ...

    @property
    def metrics(self) -> Metrics | None: ...

    @property
    def database(self) -> DatabaseState: ...

    def now(self) -> datetime: ...

    def stopping(self) -> bool: ...

    def wake_delivery(self) -> None: ...

    def crash_point(self, name: str) -> None: ...


@dataclass(frozen=True)
class Outcome:
    notified: bool  # the job wrote outbox rows: wake delivery
    detail: object = None  # the job's own report (DeliveryReport, Tick, …)


@dataclass(frozen=True)
class Job:
    name: str  # the cluster lock's name, and the label in logs and metrics
    work: Callable[[Host, datetime], Outcome]
    period: Callable[[Settings], timedelta | None] = lambda s: None  # at most once per this, cluster-wide


def _deliver(host: Host, now: datetime) -> Outcome:
    report = delivery.deliver_due(host.store, host.config, now)
    if host.metrics is not None:
        host.metrics.observe_delivery(report)
    return Outcome(False, report)


def _lifecycle(host: Host, now: datetime) -> Outcome:
    t = lifecycle.tick(host.store, host.config, now)
    return Outcome(bool(t.updates or t.reminders or t.escalations or t.resolved), t)


def _incidents(host: Host, now: datetime) -> Outcome:
    t = incidents.tick(host.store, host.config, now)
    return Outcome(t.notified, t)


def _watchdog(host: Host, now: datetime) -> Outcome:
    hb = host.config.settings.observability.heartbeat
    beat = False
    if hb is not None:
        with host.cluster.exclusive("heartbeat", now, hb.every) as beat:
            pass
    report = host.watchdog.check(host.store, host.config, now, beat_due=beat)
    return Outcome(report.alert_id is not None, report)


def _reports(host: Host, now: datetime) -> Outcome:
    done = reports.run_due(host.store, host.config, now)
    return Outcome(bool(done), done)


JOBS: tuple[Job, ...] = (
    Job("deliver", _deliver),
    Job("lifecycle", _lifecycle, lambda s: s.alerting.evaluate_every),
    Job("incidents", _incidents, lambda s: s.alerting.evaluate_every),
    Job("watchdog", _watchdog),
    Job("reports", _reports, lambda s: timedelta(hours=20)),  # once a day, whichever replica fires first
)
_BY_NAME = {job.name: job for job in JOBS}


def by_name(name: str) -> Job:
    return _BY_NAME[name]


def run(job: Job, host: Host) -> Outcome | None:
    """One run of ``job``: None when the daemon is stopping, another replica or thread has it, or it
    failed (logged; it runs again next round)."""
    if host.stopping():
        return None
    now, t0 = host.now(), time.monotonic()
    outcome: Outcome | None = None
    result = "failed"
    try:
        with host.cluster.exclusive(job.name, now, job.period(host.config.settings)) as mine:
            if mine:
                host.crash_point(f"{job.name}.start")
                outcome = job.work(host, now)
            result = "ran" if mine else "skipped"
    except Exception as exc:
        if not host.database.failed(exc, now, f"{job.name} round"):  # an outage is logged once, there
            log.exception("%s round failed; will retry", job.name)
    if host.metrics is not None:
        host.metrics.observe_job(job.name, result, time.monotonic() - t0)
    if outcome is not None and outcome.notified:
        host.wake_delivery()
    return outcome
