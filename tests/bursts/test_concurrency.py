"""Polls and the alert lifecycle at the same time on PostgreSQL: no deadlock (#17 item 7).

Every poll locks the burst state rows it needs in one ordered statement before it writes any
alert row, and the lifecycle only reads burst state (``burst_scopes.still_bursting``), so the
two cannot wait for each other on ``detector_state``. Here four sources on two platforms, whose
complaints share SKUs, products and rules, are polled from four threads while a fifth thread runs
lifecycle rounds over the open burst alerts they raise.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from monitor.alerting import lifecycle
from monitor.pipeline import run_source
from tests.bursts.sim import DAMAGED, PRAISE, Sim, SimShop, local
from tests.conftest import PG_URL, _pg_schema_url

pytestmark = pytest.mark.postgres
MIN = timedelta(minutes=1)


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("MONITOR_TEST_PG_URL not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_polls_and_lifecycle_rounds_run_together_without_deadlock(tmp_path: Path, pg_url: str) -> None:
    shops = [SimShop().start() for _ in range(4)]
    sim = Sim(tmp_path, shops[0], db_url=pg_url, more=shops[1:])
    try:
        start = local(2026, 3, 5, 9)
        for k, shop in enumerate(shops):  # two days of history in every source
            sim.traffic(start - timedelta(days=2), start, per_hour=3, negative_share=0.1)
            for r in list(sim.shop.reviews):
                if k:
                    shop.add(r)
        sim.poll(start)
        clock = {"now": start}
        failures: list[BaseException] = []
        rounds = {"poll": 0, "lifecycle": 0}
        done = threading.Event()
        guard = threading.Lock()

        def poller(i: int) -> None:
            src = sim.config.sources["shop" if i == 0 else f"shop{i}"]
            for step in range(12):
                with guard:
                    clock["now"] += MIN
                    now = clock["now"]
                for j in range(3):  # complaints on shared SKUs and rules, some praise
                    sku = f"sku-{(step + j) % 3}"
                    sim.review(now - j * MIN, DAMAGED[(i + j) % len(DAMAGED)], 1, sku, f"p-{j % 2}", shops[i])
                sim.review(now, PRAISE[step % len(PRAISE)], 5, "sku-0", "p-0", shops[i])
                shops[i].now = now
                try:
                    result = run_source(sim.ctx, src, now)
                    assert result.verdict == "ok", result.reason
                    with guard:
                        rounds["poll"] += 1
                except BaseException as exc:
                    failures.append(exc)

        def ticker() -> None:
            while not done.is_set():
                try:
                    lifecycle.tick(sim.store, sim.config, clock["now"] + 2 * timedelta(hours=1))
                    rounds["lifecycle"] += 1
                except BaseException as exc:
                    failures.append(exc)

        threads = [threading.Thread(target=poller, args=(i,)) for i in range(4)]
        tick = threading.Thread(target=ticker)
        tick.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        done.set()
        tick.join(timeout=60)
        assert not failures, failures[:3]
        assert rounds["poll"] == 48 and rounds["lifecycle"] >= 3, rounds
        assert sim.alerts("burst"), "the scenario must raise bursts for the lifecycle to judge"
    finally:
        sim.close()
        for shop in shops:
            shop.stop()
