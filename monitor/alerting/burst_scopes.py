"""Bursts over stored items: the scopes a poll touches, their detectors, the alerts they raise.

Scopes, narrow to broad: ``rule_sku`` (one rule on one SKU), ``rule`` (one rule across the
store), ``sku``, ``product`` (all variant SKUs of a product), ``platform`` and ``store``.
A rule scope counts the items its rule fired on that are not positive; the others count
negative items. Each scope's detector (``monitor.analyze.burst_detector``) also gets the
scope's total items, so it judges the negative *share*: ten times the volume of a promotion
at the same share is no burst, a share rising at steady volume is.

Time is the items' published time, in steps of 1/12 of ``alerting.burst_window``, local
time in ``settings.timezone``. Items without a published time, published after they were
fetched, or older than what a scope has already learned are no evidence. A new scope learns
from the last day of stored history without judging it, so a first poll that stores years
of history raises nothing.

One poll's burst work, inside the poll's transaction (:class:`Round`):

1. :meth:`Round.lock`, before the poll writes any alert row: the state rows of the scopes its
   negative items touch are created if missing and locked, in key order. Every writer of
   ``detector_state`` takes its rows in this order; the alert lifecycle only reads them
   (:func:`still_bursting`), so polls and the lifecycle cannot deadlock on them.
2. :meth:`Round.raise_bursts`: each detector advances step by step to the step in progress,
   from one query of the items published since the scopes last looked (items that arrive
   late for a step still in the window are added to it); the step in progress is judged on a
   copy; bursts are raised; every state row is written back in one statement.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Integer, Interval, String, and_, bindparam, case, cast, func, select, update
from sqlalchemy.orm import Session

from monitor.alerting import AlertEvent, attach, new_alert, open_alert
from monitor.analyze import Analysis
from monitor.analyze.burst_detector import BurstConfig, BurstDetector, BurstVerdict
from monitor.analyze.drift import Drift, find_drift
from monitor.config import Config
from monitor.store import lock_alert_writers
from monitor.store import models as m

log = logging.getLogger(__name__)

KINDS = ("rule_sku", "rule", "sku", "product", "platform", "store")  # narrow to broad
HISTORY = timedelta(days=1)  # what a new scope learns from
MAX_CATCH_UP = timedelta(days=14)  # steps fed at most in one evaluation (a scope quiet for long)
LATE = timedelta(hours=6)  # steps older than this when fed are learned, never judged
FUTURE_SKEW = timedelta(minutes=10)  # a published time later than the fetch by more is not evidence
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
CONTAINED = 0.6  # a scope whose items are mostly in a narrower open burst is the same event

# which narrower kinds a scope contains (dedup-key prefixes are built from these)
_NARROWER: dict[str, tuple[str, ...]] = {
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
        return [f"burst:{k}:{rule}" for k in _NARROWER[self.kind]]

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

    def contains(self, row: _Row) -> bool:
        """The item is in the scope's population (its total)."""
        return (
            (self.sku is None or row.sku == self.sku)
            and (self.product is None or row.product == self.product)
            and (self.platform is None or row.platform == self.platform)
        )

    def counts(self, row: _Row) -> bool:
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


def enabled_kinds(config: Config) -> set[str]:
    """The scope kinds watched; platform scopes only when the sources span several platforms."""
    kinds: set[str] = set(config.settings.alerting.burst_scopes)
    if len({c.platform for c in config.sources.values()}) < 2:
        kinds.discard("platform")
    return kinds


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
class _Row:
    id: int
    published_at: datetime
    platform: str
    product: str | None
    sku: str | None
    rules: tuple[str, ...]
    sentiment: str


def _evidence_time(published: datetime | None, fetched: datetime) -> datetime | None:
    """When an item counts: its published time, unless it has none or claims to be from the future."""
    if published is None or published > fetched + FUTURE_SKEW:
        return None
    return published


def _query(s: Session, since: datetime, until: datetime, scope: Scope | None = None) -> list[_Row]:
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
        t = _evidence_time(pub, fetched)
        if t is not None:
            out.append(_Row(iid, t, platform, product, sku, tuple(rules or ()), sentiment))
    return out


@dataclass
class _Series:
    """Per-step counts of one scope."""

    neg: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))
    tot: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, scope: Scope, rows: Iterable[_Row], step: timedelta, tz: tzinfo) -> None:
        for r in rows:
            if scope.contains(r):
                b = step_floor(r.published_at, step, tz)
                self.tot[b] += 1
                if scope.counts(r):
                    self.neg[b] += 1


@dataclass
class Evaluation:
    scope: Scope
    verdict: BurstVerdict
    end: datetime  # start of the last step of the deciding window
    fresh: list[int]  # this poll's items the scope counts (they join an open burst)
    drift: Drift | None = None
    suppressed: bool = False  # a burst, but the same event as a narrower scope's (see contained)


def _detector(state: dict[str, Any], cfg: BurstConfig) -> BurstDetector | None:
    blob = state.get("detector")
    if not blob:
        return None
    try:
        return BurstDetector.from_state(blob, cfg)
    except ValueError as exc:  # an older state format, or a damaged row: learn again from history
        log.info("burst state not reusable (%s); learning again from history", exc)
        return None


def _plan(det: BurstDetector | None, config: Config, now: datetime) -> tuple[datetime, datetime, datetime]:
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


def _hourly(
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


def _advance(
    det: BurstDetector | None,
    scope: Scope,
    config: Config,
    rows: list[_Row] | None,
    s: Session,
    now: datetime,
    late: Sequence[_Row] = (),
) -> tuple[BurstDetector, list[tuple[datetime, BurstVerdict]], BurstVerdict]:
    """Feed ``det`` (or a new detector) up to the step in progress and judge that step on a copy.

    ``rows`` are stored items covering every step from the ``coarse_end`` of :func:`_plan` (None:
    query them for this scope). ``late`` are items this poll stored for steps already fed.
    """
    cfg = detector_config(config)
    tz = config.settings.tz
    schedule = config.settings.schedule
    current = step_floor(now, cfg.step, tz)
    start, coarse_end, judge_from = _plan(det, config, now)
    if det is None:
        det = BurstDetector(cfg)

    def promo(t: datetime) -> bool:
        return schedule.profile_for(t.date())[0] != "normal"

    if coarse_end > start:  # whole hours of history, counted by the database
        hourly = _hourly(s, scope, start, coarse_end)
        b = start
        while b < coarse_end:
            hour = b.replace(minute=0, second=0, microsecond=0)
            nxt = min(hour + _HOUR, coarse_end)
            neg, tot = hourly.get(hour, (0.0, 0.0))
            det.learn_span(b, (nxt - b) // cfg.step, neg, total=tot, promotion=promo(b))
            b = nxt
    if rows is None:
        rows = _query(s, coarse_end, now + FUTURE_SKEW, scope)
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


def window_items(s: Session, config: Config, scope: Scope, end: datetime, window: timedelta) -> list[_Row]:
    """The items the scope counts in the window whose last step starts at ``end``."""
    step = detector_config(config).step
    rows = _query(s, end + step - window, end + step, scope)
    return [r for r in rows if scope.contains(r) and scope.counts(r)]


@dataclass
class Round:
    """The burst work of one poll (see the module docstring)."""

    config: Config
    now: datetime
    scopes: list[Scope]
    rows: list[m.Item]
    analyses: Sequence[Analysis]
    states: dict[str, m.DetectorState] = field(default_factory=dict)

    @classmethod
    def lock(
        cls, s: Session, config: Config, rows: Sequence[m.Item], analyses: Sequence[Analysis], now: datetime
    ) -> Round:
        """Find the scopes this poll's items touch and lock their state rows, in key order."""
        enabled = enabled_kinds(config)
        touched: dict[str, Scope] = {}
        horizon = now - LATE
        for row, a in zip(rows, analyses, strict=True):
            t = _evidence_time(row.published_at, row.fetched_at)
            if t is None or t < horizon:
                continue
            for sc in scopes_for(
                a.rules, a.sentiment, row.sku, enabled, product=row.product, platform=row.platform
            ):
                touched[sc.key] = sc
        rnd = cls(config, now, sorted(touched.values(), key=lambda sc: sc.key), list(rows), analyses)
        if any(a.rules or a.sentiment == "neg" for a in analyses):
            # it will write alert rows; the lock order of every poll: this lock, state rows, alert rows
            lock_alert_writers(s)
        if rnd.scopes:
            rnd.states = lock_states(s, [sc.key for sc in rnd.scopes], now)
        return rnd

    def raise_bursts(self, s: Session) -> list[AlertEvent]:
        """Advance every touched scope, raise its burst if it has one, store the states."""
        if not self.scopes:
            return []
        cfg = detector_config(self.config)
        tz = self.config.settings.tz
        current = step_floor(self.now, cfg.step, tz)
        dets = {sc.key: _detector(self.states[sc.key].state or {}, cfg) for sc in self.scopes}
        # one query of items covers the steps every scope feeds one by one (history goes by the hour)
        fine_from = {k: _plan(d, self.config, self.now)[1] for k, d in dets.items()}
        recent = [t for t in fine_from.values() if t >= current - LATE / 2]
        shared_from = min(recent) if recent else None
        shared = _query(s, shared_from, self.now + FUTURE_SKEW) if shared_from is not None else []
        mine = [_row_of(r, a) for r, a in zip(self.rows, self.analyses, strict=True)]
        late = [r for r, row in zip(mine, self.rows, strict=True) if r is not None and row.revision == 1]
        counted = [r for r in mine if r is not None]
        done: list[tuple[Evaluation, BurstDetector, tuple[datetime | None, float]]] = []
        for sc in self.scopes:
            det = dets[sc.key]
            before = det.last_alert if det is not None else (None, 0.0)
            use_shared = shared_from is not None and fine_from[sc.key] >= shared_from
            det, judged, peek = _advance(
                det, sc, self.config, shared if use_shared else None, s, self.now, [r for r in late if r]
            )
            best: tuple[datetime, BurstVerdict] | None = None
            for end, v in [*judged, (current, peek)]:
                if v.is_burst and (best is None or v.z > best[1].z):
                    best = (end, v)
            if best is not None and best[0] == current:
                det.set_alert(current, best[1].observed)  # the copy alerted: the detector must know
            end, verdict = best if best is not None else (current, peek)
            fresh = [r.id for r in counted if sc.contains(r) and sc.counts(r)]
            done.append((Evaluation(sc, verdict, end, fresh, find_drift(det.days)), det, before))
        events = []
        alerts = open_bursts(s, [sc.key for sc in self.scopes])
        for ev, det, before in sorted(done, key=lambda e: KINDS.index(e[0].scope.kind)):  # narrow first
            raised = raise_burst(s, self.config, ev, self.now, alerts)
            if raised is not None:
                events.append(raised)
            if ev.suppressed:
                det.set_alert(*before)  # not raised: no cooldown either
            row = self.states[ev.scope.key]
            row.state = {"detector": det.state_dict(), "drift": ev.drift.describe() if ev.drift else None}
            row.elevated_since = (
                datetime.fromisoformat(ev.drift.start).replace(tzinfo=tz) if ev.drift else None
            )
            row.updated_at = self.now
        _write_states(s, [self.states[sc.key] for sc in self.scopes])
        return events


def _row_of(row: m.Item, a: Analysis) -> _Row | None:
    t = _evidence_time(row.published_at, row.fetched_at)
    if t is None:
        return None
    return _Row(row.id, t, row.platform, row.product, row.sku, tuple(a.rules), a.sentiment)


def lock_states(s: Session, keys: Sequence[str], now: datetime) -> dict[str, m.DetectorState]:
    """The state rows of ``keys``, created if missing, locked for this transaction in key order.

    The missing rows are inserted with ON CONFLICT DO NOTHING, so two polls never collide on an
    insert; one SELECT ... ORDER BY scope FOR UPDATE then takes every lock in one fixed order
    (on SQLite the database's single writer already serializes transactions).
    """
    keys = sorted(set(keys))
    dialect = s.get_bind().dialect.name
    values = [{"scope": k, "state": {}, "updated_at": now} for k in keys]
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        s.execute(insert(m.DetectorState).on_conflict_do_nothing(index_elements=["scope"]), values)
    else:
        have = set(s.scalars(select(m.DetectorState.scope).where(m.DetectorState.scope.in_(keys))))
        s.add_all(m.DetectorState(**v) for v in values if v["scope"] not in have)
        s.flush()
    q = (
        select(m.DetectorState)
        .where(m.DetectorState.scope.in_(keys))
        .order_by(m.DetectorState.scope)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.scope: row for row in s.scalars(q)}


def _write_states(s: Session, rows: list[m.DetectorState]) -> None:
    """Every state row in one executemany UPDATE (the ORM would send one statement per row)."""
    params = [
        {"scope": r.scope, "state": r.state, "elevated_since": r.elevated_since, "updated_at": r.updated_at}
        for r in rows
    ]
    for r in rows:
        s.expire(r)  # written below; never flushed twice
    s.execute(update(m.DetectorState), params)


def still_bursting(s: Session, config: Config, scope: Scope, now: datetime) -> bool:
    """Whether the scope is still elevated now; reads the state, never locks or writes it."""
    row = s.get(m.DetectorState, scope.key)
    det = _detector(row.state or {}, detector_config(config)) if row is not None else None
    if det is None:
        return False
    _det, judged, peek = _advance(det, scope, config, None, s, now)
    return peek.elevated or peek.is_burst or any(v.elevated for _, v in judged[-1:])


def concentrated(scope: Scope, rows: list[_Row], enabled: Iterable[str]) -> bool:
    """True when most of ``rows`` share one narrower scope (one SKU, one rule, one rule on one SKU …):
    then the burst is that narrower scope's to raise, with its own baseline, when it reaches it."""
    kinds = set(_NARROWER[scope.kind]) & set(enabled)
    if not kinds or not rows:
        return False
    groups: dict[tuple[str, str], set[int]] = defaultdict(set)
    for r in rows:
        for sc in scopes_for(r.rules, r.sentiment, r.sku, kinds, product=r.product, platform=r.platform):
            if sc.rule is None or scope.rule is None or sc.rule == scope.rule:
                groups[(sc.kind, sc.key)].add(r.id)
    return max((len(ids) for ids in groups.values()), default=0) >= CONTAINED * len(rows)


def contained(s: Session, scope: Scope, items: list[int]) -> bool:
    """True when most of ``items`` already belong to an open burst of a narrower scope."""
    if not scope.narrower or not items:
        return False
    q = (
        select(m.AlertItem.item_id, m.Alert.dedup_key)
        .join(m.Alert, m.Alert.id == m.AlertItem.alert_id)
        .where(m.Alert.kind == "burst", m.Alert.state != "resolved", m.AlertItem.item_id.in_(items))
    )
    covered = {iid for iid, key in s.execute(q) if any(key.startswith(p) for p in scope.narrower)}
    return len(covered) >= CONTAINED * len(items)


def open_bursts(s: Session, keys: Sequence[str]) -> dict[str, m.Alert]:
    """The open burst alert of each of ``keys`` that has one, in one query."""
    q = select(m.Alert).where(m.Alert.dedup_key.in_(keys), m.Alert.state != "resolved").order_by(m.Alert.id)
    return {a.dedup_key: a for a in s.scalars(q)}  # the newest wins


def raise_burst(
    s: Session, config: Config, ev: Evaluation, now: datetime, alerts: dict[str, m.Alert] | None = None
) -> AlertEvent | None:
    """Open (or update) the scope's burst alert for ``ev``; None unless a new alert fired.
    ``alerts`` are the open alerts of the poll's scopes (:func:`open_bursts`), kept up to date here."""
    scope = ev.scope
    alert = open_alert(s, scope.key) if alerts is None else alerts.get(scope.key)
    items = ev.fresh
    if alert is None:
        if not ev.verdict.is_burst:
            return None
        rows = window_items(s, config, scope, ev.end, ev.verdict.window)
        items = sorted({r.id for r in rows} | set(ev.fresh))
        enabled = enabled_kinds(config)
        if contained(s, scope, items) or concentrated(scope, rows, enabled):
            ev.suppressed = True
            return None
    titles = {r.id: r.title for r in config.rules}
    what = scope.describe(titles)
    summary = f"差评爆发：{what}。{ev.verdict.explanation}"
    event = None
    if alert is None:
        rule = next((r for r in config.rules if r.id == scope.rule), None)
        alert = new_alert(
            s,
            now,
            dedup_key=scope.key,
            kind="burst",
            rule_id=scope.rule,
            category=rule.category if rule else "negative_burst",
            severity="critical",
            grade=None,
            platform=scope.platform,
            source=None,
            sku=scope.sku,
            title=f"差评爆发：{what}",
            summary=summary,
            labels={"scope": scope.labels},
        )
        event = AlertEvent(alert, "firing")
        if alerts is not None:
            alerts[scope.key] = alert
    elif ev.verdict.is_burst:
        alert.summary = summary
    for row in s.scalars(select(m.Item).where(m.Item.id.in_(items))):
        attach(s, alert, row, now)
    inhibit(s, alert, scope)
    return event


def inhibit(s: Session, burst_alert: m.Alert, scope: Scope) -> None:
    """A burst of one rule mutes the single keyword alerts it contains; broader scopes do not
    silence specific complaints."""
    if scope.kind not in ("rule_sku", "rule"):
        return
    q = select(m.Alert).where(
        m.Alert.kind == "keyword", m.Alert.state != "resolved", m.Alert.inhibited_by.is_(None)
    )
    q = q.where(m.Alert.rule_id == scope.rule)
    if scope.sku is not None:
        q = q.where(m.Alert.sku == scope.sku)
    for single in s.scalars(q):
        single.inhibited_by = burst_alert.id


def elevated_scopes(s: Session, config: Config, limit: int = 50) -> list[tuple[str, str]]:
    """(scope description, drift description) of the scopes in a drift, for the console."""
    titles = {r.id: r.title for r in config.rules}
    q = (
        select(m.DetectorState.scope, m.DetectorState.state)
        .where(m.DetectorState.elevated_since.is_not(None))
        .order_by(m.DetectorState.elevated_since)
        .limit(limit)
    )
    out = []
    for key, state in s.execute(q):
        scope = scope_of_key(key)
        if scope is not None and (state or {}).get("drift"):
            out.append((scope.describe(titles), str(state["drift"])))
    return out


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
