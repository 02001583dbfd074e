"""Unit tests of the burst detector, its count model, the drift finder and the phrase finder,
with a simulated clock (no wall-clock time is read)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from monitor.analyze.burst_detector import BurstConfig, BurstDetector, BurstVerdict
from monitor.analyze.counts import log_sf, log_sf_share, normal_score, normal_score_share
from monitor.analyze.drift import find_drift
from monitor.analyze.phrases import extend, grams, is_covered

HOUR = timedelta(hours=1)
STEP = timedelta(minutes=5)
T0 = datetime(2026, 11, 2, 0, 0)  # a Monday
HOURLY = BurstConfig(step=HOUR, window=HOUR)


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


# ---------------------------------------------------------------- the count model


def test_tail_probabilities_match_the_poisson_and_negative_binomial_sums() -> None:
    # P(X >= 6 | Poisson(0.1)) = 1 - sum_{k<6} e^-0.1 0.1^k / k!
    exact = 1 - sum(math.exp(-0.1) * 0.1**k / math.factorial(k) for k in range(6))
    assert log_sf(6, 0.1, 0.0) == pytest.approx(math.log(exact), rel=1e-6)
    # NB(mean 10, var 10 + 0.5·100): r = 2, p = r / (r + mu)
    r, mu = 2.0, 10.0
    pmf = [math.comb(k + 1, k) * (r / (r + mu)) ** r * (mu / (r + mu)) ** k for k in range(50)]
    assert log_sf(50, 10.0, 0.5) == pytest.approx(math.log(1 - sum(pmf)), rel=1e-4)
    assert log_sf(0, 3.0, 0.1) == 0.0


def test_share_tails_are_binomial_and_know_the_total_caps_the_count() -> None:
    # 7 negatives among 8 items at a 12.5 % share: sum_{k>=7} C(8,k) p^k (1-p)^(8-k)
    p = 0.125
    exact = 8 * p**7 * (1 - p) + p**8
    assert log_sf_share(7, 8, p, 0.0) == pytest.approx(math.log(exact), rel=1e-9)
    assert log_sf_share(9, 8, p, 0.0) == -math.inf  # more negatives than items: impossible
    # over-dispersion makes the same count less surprising, and many items behave like Poisson
    assert normal_score_share(7, 8, p, 0.3) < normal_score_share(7, 8, p, 0.0)
    assert normal_score_share(40, 1000, 0.02, 0.0) == pytest.approx(normal_score(40, 20.0, 0.0), abs=0.15)


def test_normal_scores_are_on_one_scale_for_quiet_and_busy_scopes() -> None:
    assert normal_score(6, 0.1, 0.0) == pytest.approx(5.96, abs=0.01)  # one in ~1e9
    assert normal_score(9, 2.0, 0.0) == pytest.approx(3.49, abs=0.01)
    assert normal_score(1300, 1000, 0.04) < 1.6  # 30 % above a noisy 1,000 is ordinary
    assert normal_score(3, 3.0, 0.0) == 0.0
    assert normal_score(0, 3.0, 0.0) < 0  # below normal says so
    scores = [normal_score(x, 4.0, 0.2) for x in range(5, 60)]
    assert scores == sorted(scores)


# ---------------------------------------------------------------- the detector


def test_steady_baseline_then_burst_fires_with_explanation() -> None:
    rng = random.Random(7)
    det = BurstDetector(HOURLY)
    ticks = clock()
    alerts = []
    for _ in range(14 * 24):
        t = next(ticks)
        v = check_score(det.update(t, poisson(rng, 2.0)))
        if v.is_burst:
            alerts.append((t, v))
    assert alerts == [], f"false alerts on a steady Poisson(2) stream: {alerts}"
    v = check_score(det.update(next(ticks), 25))
    assert v.is_burst and v.observed == 25 and 1.0 < v.expected < 3.5
    assert v.explanation.startswith("最近 1 小时 25 条负面，基线预期 ")
    assert "倍，判定为爆发" in v.explanation
    # the next, still elevated hour is not a second alert (cooldown) but says why
    v2 = check_score(det.update(next(ticks), 24))
    assert not v2.is_burst and v2.elevated
    assert "已于" in v2.explanation and "告警" in v2.explanation


def test_no_clock_boundary_splits_a_burst() -> None:
    """Six complaints in 20 minutes, three on each side of 10:00 (or of local midnight)."""
    for boundary in (T0 + timedelta(days=3, hours=10), T0 + timedelta(days=4)):
        det = BurstDetector()
        rng = random.Random(1)
        t = T0
        while t < boundary - 20 * STEP:
            det.update(t, 1 if rng.random() < 0.02 else 0)  # ~0.25 complaints an hour
            t += STEP
        arrivals = {boundary - 2 * STEP: 2, boundary - STEP: 1, boundary: 1, boundary + 2 * STEP: 2}
        fired = []
        while t < boundary + 12 * STEP:
            v = check_score(det.update(t, arrivals.get(t, 0)))
            if v.is_burst:
                fired.append((t, v.observed))
            t += STEP
        assert len(fired) == 1, fired
        assert fired[0] == (boundary + 2 * STEP, 6)


def test_daily_seasonality_is_learned() -> None:
    def rate(t: datetime) -> float:
        return 20.0 if 19 <= t.hour < 22 else 2.0  # evening peak, 10× the night

    rng = random.Random(11)
    det = BurstDetector(HOURLY)
    ticks = clock()
    for _ in range(7 * 24):  # one week to learn the daily profile
        t = next(ticks)
        check_score(det.update(t, poisson(rng, rate(t))))
    later = []
    for _ in range(7 * 24):
        t = next(ticks)
        v = check_score(det.update(t, poisson(rng, rate(t))))
        if v.is_burst:
            later.append((t, v.observed, v.expected))
    assert later == [], f"regular daily peak still alerts after a week: {later}"
    while (t := next(ticks)).hour != 20:
        det.update(t, poisson(rng, rate(t)))
    v = check_score(det.update(t, 100))  # a real burst on top of the learned peak (5×)
    assert v.is_burst and v.expected > 15


def test_promotion_volume_with_same_negative_share_does_not_fire() -> None:
    rng = random.Random(3)
    det, control = BurstDetector(HOURLY), BurstDetector(HOURLY)
    ticks = clock()
    share = 0.04
    for _ in range(10 * 24):
        t = next(ticks)
        total = poisson(rng, 100.0)
        neg = sum(rng.random() < share for _ in range(total))
        check_score(det.update(t, neg, total=total))
        check_score(control.update(t, neg, total=total))
    promo_alerts, control_alerts = [], []
    for _ in range(24):  # 双11: five times the volume, same negative share
        t = next(ticks)
        total = poisson(rng, 500.0)
        neg = sum(rng.random() < share for _ in range(total))
        if check_score(det.update(t, neg, total=total, promotion=True)).is_burst:
            promo_alerts.append((t, neg, total))
        if check_score(control.update(t, neg, total=100)).is_burst:  # the same negatives at normal volume
            control_alerts.append(t)
    assert promo_alerts == [] and control_alerts
    # a real quality problem during the promotion (share 4 % -> 15 %) still fires, in share terms
    v = check_score(det.update(next(ticks), 75, total=500, promotion=True))
    assert v.is_burst and v.total == 500 and v.share is not None and 0.03 < v.share < 0.05
    assert v.explanation.startswith("最近 1 小时 75 条负面（共 500 条，15.0%），基线负面占比 ")


def test_promotion_lift_without_totals_is_learned_separately() -> None:
    rng = random.Random(5)
    det = BurstDetector(HOURLY)
    ticks = clock()
    for _ in range(10 * 24):
        check_score(det.update(next(ticks), poisson(rng, 3.0)))
    promo = [check_score(det.update(next(ticks), poisson(rng, 15.0), promotion=True)) for _ in range(48)]
    assert not any(v.is_burst for v in promo[12:])
    assert promo[-1].expected > 9
    after = check_score(det.update(next(ticks), 3))  # the normal baseline was not dragged up
    assert after.expected < 5


def test_quiet_scope_needs_the_minimum_count() -> None:
    det = BurstDetector(HOURLY)
    ticks = clock()
    assert not any(check_score(det.update(next(ticks), 0)).is_burst for _ in range(48))
    v = check_score(det.update(next(ticks), 2))
    assert not v.is_burst and "不足 5 条" in v.explanation
    assert check_score(det.update(next(ticks), 12)).is_burst
    strict = BurstDetector(BurstConfig(step=HOUR, window=HOUR, min_count=50))
    for _ in range(72):
        strict.update(next(ticks), 1)
    v = check_score(strict.update(next(ticks), 30))
    assert not v.is_burst and v.score < 0.5


def test_first_steps_learn_and_do_not_fire() -> None:
    det = BurstDetector(HOURLY)
    first = check_score(det.update(T0, 9))
    assert not first.is_burst and "正在学习基线" in first.explanation


def test_history_is_learned_without_judging() -> None:
    det = BurstDetector()
    t = T0
    for k in range(288):
        det.learn_only(t, 30 if k == 200 else 0, total=40 if k == 200 else 5)
        t += STEP
    assert det.fed_until == t
    quiet = check_score(det.update(t, 0, total=5))
    assert not quiet.is_burst  # the spike in the history raised nothing, then or now


def test_late_items_still_count_while_their_step_is_in_the_window() -> None:
    det = BurstDetector()
    t = T0
    for _ in range(3 * 288):
        det.update(t, 0, total=10)
        t += STEP
    det.update(t, 2, total=12)
    assert det.amend(t, 4, 4)  # four more complaints published in that step, stored late
    assert not det.amend(t - 2 * HOUR, 1, 1)  # too old: history, not evidence
    v = check_score(det.update(t + STEP, 0, total=10))
    assert v.is_burst and v.observed == 6


def test_state_round_trips_through_json() -> None:
    rng = random.Random(21)
    cfg = BurstConfig(step=timedelta(minutes=30), window=2 * HOUR)
    det = BurstDetector(cfg)
    ticks = clock(step=cfg.step)
    for i in range(600):
        total = poisson(rng, 60.0)
        count = min(total, poisson(rng, 3.0) + (30 if i == 400 else 0))
        det.update(next(ticks), count, total=total, promotion=i > 550)
    restored = BurstDetector.from_state(json.loads(json.dumps(det.state_dict())), cfg)
    assert restored.state_dict() == det.state_dict()
    for i in range(300):
        t = next(ticks)
        count = poisson(rng, 3.0) + (40 if i == 200 else 0)
        assert det.update(t, count, total=count + 50) == restored.update(t, count, total=count + 50)
    with pytest.raises(ValueError, match="version"):
        BurstDetector.from_state({**det.state_dict(), "version": 1}, cfg)
    with pytest.raises(ValueError, match="corrupt"):
        BurstDetector.from_state({k: v for k, v in det.state_dict().items() if k != "hod"}, cfg)
    with pytest.raises(ValueError, match="corrupt"):
        BurstDetector.from_state({**det.state_dict(), "ring": [["not a time", 1, 1, 1, False]]}, cfg)


def test_score_is_at_least_half_exactly_when_burst() -> None:
    rng = random.Random(99)
    det = BurstDetector()
    ticks = clock(step=STEP)
    n_burst = 0
    for i in range(6000):
        base = 1.0 + 4.0 * (1 + math.sin(2 * math.pi * i / 288))
        count = poisson(rng, base) + (rng.choice([10, 30, 100]) if rng.random() < 0.003 else 0)
        v = check_score(det.update(next(ticks), count))
        n_burst += v.is_burst
        assert v.expected >= 0 and v.window in (STEP, 3 * STEP, 12 * STEP)
    assert n_burst > 0


def test_rejects_bad_input() -> None:
    det = BurstDetector()
    with pytest.raises(ValueError, match="count must be"):
        det.update(T0, -1)
    with pytest.raises(ValueError, match="count must be"):
        det.update(T0, float("nan"))
    with pytest.raises(ValueError, match="total must be"):
        det.update(T0, 5, total=3)
    with pytest.raises(ValueError, match="count must be"):
        det.amend(T0, -2)
    for bad in (
        {"step": timedelta(0)},
        {"window": timedelta(minutes=1)},
        {"baseline": timedelta(days=1)},
        {"min_count": 0},
        {"z_min": 0.0},
        {"cooldown": -HOUR},
    ):
        with pytest.raises(ValueError, match="must be"):
            BurstConfig(**bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- drifts


def _days(shares: list[float], volume: int = 480, seed: int = 1) -> list[tuple[str, float, float]]:
    rng = random.Random(seed)
    out = []
    for i, p in enumerate(shares):
        k = sum(rng.random() < p for _ in range(volume))
        out.append(((datetime(2026, 3, 1) + timedelta(days=i)).date().isoformat(), float(k), float(volume)))
    return out


def test_a_slow_rise_is_a_drift_with_its_size_and_start() -> None:
    d = find_drift(_days([0.05] * 14 + [0.10, 0.16, 0.23, 0.30]))
    assert d is not None and d.share
    assert d.start in ("2026-03-15", "2026-03-16") and 3 <= d.days <= 4
    assert 0.04 < d.before < 0.07 and d.after > 0.2
    assert d.describe().startswith("负面占比 ") and "个百分点" in d.describe() and "起" in d.describe()


def test_flat_noise_a_one_day_spike_and_a_rise_that_ended_are_not_drifts() -> None:
    assert find_drift(_days([0.05] * 18)) is None
    assert find_drift(_days([0.05] * 14 + [0.3, 0.05, 0.05, 0.05])) is None
    assert find_drift(_days([0.05] * 10 + [0.3] * 3 + [0.05] * 3)) is None
    assert find_drift(_days([0.05] * 3)) is None  # too little history


def test_drift_in_daily_counts_without_totals() -> None:
    days = [
        (f"2026-03-{i + 1:02d}", float(k), float(k))
        for i, k in enumerate([1, 0, 2, 1, 0, 1, 1, 2, 5, 7, 9, 12])
    ]
    d = find_drift(days)
    assert d is not None and not d.share and d.after > 5 * d.before
    assert "条/天" in d.describe()


# ---------------------------------------------------------------- phrases


def test_phrases_are_ideograph_grams_without_function_characters_or_markup() -> None:
    g = grams("充电头发烫了，[点我](javascript:alert(1)) 的确")
    assert {"充电", "充电头", "电头发烫", "头发烫", "发烫"} <= g
    assert not any(ch in "".join(g) for ch in "[]():;/ 了的")
    assert grams("") == set() and grams("abc 123") == set()


def test_a_phrase_grows_to_what_its_items_share() -> None:
    texts = ["充电头发烫，插上就烫", "这个充电头发烫得厉害", "用了两天充电头发烫", "充电头发烫严重", "别的"]
    assert extend("电头", texts) == "充电头发烫"
    assert extend("不存在", texts) == "不存在"
    assert (
        is_covered("外包装破损", ["破损"]) and is_covered("破", ["破损"]) and not is_covered("发烫", ["破损"])
    )
