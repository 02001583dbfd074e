"""The system job table and its one wrapper: stop check, exclusivity across replicas, failures, metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from monitor import jobs
from monitor.adapters import registry
from monitor.cluster import Coordinator
from monitor.config import Config, load_config
from monitor.daemon import _trigger
from monitor.observability import Metrics, Watchdog
from monitor.outage import DatabaseState
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import NOW, write_project


@dataclass
class Replica:
    """A ``monitor.jobs.Host``: what a job gets from the daemon."""

    store: Store
    config: Config
    cluster: Coordinator
    metrics: Metrics | None = None
    stopped: bool = False
    woken: int = 0
    watchdog: Watchdog = field(default_factory=lambda: Watchdog(NOW))
    database: DatabaseState = field(default_factory=DatabaseState)

    def now(self) -> datetime:
        return NOW

    def stopping(self) -> bool:
        return self.stopped

    def wake_delivery(self) -> None:
        self.woken += 1

    def crash_point(self, name: str) -> None:
        pass


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(write_project(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9"), registry())


def test_the_table_names_every_system_job_and_the_daemon_schedules_each(config: Config) -> None:
    assert [j.name for j in jobs.JOBS] == ["deliver", "lifecycle", "incidents", "watchdog", "reports"]
    scheduled = {j.name for j in jobs.JOBS if _trigger(j.name, config.settings) is not None}
    assert scheduled == {"lifecycle", "incidents", "watchdog", "reports"}  # delivery has its own loop


@pytest.fixture
def pg_store(store_url: str) -> Iterator[Store]:
    if not store_url.startswith("postgresql"):
        pytest.skip("replicas share PostgreSQL")
    st = Store.open(store_url)
    yield st
    st.close()


def test_reports_are_built_by_one_replica_only(config: Config, pg_store: Store) -> None:
    cluster = config.settings.cluster.model_copy(update={"enabled": True})
    a = Replica(pg_store, config, Coordinator(pg_store, cluster, owner="a"))
    b = Replica(pg_store, config, Coordinator(pg_store, cluster, owner="b"))
    first = jobs.run(jobs.by_name("reports"), a)
    second = jobs.run(jobs.by_name("reports"), b)
    assert first is not None and first.notified and second is None
    assert pg_store.count(m.Report) == 2 and a.woken == 1 and b.woken == 0  # NOW is a Monday: daily, weekly


def test_a_failing_job_is_logged_counted_and_never_raised(
    config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'j.db'}")
    try:
        metrics = Metrics(lambda: store, lambda: NOW)
        host = Replica(store, config, Coordinator(store, config.settings.cluster), metrics)

        def boom(h: jobs.Host, now: datetime) -> jobs.Outcome:
            raise RuntimeError("disk on fire")

        assert jobs.run(jobs.Job("broken", boom), host) is None
        assert "broken round failed" in caplog.text and "disk on fire" in caplog.text
        assert b'monitor_system_jobs_total{job="broken",result="failed"} 1.0' in metrics.render()
        host.stopped = True
        assert jobs.run(jobs.by_name("lifecycle"), host) is None  # nothing starts once stopping
        assert b'job="lifecycle"' not in metrics.render()
    finally:
        store.close()
