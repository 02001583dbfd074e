"""The numbers of the daily report (口碑分析日报) and the weekly review (复盘), from the store.

Days are local days in ``settings.timezone``; an item belongs to the day it was published.
The trend, day totals, drifts and SKU rates read the per-day counts (``monitor.store.rollup``)
when they are in the report's timezone, else group the items in SQL; the day's own rows are read
once for the dimension × sentiment table and the rule and keyword counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from monitor.analyze.drift import find_drift
from monitor.analyze.hits import DECISIONS
from monitor.config.rules import DIMENSIONS
from monitor.reports.labels import platform as platform_name
from monitor.store import models as m
from monitor.store import rollup

SENTIMENTS = ("neg", "neu", "pos")
TREND_DAYS = 14
DRIFT_DAYS = 28  # days a slow rise is looked for in (monitor.analyze.drift)
MAX_DRIFTS = 10
MIN_SKU_ITEMS = 3  # a SKU needs this many items in the period to be ranked by negative rate


def day_window(day: date, tz: ZoneInfo, days: int = 1) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=days), time(0), tz)


@dataclass
class SkuRate:
    sku: str
    items: int
    negative: int
    rate: float
    previous_rate: float | None  # the period before; None when the SKU had too few items then

    @property
    def change(self) -> float | None:
        return None if self.previous_rate is None else self.rate - self.previous_rate


@dataclass
class StepClock:
    incident_id: int
    title: str
    step: str
    due_at: str | None
    status: str  # met | missed | skipped | pending | overdue


@dataclass
class IncidentSummary:
    id: int
    title: str
    state: str
    opened_at: str
    met: int
    missed: int
    pending: int
    overdue: int
    steps: list[StepClock] = field(default_factory=list)
    skipped: int = 0  # steps waived with a reason: neither on time nor late


@dataclass
class TrendDay:
    day: str
    neg: int
    neu: int
    pos: int


@dataclass
class Drift:
    """A slow rise of the negative share over days: reported here, never paged."""

    scope: str  # 全店 | 平台 jd | 商品 X
    start: str  # first day of the rise
    days: int
    before: float
    after: float
    items: float
    share: bool
    text: str  # the rise in words (monitor.analyze.drift.Drift.describe)


@dataclass
class DailyData:
    day: str
    volume: int
    by_platform: dict[str, int]
    by_sentiment: dict[str, int]
    dim_sentiment: dict[str, dict[str, int]]
    top_rules: list[tuple[str, str, int]]  # (rule id, title, count)
    top_keywords: list[tuple[str, int]]
    skus: list[SkuRate]
    incidents: list[IncidentSummary]
    trend: list[TrendDay]
    previous_volume: int
    # rules matched but not alerting (negated, another store, resolved …): (rule id, title, items)
    mentions: list[tuple[str, str, int]] = field(default_factory=list)
    mention_reasons: dict[str, int] = field(default_factory=dict)  # decision label -> hits
    drifts: list[Drift] = field(default_factory=list)
    # per product (a configured product's variants together; an item without one counts by its SKU)
    products: list[SkuRate] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _in_window(start: datetime, end: datetime) -> Any:
    return and_(m.Item.published_at >= start, m.Item.published_at < end)


def sentiment_counts(s: Session, start: datetime, end: datetime) -> dict[str, int]:
    q = (
        select(m.Analysis.sentiment, func.count())
        .select_from(m.Item)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(_in_window(start, end))
        .group_by(m.Analysis.sentiment)
    )
    out = dict.fromkeys(SENTIMENTS, 0)
    out.update({str(k): int(v) for k, v in s.execute(q)})
    return out


@dataclass
class DayCounts:
    """Items per (local day, platform, product, sentiment) over ``days`` local days from ``first``:
    read once and shared by the trend, the previous day's volume and the drifts."""

    first: date
    days: int
    rows: list[tuple[int, str, str | None, str, int]]  # (day number, platform, product, sentiment, items)

    def covers(self, first: date, last: date) -> bool:
        return self.first <= first and last < self.first + timedelta(days=self.days)

    def sentiments(self, day: date, last: date | None = None) -> dict[str, int]:
        """Items per sentiment published on ``day`` (through ``last`` when given)."""
        lo, hi = (day - self.first).days, ((last or day) - self.first).days
        out = dict.fromkeys(SENTIMENTS, 0)
        for d, _, _, sentiment, n in self.rows:
            if lo <= d <= hi:
                out[sentiment] = out.get(sentiment, 0) + n
        return out


def rolled_up(s: Session, tz: ZoneInfo) -> bool:
    """Whether the per-day counts are in ``tz`` (``Store.ensure_rollup`` makes them so)."""
    return rollup.built_for(s) == tz.key


def day_counts(
    s: Session, last: date, tz: ZoneInfo, days: int = DRIFT_DAYS, rolled: bool | None = None
) -> DayCounts:
    """The ``days`` local days ending on ``last``: from the per-day counts when they are in ``tz``
    (``rolled``; None: look), else one grouped query over the items. The items are picked by the
    published_at index and then read in id order (``id IN (…)``), so the item and analysis rows are
    read in page order rather than in publication order."""
    first = last - timedelta(days=days - 1)
    if rolled is None:
        rolled = rolled_up(s, tz)
    if rolled:
        kept = rollup.day_rows(s, first, last)
        return DayCounts(first, days, [((d - first).days, p, product, k, n) for d, p, product, k, n in kept])
    bounds = [day_window(first + timedelta(days=i), tz)[1] for i in range(days)]
    start = day_window(first, tz)[0]
    day_no = case(*[(m.Item.published_at < b, i) for i, b in enumerate(bounds)], else_=days)
    ids = select(m.Item.id).where(_in_window(start, bounds[-1]))
    q = (
        select(day_no, m.Item.platform, m.Item.product, m.Analysis.sentiment, func.count())
        .select_from(m.Item)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(m.Item.id.in_(ids))
        .group_by(day_no, m.Item.platform, m.Item.product, m.Analysis.sentiment)
    )
    rows = [
        (int(i), str(platform), None if product is None else str(product), str(sentiment), int(n))
        for i, platform, product, sentiment, n in s.execute(q)
    ]
    return DayCounts(first, days, rows)


def trend(
    s: Session, last: date, tz: ZoneInfo, days: int = TREND_DAYS, counts: DayCounts | None = None
) -> list[TrendDay]:
    out = []
    first = last - timedelta(days=days - 1)
    shared = counts is not None and counts.covers(first, last)
    for i in range(days - 1, -1, -1):
        d = last - timedelta(days=i)
        c = counts.sentiments(d) if counts is not None and shared else sentiment_counts(s, *day_window(d, tz))
        out.append(TrendDay(d.isoformat(), c["neg"], c["neu"], c["pos"]))
    return out


def drifts(
    s: Session, last: date, tz: ZoneInfo, days: int = DRIFT_DAYS, counts: DayCounts | None = None
) -> list[Drift]:
    """Slow rises of the negative share ending on ``last``: the store, each platform (when there are
    several) and each product, from the per-day counts of the last ``days`` local days."""
    first = last - timedelta(days=days - 1)
    if counts is None or counts.first != first or counts.days != days:
        counts = day_counts(s, last, tz, days)
    series: dict[str, list[list[float]]] = {}
    platforms: set[str] = set()
    for i, platform, product, sentiment, n in counts.rows:
        platforms.add(platform)
        scopes = ["全店", f"平台 {platform_name(platform)}"] + ([f"商品 {product}"] if product else [])
        for name in scopes:
            rows = series.setdefault(name, [[0.0, 0.0] for _ in range(days)])
            if sentiment == "neg":
                rows[i][0] += float(n)
            rows[i][1] += float(n)
    out = []
    for name, rows in series.items():
        if name.startswith("平台") and len(platforms) < 2:
            continue
        found = find_drift([((first + timedelta(days=i)).isoformat(), k, n) for i, (k, n) in enumerate(rows)])
        if found is not None:
            out.append(
                Drift(
                    name,
                    found.start,
                    found.days,
                    found.before,
                    found.after,
                    found.items,
                    found.share,
                    found.describe(),
                )
            )
    out.sort(key=lambda d: (d.scope != "全店", not d.scope.startswith("平台"), -d.items, d.scope))
    return out[:MAX_DRIFTS]


def _local_days(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[date, date] | None:
    """(first, last) local day when [start, end) is whole local days in ``tz``, else None."""
    first = rollup.local_day(start, tz)
    last = rollup.local_day(end, tz) - timedelta(days=1)
    if last < first or day_window(first, tz)[0] != start or day_window(last, tz)[1] != end:
        return None
    return first, last


def sku_negative(
    s: Session,
    start: datetime,
    end: datetime,
    by_product: bool = False,
    tz: ZoneInfo | None = None,
    rolled: bool = False,
) -> dict[str, tuple[int, int]]:
    """sku (or product: the configured product id, else the SKU) -> (items, negative items) in the
    window; from the per-day counts when they are in ``tz`` (``rolled``) and the window is whole days."""
    days = _local_days(start, end, tz) if rolled and tz is not None else None
    if days is not None:
        return rollup.sku_counts(s, *days, by_product=by_product)
    neg = func.sum(case((m.Analysis.sentiment == "neg", 1), else_=0))
    key = func.coalesce(m.Item.product, m.Item.sku) if by_product else m.Item.sku
    q = (
        select(key, func.count(), neg)
        .select_from(m.Item)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(m.Item.id.in_(select(m.Item.id).where(_in_window(start, end))), key.is_not(None))
        .group_by(key)
    )
    return {str(sku): (int(n), int(k or 0)) for sku, n, k in s.execute(q)}


def sku_rates(
    s: Session,
    start: datetime,
    end: datetime,
    prev_start: datetime,
    limit: int = 10,
    by_product: bool = False,
    tz: ZoneInfo | None = None,
    rolled: bool = False,
) -> list[SkuRate]:
    """Negative rates per SKU (a product's variant), or per product with its variants together."""
    now_ = sku_negative(s, start, end, by_product, tz, rolled)
    before = sku_negative(s, prev_start, start, by_product, tz, rolled)
    rows = []
    for sku, (n, k) in now_.items():
        if n < MIN_SKU_ITEMS:
            continue
        pn, pk = before.get(sku, (0, 0))
        rows.append(SkuRate(sku, n, k, k / n, pk / pn if pn >= MIN_SKU_ITEMS else None))
    rows.sort(key=lambda r: (-r.rate, -r.negative, r.sku))
    return rows[:limit]


def incidents(s: Session, start: datetime, end: datetime, now: datetime) -> list[IncidentSummary]:
    """Incidents opened in the window or still open at its end, with their step clocks."""
    q = (
        select(m.Incident)
        .where(
            m.Incident.opened_at < end,
            or_(m.Incident.opened_at >= start, m.Incident.closed_at.is_(None), m.Incident.closed_at >= start),
        )
        .order_by(m.Incident.id)
        .limit(100)
    )
    out = []
    at = min(now, end)
    for inc in s.scalars(q):
        steps = s.scalars(
            select(m.IncidentStep).where(m.IncidentStep.incident_id == inc.id).order_by(m.IncidentStep.id)
        )
        summary = IncidentSummary(inc.id, inc.title, inc.state, inc.opened_at.isoformat(), 0, 0, 0, 0)
        for st in steps:
            if st.due_at is None:
                continue
            if st.state == "skipped" and st.at is not None and st.at <= at:
                status = "skipped"
            elif st.state == "done" and st.at is not None and st.at <= at:
                status = "met" if st.at <= st.due_at else "missed"
            else:
                status = "pending" if at <= st.due_at else "overdue"
            setattr(summary, status, getattr(summary, status) + 1)
            summary.steps.append(StepClock(inc.id, inc.title, st.title, st.due_at.isoformat(), status))
        out.append(summary)
    return out


def daily(s: Session, day: date, tz: ZoneInfo, titles: dict[str, str], now: datetime) -> DailyData:
    start, end = day_window(day, tz)
    prev_start, _ = day_window(day - timedelta(days=1), tz)
    by_platform: Counter[str] = Counter()
    by_sentiment: Counter[str] = Counter()
    dims: dict[str, Counter[str]] = {d: Counter() for d in DIMENSIONS}
    rules: Counter[str] = Counter()
    keywords: Counter[str] = Counter()
    mentioned: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    q = (
        select(
            m.Item.platform, m.Analysis.sentiment, m.Analysis.dimensions, m.Analysis.rules, m.Analysis.hits
        )
        .select_from(m.Item)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(_in_window(start, end))
    )
    volume = 0
    for platform, sentiment, dimensions, fired, hits in s.execute(q):
        volume += 1
        by_platform[platform] += 1
        by_sentiment[sentiment] += 1
        for d in dimensions or ["其他"]:
            dims.setdefault(d, Counter())[sentiment] += 1
        rules.update(fired or [])
        only_mentioned: set[str] = set()
        for h in hits or []:
            if not isinstance(h, dict):
                continue
            if not h.get("negated") and h.get("keyword"):
                keywords[str(h["keyword"])] += 1
            elif h.get("decision") == "suggested":  # 模型建议: the model's guess, not a rule's mention
                continue
            elif h.get("negated") and h.get("rule_id") and h["rule_id"] not in (fired or []):
                only_mentioned.add(str(h["rule_id"]))
                decision = str(h.get("decision", ""))
                reasons[DECISIONS.get(decision, decision)] += 1
        mentioned.update(only_mentioned)
    rolled = rolled_up(s, tz)
    counts = day_counts(s, day, tz, rolled=rolled)
    previous = sum(counts.sentiments(day - timedelta(days=1)).values())
    return DailyData(
        day=day.isoformat(),
        volume=volume,
        by_platform=dict(by_platform.most_common()),
        by_sentiment={k: by_sentiment[k] for k in SENTIMENTS},
        dim_sentiment={d: {k: c[k] for k in SENTIMENTS} for d, c in dims.items()},
        top_rules=[(r, titles.get(r, r), n) for r, n in rules.most_common(10)],
        top_keywords=keywords.most_common(15),
        skus=sku_rates(s, start, end, prev_start, tz=tz, rolled=rolled),
        products=sku_rates(s, start, end, prev_start, by_product=True, tz=tz, rolled=rolled),
        incidents=incidents(s, start, end, now),
        trend=trend(s, day, tz, counts=counts),
        previous_volume=previous,
        mentions=[(r, titles.get(r, r), n) for r, n in mentioned.most_common(10)],
        mention_reasons=dict(reasons.most_common()),
        drifts=drifts(s, day, tz, counts=counts),
    )


@dataclass
class Recurring:
    rule: str
    title: str
    days: int
    count: int
    previous: int


@dataclass
class DepartmentAction:
    department: str
    topics: list[tuple[str, int]]  # (category or dimension, negative items)


@dataclass
class WeeklyData:
    week: str
    start: str
    end: str
    volume: int
    previous_volume: int
    by_sentiment: dict[str, int]
    recurring: list[Recurring]
    skus: list[SkuRate]
    departments: list[DepartmentAction]
    incidents: list[IncidentSummary]
    trend: list[TrendDay]
    drifts: list[Drift] = field(default_factory=list)
    products: list[SkuRate] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_week(week: str) -> date:
    """``2026-W47`` → the Monday of that ISO week."""
    try:
        year, w = week.upper().split("-W")
        return date.fromisocalendar(int(year), int(w), 1)
    except ValueError:
        raise ValueError(f"expected an ISO week like 2026-W47, got {week!r}") from None


def week_of(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def _week_so_far(
    s: Session, monday: date, last: date, tz: ZoneInfo, now: datetime, counts: DayCounts | None = None
) -> list[TrendDay]:
    """The week's days up to today: the days still to come are not drawn as zero."""
    today = now.astimezone(tz).date()
    if today < monday:
        return []
    end = min(last, today)
    return trend(s, end, tz, (end - monday).days + 1, counts)


def weekly(
    s: Session,
    monday: date,
    tz: ZoneInfo,
    titles: dict[str, str],
    categories: dict[str, str],
    departments: dict[str, str],
    now: datetime,
) -> WeeklyData:
    start, end = day_window(monday, tz, 7)
    prev_start, _ = day_window(monday - timedelta(days=7), tz, 7)
    by_day: dict[str, set[date]] = {}
    counts: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    q = (
        select(m.Item.published_at, m.Analysis.sentiment, m.Analysis.rules, m.Analysis.dimensions)
        .select_from(m.Item)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(_in_window(start, end))
    )
    volume = 0
    for published, sentiment, fired, dims in s.execute(q):
        volume += 1
        local_day = published.astimezone(tz).date()
        for r in fired or []:
            counts[r] += 1
            by_day.setdefault(r, set()).add(local_day)
        if sentiment == "neg" or fired:
            cats = {categories.get(r, "") for r in fired or []} - {""}
            for topic in cats or set(dims or ["其他"]):
                topics[topic] += 1
    prev_counts: Counter[str] = Counter()
    for (fired,) in s.execute(
        select(m.Analysis.rules)
        .select_from(m.Item)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(_in_window(prev_start, start))
    ):
        prev_counts.update(fired or [])
    recurring = [
        Recurring(r, titles.get(r, r), len(by_day[r]), n, prev_counts[r])
        for r, n in counts.most_common()
        if len(by_day[r]) >= 3 or prev_counts[r] > 0
    ]
    dept: dict[str, list[tuple[str, int]]] = {}
    for topic, n in topics.most_common():
        name = departments.get(topic) or departments.get("其他") or "运营"
        dept.setdefault(name, []).append((topic, n))
    last = monday + timedelta(days=6)
    rolled = rolled_up(s, tz)
    per_day = day_counts(s, last, tz, rolled=rolled)  # 28 days: this week and the one before included
    return WeeklyData(
        week=week_of(monday),
        start=monday.isoformat(),
        end=last.isoformat(),
        volume=volume,
        previous_volume=sum(
            per_day.sentiments(monday - timedelta(days=7), monday - timedelta(days=1)).values()
        ),
        by_sentiment=per_day.sentiments(monday, last),
        recurring=recurring[:15],
        skus=sku_rates(s, start, end, prev_start, limit=15, tz=tz, rolled=rolled),
        products=sku_rates(s, start, end, prev_start, limit=15, by_product=True, tz=tz, rolled=rolled),
        departments=[DepartmentAction(k, v) for k, v in dept.items()],
        incidents=incidents(s, start, end, now),
        trend=_week_so_far(s, monday, last, tz, now, per_day),
        drifts=drifts(s, last, tz, counts=per_day),
    )
