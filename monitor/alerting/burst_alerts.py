"""Burst alerts: one poll's burst work, inside the poll's transaction (:class:`Round`).

1. :meth:`Round.lock`, before the poll writes any alert row: the lock every writer of several alert
   rows takes first (``monitor.store.lock_alert_writers``), then the state rows of the scopes its
   items touch (``monitor.alerting.burst_scopes``), created if missing and locked in key order. The
   alert lifecycle only reads burst state (``burst_scopes.still_bursting``), so polls and the
   lifecycle cannot deadlock on it.
2. :meth:`Round.raise_bursts`: each scope's detector advances to the step in progress and judges
   it; a burst becomes an alert unless a narrower scope holds most of its items (that scope raises
   it with its own baseline: :func:`contained`, :func:`concentrated`); every state row, with the
   scope's slow rise if it is in one (``monitor.analyze.drift``), is written back in one statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.alerting.alerts import AlertEvent, attach, open_alert, raise_alert
from monitor.alerting.burst_scopes import (
    FUTURE_SKEW,
    KINDS,
    LATE,
    NARROWER,
    Row,
    Scope,
    advance,
    detector_config,
    enabled_kinds,
    evidence_time,
    load_detector,
    plan,
    query_rows,
    row_of,
    scope_of_key,
    scopes_for,
    step_floor,
    window_items,
)
from monitor.alerting.compose import local_time
from monitor.analyze import Analysis
from monitor.analyze.burst_detector import BurstDetector, BurstVerdict
from monitor.analyze.burst_text import sentence
from monitor.analyze.drift import Drift, find_drift
from monitor.config import Config
from monitor.notify.render import platform_name
from monitor.store import lock_alert_writers
from monitor.store import models as m

CONTAINED = 0.6  # a scope whose items are mostly in a narrower open burst is the same event


@dataclass
class Evaluation:
    scope: Scope
    verdict: BurstVerdict
    end: datetime  # start of the last step of the deciding window
    fresh: list[int]  # this poll's items the scope counts (they join an open burst)
    drift: Drift | None = None
    suppressed: bool = False  # a burst, but the same event as a narrower scope's (see contained)


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
            t = evidence_time(row.published_at, row.fetched_at)
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
        dets = {sc.key: load_detector(self.states[sc.key].state or {}, cfg) for sc in self.scopes}
        # one query of items covers the steps every scope feeds one by one (history goes by the hour)
        fine_from = {k: plan(d, self.config, self.now)[1] for k, d in dets.items()}
        recent = [t for t in fine_from.values() if t >= current - LATE / 2]
        shared_from = min(recent) if recent else None
        shared = query_rows(s, shared_from, self.now + FUTURE_SKEW) if shared_from is not None else []
        mine = [row_of(r, a) for r, a in zip(self.rows, self.analyses, strict=True)]
        late = [r for r, row in zip(mine, self.rows, strict=True) if r is not None and row.revision == 1]
        counted = [r for r in mine if r is not None]
        done: list[tuple[Evaluation, BurstDetector, tuple[datetime | None, float]]] = []
        for sc in self.scopes:
            det = dets[sc.key]
            before = det.last_alert if det is not None else (None, 0.0)
            use_shared = shared_from is not None and fine_from[sc.key] >= shared_from
            det, judged, peek = advance(
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


def concentrated(scope: Scope, rows: list[Row], enabled: Iterable[str]) -> bool:
    """True when most of ``rows`` share one narrower scope (one SKU, one rule, one rule on one SKU …):
    then the burst is that narrower scope's to raise, with its own baseline, when it reaches it."""
    kinds = set(NARROWER[scope.kind]) & set(enabled)
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
    what = describe(scope, titles)
    until = local_time(min(ev.end + detector_config(config).step, now), config.settings.tz)
    summary = plain_sentence(scope, ev.verdict, titles, until)
    event = None
    if alert is None:
        rule = next((r for r in config.rules if r.id == scope.rule), None)
        alert = raise_alert(
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


def describe(scope: Scope, titles: dict[str, str]) -> str:
    """What the burst is about, as its title says it: rule titles, 京东 for ``jd``, never an id."""
    if scope.kind == "platform":
        return f"{platform_name(scope.platform)}平台的负面评价"
    return scope.describe(titles)


def plain_sentence(scope: Scope, verdict: BurstVerdict, titles: dict[str, str], until: str) -> str:
    """The burst as one sentence a person on duty reads (``monitor.analyze.burst_text.sentence``):
    ``SKU 100012 近 20 分钟 6 条差评提到「破损」，平时同一时段约 0.4 条（截至 12-01 10:20 UTC+8）``."""
    subject = {
        "rule_sku": f"SKU {scope.sku}",
        "rule": "全店",
        "sku": f"SKU {scope.sku}",
        "product": f"商品 {scope.product}（各规格合计）",
        "platform": platform_name(scope.platform),
        "store": "全店",
    }[scope.kind]
    topic = titles.get(scope.rule, scope.rule) if scope.rule else None
    return sentence(subject, topic, verdict.observed, verdict.expected, verdict.window, verdict.total, until)


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
            out.append((describe(scope, titles), str(state["drift"])))
    return out
