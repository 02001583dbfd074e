"""Files with notifications: the report's chart attached for e-mail, delivered as a real attachment."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from monitor import delivery
from monitor.adapters import registry
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.notify.message import Attachment, Message
from monitor.reports import build_daily, publish
from monitor.store import Store, outbox
from monitor.store import models as m
from tests.conftest import NOW, write_project


def test_attachments_reach_a_channel_that_takes_files(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    config = load_config(write_project(tmp_path, storefront.base_url, sink.url), registry())
    store = Store.open(config.database_url)
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><text>趋势</text></svg>'
    with store.transaction() as s:
        chart = Attachment(name="trend.svg", content=svg, mime="image/svg+xml")
        message = Message(title="日报", event="report", text="# 日报", attachments=(chart,))
        outbox.enqueue(s, "webhook", message, "report-x-webhook", NOW)
    assert delivery.deliver_due(store, config, NOW).sent == 1
    msg = sink.messages()[0]
    files = {a["filename"]: base64.b64decode(a["base64"]).decode("utf-8") for a in msg["attachments"]}
    assert files == {"trend.svg": svg}
    assert msg["message"].startswith("# 日报") and msg["type"] == "info"
    store.close()


def test_daily_report_goes_to_email_as_html_with_the_chart_attached(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    cfg = write_project(tmp_path, storefront.base_url, sink.url)
    text = cfg.read_text(encoding="utf-8").replace(
        '  console: {urls: ["console://"]}\n',
        '  console: {urls: ["console://"]}\n  managers: {urls: ["mailto://bot:pw@127.0.0.1:2525?to=boss@example.com"]}\n',
    )
    cfg.write_text(text.replace("web:\n", "web:\n  report_channels: [managers, webhook]\n"), encoding="utf-8")
    config = load_config(cfg, registry())
    store = Store.open(config.database_url)
    report = build_daily(store, config, (NOW - timedelta(days=1)).date(), NOW)
    publish(store, config, report, NOW)
    with store.session() as s:
        rows = {r.channel: r for r in s.scalars(select(m.Outbox))}
    managers, webhook = (Message.from_json(rows[ch].message) for ch in ("managers", "webhook"))
    assert "<svg" in managers.html and rows["managers"].event == "report"
    assert [a.name for a in managers.attachments] == [f"trend-{report.period}.svg"]
    assert managers.attachments[0].content.startswith("<svg")
    assert not webhook.html and webhook.attachments == ()
    assert "/reports/" in webhook.text
    store.close()
