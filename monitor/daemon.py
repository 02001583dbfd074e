"""The daemon: polls on a schedule, outbox delivery, config reload, signals.

Single process (SQLite): one APScheduler job per source. Replicas (PostgreSQL): one dispatcher thread
claims due polls from the database (``monitor.cluster``) in batches and hands them to a pool of
``workers`` threads; it claims again as soon as half its queue has run, and at least every
``cluster.claim_every``. The end of a poll (its next due time) is written with the next claim round,
in the same transaction.

Signal handlers only set flags; the main thread acts on them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor as PollPool
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from monitor import cluster, delivery, jobs, memtrim, redaction, shopauth
from monitor.adapters import registry
from monitor.admin import rules as rules_admin
from monitor.analyze.pool import AnalysisPool
from monitor.clock import utcnow
from monitor.config import Config, ConfigInvalid, load_config, yaml_files
from monitor.config.settings import Settings
from monitor.config.sources import SourceConfig
from monitor.fetch import Fetcher
from monitor.notify.transport import warm_up
from monitor.observability import Metrics, Watchdog
from monitor.outage import DatabaseState
from monitor.pipeline import Context, Interrupted, RunResult, run_source
from monitor.priority import Priority
from monitor.store import Store, StoreError, outbox

if TYPE_CHECKING:
    from monitor.testing.faults import Faults
    from monitor.web import Server

FAILED_VERDICTS = frozenset({"blocked", "broken", "error"})  # what makes a source back off
log = logging.getLogger(__name__)
FAULTS_ENV = "MONITOR_FAULT_POINT"  # monitor.testing.faults.ENV, read without importing it


def effective_interval(
    source: SourceConfig, config: Config, day: datetime
) -> tuple[timedelta, timedelta, str]:
    """(interval, jitter, profile name) for ``source`` on the local day of ``day``."""
    name, profile = config.settings.schedule.profile_for(day.astimezone(config.settings.tz).date())
    if source.interval is not None:
        interval = source.interval * profile.interval_factor
    else:
        interval = profile.interval
    interval = max(interval, timedelta(seconds=1))
    jitter = source.jitter if source.jitter is not None else min(profile.jitter, interval / 4)
    return interval, jitter, name


def _trigger(job: str, s: Settings) -> BaseTrigger | None:
    """When the scheduler runs a system job (delivery has its own loop: ``Daemon._delivery_loop``)."""
    if job in ("lifecycle", "incidents"):
        return IntervalTrigger(seconds=s.alerting.evaluate_every.total_seconds())
    if job == "watchdog":
        return IntervalTrigger(seconds=30)
    if job == "reports" and s.web.report_time:
        hour, minute = (int(x) for x in s.web.report_time.split(":"))
        return CronTrigger(hour=hour, minute=minute, timezone=s.timezone)
    return None


class QueueExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler is untyped
    """APScheduler's thread pool without a ``Future`` per submitted run.

    At start every enabled source is due at once: 10,000 runs queued in a ``concurrent.futures`` pool
    held ~1.7 KB each (future, its condition and lock, work item, callback): ~17 MB while the backlog
    drains (issue #18). Here a queued run is a tuple. As with APScheduler's pool, ``shutdown`` lets the
    queued runs finish (the daemon's jobs return at once once ``stop_event`` is set)."""

    def __init__(self, workers: int, name: str) -> None:
        super().__init__()
        self._queue: queue.SimpleQueue[tuple[Any, list[datetime]] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        for t in self._threads:
            if not t.is_alive():
                t.start()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self._queue.put((job, run_times))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            job, run_times = item
            try:
                events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
            except BaseException as exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, events)

    def shutdown(self, wait: bool = True) -> None:
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for t in self._threads:
                if t.is_alive() and t is not threading.current_thread():
                    t.join()


class PoolLoans:
    """Analysis pools lent to running polls. A reload retires the old pool; it closes when the last
    poll that started with it gives it back, never under a poll's feet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loans: dict[int, int] = {}
        self._retired: dict[int, AnalysisPool] = {}

    def borrow(self, pool: AnalysisPool) -> None:
        with self._lock:
            self._loans[id(pool)] = self._loans.get(id(pool), 0) + 1

    def give_back(self, pool: AnalysisPool) -> None:
        with self._lock:
            left = self._loans.pop(id(pool)) - 1
            if left:
                self._loans[id(pool)] = left
            done = not left and self._retired.pop(id(pool), None) is not None
        if done:
            pool.close()

    def retire(self, pool: AnalysisPool) -> None:
        with self._lock:
            idle = self._loans.get(id(pool), 0) == 0
            if not idle:
                self._retired[id(pool)] = pool
        if idle:
            pool.close()


class Daemon:
    def __init__(
        self,
        config_path: Path | str,
        *,
        now: Callable[[], datetime] = utcnow,
        fetcher: Fetcher | None = None,
        on_stored: Callable[[RunResult], None] | None = None,
        http: bool = True,
    ) -> None:
        self.config_path = Path(config_path)
        self.now = now
        self.stop_event = threading.Event()
        self.reload_requested = threading.Event()
        self._fetcher = fetcher
        self._on_stored = on_stored
        self._snapshot: dict[str, tuple[int, int]] = {}
        self._profile = ""
        self._lock = threading.RLock()
        self.config: Config
        self.store: Store
        self.ctx: Context
        self.scheduler: BackgroundScheduler
        self.reload_errors: list[str] = []
        self._wake = threading.Event()
        self._running: dict[str, threading.Lock] = {}
        self._sched_lock = threading.Lock()
        self._deliverer: threading.Thread
        self._http_enabled = http
        self.http: Server | None = None
        self.cluster: cluster.Coordinator
        self.metrics: Metrics | None = None
        self.watchdog: Watchdog
        self._guard: cluster.SqliteGuard | None = None
        self._switch_before = sys.getswitchinterval()
        # source -> (polls failed in a row, when the last one ran): the schedule's backoff
        self._failing: dict[str, tuple[int, datetime]] = {}
        # the bulkhead: sources whose last poll worked but answered slower than schedule.slow_after (with
        # the failing ones: the sick), sick polls running or claimed, due sick polls skipped
        self._slow: set[str] = set()
        self._sick_lock = threading.Lock()
        self._sick_running = 0
        self._sick_waiting: dict[str, None] = {}  # skipped, in the order they were first skipped
        self.skipped_sick = 0
        self._skips_said: tuple[float, int] = (time.monotonic(), 0)
        self._pools = PoolLoans()
        self._faults: Faults | None = None
        self.database = DatabaseState(lambda: self.config.settings.tz)  # outages: a line each way
        # replicas: the dispatcher thread, its pool of poll threads, polls ended but not yet recorded
        self._dispatcher: threading.Thread | None = None
        self._dispatch_wake = threading.Event()
        self._poll_pool: PollPool | None = None
        self._ended: list[tuple[str, datetime]] = []
        self._ended_lock = threading.Lock()
        self._horizon_cache: tuple[Config, str, timedelta] | None = None

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        redaction.install()  # also when embedded without `monitor run`'s logging set-up
        self.config = load_config(self.config_path, registry())
        redaction.remember_config(self.config)
        self._switch_before = sys.getswitchinterval()
        sys.setswitchinterval(self.config.settings.switch_interval.total_seconds())
        for w in self.config.warnings:
            log.warning("%s", w)
        self._guard = cluster.guard_sqlite(self.config.database_url)  # SQLite: one daemon per file
        cluster.migrate_serially(self.config.database_url)  # PostgreSQL: one replica migrates at a time
        self.store = Store.open(self.config.database_url)
        if os.environ.get(FAULTS_ENV):  # the SIGKILL tests ask for crash points; nobody else
            from monitor.testing.faults import Faults

            self._faults = Faults.from_env()
            self._faults.install(self.store.engine)
        with self.store.session() as session:  # a restart keeps the backoff of sources failing before it
            self._failing = {name: (n, at) for name, n, at in self.store.failing_sources(session)}
        self.cluster = cluster.Coordinator(self.store, self.config.settings.cluster)
        try:
            self.cluster.join(self.now())
            rules_admin.record_versions(self.store, self.config, self.now())
        except SQLAlchemyError as exc:  # e.g. a read-only database file: say so, no traceback
            self.store.close()
            if self._guard is not None:
                self._guard.release()
            where = self.store.engine.url.render_as_string()  # the password as ***
            raise StoreError(f"the database {where} cannot be written: {getattr(exc, 'orig', exc)}") from exc
        if self.config.settings.observability.metrics:
            self.metrics = Metrics(
                lambda: self.store, self.now, lambda: len(self.cluster.alive(self.now())), self.database
            )
        self.watchdog = Watchdog(self.now(), self.metrics)
        f = self.config.settings.fetch
        fetcher = self._fetcher or Fetcher(
            stop=self.stop_event,
            per_host=f.per_host,
            min_interval=f.min_interval.total_seconds(),
            retries=f.retries,
            network=f.network,
        )
        fetcher.stop = self.stop_event
        # delivery rounds go before poll stages (monitor/priority.py)
        self.priority = Priority(hold=self.config.settings.delivery_first.total_seconds())
        self.ctx = Context(
            self.config,
            self.store,
            fetcher,
            self._analysis(self.config),
            self.stop_event,
            self._on_stored,
            priority=self.priority,
        )
        self._snapshot = self._files_snapshot()
        s = self.config.settings
        self.scheduler = BackgroundScheduler(
            timezone=s.timezone,
            executors={"default": QueueExecutor(s.workers, "sched"), "system": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        self._schedule_sources()
        shopauth.attach(self)  # merchant API sources: the shop token store, and its refresh/expiry job
        self._deliverer = threading.Thread(target=self._delivery_loop, name="deliver", daemon=True)
        self.scheduler.add_job(
            self.check_files,
            IntervalTrigger(seconds=s.reload_check.total_seconds()),
            id="watch",
            executor="system",
        )
        self.scheduler.add_job(
            self.check_profile, IntervalTrigger(minutes=1), id="profile", executor="system"
        )
        # freed heap pages back to the system (glibc keeps them otherwise; #18 memory)
        self.scheduler.add_job(
            memtrim.trim, IntervalTrigger(seconds=memtrim.EVERY_SECONDS), id="malloc-trim", executor="system"
        )
        for job in jobs.JOBS:
            trigger = _trigger(job.name, s)
            if trigger is not None:
                self.scheduler.add_job(self.run_job, trigger, args=[job.name], id=job.name, executor="system")
        self.scheduler.start()
        if self._dispatcher is not None:
            self._dispatcher.start()
        self._deliverer.start()
        if self._http_enabled:
            from monitor.web import Server, create_app

            self.http = Server(create_app(self), s.web.bind, s.web.trusted_proxies)
            self.http.start()
        log.info(
            "daemon started: %d sources, %d rules, database %s",
            len(self.config.sources),
            len(self.config.rules),
            self.store.engine.url.render_as_string(),
        )

    def _analysis(self, config: Config) -> AnalysisPool:
        a = config.settings.analysis
        model = str(config.path(a.sentiment_model)) if a.sentiment_model else None
        problems = str(config.path(a.problem_model)) if a.problem_model else None
        return AnalysisPool(config.rules, config.priority_words, model, a.workers, problems)

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def run_forever(self, until: Callable[[], bool] | None = None) -> None:
        """Block until SIGTERM/SIGINT (or ``until()``), handling reload requests meanwhile."""
        while not self.stop_event.wait(0.2):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.reload()
            if until is not None and until():
                break
        self.shutdown()

    def shutdown(self) -> None:
        self.stop_event.set()
        self.wake_delivery()
        # APScheduler's shutdown(wait=True) holds its job-store lock while it waits for running jobs; a job
        # then calling add_job() would wait for that lock forever. Jobs call the scheduler only under
        # _sched_lock and not once stop_event is set: taking the lock once here drains any such call.
        with self._sched_lock:
            pass
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=True)
        self._dispatch_wake.set()
        if self._dispatcher is not None and self._dispatcher.is_alive():
            self._dispatcher.join(timeout=30)
        if self._poll_pool is not None:
            self._poll_pool.shutdown(wait=True, cancel_futures=True)  # queued polls never start
            self._record_ended(self.now())  # so the replicas left do not poll them again at once
        if self._deliverer.is_alive():
            self._deliverer.join(timeout=30)
        if self.http is not None:
            self.http.stop()
        self._pools.retire(self.ctx.analysis)
        self.cluster.leave()
        self.store.close()
        if self._guard is not None:
            self._guard.release()
        sys.setswitchinterval(
            self._switch_before
        )  # embedded (tests, the demo): give the process its own back
        log.info("daemon stopped")

    # ---- jobs ----------------------------------------------------------------------------------
    def _schedule_sources(self) -> None:
        now = self.now()
        self._profile = self.config.settings.schedule.profile_for(
            now.astimezone(self.config.settings.tz).date()
        )[0]
        wanted = {f"source:{n}": c for n, c in self.config.sources.items() if c.enabled}
        if self.cluster.enabled:  # replicas: one dispatcher thread instead of a job per source
            self.cluster.register([c.name for c in wanted.values()], now)
            if self._dispatcher is None:
                self._poll_pool = PollPool(self.config.settings.workers, thread_name_prefix="poll")
                self._dispatcher = threading.Thread(target=self._dispatch_loop, name="dispatch", daemon=True)
            wanted = {}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("source:") and job.id not in wanted:
                job.remove()
        # one trigger per (interval, jitter), shared by the jobs: a trigger only computes the next time
        # from its own fixed fields (10,000 of them took 2 MB)
        triggers: dict[tuple[float, int | None], IntervalTrigger] = {}
        for job_id, cfg in wanted.items():
            interval, jitter, self._profile = effective_interval(cfg, self.config, now)
            every = (interval.total_seconds(), int(jitter.total_seconds()) or None)
            trigger = triggers.get(every) or triggers.setdefault(
                every, IntervalTrigger(seconds=every[0], jitter=every[1])
            )
            if self.scheduler.get_job(job_id):
                self.scheduler.reschedule_job(job_id, trigger=trigger)
            else:
                self.scheduler.add_job(
                    self._scheduled_poll, trigger, args=[cfg.name], id=job_id, name=job_id, next_run_time=now
                )

    def poll(self, name: str, at: datetime | None = None, *, hurry: bool = False) -> RunResult | None:
        """Poll ``name`` now (``at``: the time to record, already read by the caller). ``hurry``: a
        scheduled poll outside the sick share, whose pages must answer within ``schedule.slow_after``;
        otherwise (by hand, or holding a place in the sick share) the source's own timeout applies."""
        with self._lock:
            ctx, cfg = self.ctx, self.config.sources.get(name)
            running = self._running.setdefault(name, threading.Lock())
            if cfg is None or self.stop_event.is_set():
                return None
            self._pools.borrow(ctx.analysis)
        try:
            with running:  # never two runs of one source at once, whoever asks (scheduler, CLI, console)
                return self._poll(name, ctx, cfg, at, hurry)
        finally:
            self._pools.give_back(ctx.analysis)

    def _poll(
        self, name: str, ctx: Context, cfg: SourceConfig, at: datetime | None, hurry: bool = False
    ) -> RunResult | None:
        t0 = time.monotonic()
        when = at or self.now()
        slow_after = self.config.settings.schedule.slow_after.total_seconds()
        try:
            self.crash_point("poll.start")
            with ctx.fetcher.hurry(slow_after if hurry else None) as fetched:
                result = run_source(ctx, cfg, when)
            self.crash_point("poll.stored")
        except Interrupted:
            log.info("poll of %s interrupted by shutdown; nothing stored", name)
            return None
        except Exception as exc:  # the daemon's trouble (database away, a bug), not the source's: no backoff
            self._poll_failed(name, exc)
            return None
        self._count_failure(name, result.verdict in FAILED_VERDICTS, when)
        if result.verdict not in FAILED_VERDICTS and fetched.slowest > slow_after:
            self._slow.add(name)  # works, slowly: its polls wait in the sick share, never cut short
        else:
            self._slow.discard(name)
        self.database.ok(self.now())  # a poll always writes (its poll row)
        if self.metrics is not None:
            self.metrics.observe_poll(
                name, result.verdict, result.new, result.updated, result.alerts, time.monotonic() - t0
            )
            self.metrics.observe_follow_ups(name, result.follow_ups.counts)
        if result.alerts:
            self.wake_delivery()
        return result

    # ---- backoff of failing sources -------------------------------------------------------------
    def _count_failure(self, name: str, failed: bool, at: datetime) -> None:
        if not failed:
            if self._failing.pop(name, None) is not None:
                log.info("source %s works again: polled at its interval", name)
            return
        n = self._failing.get(name, (0, at))[0] + 1
        self._failing[name] = (n, at)
        if n == self.config.settings.schedule.backoff_after:
            log.warning(
                "source %s failed %d polls in a row: polled less often (up to every %s) until it works",
                name,
                n,
                self.config.settings.schedule.backoff_max,
            )

    def backoff(self, name: str, interval: timedelta) -> timedelta:
        """How long ``name`` waits between polls: ``interval``, doubled for each failure in a row from
        ``schedule.backoff_after`` on, up to ``schedule.backoff_max`` (a blocked or dead source should
        not hold workers, nor ask a platform that refuses us again every minute)."""
        s = self.config.settings.schedule
        n = self._failing.get(name, (0, None))[0]
        doublings = n - s.backoff_after + 1
        if doublings <= 0:
            return interval
        return max(interval, min(interval * (1 << min(doublings, 30)), s.backoff_max))

    def _scheduled_poll(self, name: str) -> RunResult | None:
        """The scheduler's run of ``name`` (SQLite: a job per source at a fixed interval): skipped while
        the source backs off. A poll asked for by hand (CLI, console) always runs."""
        failing = self._failing.get(name)
        cfg = self.config.sources.get(name)
        if failing is not None and cfg is not None:
            now = self.now()
            interval, _, _ = effective_interval(cfg, self.config, now)
            wait = self.backoff(name, interval)
            if wait > interval and now < failing[1] + wait - interval / 2:  # half: the trigger's jitter
                return None
        if not self.sick(name):
            return self.poll(name, hurry=True)
        if not self._take_sick_place():
            self._skip_sick(name)
            return None
        try:
            result = self.poll(name)
            # the place goes on to the sick sources skipped meanwhile, longest waiting first, so none is
            # skipped turn after turn by the ones whose runs happen to come first
            while (waiting := self._next_waiting()) is not None:
                self.poll(waiting)
            return result
        finally:
            self._give_sick_place()

    # ---- the bulkhead: a bounded share of the workers for sick sources ---------------------------
    def sick(self, name: str) -> bool:
        """Its last poll failed (blocked, broken, error: a poll cut short by ``slow_after`` too), or it
        worked but answered slower than ``schedule.slow_after``."""
        return name in self._failing or name in self._slow

    def sick_places(self) -> int:
        """Workers polls of sick sources may hold at once: ``schedule.sick_share`` of them, at least one."""
        s = self.config.settings
        return max(1, int(s.workers * s.schedule.sick_share))

    def _take_sick_place(self) -> bool:
        with self._sick_lock:
            if self._sick_running >= self.sick_places():
                return False
            self._sick_running += 1
            return True

    def _give_sick_place(self, n: int = 1) -> None:
        with self._sick_lock:
            self._sick_running = max(0, self._sick_running - n)

    def _next_waiting(self) -> str | None:
        with self._sick_lock:
            while self._sick_waiting and not self.stop_event.is_set():
                name = next(iter(self._sick_waiting))
                del self._sick_waiting[name]
                cfg = self.config.sources.get(name)
                if cfg is not None and cfg.enabled and self.sick(name):
                    return name
        return None

    def _skip_sick(self, name: str) -> None:
        """A due poll of a sick source while the share is full: not queued; the source waits its turn for
        a place (``_next_waiting``), one entry per source however often it is skipped.
        Nothing is stored (the source's health stays at its last real verdict); counted, and said at
        most once a minute."""
        with self._sick_lock:
            self.skipped_sick += 1
            self._sick_waiting.setdefault(name)  # one entry per source: bounded by the sources
            since, said = self._skips_said
            t = time.monotonic()
            tell = t - since >= 60
            if tell:
                self._skips_said = (t, self.skipped_sick)
        if self.metrics is not None:
            self.metrics.polls_skipped.inc()
        log.debug("poll of sick source %s skipped: the sick share of the workers is full", name)
        if tell:
            log.info(
                "%d due polls of failing or slow sources skipped in the last %.0f s: they may hold %d of "
                "%d workers (schedule.sick_share) and those were busy; they run at a later turn",
                self.skipped_sick - said,
                t - since,
                self.sick_places(),
                self.config.settings.workers,
            )

    def _poll_failed(self, name: str, exc: Exception) -> None:
        """Say why a poll stored nothing; it runs again next round."""
        if self.database.failed(exc, self.now(), f"poll of {name}"):
            return  # an outage: one line when it starts, one when it ends (monitor.outage)
        if isinstance(exc, OperationalError):  # the database refused this write (a lock timeout …)
            log.error("poll of %s not stored: %s; it runs again next round", name, exc.orig)
        elif isinstance(exc, IntegrityError):  # a concurrent poll wrote the same shared row first
            log.warning(
                "poll of %s collided with a concurrent poll; rolled back, runs again: %s", name, exc.orig
            )
        else:
            log.error("poll of %s failed unexpectedly", name, exc_info=exc)

    def _capacity(self) -> int:
        """Polls this replica holds at most: its workers busy, and as many queued behind them."""
        return 2 * self.config.settings.workers

    def _horizon(self, config: Config, now: datetime) -> timedelta | None:
        """The longest interval + jitter of any enabled source, plus a lease (``Coordinator.claim``);
        None without sources. Computed once per config and schedule profile, not every round."""
        profile = config.settings.schedule.profile_for(now.astimezone(config.settings.tz).date())[0]
        cached = self._horizon_cache
        if cached is not None and cached[0] is config and cached[1] == profile:
            return cached[2]
        sources = [c for c in config.sources.values() if c.enabled]
        if not sources:
            return None
        day = [effective_interval(c, config, now) for c in sources]
        horizon = max(i + j for i, j, _ in day) + config.settings.cluster.lease
        self._horizon_cache = (config, profile, horizon)
        return horizon

    def _dispatch_loop(self) -> None:
        every = self.config.settings.cluster.claim_every.total_seconds()
        while not self.stop_event.is_set():
            self._dispatch_wake.wait(every)
            self._dispatch_wake.clear()
            if self.stop_event.is_set():
                break
            try:
                self.dispatch()
            except Exception:  # never let the thread die: the next round tries again
                log.exception("claim round failed; will retry")

    def dispatch(self) -> list[str]:
        """Replicas, one round: record the polls that ended, renew our leases, claim due polls for the
        free places of our queue (one transaction), hand them to the poll threads."""
        if self.stop_event.is_set():
            return []
        now = self.now()
        with self._lock:
            config = self.config
        horizon = self._horizon(config, now)
        with self._ended_lock:
            ended, self._ended = self._ended, []
        if horizon is None:
            self._finish(ended, now)
            return []
        try:
            self.cluster.renew(now, force=False)
            free = self._capacity() - self.cluster.held() + len(ended)
            with self._sick_lock:
                room = max(0, self.sick_places() - self._sick_running)
                self._sick_running += room  # reserved for this claim; what it does not take is given back
            claimed: cluster.Claimed | None = None
            try:
                claimed = self.cluster.claim(now, free, horizon, ended, sick_limit=room)
            finally:
                self._give_sick_place(room - (len(claimed.sick) if claimed is not None else 0))
            names = claimed
        except Exception as exc:  # the database is away: try again next round
            for name, _ in ended:
                self.cluster.forget(name)  # the lease runs out and the poll is due again then
            if not self.database.failed(exc, now, "claiming polls"):
                log.warning("claiming polls failed; will retry: %s", exc)
            return []
        self.database.ok(now)
        with self._sched_lock:  # see shutdown(): no poll may be queued once we are stopping
            if self.stop_event.is_set() or self._poll_pool is None:
                for name in names:
                    self.cluster.forget(name)  # the leases run out; another replica takes them
                self._give_sick_place(len(names.sick))
                return []
            for name in names:
                self._poll_pool.submit(self._poll_claimed, name, now, name in names.sick)
        return names

    def _finish(self, ended: list[tuple[str, datetime]], now: datetime) -> None:
        for name, due in ended:
            try:
                self.cluster.finish(name, due)
            except Exception as exc:  # the lease runs out and the poll is due again then
                self.cluster.forget(name)
                if not self.database.failed(exc, now, f"recording the end of the poll of {name}"):
                    log.warning("could not record the end of the poll of %s: %s", name, exc)

    def _record_ended(self, now: datetime) -> None:
        with self._ended_lock:
            ended, self._ended = self._ended, []
        self._finish(ended, now)

    def _poll_claimed(self, name: str, claimed_at: datetime, sick: bool = False) -> None:
        """``sick``: claimed as a sick source, with a place in the sick share reserved by the claim."""
        result = None
        # a claimed poll may wait in the queue: the next one is due an interval after this one started
        started = max(self.now(), claimed_at)
        # claimed as healthy but slow here last time: a place in the share if one is free, else in a hurry
        place = sick or (name in self._slow and self._take_sick_place())
        try:
            result = self.poll(name, started, hurry=not place)
        finally:
            if place:
                self._give_sick_place()
            cfg = self.config.sources.get(name)
            if cfg is None:
                due = started
            else:
                interval, jitter, _ = effective_interval(cfg, self.config, started)
                if result is None:  # nothing was stored (crash of the poll, collision): retry sooner
                    interval = min(interval, self.config.settings.cluster.lease)
                interval = self.backoff(name, interval)  # a source failing again and again: later
                due = cluster.next_due(started, interval, jitter)
            with self._ended_lock:
                self._ended.append((name, due))
                ended = len(self._ended)
            # half the queue has run: claim the next batch now rather than at the next claim_every
            if self.cluster.held() - ended <= self._capacity() // 2:
                self._dispatch_wake.set()

    def wake_delivery(self) -> None:
        """Something was enqueued: deliver now rather than at the next ``deliver_every``."""
        self._wake.set()

    def _delivery_loop(self) -> None:
        """A thread of its own, so a notification leaves as soon as its row is committed."""
        every = self.config.settings.deliver_every.total_seconds()
        # apprise and the configured channels' plugins, imported before the first alert
        warm_up(u for ch in self.config.settings.channels.values() for u in ch.urls)
        while not self.stop_event.is_set():
            woken = self._wake.wait(timeout=every)
            self._wake.clear()
            if woken:  # something was enqueued: polls pause at their next stage (bounded)
                with self.priority.urgent():
                    outcome = self.run_job("deliver")
            else:
                outcome = self.run_job("deliver")
            report = outcome.detail if outcome is not None else None
            if isinstance(report, delivery.DeliveryReport) and (
                report.sent + report.failed + report.suppressed >= delivery.BATCH
            ):
                self._wake.set()  # a full batch: more may be due

    def run_job(self, name: str) -> jobs.Outcome | None:
        """One round of the system job ``name`` (``monitor.jobs``), through the one wrapper."""
        return jobs.run(jobs.by_name(name), self)

    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def crash_point(self, name: str) -> None:
        """A point where the SIGKILL tests may kill the process; nothing unless they asked."""
        if self._faults is not None:
            self._faults.crash_point(name)

    def check_profile(self) -> None:
        if not self.config.sources:
            return
        first = next(iter(self.config.sources.values()))
        _, _, profile = effective_interval(first, self.config, self.now())
        if profile != self._profile:
            log.info("schedule profile changes from %s to %s", self._profile, profile)
            with self._sched_lock, self._lock:
                if not self.stop_event.is_set():
                    self._schedule_sources()

    # ---- reload --------------------------------------------------------------------------------
    def _files_snapshot(self) -> dict[str, tuple[int, int]]:
        c = self.config
        paths = [self.config_path]
        rules = c.path(c.settings.rules_dir)
        paths += yaml_files(c.path(c.settings.sources_dir)) + yaml_files(rules) + yaml_files(rules / "sops")
        snap = {}
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            snap[str(p)] = (st.st_mtime_ns, st.st_size)
        return snap

    def check_files(self) -> None:
        snap = self._files_snapshot()
        if snap != self._snapshot:
            self._snapshot = snap
            self.reload_requested.set()

    def reload(self) -> bool:
        """Load the config again; on any error keep the running one and log every problem."""
        try:
            new = load_config(self.config_path, registry())
            redaction.remember_config(new)
        except ConfigInvalid as exc:
            self.reload_errors = [str(e) for e in exc.errors]
            for e in exc.errors:
                log.error("config reload rejected, keeping the running config: %s", e)
            return False
        except Exception as exc:
            self.reload_errors = [repr(exc)]
            log.exception("config reload failed, keeping the running config")
            return False
        with self._lock:
            old_ctx = self.ctx
            analysis = (
                self._analysis(new)
                if (new.rules, new.settings.analysis) != (self.config.rules, self.config.settings.analysis)
                or new.priority_words != self.config.priority_words
                else old_ctx.analysis
            )
            self.config = new
            sys.setswitchinterval(new.settings.switch_interval.total_seconds())
            self.priority.hold = new.settings.delivery_first.total_seconds()
            old_ctx.fetcher.network = new.settings.fetch.network
            self.ctx = Context(
                new,
                self.store,
                old_ctx.fetcher,
                analysis,
                self.stop_event,
                self._on_stored,
                priority=self.priority,
            )
            self._schedule_sources()
            if analysis is not old_ctx.analysis:
                self._pools.retire(old_ctx.analysis)  # closed when the polls still using it are done
        rules_admin.record_versions(self.store, new, self.now())
        self.reload_errors = []
        self._snapshot = self._files_snapshot()
        log.info("config reloaded: %d sources, %d rules", len(new.sources), len(new.rules))
        return True

    def status(self) -> dict[str, Any]:
        return {
            "sources": len(self.config.sources),
            "rules": len(self.config.rules),
            "pending_notifications": outbox.pending_count(self.store),
            "sick_polls_skipped": self.skipped_sick,
        }
