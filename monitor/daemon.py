"""The daemon: one APScheduler job per source, outbox delivery, config reload, signals.

Signal handlers only set flags; the main thread acts on them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from monitor.adapters.base import SourceConfig
from monitor.alerting import lifecycle
from monitor.analyze.pool import AnalysisPool
from monitor.clock import utcnow
from monitor.config import Config, ConfigInvalid, load_config, yaml_files
from monitor.fetch import Fetcher
from monitor.notify import outbox
from monitor.pipeline import Context, Interrupted, RunResult, run_source
from monitor.store import Store
from monitor.store import models as m

log = logging.getLogger(__name__)


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


def record_rule_versions(store: Store, config: Config, now: datetime) -> int:
    rules_dir = config.path(config.settings.rules_dir)
    added = 0
    with store.transaction() as s:
        for p in yaml_files(rules_dir):
            shown = next((k for k in config.files if Path(k).resolve() == p.resolve()), str(p))
            sha = config.files.get(shown)
            if sha is None:
                continue
            exists = s.scalars(
                select(m.RuleVersion.id).where(m.RuleVersion.path == shown, m.RuleVersion.sha256 == sha)
            ).first()
            if exists is None:
                s.add(
                    m.RuleVersion(path=shown, sha256=sha, content=config.texts.get(shown, ""), loaded_at=now)
                )
                added += 1
    return added


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
        self._http_enabled = http
        self.http: Any = None

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self.config = load_config(self.config_path)
        for w in self.config.warnings:
            log.warning("%s", w)
        self.store = Store.open(self.config.database_url)
        record_rule_versions(self.store, self.config, self.now())
        fetcher = self._fetcher or Fetcher(stop=self.stop_event)
        fetcher.stop = self.stop_event
        self.ctx = Context(
            self.config, self.store, fetcher, self._analysis(self.config), self.stop_event, self._on_stored
        )
        self._snapshot = self._files_snapshot()
        s = self.config.settings
        self.scheduler = BackgroundScheduler(
            timezone=s.timezone,
            executors={"default": ThreadPoolExecutor(s.workers), "system": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        self._schedule_sources()
        self.scheduler.add_job(
            self.deliver,
            IntervalTrigger(seconds=s.deliver_every.total_seconds()),
            id="deliver",
            executor="system",
            next_run_time=self.now(),
        )
        self.scheduler.add_job(
            self.check_files,
            IntervalTrigger(seconds=s.reload_check.total_seconds()),
            id="watch",
            executor="system",
        )
        self.scheduler.add_job(
            self.check_profile, IntervalTrigger(minutes=1), id="profile", executor="system"
        )
        self.scheduler.add_job(
            self.lifecycle,
            IntervalTrigger(seconds=s.alerting.evaluate_every.total_seconds()),
            id="lifecycle",
            executor="system",
        )
        self.scheduler.start()
        if self._http_enabled:
            from monitor.web import Server, create_app

            self.http = Server(create_app(self, self.now), s.web.bind)
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
        return AnalysisPool(config.rules, config.priority_words, model, a.workers)

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
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=True)
        if self.http is not None:
            self.http.stop()
        self.ctx.analysis.close()
        self.store.close()
        log.info("daemon stopped")

    # ---- jobs ----------------------------------------------------------------------------------
    def _schedule_sources(self) -> None:
        now = self.now()
        wanted = {f"source:{n}": c for n, c in self.config.sources.items() if c.enabled}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("source:") and job.id not in wanted:
                job.remove()
        for job_id, cfg in wanted.items():
            interval, jitter, self._profile = effective_interval(cfg, self.config, now)
            trigger = IntervalTrigger(
                seconds=interval.total_seconds(), jitter=int(jitter.total_seconds()) or None
            )
            if self.scheduler.get_job(job_id):
                self.scheduler.reschedule_job(job_id, trigger=trigger)
            else:
                self.scheduler.add_job(
                    self.poll, trigger, args=[cfg.name], id=job_id, name=job_id, next_run_time=now
                )

    def poll(self, name: str) -> RunResult | None:
        with self._lock:
            ctx, cfg = self.ctx, self.config.sources.get(name)
        if cfg is None or self.stop_event.is_set():
            return None
        try:
            result = run_source(ctx, cfg, self.now())
        except Interrupted:
            log.info("poll of %s interrupted by shutdown; nothing stored", name)
            return None
        except Exception:
            log.exception("poll of %s failed unexpectedly", name)
            return None
        if result.alerts:
            self.scheduler.modify_job("deliver", next_run_time=self.now())
        return result

    def deliver(self) -> outbox.DeliveryReport | None:
        if self.stop_event.is_set():
            return None
        try:
            return outbox.deliver_due(self.store, self.config, self.now())
        except Exception:
            log.exception("delivery round failed; will retry")
            return None

    def lifecycle(self) -> lifecycle.Tick | None:
        if self.stop_event.is_set():
            return None
        try:
            t = lifecycle.tick(self.store, self.config, self.now())
        except Exception:
            log.exception("alert lifecycle round failed; will retry")
            return None
        if t.updates or t.reminders or t.escalations or t.resolved:
            self.scheduler.modify_job("deliver", next_run_time=self.now())
        return t

    def check_profile(self) -> None:
        if not self.config.sources:
            return
        first = next(iter(self.config.sources.values()))
        _, _, profile = effective_interval(first, self.config, self.now())
        if profile != self._profile:
            log.info("schedule profile changes from %s to %s", self._profile, profile)
            with self._lock:
                self._schedule_sources()

    # ---- reload --------------------------------------------------------------------------------
    def _files_snapshot(self) -> dict[str, tuple[int, int]]:
        c = self.config
        paths = [self.config_path]
        paths += yaml_files(c.path(c.settings.sources_dir)) + yaml_files(c.path(c.settings.rules_dir))
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
            new = load_config(self.config_path)
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
            self.ctx = Context(new, self.store, old_ctx.fetcher, analysis, self.stop_event, self._on_stored)
            self._schedule_sources()
            if analysis is not old_ctx.analysis:
                old_ctx.analysis.close()
        record_rule_versions(self.store, new, self.now())
        self.reload_errors = []
        self._snapshot = self._files_snapshot()
        log.info("config reloaded: %d sources, %d rules", len(new.sources), len(new.rules))
        return True

    def status(self) -> dict[str, Any]:
        return {
            "sources": len(self.config.sources),
            "rules": len(self.config.rules),
            "pending_notifications": outbox.pending_count(self.store),
        }
