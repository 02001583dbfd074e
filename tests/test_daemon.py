"""The daemon as a process: reload on edit, clean stop on SIGTERM mid-poll, restart."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from monitor.adapters import registry
from monitor.config import load_config
from monitor.daemon import Daemon, effective_interval
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import LOOPBACK, write_project

BAD_RULE = "rules:\n  - id: broken\n    title: T\n    category: c\n    keywords: [x]\n    colour: red\n"


def wait_for(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_invalid_edit_keeps_running_config_and_logs(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(write_project(tmp_path, storefront.base_url, sink.url))
    daemon.start()
    try:
        rules_before = [r.id for r in daemon.config.rules]
        (tmp_path / "rules" / "zz_bad.yaml").write_text(BAD_RULE, encoding="utf-8")
        daemon.check_files()
        assert daemon.reload_requested.is_set()
        with caplog.at_level(logging.ERROR, logger="monitor.daemon"):
            assert daemon.reload() is False
        assert "zz_bad.yaml:6: rules[0].colour: unknown key" in caplog.text
        assert [r.id for r in daemon.config.rules] == rules_before
        assert daemon.poll("jd-cup") is not None  # still polling with the old config
        (tmp_path / "rules" / "zz_bad.yaml").write_text(
            BAD_RULE.replace("    colour: red\n", ""), encoding="utf-8"
        )
        assert daemon.reload() is True
        assert "broken" in [r.id for r in daemon.config.rules]
        with daemon.store.session() as s:
            paths = s.scalars(select(m.RuleVersion.path)).all()
        rules_files = [p for p in paths if Path(p).parent.name == "rules"]
        assert len(rules_files) == 2  # default.yaml and the fixed zz_bad.yaml
    finally:
        daemon.shutdown()


def test_sources_added_and_removed_on_reload(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    daemon = Daemon(write_project(tmp_path, storefront.base_url, sink.url))
    daemon.start()
    try:
        assert daemon.scheduler.get_job("source:weibo") is not None
        src = tmp_path / "sources" / "shop.yaml"
        text = src.read_text(encoding="utf-8")
        src.write_text(text[: text.index("  - name: weibo")], encoding="utf-8")
        assert daemon.reload() is True
        assert daemon.scheduler.get_job("source:weibo") is None
        assert daemon.scheduler.get_job("source:jd-cup") is not None
    finally:
        daemon.shutdown()


def test_switch_interval_is_set_while_running_follows_reloads_and_is_given_back(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    before = sys.getswitchinterval()
    cfg = write_project(tmp_path, storefront.base_url, sink.url)
    daemon = Daemon(cfg, http=False)
    daemon.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(0.005)  # the product's default
        cfg.write_text(cfg.read_text(encoding="utf-8") + "switch_interval: 0.5ms\n", encoding="utf-8")
        assert daemon.reload() is True
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        daemon.shutdown()
    assert sys.getswitchinterval() == before


def test_a_failing_source_backs_off_and_a_poll_that_works_resets_it(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    """Interval 1 s, backoff after 3 failures, at most 8 s: the scheduler's runs are skipped more and more
    often while the source fails; a poll by hand always runs; one that works brings the interval back."""
    cfg = write_project(tmp_path, storefront.base_url, sink.url)
    text = cfg.read_text(encoding="utf-8")
    assert "\nschedule:\n" in text
    cfg.write_text(
        text.replace("\nschedule:\n", "\nschedule:\n  backoff_after: 3\n  backoff_max: 8s\n", 1),
        encoding="utf-8",
    )
    src = tmp_path / "sources" / "shop.yaml"
    good = src.read_text(encoding="utf-8")
    src.write_text(good.replace("/comment/productPageComments.action", "/gone.action", 1), encoding="utf-8")
    # near the real time: APScheduler keeps its own clock and would catch up on every missed run
    clock = [datetime.now(UTC)]
    daemon = Daemon(cfg, now=lambda: clock[0], http=False)
    daemon.start()
    daemon.scheduler.pause()
    try:
        time.sleep(0.3)  # the scheduler's first run of each source, started before the pause, ends
        with daemon._running.setdefault("jd-cup", threading.Lock()):
            daemon._failing.clear()
        ran = []
        for _ in range(40):  # 40 scheduler runs, one a second
            clock[0] += timedelta(seconds=1)
            result = daemon._scheduled_poll("jd-cup")
            ran.append(result is not None)
            if result is not None:
                assert result.verdict in ("error", "broken", "blocked"), result.verdict
        # 3 failures at the interval, then waits of 2, 4 and 8 s (the cap) between polls
        assert ran[:3] == [True, True, True]
        at = [i for i, r in enumerate(ran) if r]
        gaps = [b - a for a, b in itertools.pairwise(at)]
        assert gaps[:2] == [1, 1] and gaps[2:5] == [2, 4, 8] and set(gaps[5:]) == {8}, gaps
        assert daemon.backoff("jd-cup", timedelta(seconds=1)) == timedelta(seconds=8)
        assert daemon.poll("jd-cup") is not None  # by hand: runs, even while backing off
        src.write_text(good, encoding="utf-8")
        assert daemon.reload() is True
        clock[0] += timedelta(seconds=8)
        result = daemon._scheduled_poll("jd-cup")
        assert result is not None and result.verdict == "ok"
        assert daemon.backoff("jd-cup", timedelta(seconds=1)) == timedelta(seconds=1)
        clock[0] += timedelta(seconds=1)
        assert daemon._scheduled_poll("jd-cup") is not None  # at its interval again
    finally:
        daemon.shutdown()


def test_a_restart_keeps_the_backoff_of_a_source_that_was_failing(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    cfg = write_project(tmp_path, storefront.base_url, sink.url)
    src = tmp_path / "sources" / "shop.yaml"
    src.write_text(
        src.read_text(encoding="utf-8").replace("/comment/productPageComments.action", "/gone.action", 1),
        encoding="utf-8",
    )
    clock = [datetime.now(UTC)]
    first = Daemon(cfg, now=lambda: clock[0], http=False)
    first.start()
    first.scheduler.pause()
    try:
        for _ in range(4):
            clock[0] += timedelta(seconds=1)
            assert first.poll("jd-cup") is not None
        waited = first.backoff("jd-cup", timedelta(seconds=1))  # 4 s, 8 s with the scheduler's first run
        assert waited >= timedelta(seconds=4)
    finally:
        first.shutdown()
    again = Daemon(cfg, now=lambda: clock[0], http=False)
    again.start()
    again.scheduler.pause()
    try:
        assert again.backoff("jd-cup", timedelta(seconds=1)) >= waited  # from source_state
        assert again.backoff("shop", timedelta(seconds=1)) == timedelta(seconds=1)  # healthy: as before
    finally:
        again.shutdown()


def test_rule_edit_during_a_poll_keeps_that_poll_on_the_analysis_pool_it_started_with(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload replaces the analysis pool; the old one closes only when the polls using it are done."""
    from monitor.fetch import Fetcher

    cfg = write_project(tmp_path, storefront.base_url, sink.url)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("  workers: 0", "  workers: 1"), encoding="utf-8")
    sources = tmp_path / "sources" / "shop.yaml"  # not scheduled: this test polls by hand
    sources.write_text(
        sources.read_text("utf-8").replace("    kind:", "    enabled: false\n    kind:"), "utf-8"
    )
    edits: list[bool] = []
    me = threading.get_ident()

    class EditsRulesMidPoll(Fetcher):
        def fetch(self, *args: object, **kwargs: object) -> object:
            page = super().fetch(*args, **kwargs)  # type: ignore[arg-type]
            if not edits and threading.get_ident() == me:  # an admin saves a rule while this poll runs
                rules = tmp_path / "rules" / "zz_new.yaml"
                rules.write_text(BAD_RULE.replace("    colour: red\n", ""), encoding="utf-8")
                edits.append(daemon.reload())
            return page

    daemon = Daemon(cfg, fetcher=EditsRulesMidPoll(retries=0, min_interval=0, network=LOOPBACK), http=False)
    daemon.start()
    try:
        with caplog.at_level(logging.ERROR, logger="monitor.daemon"):
            result = daemon.poll("jd-cup")  # 11 new items: analyzed in the worker process
        assert edits == [True] and "failed unexpectedly" not in caplog.text
        assert result is not None and result.new == 11
        assert daemon.poll("shop") is not None  # the new pool serves the next poll
    finally:
        daemon.shutdown()


def test_promotion_profile_tightens_intervals(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    cfg = load_config(write_project(tmp_path, storefront.base_url, sink.url), registry())
    src = cfg.sources["jd-cup"].model_copy(update={"interval": timedelta(minutes=20)})
    normal = effective_interval(src, cfg, datetime(2026, 3, 1, tzinfo=UTC))
    promo = effective_interval(src, cfg, datetime(2026, 11, 11, 4, tzinfo=UTC))
    assert normal[2] == "normal" and promo[2] == "promotion:双11"
    assert promo[0] < normal[0]


def _run(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


@pytest.mark.slow
def test_sigterm_during_a_poll_then_restart_loses_and_duplicates_nothing(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    config = write_project(tmp_path, storefront.base_url, sink.url)
    log = tmp_path / "daemon.log"
    storefront.delay = 1.5  # every request takes a while: SIGTERM lands inside a poll
    proc = _run(config, log)
    try:
        wait_for(lambda: len(storefront.requests) >= 1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    db = f"sqlite:///{tmp_path / 'data' / 'monitor.db'}"
    store = Store.open(db)
    interrupted_items = store.count(m.Item)
    store.close()
    assert "interrupted by shutdown; nothing stored" in log.read_text()
    assert interrupted_items == 0

    storefront.delay = 0
    proc = _run(config, log)
    try:
        store = Store.open(db, migrate=False)
        wait_for(lambda: store.count(m.Item) >= 18 and store.count(m.Poll) >= 3, timeout=40)
        time.sleep(2.5)  # a few more polls of unchanged pages
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(m.Item))
        distinct = s.scalar(select(func.count(func.distinct(m.Item.source + ":" + m.Item.external_id))))
    store.close()
    assert total == distinct == 18  # 11 JD + 4 shop + 3 Weibo posts in the scenario
    assert "Traceback" not in log.read_text()


@pytest.mark.slow
def test_sigkill_between_writing_and_sending_delivers_once_after_restart(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    config = write_project(tmp_path, storefront.base_url, sink.url)
    text = config.read_text(encoding="utf-8").replace("  group_wait: 0s\n", "  group_wait: 8s\n")
    assert "group_wait: 8s" in text
    config.write_text(text, encoding="utf-8")
    log = tmp_path / "daemon.log"
    db = f"sqlite:///{tmp_path / 'data' / 'monitor.db'}"
    proc = _run(config, log)
    try:
        wait_for(lambda: (tmp_path / "data" / "monitor.db").exists(), timeout=30)
        store = Store.open(db, migrate=False)

        def pending() -> int:
            try:
                return store.count(m.Outbox, m.Outbox.status == "pending")
            except OperationalError:  # the daemon is still creating the tables
                return 0

        wait_for(lambda: pending() >= 1, timeout=40)
        proc.kill()  # SIGKILL: rows are written, the keyword ones are not yet due (group_wait)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with store.session() as s:
        written = {r.idempotency_key: r.status for r in s.scalars(select(m.Outbox))}
    assert "pending" in written.values()
    proc = _run(config, log)
    try:
        wait_for(lambda: store.count(m.Outbox, m.Outbox.status == "pending") == 0, timeout=60)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with store.session() as s:
        final = {
            r.idempotency_key: r.status
            for r in s.scalars(select(m.Outbox).where(m.Outbox.channel == "webhook"))
        }
    store.close()
    keys = sink.keys()
    sent = {k for k, st in final.items() if st == "sent"}
    assert sent and set(keys) == sent, set(keys) ^ sent
    assert set(keys.values()) == {1}  # nothing delivered twice
