"""Unit tests of the burst detector with a simulated clock (no wall-clock time is read)."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from monitor.analyze.burst_detector import BurstConfig, BurstDetector, BurstVerdict

HOUR = timedelta(hours=1)
T0 = datetime(2026, 11, 2, 0, 0)  # a Monday


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small means used here."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def clock(start: datetime = T0, step: timedelta = HOUR) -> Iterator[datetime]:
    t = start
    while True:
        yield t
        t += step


def check_score(v: BurstVerdict) -> BurstVerdict:
    assert 0.0 <= v.score <= 1.0
    assert (v.score >= 0.5) == v.is_burst
    return v


def test_steady_baseline_then_burst_fires_with_explanation() -> None:
    rng = random.Random(7)
    det = BurstDetector()
    ticks = clock()
    alerts = []
    for _ in range(14 * 24):
        t = next(ticks)
        v = check_score(det.update(t, poisson(rng, 2.0)))
        if v.is_burst:
            alerts.append((t, v))
    assert alerts == [], f"false alerts on a steady Poisson(2) stream: {alerts}"

    v = check_score(det.update(next(ticks), 25))
    assert v.is_burst
    assert v.observed == 25
    assert 1.0 < v.expected < 3.5
    assert v.explanation.startswith("25 negative items in 1 h; baseline ")
    assert "× baseline" in v.explanation and "burst" in v.explanation
    ratio = float(v.explanation.split("× baseline")[0].rsplit("; ", 1)[1])
    assert ratio == pytest.approx(25 / v.expected, rel=0.01)

    # the next, still elevated hour is not a second alert (cooldown) but says why
    v2 = check_score(det.update(next(ticks), 24))
    assert not v2.is_burst
    assert "already alerted" in v2.explanation


def daily_rate(t: datetime) -> float:
    return 20.0 if 19 <= t.hour < 22 else 2.0  # evening peak, 10× the night


def test_daily_seasonality_is_learned() -> None:
    rng = random.Random(11)
    det = BurstDetector()
    ticks = clock()
    for _ in range(7 * 24):  # one week to learn the daily profile
        t = next(ticks)
        check_score(det.update(t, poisson(rng, daily_rate(t))))
    later = []
    for _ in range(7 * 24):
        t = next(ticks)
        v = check_score(det.update(t, poisson(rng, daily_rate(t))))
        if v.is_burst:
            later.append((t, v.observed, v.expected))
    assert later == [], f"regular daily peak still alerts after a week: {later}"

    # control: the same evening volume does alert for a detector that only knows quiet hours
    flat = BurstDetector()
    ticks = clock()
    for _ in range(7 * 24):
        check_score(flat.update(next(ticks), poisson(rng, 2.0)))
    fired = [
        check_score(flat.update(t, poisson(rng, daily_rate(t)))).is_burst
        for t in (next(ticks) for _ in range(24))
    ]
    assert any(fired)

    # and a real burst on top of the learned peak is still detected
    while True:
        t = next(ticks)
        if t.hour == 20:
            break
        det.update(t, poisson(rng, daily_rate(t)))
    v = check_score(det.update(t, 80))
    assert v.is_burst and v.expected > 8


def test_promotion_volume_with_same_negative_share_does_not_fire() -> None:
    rng = random.Random(3)
    det = BurstDetector()
    control = BurstDetector()
    ticks = clock()
    share = 0.04
    for _ in range(10 * 24):
        t = next(ticks)
        total = poisson(rng, 100.0)
        neg = sum(rng.random() < share for _ in range(total))
        check_score(det.update(t, neg, total=total))
        check_score(control.update(t, neg, total=total))
    promo_alerts = []
    control_alerts = []
    for _ in range(24):  # 双11: five times the volume, same negative share
        t = next(ticks)
        total = poisson(rng, 500.0)
        neg = sum(rng.random() < share for _ in range(total))
        v = check_score(det.update(t, neg, total=total, promotion=True))
        if v.is_burst:
            promo_alerts.append((t, neg, total, v.explanation))
        # the same negatives reported against the normal volume are a burst
        if check_score(control.update(t, neg, total=100)).is_burst:
            control_alerts.append(t)
    assert promo_alerts == []
    assert control_alerts

    # a real quality problem during the promotion (share 4 % -> 15 %) still fires
    t = next(ticks)
    v = check_score(det.update(t, 75, total=500, promotion=True))
    assert v.is_burst
    assert v.explanation.startswith("75 negative of 500 items in 1 h (15.0%); baseline share ")
    assert re.search(
        r"baseline share (3\.[5-9]|4\.[0-5])% = \d+\.\d expected; \d\.\d× baseline", v.explanation
    )


def test_promotion_lift_without_totals_is_learned_separately() -> None:
    rng = random.Random(5)
    det = BurstDetector()
    ticks = clock()
    for _ in range(10 * 24):
        check_score(det.update(next(ticks), poisson(rng, 3.0)))
    promo = [check_score(det.update(next(ticks), poisson(rng, 15.0), promotion=True)) for _ in range(48)]
    # the promotion level is learned within the first hours; later promotion hours are normal
    assert not any(v.is_burst for v in promo[6:])
    assert promo[-1].expected > 9
    # and the normal baseline was not dragged up by the promotion
    after = check_score(det.update(next(ticks), 3))
    assert after.expected < 5


def test_new_detector_does_not_fire_on_two_items() -> None:
    det = BurstDetector()
    ticks = clock()
    verdicts = [check_score(det.update(next(ticks), c)) for c in (0, 0, 2, 0, 2, 2)]
    assert not any(v.is_burst for v in verdicts)
    assert "learning the baseline" in verdicts[0].explanation
    assert "minimum" in verdicts[2].explanation or "normal variation" in verdicts[2].explanation
    fresh = BurstDetector()
    assert not check_score(fresh.update(T0, 2)).is_burst
    assert not check_score(fresh.update(T0 + HOUR, 2)).is_burst
    # while a clear burst on day one is still caught
    assert check_score(det.update(next(ticks), 30)).is_burst


def test_quiet_new_store_two_items_do_not_fire() -> None:
    det = BurstDetector()
    ticks = clock()
    quiet = [check_score(det.update(next(ticks), 0)) for _ in range(48)]
    assert not any(v.is_burst for v in quiet)
    v = check_score(det.update(next(ticks), 2))
    assert not v.is_burst
    v = check_score(det.update(next(ticks), 12))
    assert v.is_burst


def test_minimums_gate_alerts() -> None:
    strict = BurstDetector(BurstConfig(min_count=50))
    default = BurstDetector()
    ticks = clock()
    for _ in range(72):
        t = next(ticks)
        strict.update(t, 1)
        default.update(t, 1)
    t = next(ticks)
    assert check_score(default.update(t, 30)).is_burst
    v = check_score(strict.update(t, 30))
    assert not v.is_burst
    assert v.score < 0.5
    assert "below the minimum (50 items" in v.explanation


def test_state_round_trips_through_json() -> None:
    rng = random.Random(21)
    cfg = BurstConfig(bucket=timedelta(minutes=30))
    det = BurstDetector(cfg)
    ticks = clock(step=cfg.bucket)
    for i in range(600):
        t = next(ticks)
        total = poisson(rng, 60.0)
        det.update(t, min(total, poisson(rng, 3.0) + (30 if i == 400 else 0)), total=total, promotion=i > 550)
    blob = json.dumps(det.state_dict())
    restored = BurstDetector.from_state(json.loads(blob), cfg)
    assert restored.state_dict() == det.state_dict()
    for i in range(300):
        t = next(ticks)
        count = poisson(rng, 3.0) + (40 if i == 200 else 0)
        a = det.update(t, count, total=count + 50)
        b = restored.update(t, count, total=count + 50)
        assert a == b
    assert json.loads(json.dumps(det.state_dict())) == restored.state_dict()
    with pytest.raises(ValueError, match="version"):
        BurstDetector.from_state({**det.state_dict(), "version": 999}, cfg)
    with pytest.raises(ValueError, match="corrupt"):
        BurstDetector.from_state({k: v for k, v in det.state_dict().items() if k != "hod"}, cfg)


def test_score_is_at_least_half_exactly_when_burst() -> None:
    rng = random.Random(99)
    det = BurstDetector(BurstConfig(bucket=timedelta(minutes=5)))
    ticks = clock(step=timedelta(minutes=5))
    n_burst = 0
    for i in range(6000):
        base = 1.0 + 4.0 * (1 + math.sin(2 * math.pi * i / 288))
        count = poisson(rng, base) + (rng.choice([10, 30, 100]) if rng.random() < 0.003 else 0)
        v = check_score(det.update(next(ticks), count))
        n_burst += v.is_burst
        assert v.observed == count and v.expected >= 0
    assert n_burst > 0


def test_rejects_bad_input() -> None:
    det = BurstDetector()
    with pytest.raises(ValueError, match="count must be"):
        det.update(T0, -1)
    with pytest.raises(ValueError, match="count must be"):
        det.update(T0, float("nan"))
    with pytest.raises(ValueError, match="total must be"):
        det.update(T0, 5, total=3)
