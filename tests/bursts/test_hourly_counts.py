"""The hourly counts a scope's history is learned from are counted by the database; they must be
what counting the same items one by one gives, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta

from monitor.alerting.burst_scopes import FUTURE_SKEW, Row, Scope, hourly_counts, step_floor
from monitor.store import Store
from monitor.store import models as m
from tests.bursts.sim import TZ, local


def test_hourly_counts_match_the_items(store: Store) -> None:
    rng = random.Random(5)
    since = local(2026, 3, 5, 9, 25)
    until = local(2026, 3, 5, 21)
    rows: list[tuple[Row, m.Item]] = []
    with store.transaction() as s:
        for k in range(400):
            if k < 5:  # exactly on an hour, and a millisecond before one
                at = local(2026, 3, 5, 12 + k) - timedelta(microseconds=1000 * (k % 2))
            else:
                at = since - timedelta(hours=1) + timedelta(seconds=rng.randrange(14 * 3600))
            future = k % 37 == 0  # claims a time far after it was fetched: never counted
            fetched = at - timedelta(days=2) if future else at + timedelta(minutes=rng.randrange(120))
            rules = rng.choice(
                [[], ["damaged"], ["slow_delivery"], ["damaged", "quality_defect"], ["slowXdelivery"]]
            )
            sentiment = rng.choice(["neg", "neg", "neu", "pos"])
            item = m.Item(source="s", platform=rng.choice(["jd", "tmall"]), external_id=f"e{k}", text="t",
                          sku=rng.choice(["a", "b"]), product="p", published_at=at, fetched_at=fetched,
                          updated_at=fetched, payload_hash="h", attrs={})  # fmt: skip
            s.add(item)
            s.flush()
            s.add(m.Analysis(item_id=item.id, normalized="t", rules=rules, hits=[], sentiment=sentiment,
                             sentiment_score=0.5, dimensions=[], grade=None, grade_reasons=[], severity=None,
                             analyzed_at=fetched))  # fmt: skip
            if not future:
                rows.append((Row(item.id, at, item.platform, "p", item.sku, tuple(rules), sentiment), item))
    for scope in (Scope("store"), Scope("rule", "slow_delivery"), Scope("rule_sku", "damaged", sku="a"),
                  Scope("platform", platform="tmall"), Scope("sku", sku="b")):  # fmt: skip
        want: dict[object, list[float]] = {}
        for r, _item in rows:
            if since <= r.published_at < until and scope.contains(r):
                hour = step_floor(r.published_at, timedelta(hours=1), TZ)
                cell = want.setdefault(hour, [0.0, 0.0])
                cell[1] += 1
                cell[0] += 1 if scope.counts(r) else 0
        with store.session() as s:
            got = hourly_counts(s, scope, since, until)
        assert {h: list(v) for h, v in got.items() if v[1]} == want, scope
    assert timedelta(days=2) > FUTURE_SKEW
