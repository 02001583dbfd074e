"""Routing to the person on duty: the firing message @mentions them; unclaimed after
``escalate_after`` the next person, then the lead; once claimed, nobody more is paged."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from monitor.adapters import registry
from monitor.alerting import announce, raise_alert
from monitor.alerting.lifecycle import claim, tick
from monitor.config import load_config
from monitor.notify.message import Message
from monitor.store import Store
from monitor.store import models as m
from tests.chat.test_oncall import ROTA
from tests.conftest import NOW  # Monday 2026-11-23 12:00 Beijing time: 小王's day shift


def messages(store: Store) -> list[Message]:
    with store.session() as s:
        return [Message.from_json(r.message) for r in s.scalars(select(m.Outbox).order_by(m.Outbox.id))]


def test_the_on_duty_person_is_paged_then_the_next_then_the_lead_until_claimed(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(
        "data_dir: data\nchannels:\n  console: {urls: ['console://']}\n"
        "alerting: {repeat_interval: 10h}\n" + ROTA,
        encoding="utf-8",
    )
    config = load_config(tmp_path / "monitor.yaml", registry())
    store = Store.open(config.database_url)
    try:
        with store.transaction() as s:
            alert = raise_alert(
                s, NOW, dedup_key="k", kind="keyword", severity="high", title="破损", grade=2, labels={}
            )
            announce(s, config, alert, NOW)
            alert_id = alert.id
        [first] = messages(store)
        assert [p.name for p in first.mentions] == ["小王"]
        assert "/ack/" in first.links[0].url and first.links[0].label.endswith("认领/确认")
        tick(store, config, NOW + timedelta(minutes=14))
        assert len(messages(store)) == 1  # not yet
        tick(store, config, NOW + timedelta(minutes=15))
        assert [p.name for p in messages(store)[-1].mentions] == ["老李"]
        assert messages(store)[-1].event == "escalation"
        tick(store, config, NOW + timedelta(minutes=30))
        assert [p.name for p in messages(store)[-1].mentions] == ["张经理"]
        tick(store, config, NOW + timedelta(minutes=45))
        assert len(messages(store)) == 3  # the lead is the last in the chain
        claim(store, config, alert_id, "小王", NOW + timedelta(minutes=50))
        assert messages(store)[-1].event == "claimed" and "小王 已于" in messages(store)[-1].summary
        tick(store, config, NOW + timedelta(hours=2))
        assert messages(store)[-1].event == "claimed"  # nobody more is paged
    finally:
        store.close()


def test_grade_4_and_5_go_to_the_seniors(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(
        "data_dir: data\nchannels:\n  console: {urls: ['console://']}\n" + ROTA, encoding="utf-8"
    )
    config = load_config(tmp_path / "monitor.yaml", registry())
    store = Store.open(config.database_url)
    try:
        with store.transaction() as s:
            alert = raise_alert(
                s, NOW, dedup_key="k", kind="keyword", severity="critical", title="曝光", grade=5, labels={}
            )
            announce(s, config, alert, NOW)
        [first] = messages(store)
        assert [p.name for p in first.mentions] == ["老李"]
    finally:
        store.close()
