"""Seeing the daemon from outside: Prometheus metrics, JSON logs, a dead-man's switch, a self-alert.

* ``Metrics``: counters this process updates (polls by source and verdict, items stored, alerts raised,
  notification outcomes) and gauges read from the database at scrape time (outbox depth, seconds since
  each source's last successful poll, live replicas). Database gauges are the same on every replica;
  counters are per replica (sum them in PromQL). Served at ``/metrics``.
* ``JsonFormatter``: one JSON object per log line (``--json-logs`` / ``MONITOR_JSON_LOGS=1``).
* ``Watchdog``: every round, once across the cluster, it raises a system alert to ``routing.admins``
  when no poll succeeded for ``observability.stale_after`` (and resolves it when polls succeed again),
  and pings the heartbeat target while polls are fresh, so an outside switch alarms when pings stop,
  whether the process died or merely stopped polling.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from monitor.config import Config
from monitor.outage import DatabaseState
from monitor.redaction import redact
from monitor.store import Store
from monitor.store import models as m

__all__ = ["JsonFormatter", "Metrics", "Watchdog", "json_handler", "metrics_endpoint"]

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STALE_KEY = "system:no-successful-poll"


# ---- metrics ------------------------------------------------------------------------------------
class _StoreCollector(Collector):
    """Gauges read from the database when Prometheus scrapes (cached a few seconds)."""

    def __init__(
        self,
        store: Callable[[], Store],
        now: Callable[[], datetime],
        replicas: Callable[[], int],
        database: DatabaseState | None = None,
    ) -> None:
        self._store, self._now, self._replicas = store, now, replicas
        self._database = database
        self._cache: tuple[float, list[Metric]] | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if self._cache is not None and time.monotonic() - self._cache[0] < 5:
                return list(self._cache[1])
            try:
                metrics = self._read()
            except Exception as exc:  # a scrape must answer even while the database is away
                if self._database is None or not self._database.failed(exc, self._now(), "metrics scrape"):
                    log.warning("metrics: cannot read the database: %s", exc)
                up = GaugeMetricFamily("monitor_database_up", "1 if the last scrape could read the database")
                up.add_metric([], 0)
                return [up]
            self._cache = (time.monotonic(), metrics)
            return list(metrics)

    def _read(self) -> list[Metric]:
        store, now = self._store(), self._now()
        depth = GaugeMetricFamily("monitor_outbox_rows", "outbox rows by status", labels=["status"])
        lag = GaugeMetricFamily(
            "monitor_source_seconds_since_success",
            "seconds since the source's last successful poll (since creation if never)",
            labels=["source"],
        )
        with store.session() as s:
            by_status = dict(s.execute(select(m.Outbox.status, func.count()).group_by(m.Outbox.status)).all())
            for status in ("pending", "sent", "suppressed"):
                depth.add_metric([status], float(by_status.get(status, 0)))
            for name, last_ok in s.execute(
                select(m.SourceState.name, m.SourceState.last_ok_at).where(
                    m.SourceState.last_ok_at.is_not(None)
                )
            ):
                if last_ok is not None:
                    lag.add_metric([name], max((now - last_ok).total_seconds(), 0.0))
        up = GaugeMetricFamily("monitor_database_up", "1 if the last scrape could read the database")
        up.add_metric([], 1)
        replicas = GaugeMetricFamily("monitor_replicas", "replicas seen within two lease periods")
        replicas.add_metric([], float(self._replicas()))
        return [depth, lag, up, replicas]


class _PerSource(Collector):
    """A counter with a series per source (×verdict / outcome): a float per label tuple under one
    lock. prometheus_client's ``Counter`` keeps a child per series (value, creation time, two locks:
    ~4 MB at 10,000 sources, #18 memory). Exposed the same (``<name>_total{...}``), without the
    ``<name>_created`` series."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, labels: tuple[str, ...], amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, labels: tuple[str, ...]) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            values = list(self._values.items())
        for labels, v in values:
            family.add_metric(labels, v)
        yield family


class Metrics:
    """One registry per daemon (tests run several daemons in one process)."""

    def __init__(
        self,
        store: Callable[[], Store],
        now: Callable[[], datetime],
        replicas: Callable[[], int] = lambda: 1,
        database: DatabaseState | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = _PerSource("monitor_polls", "polls by source and verdict", ("source", "verdict"))
        r.register(self.polls)
        self.polls_skipped = Counter(
            "monitor_polls_skipped",
            "due polls of sick sources skipped: their share of the workers was full (schedule.sick_share)",
            registry=r,
        )
        self.poll_seconds = Histogram(
            "monitor_poll_duration_seconds",
            "wall time of one poll",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.items = Counter(
            "monitor_items_stored", "items stored by kind (new, updated)", ["kind"], registry=r
        )
        self.alerts = Counter("monitor_alerts_raised", "alerts opened or updated by polls", registry=r)
        self.notifications = Counter(
            "monitor_notifications",
            "delivery attempts by outcome (sent, failed, suppressed, deferred)",
            ["outcome"],
            registry=r,
        )
        self.heartbeats = Counter(
            "monitor_heartbeats", "dead-man's switch pings by outcome", ["outcome"], registry=r
        )
        self.self_alerts = Counter(
            "monitor_self_alerts", "no-successful-poll system alerts raised", registry=r
        )
        self.follow_ups = _PerSource(
            "monitor_follow_ups",
            "items a follow-up request (long text, note detail) looked at, by source and outcome "
            "(fetched, cached, stored, blocked, failed, deferred)",
            ("source", "outcome"),
        )
        r.register(self.follow_ups)
        self.jobs = Counter(
            "monitor_system_jobs",
            "system job rounds by job and result (ran, skipped: another replica or thread has it, failed)",
            ["job", "result"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "monitor_system_job_duration_seconds",
            "wall time of one system job round",
            ["job"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120),
            registry=r,
        )
        r.register(_StoreCollector(store, now, replicas, database))

    def observe_poll(
        self, source: str, verdict: str, new: int, updated: int, alerts: int, seconds: float
    ) -> None:
        self.polls.inc((source, verdict))
        self.poll_seconds.observe(seconds)
        if new:
            self.items.labels("new").inc(new)
        if updated:
            self.items.labels("updated").inc(updated)
        if alerts:
            self.alerts.inc(alerts)

    def observe_follow_ups(self, source: str, counts: Mapping[str, int]) -> None:
        for outcome, n in counts.items():
            self.follow_ups.inc((source, outcome), n)

    def observe_job(self, job: str, result: str, seconds: float) -> None:
        self.jobs.labels(job, result).inc()
        if result == "ran":
            self.job_seconds.labels(job).observe(seconds)

    def observe_delivery(self, report: Any) -> None:
        for outcome in ("sent", "failed", "suppressed", "deferred"):
            n = int(getattr(report, outcome, 0) or 0)
            if n:
                self.notifications.labels(outcome).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_endpoint(metrics: Callable[[], Metrics | None]) -> Callable[[Any], Any]:
    """A Starlette endpoint serving ``metrics()`` in the Prometheus text format (404 when disabled)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response

    async def endpoint(request: Request) -> Response:
        mx = metrics()
        if mx is None:
            return Response("metrics are disabled (observability.metrics: false)\n", status_code=404)
        body = await run_in_threadpool(mx.render)
        return Response(body, media_type=CONTENT_TYPE)

    return endpoint


# ---- logs ---------------------------------------------------------------------------------------
_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "thread", ...extra, "exc"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        for k, v in record.__dict__.items():
            if k not in _STD and not k.startswith("_"):
                out[k] = v if isinstance(v, str | int | float | bool | type(None)) else repr(v)
        if record.exc_text:  # already rendered (and redacted) when the record was made
            out["exc"] = record.exc_text
        elif record.exc_info:
            out["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return redact(json.dumps(out, ensure_ascii=False))  # extra fields too


def json_handler(stream: Any) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    return handler


# ---- watchdog -----------------------------------------------------------------------------------
@dataclass
class WatchReport:
    stale: bool
    last_ok: datetime | None
    alert_id: int | None = None
    heartbeat: str | None = None  # "ok" | error text | None (not due / not configured)


class Watchdog:
    def __init__(self, started: datetime, metrics: Metrics | None = None) -> None:
        self.started = started
        self.metrics = metrics

    def last_success(self, store: Store, names: Iterable[str]) -> datetime | None:
        wanted = list(names)
        if not wanted:
            return None
        with store.session() as s:
            q = select(func.max(m.SourceState.last_ok_at)).where(m.SourceState.name.in_(wanted))
            return s.scalar(q)

    def check(self, store: Store, config: Config, now: datetime, *, beat_due: bool = True) -> WatchReport:
        """Raise or resolve the stale-polling alert; ping the heartbeat if due and polls are fresh."""
        obs = config.settings.observability
        names = [n for n, c in config.sources.items() if c.enabled]
        last_ok = self.last_success(store, names)
        ref = last_ok or self.started
        stale = bool(names) and obs.stale_after is not None and now - ref > obs.stale_after
        report = WatchReport(stale, last_ok)
        if obs.stale_after is not None and names:
            report.alert_id = self._self_alert(store, config, now, stale, ref)
        hb = obs.heartbeat
        if hb is not None and beat_due and not stale:
            report.heartbeat = self._beat(config, now, last_ok)
        return report

    def _self_alert(
        self, store: Store, config: Config, now: datetime, stale: bool, ref: datetime
    ) -> int | None:
        from monitor.alerting import announce, open_alert, raise_alert, resolve
        from monitor.alerting.compose import local_time

        tz = config.settings.tz
        with store.transaction() as s:
            alert = open_alert(s, STALE_KEY)
            if stale and alert is None:
                alert = raise_alert(
                    s,
                    now,
                    dedup_key=STALE_KEY,
                    kind="system",
                    rule_id=None,
                    category="system",
                    severity="critical",
                    grade=None,
                    platform=None,
                    source=None,
                    sku=None,
                    title="监控停摆：没有一次抓取成功",
                    summary=(
                        f"自 {local_time(ref, tz, '%Y-%m-%d %H:%M')}（{tz.key}）起没有任何来源抓取成功"
                        f"（stale_after {config.settings.observability.stale_after}）。"
                        "请查看守护进程日志、数据库和网络；/readyz 与 /metrics 有更多信息。"
                    ),
                )
                announce(s, config, alert, now)
                log.error("self-alert: no poll succeeded since %s", ref.isoformat())
                if self.metrics is not None:
                    self.metrics.self_alerts.inc()
                return alert.id
            if not stale and alert is not None:
                summary = (
                    f"已恢复：抓取重新成功（最近一次 {local_time(ref, tz, '%Y-%m-%d %H:%M')}，{tz.key}）"
                )
                resolve(s, config, alert, now, by="auto", summary=summary)
                log.info("self-alert resolved: polls succeed again")
            return alert.id if alert is not None else None

    def _beat(self, config: Config, now: datetime, last_ok: datetime | None) -> str:
        hb = config.settings.observability.heartbeat
        assert hb is not None
        payload = {
            "status": "ok",
            "at": now.isoformat(timespec="seconds"),
            "last_successful_poll": last_ok.isoformat(timespec="seconds") if last_ok else None,
            "sources": sum(1 for c in config.sources.values() if c.enabled),
        }
        try:
            if hb.url is not None:
                import httpx

                r = httpx.post(hb.url, json=payload, timeout=10.0)
                error = None if r.status_code < 400 else f"HTTP {r.status_code}"
            else:
                from monitor.notify.message import Message
                from monitor.notify.transport import send

                assert hb.channel is not None
                key = f"heartbeat-{now:%Y%m%dT%H%M%S}"
                message = Message(
                    title="monitor heartbeat", event="heartbeat", text=json.dumps(payload, ensure_ascii=False)
                )
                channel = config.settings.channels.get(hb.channel)
                ok, error = (
                    (False, f"unknown channel {hb.channel!r}")
                    if channel is None
                    else send(hb.channel, channel, message, key)
                )
                error = None if ok else (error or "failed")
        except Exception as exc:  # the switch alarms on a missing ping; never crash the job over it
            error = f"{type(exc).__name__}: {exc}"
        outcome = "ok" if error is None else "failed"
        if self.metrics is not None:
            self.metrics.heartbeats.labels(outcome).inc()
        if error is not None:
            log.warning("heartbeat failed: %s", error)
            return error
        return "ok"
