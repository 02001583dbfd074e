"""新问题: a phrase no rule covers, rising far above its own baseline among negative items.

Runs in the poll's transaction after keyword alerts and bursts. Only negative items on which
no rule fired ("uncovered") are looked at. The cheap part runs on every poll with such items:
the candidate phrases (``monitor.analyze.phrases``) of this poll's uncovered negative items are
counted in the uncovered negative items of the last :data:`WINDOW` (one query). Only when a
phrase is in at least ``alerting.burst_min_count`` of them is its baseline read: its share of
the uncovered negative items of the previous :data:`BASELINE`. The expected count is that share
(with half an item of prior) times the items of the window, and the phrase is new when its count
is at least ``z_min`` normal scores above it, like a burst. Phrases carried by the same items
are one problem; the alert names the longest phrase they share, the counts, examples and a
suggested rule (:func:`suggest_rule`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from monitor.alerting.alerts import AlertEvent, attach, open_alert, raise_alert
from monitor.analyze import Analysis
from monitor.analyze.burst_detector import BurstConfig
from monitor.analyze.counts import normal_score
from monitor.analyze.phrases import extend, grams, is_covered
from monitor.analyze.text import fold
from monitor.config import Config
from monitor.store import models as m

WINDOW = timedelta(hours=2)
BASELINE = timedelta(days=28)
SAME_PROBLEM = 0.8  # phrases sharing this much of their items are one problem
EXAMPLES = 3
FUTURE_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class NewProblem:
    phrase: str
    items: list[int]  # uncovered negative items holding it in the window
    count: int
    window_items: int  # uncovered negative items in the window
    baseline: int  # items holding it in the baseline period
    baseline_items: int  # uncovered negative items in the baseline period
    expected: float
    z: float


def _uncovered(s: Session, since: datetime, until: datetime) -> list[tuple[int, str]]:
    """(id, folded text) of the negative items no rule fired on, published in [since, until)."""
    q = (
        select(m.Item.id, m.Item.published_at, m.Item.fetched_at, m.Analysis.normalized, m.Analysis.rules)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(m.Item.published_at >= since, m.Item.published_at < until, m.Analysis.sentiment == "neg")
    )
    return [
        (iid, text)
        for iid, pub, fetched, text, rules in s.execute(q)
        if not rules and pub is not None and pub <= fetched + FUTURE_SKEW
    ]


# The baseline texts, read at most once an hour per database: a candidate phrase is checked against
# four weeks of uncovered negatives, which a poll should not read again and again.
_BASELINES: dict[str, tuple[datetime, list[str]]] = {}
_LOCK = threading.Lock()


def _baseline(s: Session, now: datetime) -> list[str]:
    """Folded texts of the uncovered negative items of the baseline period (as of the hour of ``now``)."""
    bind = s.get_bind()
    key = (bind.engine if isinstance(bind, Connection) else bind).url.render_as_string(hide_password=True)
    hour = now.replace(minute=0, second=0, microsecond=0)
    with _LOCK:
        cached = _BASELINES.get(key)
    if cached is not None and cached[0] == hour:
        return cached[1]
    texts = [text for _, text in _uncovered(s, hour - BASELINE, hour - WINDOW)]
    with _LOCK:
        _BASELINES[key] = (hour, texts)
    return texts


def find(
    s: Session, config: Config, rows: Sequence[m.Item], analyses: Sequence[Analysis], now: datetime
) -> list[NewProblem]:
    """The new problems this poll's items bring up (empty on almost every poll, cheaply)."""
    fresh: set[str] = set()
    for row, a in zip(rows, analyses, strict=True):
        pub = row.published_at
        if (
            a.sentiment == "neg"
            and not a.rules
            and pub is not None
            and now - WINDOW <= pub <= now + FUTURE_SKEW
        ):
            fresh |= grams(a.normalized)
    if not fresh:
        return []
    min_items = config.settings.alerting.burst_min_count
    recent = _uncovered(s, now - WINDOW, now + FUTURE_SKEW)
    if len(recent) < min_items:
        return []
    keywords = [fold(k) for r in config.rules for k in r.keywords]
    holders: dict[str, list[int]] = {}
    for g in fresh:
        ids = [iid for iid, text in recent if g in text]
        if len(ids) >= min_items and not is_covered(g, keywords):
            holders[g] = ids
    if not holders:
        return []
    texts = dict(recent)
    base = _baseline(s, now)
    z_min = BurstConfig().z_min
    found: list[NewProblem] = []
    for g, ids in holders.items():
        k = sum(1 for text in base if g in text)
        expected = (k + 0.5) / (len(base) + 1) * len(recent)
        z = normal_score(len(ids), expected, 0.0)
        if z >= z_min:
            found.append(NewProblem(g, ids, len(ids), len(recent), k, len(base), expected, z))
    problems: list[NewProblem] = []
    for p in sorted(found, key=lambda p: (-p.z, -len(p.phrase), p.phrase)):
        if any(_overlap(p.items, q.items) >= SAME_PROBLEM for q in problems):
            continue
        phrase = extend(p.phrase, (texts[i] for i in p.items))
        if is_covered(phrase, keywords):
            continue
        problems.append(replace(p, phrase=phrase))
    return problems


def _overlap(a: list[int], b: list[int]) -> float:
    return len(set(a) & set(b)) / max(1, min(len(a), len(b)))


def rule_id(phrase: str) -> str:
    return "new_" + hashlib.sha256(phrase.encode("utf-8")).hexdigest()[:8]


def suggest_rule(phrase: str) -> str:
    """A rule file (``rules/*.yaml``) naming the phrase, for an admin to adjust and save; it
    validates as is (``monitor rules test`` / the console's rule editor replay it)."""
    return (
        "rules:\n"
        f"  - id: {rule_id(phrase)}\n"
        f"    title: {phrase}\n"
        "    category: new_problem      # 按问题归类，如 product_quality\n"
        "    dimension: 其他             # 商品质量 / 物流时效 / 服务态度 / 价格 / 其他\n"
        "    severity: medium\n"
        f"    keywords: [{phrase}]\n"
    )


def with_suggested_rule(file_text: str, suggested: str) -> str | None:
    """A rules file's text with the suggested rule (:func:`suggest_rule`) added at the end of its
    ``rules:`` list, for the rule editor's replay preview; None when the file's ``rules:`` is not a
    block list this can extend (flow style). Comments and layout of the file are kept."""
    entry = suggested.split("\n", 1)[1].rstrip("\n").split("\n")  # the list item, without `rules:`
    lines = file_text.rstrip("\n").split("\n") if file_text.strip() else []
    start = next((i for i, line in enumerate(lines) if line.split("#", 1)[0].rstrip() == "rules:"), None)
    if start is None:
        if any(line.startswith("rules:") for line in lines):
            return None
        return "\n".join([*lines, "rules:", *entry]) + "\n"
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "\t", "#", "-")), len(lines)
    )
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    item = next((line for line in lines[start + 1 : end] if line.lstrip().startswith("- ")), "  - ")
    indent = item[: len(item) - len(item.lstrip())]
    moved = [indent + line[2:] if line.startswith("  ") else line for line in entry]
    return "\n".join([*lines[:end], *moved, *lines[end:]]) + "\n"


def raise_alerts(
    s: Session, config: Config, rows: Sequence[m.Item], analyses: Sequence[Analysis], now: datetime
) -> list[AlertEvent]:
    """One 新问题 alert per new phrase (an open one takes the new items)."""
    if not config.settings.alerting.burst_new_problems:
        return []
    events = []
    for p in find(s, config, rows, analyses, now):
        key = f"new_problem:{p.phrase}"
        alert = open_alert(s, key)
        examples = list(s.scalars(select(m.Item).where(m.Item.id.in_(p.items)).order_by(m.Item.id)))
        summary = (
            f"新问题「{p.phrase}」：最近 2 小时 {p.count} 条负面评价提到（同期无规则覆盖的负面共 "
            f"{p.window_items} 条），过去 28 天 {p.baseline_items} 条中只有 {p.baseline} 条，"
            f"预期 {p.expected:.1f} 条。没有规则覆盖它，可按建议新增规则（见告警详情）。"
        )
        counts = {"window": p.count, "baseline": p.baseline, "baseline_items": p.baseline_items}
        if alert is not None:  # the problem grows: the open alert says how far
            alert.summary = summary
            alert.labels = {**(alert.labels or {}), "counts": counts}
        else:
            alert = raise_alert(
                s,
                now,
                dedup_key=key,
                kind="new_problem",
                rule_id=None,
                category="new_problem",
                severity="high",
                grade=None,
                platform=None,
                source=None,
                sku=None,
                title=f"新问题：「{p.phrase}」",
                summary=summary,
                labels={
                    "phrase": p.phrase,
                    "counts": counts,
                    "examples": [it.id for it in examples[:EXAMPLES]],
                    "suggested_rule": suggest_rule(p.phrase),
                },
            )
            events.append(AlertEvent(alert, "firing"))
        for it in examples:
            attach(s, alert, it, now)
    return events
