"""A quiet first day (``chat.backfill``): a new source's first poll over its history stores and
analyses everything but pages nobody; ``summary`` says so in one message; ``alert`` is the old way."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.notify.message import Message
from monitor.pipeline import Context
from monitor.store import models as m
from tests.conftest import NOW
from tests.test_alerting import make_ctx, poll_all

LATER = NOW + timedelta(days=40)  # the storefront's reviews are weeks old by then: history


def counts(ctx: Context) -> tuple[int, int, int, list[Message]]:
    with ctx.store.session() as s:
        items = s.scalar(select(func.count()).select_from(m.Item)) or 0
        alerts = s.scalar(select(func.count()).select_from(m.Alert)) or 0
        incidents = s.scalar(select(func.count()).select_from(m.Incident)) or 0
        rows = [Message.from_json(r.message) for r in s.scalars(select(m.Outbox))]
    return items, alerts, incidents, rows


@pytest.mark.parametrize("policy", ["quiet", "summary", "alert"])
def test_the_first_poll_over_history_pages_nobody_by_default(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink, policy: str
) -> None:
    ctx = make_ctx(tmp_path, storefront, sink)
    cfg = tmp_path / "monitor.yaml"
    text = re.sub(r"chat:\n  backfill: alert.*\n", "", cfg.read_text(encoding="utf-8"))  # tests opt out
    if policy != "quiet":  # quiet is the default: nothing to write for it
        text += f"chat:\n  backfill: {policy}\n"
    cfg.write_text(text, encoding="utf-8")
    from monitor.adapters import registry
    from monitor.config import load_config

    ctx.config = load_config(cfg, registry())
    assert ctx.config.settings.chat.backfill == policy  # "quiet" without writing anything: the default
    try:
        poll_all(ctx, LATER)
        items, alerts, incidents, rows = counts(ctx)
        assert items > 0  # stored all the same (the console shows them)
        if policy == "alert":
            assert alerts > 0 and rows  # the old behaviour, when asked for
            return
        assert (alerts, incidents) == (0, 0)
        if policy == "quiet":
            assert rows == []
        else:
            assert [r.event for r in rows] == ["backfill"] * len(rows) and len(rows) >= 1
            assert all("已入库" in r.summary and "未告警" in r.summary for r in rows)
            assert any(f"历史评价 {n}" in r.summary for r in rows for n in range(1, items + 1))
        with ctx.store.session() as s:
            assert all(st.had_items for st in s.scalars(select(m.SourceState)))
        poll_all(ctx, LATER + timedelta(minutes=1))  # later polls alert as usual (nothing new here)
    finally:
        ctx.fetcher.close()
        ctx.store.close()


def test_the_first_polls_recent_items_are_news_even_when_quiet(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    """Items published within ``chat.backfill_age`` of the first poll still alert."""
    ctx = make_ctx(tmp_path, storefront, sink)
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("  backfill: alert", "  backfill: quiet"), encoding="utf-8"
    )
    from monitor.adapters import registry
    from monitor.config import load_config

    ctx.config = load_config(cfg, registry())
    assert ctx.config.settings.chat.backfill == "quiet"
    try:
        poll_all(ctx, NOW)  # the storefront's reviews are "now" for this clock
        _, alerts, _, rows = counts(ctx)
        assert alerts > 0 and rows
    finally:
        ctx.fetcher.close()
        ctx.store.close()
