"""A quiet first day: a new source's first poll is its history, not news.

Pointing a source at a store with 62 773 past reviews used to page everyone 76 times in minutes. The
first poll that brings a source any items (``SourceState.had_items`` still false) is stored and
analysed as usual — the console shows it all — but, under ``chat.backfill``:

- ``quiet`` (the default): no alert, no incident, no SOP clock; one INFO log line;
- ``summary``: the same, plus one message to ``routing.default``:
  "历史评价 62,773 条已入库，其中负面 31,046 条，未告警";
- ``alert``: alerts per item, as for news (the old behaviour).

Later polls alert as usual, on the items newer than this history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from monitor.alerting.compose import local_time
from monitor.analyze import Analysis
from monitor.config import Config
from monitor.notify.message import Fact, Message
from monitor.store import models as m
from monitor.store import outbox

__all__ = ["news"]

log = logging.getLogger(__name__)


def news(
    s: Session,
    config: Config,
    state: m.SourceState,
    rows: Sequence[m.Item],
    analyses: Sequence[Analysis],
    now: datetime,
) -> tuple[list[m.Item], list[Analysis]]:
    """The rows (and their analyses) that may alert: all of them, except a first poll's history."""
    chat = config.settings.chat
    if chat.backfill == "alert" or state.had_items or not rows:
        return list(rows), list(analyses)
    cutoff = now - chat.backfill_age
    fresh = [
        (r, a)
        for r, a in zip(rows, analyses, strict=True)
        if r.published_at is None or r.published_at >= cutoff
    ]
    old = [
        a
        for r, a in zip(rows, analyses, strict=True)
        if r.published_at is not None and r.published_at < cutoff
    ]
    if old:
        _history(s, config, state, len(old), sum(1 for a in old if a.sentiment == "neg"), now)
    return [r for r, _ in fresh], [a for _, a in fresh]


def _history(s: Session, config: Config, state: m.SourceState, n: int, negative: int, now: datetime) -> None:
    policy = config.settings.chat.backfill
    log.info(
        "source %s: first poll: %d historical item(s) stored, no alert (%d negative; chat.backfill=%s)",
        state.name,
        n,
        negative,
        policy,
    )
    if policy != "summary":
        return
    message = Message(
        title=f"{state.name} 首次接入",
        event="backfill",
        summary=f"历史评价 {n:,} 条已入库，其中负面 {negative:,} 条，未告警",
        facts=(
            Fact(label="来源", value=state.name, untrusted=True),
            Fact(label="入库时间", value=local_time(now, config.settings.tz)),
        ),
        footer="首次轮询的历史评价只入库不告警（chat.backfill: summary）；新评价照常告警",
    )
    for ch in config.settings.routing.default:
        outbox.enqueue(s, ch, message, f"backfill-{state.name}-{ch}", now)
