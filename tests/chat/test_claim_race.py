"""Two people pressing 认领 at once, on SQLite and PostgreSQL: one claims, the other is told who did;
the group hears about it once."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select

from monitor.adapters import registry
from monitor.alerting import raise_alert
from monitor.alerting.lifecycle import Claim, claim
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import NOW, write_project


def test_concurrent_claims_have_one_winner(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink, store_url: str
) -> None:
    config = load_config(write_project(tmp_path, storefront.base_url, sink.url, db_url=store_url), registry())
    store = Store.open(config.database_url)
    try:
        with store.transaction() as s:
            alert_id = raise_alert(
                s, NOW, dedup_key="k", kind="keyword", severity="high", title="破损", labels={}
            ).id
        start = threading.Barrier(4)
        results: list[Claim] = []
        lock = threading.Lock()

        def press(name: str) -> None:
            start.wait()
            c = claim(store, config, alert_id, name, NOW)
            with lock:
                results.append(c)

        threads = [threading.Thread(target=press, args=(f"客服{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(c.outcome for c in results) == ["claimed", "taken", "taken", "taken"]
        winner = next(c.by for c in results if c.outcome == "claimed")
        assert all(c.by == winner for c in results)  # the others are told who took it
        with store.session() as s:
            rows = list(s.scalars(select(m.Outbox).where(m.Outbox.alert_id == alert_id)))
        assert len(rows) == 1 and rows[0].idempotency_key.startswith(f"alert-{alert_id}-claimed-")
    finally:
        store.close()
