"""Alert lifecycle on a simulated clock: grouping, inhibition, reminders, ack, escalation,
resolution, silences, quiet hours, and delivery that survives outages and rejections."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import delivery
from monitor.adapters import registry
from monitor.alerting import lifecycle
from monitor.alerting.routing import decide
from monitor.analyze.pool import AnalysisPool
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.fetch import Fetcher
from monitor.pipeline import Context, run_source
from monitor.store import Store, outbox
from monitor.store import models as m
from tests.conftest import LOOPBACK, NOW, write_project
from tests.notify.loopback import HttpEndpoint

ROUTING = """
channels:
  console: {{urls: ["console://"]}}
  webhook: {{urls: ["json://{hook}/hook"]}}
  senior: {{urls: ["json://{hook}/senior"]}}
routing:
  default: [webhook]
  admins: [webhook]
  routes:
    - name: bursts
      match: {{kind: [burst]}}
      channels: [webhook]
      escalate:
        - {{after: 15m, channels: [senior]}}
"""


def make_ctx(tmp_path: Path, front: Storefront, sink: WebhookSink, alerting: str = "") -> Context:
    cfg_path = write_project(tmp_path, front.base_url, sink.url)
    text = cfg_path.read_text(encoding="utf-8")
    start, end = text.index("channels:"), text.index("alerting:")
    text = text[:start] + ROUTING.format(hook=sink.url.split("://")[1]).lstrip() + text[end:]
    text = text.replace("alerting:\n", "alerting:\n" + alerting)
    cfg_path.write_text(text, encoding="utf-8")
    config = load_config(cfg_path, registry())
    store = Store.open(config.database_url)
    return Context(
        config,
        store,
        Fetcher(retries=0, min_interval=0, network=LOOPBACK),
        AnalysisPool(config.rules, config.priority_words, None, 0),
    )


@pytest.fixture
def ctx(tmp_path: Path, storefront: Storefront, sink: WebhookSink) -> Iterator[Context]:
    c = make_ctx(tmp_path, storefront, sink, "  repeat_interval: 30m\n")
    yield c
    c.fetcher.close()
    c.store.close()


def poll_all(ctx: Context, now: object = NOW) -> None:
    for src in ctx.config.sources.values():
        run_source(ctx, src, now)  # type: ignore[arg-type]


def burst_alert(ctx: Context) -> m.Alert:
    with ctx.store.session() as s:
        return s.scalars(select(m.Alert).where(m.Alert.kind == "burst")).one()


def received(sink: WebhookSink, alert_id: int, path: str = "/hook") -> list[str]:
    """Events received for one alert, in order (from the idempotency keys)."""
    return [
        b["idempotency_key"].split("-")[2]
        for b in sink.messages()
        if b["_path"].startswith(path) and b["idempotency_key"].startswith(f"alert-{alert_id}-")
    ]


def test_burst_is_one_grouped_alert_with_checklist_then_reminder_ack_and_resolved(
    ctx: Context, sink: WebhookSink
) -> None:
    poll_all(ctx)
    delivery.deliver_due(ctx.store, ctx.config, NOW)
    b = burst_alert(ctx)
    assert b.item_count == 7 and b.sku == "100012043978"
    assert received(sink, b.id) == ["firing"]
    msg = next(x for x in sink.messages() if x["idempotency_key"] == f"alert-{b.id}-firing-1-webhook")
    assert "批量差评应急 SOP" in msg["message"] and "逐一私信差评顾客" in msg["message"]
    # the burst in one plain sentence: counts and the usual level, no scores (#15)
    assert "SKU 100012043978 近 " in msg["message"] and "条差评提到「" in msg["message"]
    assert "平时" in msg["message"] and "基线" not in msg["message"] and "倍" not in msg["message"]
    with ctx.store.session() as s:
        singles = list(
            s.scalars(select(m.Alert).where(m.Alert.kind == "keyword", m.Alert.rule_id == "damaged"))
        )
    assert singles and all(a.inhibited_by == b.id for a in singles)
    assert all(received(sink, a.id) == [] for a in singles)

    # More polls of the same pages: no new message (nothing new).
    poll_all(ctx, NOW + timedelta(minutes=5))
    delivery.deliver_due(ctx.store, ctx.config, NOW + timedelta(minutes=5))
    assert received(sink, b.id) == ["firing"]

    # Not acknowledged for 15 minutes: escalated to seniors; then reminded (every 30 min here).
    for minutes in (10, 16, 30):
        t = NOW + timedelta(minutes=minutes)
        lifecycle.tick(ctx.store, ctx.config, t)
        delivery.deliver_due(ctx.store, ctx.config, t)
    assert received(sink, b.id, "/senior") == ["escalation"]
    assert received(sink, b.id) == ["firing", "escalation"]
    t = NOW + timedelta(minutes=47)
    lifecycle.tick(ctx.store, ctx.config, t)
    delivery.deliver_due(ctx.store, ctx.config, t)
    assert received(sink, b.id) == ["firing", "escalation", "reminder"]
    assert received(sink, b.id, "/senior") == ["escalation", "reminder"]

    # Acknowledged: reminders stop.
    lifecycle.acknowledge(ctx.store, b.id, "小王", t)
    t2 = NOW + timedelta(minutes=58)
    lifecycle.tick(ctx.store, ctx.config, t2)
    delivery.deliver_due(ctx.store, ctx.config, t2)
    assert burst_alert(ctx).state == "acknowledged"
    assert received(sink, b.id) == ["firing", "escalation", "reminder"]
    # The burst subsided (back to baseline for a full bucket): one resolved notice, to everyone told.
    t3 = NOW + timedelta(minutes=75)
    tick = lifecycle.tick(ctx.store, ctx.config, t3)
    delivery.deliver_due(ctx.store, ctx.config, t3)
    assert b.id in tick.resolved
    assert received(sink, b.id) == ["firing", "escalation", "reminder", "resolved"]
    assert received(sink, b.id, "/senior") == ["escalation", "reminder", "resolved"]
    assert set(sink.keys().values()) == {1}


def test_acknowledged_before_escalation_means_no_escalation(ctx: Context, sink: WebhookSink) -> None:
    poll_all(ctx)
    delivery.deliver_due(ctx.store, ctx.config, NOW)
    b = burst_alert(ctx)
    lifecycle.acknowledge(ctx.store, b.id, "oncall", NOW + timedelta(minutes=5))
    for minutes in (16, 90, 200):
        t = NOW + timedelta(minutes=minutes)
        lifecycle.tick(ctx.store, ctx.config, t)
        delivery.deliver_due(ctx.store, ctx.config, t)
    assert received(sink, b.id, "/senior") == []
    assert "reminder" not in received(sink, b.id)


def test_silence_mutes_matching_alerts_until_it_expires(ctx: Context, sink: WebhookSink) -> None:
    lifecycle.silence(
        ctx.store, {"rule": ["counterfeit", "legal_media_risk"]}, timedelta(hours=2), "admin", "", NOW
    )
    poll_all(ctx)
    delivery.deliver_due(ctx.store, ctx.config, NOW)
    msgs = [x["message"] for x in sink.messages()]
    assert not any("假货质疑" in x for x in msgs)
    assert any("物流" in x for x in msgs)  # others still speak
    with ctx.store.session() as s:
        fake = s.scalars(select(m.Alert).where(m.Alert.rule_id == "counterfeit")).one()
        rows = list(s.scalars(select(m.Outbox).where(m.Outbox.alert_id == fake.id)))
    assert rows and all(r.status == "suppressed" and "silence" in (r.last_error or "") for r in rows)


def test_quiet_hours_defer_all_but_critical(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    quiet = "  quiet_hours: {start: '11:00', end: '13:00', except_severity: [critical]}\n"
    ctx = make_ctx(tmp_path, storefront, sink, quiet)
    try:
        poll_all(ctx)  # NOW is 12:00 in Shanghai: inside quiet hours
        report = delivery.deliver_due(ctx.store, ctx.config, NOW)
        titles = [x["title"] for x in sink.messages()]
        assert titles and all("【严重】" in t for t in titles)  # critical, in Chinese first
        assert report.deferred >= 1
        later = NOW + timedelta(hours=1, minutes=1)  # 13:01 local
        delivery.deliver_due(ctx.store, ctx.config, later)
        assert any("【低】" in x["title"] or "【中】" in x["title"] for x in sink.messages())
    finally:
        ctx.fetcher.close()
        ctx.store.close()


def test_sink_down_for_ten_minutes_then_everything_arrives_exactly_once(
    ctx: Context, sink: WebhookSink
) -> None:
    poll_all(ctx)
    with ctx.store.session() as s:
        expected = {
            r.idempotency_key for r in s.scalars(select(m.Outbox).where(m.Outbox.channel == "webhook"))
        }
    assert len(expected) >= 4
    sink.fail_with = 503
    for minute in range(11):
        delivery.deliver_due(ctx.store, ctx.config, NOW + timedelta(minutes=minute))
    assert sink.messages() == []
    sink.fail_with = None
    for minute in range(11, 80):
        delivery.deliver_due(ctx.store, ctx.config, NOW + timedelta(minutes=minute))
    keys = sink.keys()
    assert set(keys) == expected and set(keys.values()) == {1}
    assert outbox.pending_count(ctx.store) == 0


def test_dingtalk_errcode_is_a_failure_retried_then_falls_back(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    ding = HttpEndpoint(answer={"errcode": 310000, "errmsg": "keywords not in content"})  # DingTalk refusing
    ctx = make_ctx(tmp_path, storefront, sink)
    cfg_file = tmp_path / "monitor.yaml"
    text = (
        cfg_file.read_text(encoding="utf-8")
        .replace(
            '  console: {urls: ["console://"]}\n',
            f'  console: {{urls: ["console://"]}}\n  ding: {{urls: ["dingtalk://abcdefghijklmnop/?api={ding.url("/robot/send")}"], fallback: webhook}}\n',
        )
        .replace("  default: [webhook]", "  default: [ding]")
    )
    cfg_file.write_text(text, encoding="utf-8")
    ctx.config = load_config(cfg_file, registry())
    try:
        poll_all(ctx)
        first = delivery.deliver_due(ctx.store, ctx.config, NOW)
        assert first.failed >= 3
        assert "errcode=310000" in first.errors[0]
        assert all(
            x["_path"] == "/hook" and "差评爆发" in x["title"] for x in sink.messages()
        )  # bursts route to webhook
        t = NOW
        for _ in range(4):
            t += timedelta(hours=1)
            delivery.deliver_due(ctx.store, ctx.config, t)
        assert ding.requests  # it was really tried, every time
        fallback = [x for x in sink.messages() if "-fallback-webhook" in x["idempotency_key"]]
        assert len(fallback) == first.failed and set(sink.keys().values()) == {1}
        with ctx.store.session() as s:
            ding_rows = list(s.scalars(select(m.Outbox).where(m.Outbox.channel == "ding")))
        assert all(
            r.status == "pending" and r.attempts >= 3 for r in ding_rows
        )  # still retried, never dropped
    finally:
        ding.close()
        ctx.fetcher.close()
        ctx.store.close()


def test_routing_tree_grades_and_escalation(tmp_path: Path) -> None:
    from monitor.config.settings import Settings

    s = Settings.model_validate(
        {
            "channels": {
                n: {"urls": ["console://"]} for n in ("console", "junior", "senior", "legal", "boss")
            },
            "routing": {
                "default": ["console"],
                "routes": [
                    {
                        "match": {"kind": ["keyword"]},
                        "routes": [
                            {
                                "match": {"category": ["legal_media_risk"]},
                                "channels": ["legal"],
                                "continue": True,
                            },
                            {"match": {"grade": [1, 2]}, "channels": ["junior"]},
                            {
                                "match": {"grade": [3, 4, 5]},
                                "channels": ["senior"],
                                "escalate": [{"after": "10m", "channels": ["boss"]}],
                            },
                        ],
                    }
                ],
            },
        }
    )
    assert decide(s, {"kind": "keyword", "grade": 1}).channels == ["junior"]
    d = decide(s, {"kind": "keyword", "grade": 4})
    assert d.channels == ["senior"] and d.escalate[0].channels == ["boss"]
    assert decide(s, {"kind": "keyword", "grade": 5, "category": "legal_media_risk"}).channels == [
        "legal",
        "senior",
    ]
    assert decide(s, {"kind": "burst"}).channels == ["console"]
    assert decide(s, {"kind": "source_health"}).channels == ["console"]  # admins


def test_checklist_is_trimmed_to_a_small_channel_with_a_link(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    ctx = make_ctx(tmp_path, storefront, sink)
    cfg_file = tmp_path / "monitor.yaml"
    text = cfg_file.read_text(encoding="utf-8").replace(
        '  webhook: {urls: ["json://', '  webhook: {max_length: 900, urls: ["json://'
    )
    cfg_file.write_text(text, encoding="utf-8")
    ctx.config = load_config(cfg_file, registry())
    try:
        poll_all(ctx)
        delivery.deliver_due(ctx.store, ctx.config, NOW)
        burst = next(x for x in sink.messages() if "差评爆发" in x["title"] and x["_path"] == "/hook")
        body = burst["message"]
        assert "完整清单：http" in body and "另有" in body  # trimmed, with the link to all steps
        assert "(1/" not in body  # trimming made it fit: no split
    finally:
        ctx.fetcher.close()
        ctx.store.close()
