"""Burst scopes over stored items: what a scope counts, and how its detector is fed and judged.

Scopes, narrow to broad: ``rule_sku`` (one rule on one SKU), ``rule`` (one rule across the
store), ``sku``, ``product`` (all variant SKUs of a product), ``platform`` and ``store``.
A rule scope counts the items its rule fired on that are not positive; the others count
negative items. Each scope's detector (``monitor.analyze.burst_detector``) also gets the
scope's total items, so it judges the negative *share*: ten times the volume of a promotion
at the same share is no burst, a share rising at steady volume is.

Time is the items' published time, in steps of 1/12 of ``alerting.burst_window``, local
time in ``settings.timezone``. Items without a published time, published after they were
fetched, or older than what a scope has already learned are no evidence. A new scope learns
the last day of stored history, an hour at a time from counts the database makes, without
judging it, so a first poll that stores years of history raises nothing (:func:`advance`).
The alerts these verdicts raise are ``monitor.alerting.burst_alerts``'s.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Integer, Interval, String, and_, bindparam, case, cast, func, select
from sqlalchemy.orm import Session

from monitor.analyze import Analysis
from monitor.analyze.burst_detector import BurstConfig, BurstDetector, BurstVerdict
from monitor.config import Config
from monitor.store import models as m

log = logging.getLogger(__name__)

KINDS = ("rule_sku", "rule", "sku", "product", "platform", "store")  # narrow to broad
HISTORY = timedelta(days=1)  # what a new scope learns from
MAX_CATCH_UP = timedelta(days=14)  # steps fed at most in one evaluation (a scope quiet for long)
LATE = timedelta(hours=6)  # steps older than this when fed are learned, never judged
FUTURE_SKEW = timedelta(minutes=10)  # a published time later than the fetch by more is not evidence
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)

# which narrower kinds a scope contains (dedup-key prefixes are built from these)
NARROWER: dict[str, tuple[str, ...]] = {
    "rule_sku": (),
    "rule": ("rule_sku",),
    "sku": ("rule_sku",),
    "product": ("rule_sku", "sku"),
    "platform": ("rule_sku", "sku", "product"),
    "store": ("rule_sku", "rule", "sku", "product", "platform"),
}


@dataclass(frozen=True)
class Scope:
    kind: str  # one of KINDS
    rule: str | None = None
    sku: str | None = None
    product: str | None = None
    platform: str | None = None

    @property
    def key(self) -> str:
        what = self.sku or self.product or self.platform or "*"
        return f"burst:{self.kind}:{self.rule or '*'}:{what}"

    @property
    def narrower(self) -> list[str]:
        """Dedup-key prefixes of the scopes contained in this one."""
        rule = f"{self.rule}:" if self.kind == "rule" else ""
        return [f"burst:{k}:{rule}" for k in NARROWER[self.kind]]

    @property
    def labels(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "sku": self.sku,
            "product": self.product,
            "platform": self.platform,
        }

    @classmethod
    def from_labels(cls, sc: dict[str, Any]) -> Scope | None:
        kind = sc.get("kind")
        if kind not in KINDS:
            return None
        return cls(kind, sc.get("rule"), sc.get("sku"), sc.get("product"), sc.get("platform"))

    def contains(self, row: Row) -> bool:
        """The item is in the scope's population (its total)."""
        return (
            (self.sku is None or row.sku == self.sku)
            and (self.product is None or row.product == self.product)
            and (self.platform is None or row.platform == self.platform)
        )

    def counts(self, row: Row) -> bool:
        """The item is evidence of a burst in this scope (its count)."""
        if self.rule is not None:
            return self.rule in row.rules and row.sentiment != "pos"
        return row.sentiment == "neg"

    def describe(self, titles: dict[str, str]) -> str:
        rule = f"「{titles.get(self.rule, self.rule)}」" if self.rule else ""
        return {
            "rule_sku": f"{rule} · SKU {self.sku}",
            "rule": f"{rule} · 全店",
            "sku": f"SKU {self.sku} 的负面评价",
            "product": f"商品 {self.product}（各规格合计）的负面评价",
            "platform": f"{self.platform} 平台的负面评价",
            "store": "全店负面评价",
        }[self.kind]


def scopes_for(
    rules: Iterable[str],
    sentiment: str,
    sku: str | None,
    enabled: Iterable[str],
    *,
    product: str | None = None,
    platform: str | None = None,
) -> list[Scope]:
    """The scopes one item is evidence for."""
    on = set(enabled)
    out: list[Scope] = []
    if sentiment != "pos":
        for r in rules:
            if "rule_sku" in on and sku:
                out.append(Scope("rule_sku", r, sku=sku))
            if "rule" in on:
                out.append(Scope("rule", r))
    if sentiment == "neg":
        if "sku" in on and sku:
            out.append(Scope("sku", sku=sku))
        if "product" in on and product and product != sku:
            out.append(Scope("product", product=product))
        if "platform" in on and platform:
            out.append(Scope("platform", platform=platform))
        if "store" in on:
            out.append(Scope("store"))
    return out


_KINDS_OF: list[tuple[Config, frozenset[str]]] = []  # the last config's kinds (a reload makes a new one)


def enabled_kinds(config: Config) -> frozenset[str]:
    """The scope kinds watched; platform scopes only when the sources span several platforms.

    Asked by every poll; counting the platforms of 10,000 sources each time cost more than the rest of
    a poll's alert decisions, so the answer is kept for the config object it was computed for."""
    cached = _KINDS_OF[:1]
    if cached and cached[0][0] is config:
        return cached[0][1]
    kinds: set[str] = set(config.settings.alerting.burst_scopes)
    if len({c.platform for c in config.sources.values()}) < 2:
        kinds.discard("platform")
    out = frozenset(kinds)
    _KINDS_OF[:] = [(config, out)]
    return out


def detector_config(config: Config) -> BurstConfig:
    a = config.settings.alerting
    return BurstConfig(
        step=a.burst_window / 12,
        window=a.burst_window,
        min_count=a.burst_min_count,
        baseline=a.burst_baseline,
    )


def step_floor(t: datetime, step: timedelta, tz: tzinfo) -> datetime:
    """Start of the step holding ``t``; steps are aligned to local midnight."""
    local = t.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((local - midnight) // step) * step


@dataclass(frozen=True)
class Row:
    id: int
    published_at: datetime
    platform: str
    product: str | None
    sku: str | None
    rules: tuple[str, ...]
    sentiment: str


def evidence_time(published: datetime | None, fetched: datetime) -> datetime | None:
    """When an item counts: its published time, unless it has none or claims to be from the future."""
    if published is None or published > fetched + FUTURE_SKEW:
        return None
    return published


def query_rows(s: Session, since: datetime, until: datetime, scope: Scope | None = None) -> list[Row]:
    q = (
        select(
            m.Item.id,
            m.Item.published_at,
            m.Item.fetched_at,
            m.Item.platform,
            m.Item.product,
            m.Item.sku,
            m.Analysis.rules,
            m.Analysis.sentiment,
        )
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(m.Item.published_at >= since, m.Item.published_at < until)
    )
    if scope is not None:
        for column, value in (
            (m.Item.sku, scope.sku),
            (m.Item.product, scope.product),
            (m.Item.platform, scope.platform),
        ):
            if value is not None:
                q = q.where(column == value)
    out = []
    for iid, pub, fetched, platform, product, sku, rules, sentiment in s.execute(q):
        t = evidence_time(pub, fetched)
        if t is not None:
            out.append(Row(iid, t, platform, product, sku, tuple(rules or ()), sentiment))
    return out


@dataclass
class _Series:
    """Per-step counts of one scope."""

    neg: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))
    tot: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, scope: Scope, rows: Iterable[Row], step: timedelta, tz: tzinfo) -> None:
        for r in rows:
            if scope.contains(r):
                b = step_floor(r.published_at, step, tz)
                self.tot[b] += 1
                if scope.counts(r):
                    self.neg[b] += 1


def load_detector(state: dict[str, Any], cfg: BurstConfig) -> BurstDetector | None:
    blob = state.get("detector")
    if not blob:
        return None
    try:
        return BurstDetector.from_state(blob, cfg)
    except ValueError as exc:  # an older state format, or a damaged row: learn again from history
        log.info("burst state not reusable (%s); learning again from history", exc)
        return None


def plan(det: BurstDetector | None, config: Config, now: datetime) -> tuple[datetime, datetime, datetime]:
    """(start, coarse_end, judge_from) of a scope's next evaluation: the steps from ``start`` to
    ``coarse_end`` are learned hour by hour from counts, the rest step by step from the items, and
    only steps from ``judge_from`` on are judged (a new scope judges nothing of its history)."""
    cfg = detector_config(config)
    tz = config.settings.tz
    current = step_floor(now, cfg.step, tz)
    fed = det.fed_until if det is not None else None
    start = max(current - HISTORY if fed is None else fed.astimezone(tz), current - MAX_CATCH_UP)
    judge_from = now - LATE if fed is not None else current
    if _HOUR % cfg.step:
        return start, start, judge_from
    hour0 = start.replace(minute=0, second=0, microsecond=0)
    coarse_until = judge_from - cfg.window  # the last window before judging goes step by step
    coarse_end = hour0 + ((coarse_until - hour0) // _HOUR) * _HOUR if coarse_until > hour0 else start
    return start, max(coarse_end, start), judge_from


def hourly_counts(
    s: Session, scope: Scope, since: datetime, until: datetime
) -> dict[datetime, tuple[float, float]]:
    """(negative, all) items of the scope per local hour in [since, until), counted by the database."""
    hour0 = since.replace(minute=0, second=0, microsecond=0)
    h0 = bindparam("h0", hour0, type_=m.UTCDateTime())
    if s.get_bind().dialect.name == "sqlite":
        hour: Any = cast((func.julianday(m.Item.published_at) - func.julianday(h0)) * 24 + 1e-7, Integer)
        not_future = (
            func.julianday(m.Item.published_at) <= func.julianday(m.Item.fetched_at) + FUTURE_SKEW / _DAY
        )
    else:
        hour = func.floor(func.extract("epoch", m.Item.published_at - h0) / 3600)
        not_future = m.Item.published_at <= m.Item.fetched_at + bindparam(
            "skew", FUTURE_SKEW, type_=Interval()
        )
    if scope.rule is not None:
        pattern = '%"' + scope.rule.replace("_", "\\_") + '"%'
        counted = and_(
            cast(m.Analysis.rules, String).like(pattern, escape="\\"), m.Analysis.sentiment != "pos"
        )
    else:
        counted = m.Analysis.sentiment == "neg"
    q = (
        select(hour, func.count(), func.sum(case((counted, 1), else_=0)))
        .select_from(m.Item)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(m.Item.published_at >= since, m.Item.published_at < until, not_future)
        .group_by(hour)
    )
    for column, value in (
        (m.Item.sku, scope.sku),
        (m.Item.product, scope.product),
        (m.Item.platform, scope.platform),
    ):
        if value is not None:
            q = q.where(column == value)
    return {hour0 + int(i) * _HOUR: (float(k or 0), float(n)) for i, n, k in s.execute(q)}


def advance(
    det: BurstDetector | None,
    scope: Scope,
    config: Config,
    rows: list[Row] | None,
    s: Session,
    now: datetime,
    late: Sequence[Row] = (),
) -> tuple[BurstDetector, list[tuple[datetime, BurstVerdict]], BurstVerdict]:
    """Feed ``det`` (or a new detector) up to the step in progress and judge that step on a copy.

    ``rows`` are stored items covering every step from the ``coarse_end`` of :func:`plan` (None:
    query them for this scope). ``late`` are items this poll stored for steps already fed.
    """
    cfg = detector_config(config)
    tz = config.settings.tz
    schedule = config.settings.schedule
    current = step_floor(now, cfg.step, tz)
    start, coarse_end, judge_from = plan(det, config, now)
    if det is None:
        det = BurstDetector(cfg)

    def promo(t: datetime) -> bool:
        return schedule.profile_for(t.date())[0] != "normal"

    if coarse_end > start:  # whole hours of history, counted by the database
        hourly = hourly_counts(s, scope, start, coarse_end)
        b = start
        while b < coarse_end:
            hour = b.replace(minute=0, second=0, microsecond=0)
            nxt = min(hour + _HOUR, coarse_end)
            neg, tot = hourly.get(hour, (0.0, 0.0))
            det.learn_span(b, (nxt - b) // cfg.step, neg, total=tot, promotion=promo(b))
            b = nxt
    if rows is None:
        rows = query_rows(s, coarse_end, now + FUTURE_SKEW, scope)
    series = _Series()
    series.add(scope, (r for r in rows if r.published_at >= coarse_end), cfg.step, tz)
    ring_from = current - cfg.window - cfg.step
    for r in late:  # stored now for a step already fed: still evidence while that step is in the window
        b = step_floor(r.published_at, cfg.step, tz)
        if ring_from <= b < start and scope.contains(r):
            det.amend(b, 1.0 if scope.counts(r) else 0.0, 1.0)
    judged: list[tuple[datetime, BurstVerdict]] = []
    b = coarse_end
    while b < current:
        args = (b, series.neg.get(b, 0.0))
        kwargs: dict[str, Any] = {"total": series.tot.get(b, 0.0), "promotion": promo(b)}
        if b < judge_from:
            det.learn_only(*args, **kwargs)
        else:
            judged.append((b, det.update(*args, **kwargs)))
        b += cfg.step
    neg, tot = series.neg.get(current, 0.0), series.tot.get(current, 0.0)
    peek = det.peek(current, neg, total=tot, promotion=promo(current))
    return det, judged, peek


def window_items(s: Session, config: Config, scope: Scope, end: datetime, window: timedelta) -> list[Row]:
    """The items the scope counts in the window whose last step starts at ``end``."""
    step = detector_config(config).step
    rows = query_rows(s, end + step - window, end + step, scope)
    return [r for r in rows if scope.contains(r) and scope.counts(r)]


def row_of(row: m.Item, a: Analysis) -> Row | None:
    t = evidence_time(row.published_at, row.fetched_at)
    if t is None:
        return None
    return Row(row.id, t, row.platform, row.product, row.sku, tuple(a.rules), a.sentiment)


def still_bursting(s: Session, config: Config, scope: Scope, now: datetime) -> bool:
    """Whether the scope is still elevated now; reads the state, never locks or writes it."""
    row = s.get(m.DetectorState, scope.key)
    det = load_detector(row.state or {}, detector_config(config)) if row is not None else None
    if det is None:
        return False
    _det, judged, peek = advance(det, scope, config, None, s, now)
    return peek.elevated or peek.is_burst or any(v.elevated for _, v in judged[-1:])


def scope_of_key(key: str) -> Scope | None:
    """The scope of a ``burst:kind:rule:value`` key."""
    parts = key.split(":", 3)
    if len(parts) != 4 or parts[0] != "burst" or parts[1] not in KINDS:
        return None
    _, kind, rule, value = parts
    r = None if rule == "*" else rule
    v = None if value == "*" else value
    field_of = {"rule_sku": "sku", "sku": "sku", "product": "product", "platform": "platform"}
    extra = {field_of[kind]: v} if kind in field_of else {}
    return Scope(kind, r, **extra)
