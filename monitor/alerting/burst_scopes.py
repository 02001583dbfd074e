"""Burst detection over stored items, per scope, with the online detector of
``monitor.analyze.burst_detector``.

Scopes: ``rule_sku`` (one rule on one SKU), ``rule`` (one rule across the store),
``sku`` (all negative items of one SKU) and ``store``. Each scope's detector is fed one
count per completed bucket (by publication time, local time for the seasonality) and
its state is persisted; the current, still open bucket is judged on a copy, so a burst
is raised as soon as it is visible rather than at the end of the hour. A new scope
first learns from the previous day of stored history (zero where nothing was published).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.alerting import AlertEvent, attach, new_alert, open_alert
from monitor.analyze.burst_detector import BurstConfig, BurstDetector, BurstVerdict
from monitor.config import Config
from monitor.store import models as m

log = logging.getLogger(__name__)

HISTORY_BUCKETS = 24  # what a new scope learns from
MAX_CATCH_UP = 24 * 14  # buckets fed at most in one evaluation (a long outage)
CONTAINED = 0.6  # a scope whose items are mostly in a narrower open burst is the same event


@dataclass(frozen=True)
class Scope:
    kind: str  # rule_sku | rule | sku | store
    rule: str | None = None
    sku: str | None = None

    @property
    def key(self) -> str:
        return f"burst:{self.kind}:{self.rule or '*'}:{self.sku or '*'}"

    @property
    def narrower(self) -> list[str]:
        """Prefixes of dedup keys of scopes contained in this one."""
        if self.kind == "rule":
            return [f"burst:rule_sku:{self.rule}:"]
        if self.kind == "sku":
            return ["burst:rule_sku:"]
        if self.kind == "store":
            return ["burst:rule_sku:", "burst:rule:", "burst:sku:"]
        return []

    def matches(self, rules: list[str], sentiment: str, sku: str | None) -> bool:
        if self.sku is not None and sku != self.sku:
            return False
        if self.rule is not None:
            return self.rule in rules and sentiment != "pos"
        return sentiment == "neg"

    def describe(self, titles: dict[str, str]) -> str:
        rule = f"「{titles.get(self.rule, self.rule)}」" if self.rule else ""
        if self.kind == "rule_sku":
            return f"{rule} on SKU {self.sku}"
        if self.kind == "rule":
            return f"{rule} across the store"
        if self.kind == "sku":
            return f"all negative reviews of SKU {self.sku}"
        return "all negative items of the store"


def scopes_for(rules: Iterable[str], sentiment: str, sku: str | None, enabled: Iterable[str]) -> list[Scope]:
    on = set(enabled)
    out: list[Scope] = []
    for r in rules:
        if sentiment == "pos":
            continue
        if "rule_sku" in on and sku:
            out.append(Scope("rule_sku", r, sku))
        if "rule" in on:
            out.append(Scope("rule", r))
    if sentiment == "neg":
        if "sku" in on and sku:
            out.append(Scope("sku", None, sku))
        if "store" in on:
            out.append(Scope("store"))
    return out


def detector_config(config: Config) -> BurstConfig:
    a = config.settings.alerting
    return BurstConfig(bucket=a.burst_bucket, min_count=a.burst_min_count)


def bucket_floor(t: datetime, bucket: timedelta, tz: object) -> datetime:
    local = t.astimezone(tz)  # type: ignore[arg-type]
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    n = (local - midnight) // bucket
    return midnight + n * bucket


@dataclass
class Evaluation:
    scope: Scope
    verdict: BurstVerdict
    items: list[int]  # ids of the items of the current window


def _series(s: Session, scope: Scope, since: datetime, until: datetime) -> list[tuple[int, datetime, bool]]:
    """(item id, time, counts-as-negative-for-scope) for items of the scope's SKU in [since, until)."""
    when = func.coalesce(m.Item.published_at, m.Item.fetched_at)
    q = (
        select(
            m.Item.id,
            m.Item.published_at,
            m.Item.fetched_at,
            m.Item.sku,
            m.Analysis.rules,
            m.Analysis.sentiment,
        )
        .join(m.Analysis, m.Analysis.item_id == m.Item.id)
        .where(when >= since, when < until)
    )
    if scope.sku is not None:
        q = q.where(m.Item.sku == scope.sku)
    out = []
    for iid, pub, fetched, sku, rules, sentiment in s.execute(q):
        t = pub or fetched
        out.append((iid, t, scope.matches(list(rules or []), sentiment, sku)))
    return out


def evaluate(s: Session, config: Config, scope: Scope, now: datetime) -> Evaluation:
    """Advance the scope's detector to the current bucket and judge the open bucket."""
    tz = config.settings.tz
    cfg = detector_config(config)
    current = bucket_floor(now, cfg.bucket, tz)
    row = _locked_state(s, scope.key, now)
    if not row.state.get("detector"):
        det = BurstDetector(cfg)
        fed_until = current - HISTORY_BUCKETS * cfg.bucket
    else:
        det = BurstDetector.from_state(row.state["detector"], cfg)
        fed_until = datetime.fromisoformat(row.state["fed_until"])
    fed_until = max(fed_until, current - MAX_CATCH_UP * cfg.bucket)
    data = _series(s, scope, min(fed_until, current - cfg.bucket), now + timedelta(seconds=1))
    neg: Counter[datetime] = Counter()
    tot: Counter[datetime] = Counter()
    items_in: dict[datetime, list[int]] = {}
    for iid, t, is_neg in data:
        b = bucket_floor(t, cfg.bucket, tz)
        tot[b] += 1
        if is_neg:
            neg[b] += 1
            items_in.setdefault(b, []).append(iid)
    schedule = config.settings.schedule
    previous: BurstVerdict | None = None  # the bucket that just closed, if fed now
    b = fed_until
    while b < current:
        promo = schedule.profile_for(b.date())[0] != "normal"
        v = det.update(b, float(neg[b]), total=float(tot[b]) if tot[b] else None, promotion=promo)
        if b == current - cfg.bucket:
            previous = v
        b += cfg.bucket
    row.state, row.updated_at = {"detector": det.state_dict(), "fed_until": current.isoformat()}, now
    peek = BurstDetector.from_state(det.state_dict(), cfg)
    promo = schedule.profile_for(current.date())[0] != "normal"
    verdict = peek.update(current, float(neg[current]), total=float(tot[current]) or None, promotion=promo)
    if previous is not None and previous.is_burst and not verdict.is_burst:
        # the burst filled the bucket that closed since the last look: raise it now
        return Evaluation(scope, previous, items_in.get(current - cfg.bucket, []))
    return Evaluation(scope, verdict, items_in.get(current, []))


def _locked_state(s: Session, key: str, now: datetime) -> m.DetectorState:
    """The scope's state row, created if missing and locked for this transaction.

    Concurrent polls touch the same scopes: the row is inserted with ON CONFLICT DO NOTHING and
    then read FOR UPDATE, so two polls never collide on the insert or overwrite each other's
    baseline (on SQLite the database's single writer already serializes them).
    """
    dialect = s.get_bind().dialect.name
    values = {"scope": key, "state": {}, "updated_at": now}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        s.execute(
            pg_insert(m.DetectorState).values(**values).on_conflict_do_nothing(index_elements=["scope"])
        )
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        s.execute(
            sqlite_insert(m.DetectorState).values(**values).on_conflict_do_nothing(index_elements=["scope"])
        )
    elif s.get(m.DetectorState, key) is None:
        s.add(m.DetectorState(**values))
        s.flush()
    row = s.get(m.DetectorState, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


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


def raise_burst(s: Session, config: Config, scope: Scope, now: datetime) -> AlertEvent | None:
    ev = evaluate(s, config, scope, now)
    alert = open_alert(s, scope.key)
    if alert is None and (not ev.verdict.is_burst or contained(s, scope, ev.items)):
        return None
    titles = {r.id: r.title for r in config.rules}
    what = scope.describe(titles)
    summary = f"Burst of negative items: {what}. {ev.verdict.explanation}"
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
            platform=None,
            source=None,
            sku=scope.sku,
            title=f"差评爆发 burst: {what}",
            summary=summary,
            labels={"scope": {"kind": scope.kind, "rule": scope.rule, "sku": scope.sku}},
        )
        event = AlertEvent(alert, "firing")
    elif ev.verdict.is_burst:
        alert.summary = summary
    for row in s.scalars(select(m.Item).where(m.Item.id.in_(ev.items))):
        attach(s, alert, row, now)
    inhibit(s, alert, scope)
    return event


def inhibit(s: Session, burst_alert: m.Alert, scope: Scope) -> None:
    """A burst mutes the single keyword alerts it contains."""
    q = select(m.Alert).where(
        m.Alert.kind == "keyword", m.Alert.state != "resolved", m.Alert.inhibited_by.is_(None)
    )
    if scope.rule is not None:
        q = q.where(m.Alert.rule_id == scope.rule)
    if scope.sku is not None:
        q = q.where(m.Alert.sku == scope.sku)
    if scope.kind in ("sku", "store"):
        return  # broad scopes do not silence specific complaints
    for single in s.scalars(q):
        single.inhibited_by = burst_alert.id
