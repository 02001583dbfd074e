"""Burst scenarios on a simulated clock, through the product's own polling and alerting path.

Each scenario is a store whose reviews a loopback API serves as they are "published"; the
project polls it with ``pipeline.run_source`` and runs the alert lifecycle at simulated times.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from monitor.alerting import burst_alerts
from monitor.analyze import MatchContext
from monitor.analyze.pool import AnalysisPool
from monitor.config.rules import RuleFile
from monitor.reports import build_daily, build_weekly
from monitor.reports.data import week_of
from tests.bursts.sim import COMPLAINTS, DAMAGED, PRAISE, Sim, SimShop, local

HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


@pytest.fixture
def shop() -> Iterator[SimShop]:
    s = SimShop().start()
    yield s
    s.stop()


@pytest.fixture
def sim(tmp_path: Path, shop: SimShop) -> Iterator[Sim]:
    s = Sim(tmp_path, shop)
    yield s
    s.close()


def test_the_review_pools_read_as_intended(sim: Sim) -> None:
    pool = AnalysisPool(sim.config.rules, sim.config.priority_words, None, 0)
    for texts, rating, sentiment, fires in ((PRAISE, 5, "pos", False), (COMPLAINTS, 1, "neg", False),
                                            (DAMAGED, 1, "neg", True)):  # fmt: skip
        for a in pool.analyze_many([(t, MatchContext(rating=rating)) for t in texts]):
            assert a.sentiment == sentiment, a.normalized
            assert bool(a.rules) == fires, (a.normalized, a.rules)


@pytest.mark.parametrize(
    "first",
    [local(2026, 3, 5, 9, 52), local(2026, 3, 5, 23, 52)],
    ids=["across-an-hour", "across-local-midnight"],
)
def test_quiet_store_six_complaints_in_twenty_minutes_is_one_burst(sim: Sim, first: object) -> None:
    start = local(2026, 3, 2)
    sim.traffic(start, first - 10 * MIN, per_hour=2, negative_share=0.1)  # type: ignore[operator]
    offsets = [0, 4, 9, 12, 16, 19]  # minutes: 3 before the boundary, 3 after
    for k, off in enumerate(offsets):
        sim.review(first + off * MIN, DAMAGED[k % len(DAMAGED)], 1, "sku-cup", "p-cup")  # type: ignore[operator]
    end = first + 3 * HOUR  # type: ignore[operator]
    list(sim.run(first - HOUR, end, 10 * MIN))  # type: ignore[operator]
    bursts = sim.alerts("burst")
    assert len(bursts) == 1, [(b.title, b.summary) for b in bursts]
    b = bursts[0]
    assert b.item_count == 6, (b.title, b.summary, b.created_at)
    assert b.created_at <= first + 25 * MIN  # type: ignore[operator]
    assert "破损" in b.title and "sku-cup" in b.title


def test_promotion_with_ten_times_the_volume_at_the_same_share_raises_nothing(sim: Sim) -> None:
    # 双11 is in the default promotion calendar (10-20 … 11-12)
    sim.traffic(local(2026, 10, 14), local(2026, 10, 20), per_hour=20, negative_share=0.05)
    sim.traffic(local(2026, 10, 20), local(2026, 10, 21, 12), per_hour=200, negative_share=0.05)
    list(sim.run(local(2026, 10, 19, 12), local(2026, 10, 21, 12), 20 * MIN))
    assert sim.alerts("burst") == []


def test_share_rising_over_ten_products_at_steady_volume_is_one_store_wide_burst(sim: Sim) -> None:
    products = [(f"sku-{i}", f"p-{i}") for i in range(10)]
    change = local(2026, 3, 5, 14, 5)
    sim.traffic(local(2026, 3, 2), change, per_hour=60, negative_share=0.05, skus=products)
    sim.traffic(change, change + 6 * HOUR, per_hour=60, negative_share=0.30, skus=products)
    list(sim.run(change - 2 * HOUR, change + 4 * HOUR, 10 * MIN))
    bursts = sim.alerts("burst")
    store = [b for b in bursts if (b.labels or {}).get("scope", {}).get("kind") == "store"]
    assert len(store) == 1, [(b.title, b.summary) for b in bursts]
    assert store[0].created_at <= change + HOUR
    assert "全店" in store[0].title
    assert len(bursts) == 1, [(b.title, b.summary) for b in bursts]  # no product alone is a burst


def test_complaints_spread_over_a_products_variants_are_one_product_burst(sim: Sim) -> None:
    variants = [("cup-blue", "p-cup"), ("cup-pink", "p-cup"), ("cup-white", "p-cup")]
    others = [(f"sku-{i}", f"p-{i}") for i in range(6)]
    first = local(2026, 3, 5, 15, 40)
    sim.traffic(local(2026, 3, 2), first, per_hour=10, negative_share=0.05, skus=variants + others)
    for k in range(7):  # 7 complaints in 35 minutes, no variant gets more than 3
        sku, product = variants[k % 3]
        sim.review(first + k * 5 * MIN, COMPLAINTS[k % len(COMPLAINTS)], 1, sku, product)
    list(sim.run(first - HOUR, first + 2 * HOUR, 10 * MIN))
    bursts = sim.alerts("burst")
    assert [(b.labels or {})["scope"]["kind"] for b in bursts] == ["product"], [b.title for b in bursts]
    assert "p-cup" in bursts[0].title and "各规格" in bursts[0].title and bursts[0].item_count == 7


def test_a_share_rise_on_one_platform_is_that_platforms_burst(tmp_path: Path, shop: SimShop) -> None:
    tmall = SimShop().start()
    sim = Sim(tmp_path, shop, more=[tmall])  # source "shop" is on jd, "shop1" on tmall
    try:
        products = [(f"sku-{i}", f"p-{i}") for i in range(8)]
        change = local(2026, 3, 5, 20, 5)
        for target, after in ((shop, 0.05), (tmall, 0.35)):
            sim.shop = target
            sim.traffic(local(2026, 3, 2), change, per_hour=30, negative_share=0.05, skus=products)
            sim.traffic(change, change + 3 * HOUR, per_hour=30, negative_share=after, skus=products)
        list(sim.run(change - HOUR, change + 2 * HOUR, 10 * MIN))
        bursts = sim.alerts("burst")
        kinds = {(b.labels or {})["scope"]["kind"]: b for b in bursts}
        assert set(kinds) == {"platform"}, [b.title for b in bursts]
        assert kinds["platform"].platform == "tmall" and "天猫平台" in kinds["platform"].title
        assert kinds["platform"].created_at <= change + HOUR
    finally:
        sim.close()
        tmall.stop()


def test_a_four_day_drift_pages_nobody_and_is_a_trend_in_the_reports(sim: Sim) -> None:
    ramp_start = local(2026, 3, 16)

    def share(t: object) -> float:
        days = (t - ramp_start).total_seconds() / 86400  # type: ignore[operator]
        return 0.05 + 0.25 * min(max(days, 0.0), 4.0) / 4.0

    end = ramp_start + timedelta(days=4, hours=12)
    sim.traffic(local(2026, 3, 2), end, per_hour=20, negative_share=share)
    list(sim.run(local(2026, 3, 12), end, HOUR))
    assert sim.alerts("burst") == [], [(b.title, b.summary, b.created_at) for b in sim.alerts("burst")]
    daily = build_daily(sim.store, sim.config, date(2026, 3, 20), end)
    assert "## 趋势（缓慢上升，不告警）" in daily.markdown
    trend = next(line for line in daily.markdown.splitlines() if line.startswith("- 全店"))
    assert "负面占比" in trend and "自 03-1" in trend, trend
    weekly = build_weekly(sim.store, sim.config, week_of(date(2026, 3, 16)), end)
    assert "全店" in weekly.markdown.split("## 趋势（缓慢上升，不告警）", 1)[1]
    with sim.store.session() as s:  # and the console's "elevated" marker
        elevated = dict(burst_alerts.elevated_scopes(s, sim.config))
    assert "负面占比" in elevated["全店负面评价"]


def test_a_new_uncovered_phrase_in_eight_negative_items_is_one_new_problem_alert(sim: Sim) -> None:
    start = local(2026, 3, 2)
    onset = local(2026, 3, 5, 10, 3)
    sim.traffic(start, onset + 3 * HOUR, per_hour=6, negative_share=0.2)
    heated = [
        "充电头发烫，插上十分钟就烫手，不敢用了",
        "这个充电头发烫得厉害，担心安全问题",
        "用了两天充电头发烫，差评",
        "充电头发烫严重，手机也跟着发热",
        "退货了，充电头发烫还有焦味",
        "充电头发烫，客服说正常，我不认同",
        "晚上充电，充电头发烫，吓得拔掉了",
        "充电头发烫，这种品质也敢卖",
    ]
    for k, text in enumerate(heated):
        sim.review(onset + k * 14 * MIN, text, 1, f"sku-{k % 3}", "p-charger")
    list(sim.run(onset - HOUR, onset + 3 * HOUR, 10 * MIN))
    found = sim.alerts("new_problem")
    assert len(found) == 1, [(a.title, a.summary) for a in found]
    alert = found[0]
    assert "充电头发烫" in alert.title and alert.item_count == 8
    labels = alert.labels or {}
    assert labels["counts"]["window"] == 8 and labels["counts"]["baseline"] == 0
    rule = RuleFile.model_validate(yaml.safe_load(labels["suggested_rule"])).rules[0]
    assert rule.keywords == [labels["phrase"]]
    assert alert.created_at <= onset + 2 * HOUR


def test_a_first_poll_that_stores_two_years_of_history_raises_nothing(sim: Sim) -> None:
    now = local(2026, 3, 5, 12)
    sim.traffic(now - timedelta(days=730), now - HOUR, per_hour=0.4, negative_share=0.1)
    for day_ago in (400, 30, 2):  # dense spells in the history: bursts back then, not now
        t = now - timedelta(days=day_ago)
        for k in range(30):
            sim.review(t + k * MIN, DAMAGED[k % len(DAMAGED)], 1, "sku-cup", "p-cup")
    for k in range(12):  # items without a published time are no evidence of anything
        sim.review(None, COMPLAINTS[k % len(COMPLAINTS)], 1, "sku-cup", "p-cup")
    sim.poll(now)
    with sim.store.session() as s:
        from sqlalchemy import func, select

        from monitor.store import models as m

        stored = s.scalar(select(func.count()).select_from(m.Item))
    assert stored is not None and stored > 7000
    list(sim.run(now + 10 * MIN, now + 3 * HOUR, 10 * MIN))
    assert sim.alerts("burst") == []
    assert sim.alerts("new_problem") == []
