"""/metrics, JSON logs, the self-alert when polling stalls, and the dead-man's switch heartbeat."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.adapters import registry
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.observability import STALE_KEY, JsonFormatter, Watchdog
from monitor.store import Store
from monitor.store import models as m
from tests.cluster.conftest import free_port, wait_for
from tests.conftest import NOW, write_project


def test_metrics_endpoint_counts_polls_items_notifications_and_reads_the_store(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    config = write_project(tmp_path, storefront.base_url, sink.url)
    port = free_port()
    config.write_text(config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}"), encoding="utf-8")
    daemon = Daemon(config)
    daemon.start()
    try:
        for name in ("jd-cup", "shop", "weibo"):
            daemon.poll(name)
        daemon.run_job("deliver")
        wait_for(lambda: daemon.http.started, timeout=10)
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        daemon.shutdown()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    body = r.text
    assert 'monitor_polls_total{source="jd-cup",verdict="ok"}' in body
    assert 'monitor_items_stored_total{kind="new"} 18.0' in body
    assert 'monitor_notifications_total{outcome="sent"}' in body
    assert 'monitor_outbox_rows{status="pending"} 0.0' in body
    assert 'monitor_source_seconds_since_success{source="weibo"}' in body
    assert "monitor_poll_duration_seconds_bucket" in body
    assert "monitor_database_up 1.0" in body


def test_json_log_lines(tmp_path: Path) -> None:
    code = (
        "import logging; from monitor.cli import setup_logging; setup_logging('INFO', True)\n"
        "log = logging.getLogger('monitor.test')\n"
        "log.warning('source %s: blocked', 'jd', extra={'source': 'jd'})\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('boom')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in out.stderr.splitlines()]
    assert lines[0]["message"] == "source jd: blocked" and lines[0]["source"] == "jd"
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "monitor.test"
    assert lines[1]["exc"].startswith("Traceback") and "ZeroDivisionError" in lines[1]["exc"]
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "ünïcode %d", (1,), None)
    assert json.loads(JsonFormatter().format(rec))["message"] == "ünïcode 1"


def test_option_and_env_switch_json_logs_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.cli

    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        monitor.cli, "setup_logging", lambda level, json_logs=False: calls.append((level, json_logs))
    )
    missing = str(tmp_path / "missing.yaml")
    runner = CliRunner()
    runner.invoke(monitor.cli.main, ["check", "-c", missing])
    runner.invoke(monitor.cli.main, ["--json-logs", "check", "-c", missing])
    runner.invoke(monitor.cli.main, ["check", "-c", missing], env={"MONITOR_JSON_LOGS": "1"})
    assert [j for _, j in calls] == [False, True, True]


def test_self_alert_when_no_poll_succeeds_then_resolves_and_heartbeat_only_while_fresh(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    extra = f"observability:\n  stale_after: 10m\n  heartbeat: {{url: '{sink.url}/ping', every: 1m}}\n"
    config = load_config(write_project(tmp_path, storefront.base_url, sink.url, extra), registry())
    store = Store.open(config.database_url)
    dog = Watchdog(started=NOW)
    try:
        fresh = dog.check(store, config, NOW + timedelta(minutes=5))
        assert not fresh.stale and fresh.alert_id is None and fresh.heartbeat == "ok"
        stale = dog.check(store, config, NOW + timedelta(minutes=11))
        assert stale.stale and stale.alert_id is not None and stale.heartbeat is None
        again = dog.check(store, config, NOW + timedelta(minutes=12))
        assert again.alert_id == stale.alert_id  # one alert, not one per round
        with store.transaction() as s:
            st = store.source_state(s, "weibo")
            st.last_ok_at = NOW + timedelta(minutes=13)
        back = dog.check(store, config, NOW + timedelta(minutes=14))
        assert not back.stale and back.heartbeat == "ok"
        with store.session() as s:
            alert = s.scalars(select(m.Alert).where(m.Alert.dedup_key == STALE_KEY)).one()
            rows = list(s.scalars(select(m.Outbox).where(m.Outbox.alert_id == alert.id)))
        assert alert.state == "resolved" and alert.kind == "system" and alert.severity == "critical"
        assert sorted(r.idempotency_key.split("-")[2] for r in rows) == ["firing", "resolved"]
        assert {r.channel for r in rows} == {"webhook"}  # routing.admins
    finally:
        store.close()
    pings = [b for b in sink.messages() if b["_path"] == "/ping"]
    assert len(pings) == 2 and pings[0]["status"] == "ok" and pings[0]["sources"] == 3
