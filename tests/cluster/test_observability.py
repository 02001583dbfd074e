"""/metrics, JSON logs, the self-alert when polling stalls, and the dead-man's switch heartbeat."""

from __future__ import annotations

import json
import logging
import os
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


# ---- secrets never reach the log (#17 item 18) -------------------------------------------------
def test_debug_logs_of_a_real_robot_send_and_a_source_fetch_carry_no_secret(
    tmp_path: Path, storefront: Storefront
) -> None:
    """``--log-level debug`` turns the HTTP and apprise loggers on; the DingTalk access_token, the WeCom
    key, the Feishu hook id, a webhook's basic-auth password and bearer header, and a source's cookie
    all travel (the loopback robot and the storefront see them) and none is printed."""
    from tests.notify.loopback import HttpEndpoint

    secrets = {
        "DT_TOKEN": "dingTalkAccessToken0123456789abcdef",
        "FS_HOOK": "feishuHookId-7c2b-4e1f-9a8d-0123456789ab",
        "SHOP_COOKIE": "thw=cn; _m_h5_tk=shopCookieSecret987654321",
    }
    wecom_key, basic_pw, bearer = "wecomKey-693a91f6-7xxx-4bc4-97a0", "hookPassw0rd!", "webhookBearer55555"
    robot = HttpEndpoint()
    config = write_project(tmp_path, storefront.base_url, "json://127.0.0.1:9")
    text = config.read_text(encoding="utf-8")
    api = f"http://{robot.base}"
    robots = (
        "  robots: {urls: ["
        f'"dingtalk://${{DT_TOKEN}}/?api={api}/robot/send%3Faccess_token%3D%7Btoken%7D", '
        f'"wecombot://{wecom_key}/?api={api}/cgi-bin/webhook/send%3Fkey%3D%7Bkey%7D", '
        f'"feishu://${{FS_HOOK}}/?api={api}/open-apis/bot/v2/hook/%7Btoken%7D/", '
        f'"json://ops:{basic_pw}@{robot.base}/hook", '
        f'"json://{robot.base}/hook?+Authorization=Bearer%20{bearer}"'
        "]}\n"
    )
    config.write_text(text.replace("channels:\n", "channels:\n" + robots, 1), encoding="utf-8")
    with (tmp_path / "sources" / "shop.yaml").open("a", encoding="utf-8") as f:
        f.write('    cookie: "${SHOP_COOKIE}"\n')  # on the last source (weibo, a feed)
    env = {**os.environ, **secrets, "PYTHONUNBUFFERED": "1"}
    try:
        sent = subprocess.run(
            [sys.executable, "-m", "monitor", "--log-level", "debug", "notify-test", "robots", "-c", str(config)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        tried = subprocess.run(
            [sys.executable, "-m", "monitor", "--log-level", "debug", "try-source", "weibo", "-c", str(config)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    finally:
        robot.close()
    assert sent.returncode == 0, sent.stderr[-3000:]
    paths = [q.path for q in robot.requests]
    assert f"/robot/send?access_token={secrets['DT_TOKEN']}" in paths  # the secrets really travelled
    assert f"/cgi-bin/webhook/send?key={wecom_key}" in paths
    assert f"/open-apis/bot/v2/hook/{secrets['FS_HOOK']}/" in paths
    assert {q.headers.get("Authorization") for q in robot.requests} >= {
        f"Bearer {bearer}",
        "Basic b3BzOmhvb2tQYXNzdzByZCE=",
    }
    log = sent.stderr + tried.stderr
    assert "DEBUG urllib3" in log and "DEBUG apprise" in log and "DEBUG httpcore" in log  # really debug
    leaked = [
        s for s in [*secrets.values(), "shopCookieSecret987654321", wecom_key, basic_pw, bearer] if s in log
    ]
    assert leaked == [], "\n".join(line for line in log.splitlines() if any(s in line for s in leaked))
    assert "access_token=***" in log  # what was masked stays recognisable


def test_every_logger_at_every_level_is_redacted_text_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor import redaction

    monkeypatch.setenv("MONITOR_TEST_SECRET", "envSecretValue123")
    redaction.install()
    redaction.remember(["envSecretValue123"])
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(keep)
    lines = [
        ("httpx", "HTTP Request: POST https://oapi.dingtalk.com/robot/send?access_token=%s", "dtTok3nABCDEF"),
        ("httpcore.http11", "send_request_headers.started headers=%s", "{'Cookie': 'sid=cookieSecretXYZ'}"),
        ("apprise", "WeCom URL: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=%s", "wecomKeyABCDEF"),
        ("apprise", "Feishu URL: https://open.feishu.cn/open-apis/bot/v2/hook/%s/", "feishuHookABCDEF"),
        ("monitor.store", "cannot open postgresql+psycopg://monitor:%s@db:5432/monitor", "dbPasswordXYZ"),
        ("urllib3", "Authorization: Bearer %s", "bearerTokenABCDEF"),
        ("monitor.x", "api token %s", "mon_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("monitor.x", "the channel says %s", "envSecretValue123"),
    ]
    try:
        for name, fmt, secret in lines:
            for level in (logging.DEBUG, logging.INFO, logging.ERROR):
                logger = logging.getLogger(name)
                old = logger.level
                logger.setLevel(logging.DEBUG)
                try:
                    logger.log(level, fmt, secret)
                finally:
                    logger.setLevel(old)
        try:
            raise RuntimeError("connect to postgresql://u:excPassword99@h/db failed")
        except RuntimeError:
            logging.getLogger("monitor.y").exception("boom")
    finally:
        root.removeHandler(keep)
    texts = [logging.Formatter().format(r) for r in records] + [JsonFormatter().format(r) for r in records]
    assert len(records) == 3 * len(lines) + 1
    for _, _, secret in lines:
        assert not [t for t in texts if secret in t], secret
    assert not [t for t in texts if "excPassword99" in t]
    assert any("access_token=***" in t for t in texts) and any("hook/***" in t for t in texts)
