"""Online burst detector for counts of negative items per time bucket.

One :class:`BurstDetector` watches one scope (a store, platform, SKU or rule).  Each
call to :meth:`BurstDetector.update` gives it the number of negative items in one
time bucket (and optionally the number of all items in that bucket) and returns a
:class:`BurstVerdict` saying whether this bucket should raise a burst alert, with a
plain-text explanation that can be pasted into the alert.

Model (all updates O(1), state is a small JSON-able dict):

* **Volume baseline** (used when ``total`` is not given).  Counts are modelled on a
  log scale, ``y = log(1 + count)``, as ``level + hour_of_day[h] + day_of_week[d]``
  (+ a separate promotion lift while ``promotion=True``).  All components are
  exponentially weighted averages of *clipped* residuals, so a burst barely moves
  the baseline while a lasting change of level is learned within a day or two.
* **Share baseline** (used when ``total`` is given).  The expected count is
  ``baseline negative share × total``, so a promotion that multiplies the volume
  but keeps the negative share does not look like a burst.
* **Noise.**  Residuals are measured on the Anscombe (square-root) scale with a
  negative-binomial variance ``mu + phi·mu²``: Poisson noise dominates for quiet
  scopes (0-3 items per bucket), the learned over-dispersion ``phi`` for busy ones.
* **Evidence.**  (1) *Spike*: the bucket's z-score against ``threshold``, raised to
  ``peak_factor`` × the recent (decaying) peak z-score, so spiky scopes and scopes that
  just had a big burst alert only on spikes that stand out from their own recent ones.
  (2) *Sustained rise*: an exponentially smoothed z-score (``sustained_halflife``),
  standardized by its own learned spread, against ``sustained_threshold``.  A bucket
  is a burst when either crosses its threshold *and* the count passes the absolute
  minimums (``min_count``, ``min_excess``, ``min_ratio``).
* **Cooldown.**  After an alert the same scope does not alert again for
  ``cooldown`` unless the count escalates to ``escalation`` × the count that alerted.
  ``score`` is capped below 0.5 while cooling down, so ``score >= 0.5`` is exactly
  "raise an alert now".
* **Warm-up.**  The first bucket only initializes the level; every average starts as
  a plain running mean and turns into an EWMA once its half-life is reached, so the
  detector is usable from day one (the minimums keep quiet new scopes silent).

``now`` is never read from the clock: the start of the bucket is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["BurstConfig", "BurstDetector", "BurstVerdict"]

_STATE_VERSION = 1
_SMOOTH_VAR_FLOOR = 0.5  # smoothed-z spread never below half of its value for iid N(0, 1) z-scores
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class BurstConfig:
    """Tuning of :class:`BurstDetector`.

    The defaults are the product defaults *and* the configuration used for the NAB
    benchmark (which only changes ``bucket`` to 5 minutes).  Durations are given as
    time spans, not bucket counts, so the same settings work for any bucket size.
    """

    bucket: timedelta = timedelta(hours=1)
    """Length of one bucket; ``update`` is called once per bucket."""
    min_count: int = 5
    """A burst needs at least this many negative items in the bucket ..."""
    min_excess: float = 3.0
    """... and at least this many items above the expected count ..."""
    min_ratio: float = 1.5
    """... and at least this multiple of the expected count."""
    threshold: float = 6.0
    """Spike threshold: z-score of one bucket's count against the baseline and its learned noise."""
    peak_factor: float = 1.5
    """Adaptive spike threshold: a spike must also reach ``peak_factor`` × the recent peak z-score
    (0 disables).  Scopes whose normal traffic is itself spiky, and scopes that just had a big
    burst, then alert on spikes only when they stand out from their own recent spikes."""
    peak_halflife: timedelta = timedelta(days=7)
    """Half-life of the recent peak z-score used by ``peak_factor``."""
    sustained_threshold: float = 4.0
    """Threshold on the smoothed z-score (a rise that lasts several buckets), measured in units
    of its own learned spread."""
    sustained_halflife: timedelta = timedelta(hours=1)
    """Half-life of the smoothing used for the sustained-rise evidence."""
    level_halflife: timedelta = timedelta(days=2)
    """Half-life of the baseline level and of the baseline negative share (how fast a new
    normal is accepted)."""
    scale_halflife: timedelta = timedelta(days=7)
    """Half-life of the learned noise (over-dispersion, spread of the smoothed z-score)."""
    daily_halflife_days: float = 7.0
    """Half-life, in days, of the hour-of-day profile (plain average until then)."""
    weekly_halflife_weeks: float = 4.0
    """Half-life, in weeks, of the day-of-week profile (plain average until then)."""
    promotion_halflife: timedelta = timedelta(hours=6)
    """Half-life of the promotion lift of the volume baseline (learned only while
    ``promotion=True``; used only when ``total`` is not given)."""
    clip: float = 8.0
    """Counts are clipped to ``clip`` standard deviations before they update the baseline."""
    initial_dispersion: float = 0.1
    """Over-dispersion assumed before it is learned (variance = mu + dispersion × mu²)."""
    cooldown: timedelta = timedelta(hours=24)
    """After an alert, the scope does not alert again for this long ..."""
    escalation: float = 4.0
    """... unless the count reaches this multiple of the count that alerted."""


@dataclass(frozen=True)
class BurstVerdict:
    """The detector's verdict on one bucket."""

    score: float
    """Anomaly score in [0, 1]; ``>= 0.5`` exactly when ``is_burst``."""
    is_burst: bool
    """Raise a burst alert for this bucket."""
    observed: float
    """Negative items in the bucket."""
    expected: float
    """Baseline (expected) negative items for the bucket."""
    explanation: str
    """Plain-text reason, usable in an alert."""


def _alpha(step: float, halflife: float) -> float:
    """EWMA weight of one new observation for a given half-life (same unit as ``step``)."""
    if halflife <= 0:
        return 1.0
    return 1.0 - math.pow(0.5, step / halflife)


def _fmt(x: float) -> str:
    """Format a count: integers as such, small numbers with one or two decimals."""
    if abs(x - round(x)) < 1e-9 and abs(x) >= 1:
        return f"{round(x):,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}".rstrip("0").rstrip(".") if abs(x) < 1 else f"{x:.1f}"


def _fmt_span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


class _Noise:
    """Count noise model: negative-binomial-like variance ``mu + phi * mu**2``.

    Residuals are measured on the Anscombe scale ``e = 2 (sqrt(x + 3/8) - sqrt(mu + 3/8))``,
    whose variance is about ``1 + phi * mu``; ``phi`` (over-dispersion) is learned as a
    ratio of two EWMAs so that it works across the daily swing of ``mu``.
    """

    @staticmethod
    def sd(phi: float, mu: float) -> float:
        return math.sqrt(1.0 + phi * max(mu, 0.0))

    @staticmethod
    def resid(x: float, mu: float) -> float:
        return 2.0 * (math.sqrt(x + 0.375) - math.sqrt(max(mu, 0.0) + 0.375))

    @staticmethod
    def clip_count(x: float, mu: float, sd: float, clip: float) -> float:
        """``x`` limited to ``mu ± clip`` standard deviations (on the Anscombe scale)."""
        root = math.sqrt(max(mu, 0.0) + 0.375)
        hi = (root + clip * sd / 2.0) ** 2 - 0.375
        lo_root = root - clip * sd / 2.0
        lo = lo_root**2 - 0.375 if lo_root > 0 else 0.0
        return min(max(x, max(lo, 0.0)), hi)


class BurstDetector:
    """Online burst detector for one scope; see the module docstring."""

    def __init__(self, config: BurstConfig | None = None) -> None:
        self.config = config or BurstConfig()
        cfg = self.config
        self._n = 0  # buckets seen
        self._level: float | None = None  # log-scale level of the volume model
        self._hod = [0.0] * 24
        self._hod_n = [0] * 24
        self._dow = [0.0] * 7
        self._dow_n = [0] * 7
        self._promo_lift = 0.0
        self._promo_n = 0
        # dispersion of the volume model: phi = max(var_num, 0) / mu_den
        self._var_num = cfg.initial_dispersion
        self._mu_den = 1.0
        self._var_n = 0
        # share model (negative / total)
        self._neg_ewma = 0.0
        self._tot_ewma = 0.0
        self._share_n = 0
        self._share_var_num = cfg.initial_dispersion
        self._share_mu_den = 1.0
        # evidence / alerting
        self._smooth_z = 0.0
        self._peak_z = 0.0
        self._recent_obs = 0.0  # EWMA of counts and expected counts (sustained_halflife), for explanations
        self._recent_exp = 0.0
        a_s = _alpha(cfg.bucket / _HOUR, cfg.sustained_halflife / _HOUR)
        self._smooth_var = a_s / (2.0 - a_s)  # variance of smooth_z if bucket z-scores were iid N(0, 1)
        self._last_alert: datetime | None = None
        self._alert_count = 0.0

    # ------------------------------------------------------------------ state

    _FLOATS = (
        "var_num",
        "mu_den",
        "promo_lift",
        "neg_ewma",
        "tot_ewma",
        "share_var_num",
        "share_mu_den",
        "smooth_z",
        "smooth_var",
        "peak_z",
        "recent_obs",
        "recent_exp",
        "alert_count",
    )
    _INTS = ("n", "promo_n", "var_n", "share_n")

    def state_dict(self) -> dict[str, Any]:
        """Everything learned so far, as a JSON-able dict (see :meth:`from_state`)."""
        state: dict[str, Any] = {"version": _STATE_VERSION}
        for key in (*self._FLOATS, *self._INTS):
            state[key] = getattr(self, "_" + key)
        state.update(
            level=self._level,
            hod=list(self._hod),
            hod_n=list(self._hod_n),
            dow=list(self._dow),
            dow_n=list(self._dow_n),
            last_alert=self._last_alert.isoformat() if self._last_alert is not None else None,
        )
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any], config: BurstConfig | None = None) -> BurstDetector:
        """Rebuild a detector from :meth:`state_dict` output (e.g. after ``json.loads``)."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported burst detector state version: {state.get('version')!r}")
        det = cls(config)
        try:
            for key in cls._FLOATS:
                setattr(det, "_" + key, float(state[key]))
            for key in cls._INTS:
                setattr(det, "_" + key, int(state[key]))
            det._level = None if state["level"] is None else float(state["level"])
            det._hod = [float(x) for x in state["hod"]]
            det._hod_n = [int(x) for x in state["hod_n"]]
            det._dow = [float(x) for x in state["dow"]]
            det._dow_n = [int(x) for x in state["dow_n"]]
            last = state["last_alert"]
            det._last_alert = None if last is None else datetime.fromisoformat(last)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"corrupt burst detector state: {exc}") from exc
        if len(det._hod) != 24 or len(det._hod_n) != 24 or len(det._dow) != 7 or len(det._dow_n) != 7:
            raise ValueError("corrupt burst detector state: seasonal profiles have the wrong length")
        return det

    # ------------------------------------------------------------------ model

    def _season(self, t: datetime) -> float:
        return self._hod[t.hour] + self._dow[t.weekday()]

    def _update_volume(self, t: datetime, resid: float, promotion: bool) -> None:
        """Learn from a (clipped) log-scale residual of the volume model."""
        cfg = self.config
        step = cfg.bucket / _HOUR
        assert self._level is not None
        if promotion:
            a = max(_alpha(step, cfg.promotion_halflife / _HOUR), 1.0 / (self._promo_n + 2))
            self._promo_lift += a * resid
            self._promo_n += 1
            return
        a_level = max(_alpha(step, cfg.level_halflife / _HOUR), 1.0 / (self._n + 1))
        self._level += a_level * resid
        per_day = max(1.0, _HOUR / cfg.bucket)  # visits of one hour-of-day slot per day
        h = t.hour
        a_h = max(_alpha(1.0, cfg.daily_halflife_days * per_day), 1.0 / (self._hod_n[h] + 2))
        self._hod[h] += a_h * resid
        self._hod_n[h] += 1
        # the weekly profile only starts learning once a full day has been seen
        if self._n * cfg.bucket >= _DAY:
            per_week = max(1.0, _DAY / cfg.bucket)  # visits of one day-of-week slot per week
            d = t.weekday()
            a_d = max(_alpha(1.0, cfg.weekly_halflife_weeks * per_week), 1.0 / (self._dow_n[d] + 2))
            self._dow[d] += a_d * resid
            self._dow_n[d] += 1

    # ------------------------------------------------------------------ main entry

    def update(
        self,
        bucket_start: datetime,
        count: float,
        *,
        total: float | None = None,
        promotion: bool = False,
    ) -> BurstVerdict:
        """Feed the count of negative items in the bucket starting at ``bucket_start``.

        ``total`` is the number of all items in the bucket, if known; ``promotion`` says
        the bucket is inside a promotion window (双11, 618, ...).  Hour-of-day and
        day-of-week are read from ``bucket_start`` as given, so pass local time (e.g.
        Asia/Shanghai).  Call once per bucket, in time order; skipped buckets are fine.
        """
        cfg = self.config
        if not math.isfinite(count) or count < 0:
            raise ValueError(f"count must be a finite non-negative number, got {count!r}")
        if total is not None and (not math.isfinite(total) or total < count):
            raise ValueError(f"total must be finite and >= count, got total={total!r}, count={count!r}")
        step_h = cfg.bucket / _HOUR

        # ---- volume model prediction
        first = self._level is None
        if self._level is None:
            self._level = math.log1p(count)  # no history: the first bucket defines the level
        log_base = self._level + self._season(bucket_start) + (self._promo_lift if promotion else 0.0)
        vol_mu = max(math.expm1(log_base), 0.0)
        vol_phi = max(self._var_num, 0.0) / max(self._mu_den, 1e-9)
        vol_sd = _Noise.sd(vol_phi, vol_mu)

        # ---- share model prediction (when the bucket's total is known)
        share = self._neg_ewma / self._tot_ewma if self._tot_ewma > 0 else 0.0
        use_share = total is not None and self._share_n > 0 and self._tot_ewma > 0
        if use_share:
            assert total is not None
            expected = share * total
            phi = max(self._share_var_num, 0.0) / max(self._share_mu_den, 1e-9)
            sd = _Noise.sd(phi, expected)
        else:
            expected, sd = vol_mu, vol_sd
        z = 0.0 if first else _Noise.resid(count, expected) / sd

        # ---- evidence and decision
        a_s = _alpha(step_h, cfg.sustained_halflife / _HOUR)
        self._smooth_z += a_s * (max(min(z, 2 * cfg.clip), -cfg.clip) - self._smooth_z)
        if first:
            self._recent_obs, self._recent_exp = count, expected
        else:
            self._recent_obs += a_s * (count - self._recent_obs)
            self._recent_exp += a_s * (expected - self._recent_exp)
        self._peak_z *= math.pow(0.5, step_h / max(cfg.peak_halflife / _HOUR, 1e-9))
        spike_thr = max(cfg.threshold, cfg.peak_factor * self._peak_z)
        smooth_sd = math.sqrt(max(self._smooth_var, _SMOOTH_VAR_FLOOR * a_s / (2.0 - a_s)))
        z_sustained = 0.0 if first else self._smooth_z / smooth_sd
        spike = z / spike_thr
        sustained = z_sustained / cfg.sustained_threshold
        strength = max(spike, sustained)
        if not first:
            a_v = max(_alpha(step_h, cfg.scale_halflife / _HOUR), 1.0 / (self._n + 1))
            capped = min(abs(self._smooth_z), cfg.clip * smooth_sd)
            self._smooth_var += a_v * (capped * capped - self._smooth_var)
        gates_ok = (
            count >= cfg.min_count
            and count - expected >= cfg.min_excess
            and count >= cfg.min_ratio * expected
        )
        cooling = (
            strength >= 1.0
            and gates_ok
            and self._last_alert is not None
            and timedelta(0) <= bucket_start - self._last_alert < cfg.cooldown
            and count < cfg.escalation * self._alert_count
        )
        is_burst = strength >= 1.0 and gates_ok and not cooling and not first
        self._peak_z = max(self._peak_z, z)
        if is_burst:
            score = 1.0 - 0.5 / strength
            self._last_alert = bucket_start
            self._alert_count = count
        else:
            score = min(0.4999, 0.5 * max(strength, 0.0))

        # ---- learning from clipped counts
        if not first:
            x_c = _Noise.clip_count(count, vol_mu, vol_sd, cfg.clip)
            self._update_volume(bucket_start, math.log1p(x_c) - math.log1p(vol_mu), promotion)
            if not promotion:
                a_v = max(_alpha(step_h, cfg.scale_halflife / _HOUR), 1.0 / (self._var_n + 2))
                e_c = _Noise.resid(x_c, vol_mu)
                self._var_num += a_v * (e_c * e_c - 1.0 - self._var_num)
                self._mu_den += a_v * (vol_mu - self._mu_den)
                self._var_n += 1
        if total is not None:
            a_sh = max(_alpha(step_h, cfg.level_halflife / _HOUR), 1.0 / (self._share_n + 1))
            learn = count
            if use_share:
                learn = _Noise.clip_count(count, expected, sd, cfg.clip)
                a_v = max(_alpha(step_h, cfg.scale_halflife / _HOUR), 1.0 / (self._share_n + 2))
                e_c = _Noise.resid(learn, expected)
                self._share_var_num += a_v * (e_c * e_c - 1.0 - self._share_var_num)
                self._share_mu_den += a_v * (expected - self._share_mu_den)
            self._neg_ewma += a_sh * (learn - self._neg_ewma)
            self._tot_ewma += a_sh * (total - self._tot_ewma)
            self._share_n += 1
        self._n += 1

        explanation = self._explain(
            count,
            expected,
            total,
            share if use_share else None,
            z,
            is_burst=is_burst,
            cooling=cooling,
            sustained_path=sustained >= 1.0 > spike,
            gates_ok=gates_ok,
            strength=strength,
        )
        return BurstVerdict(
            score=score, is_burst=is_burst, observed=count, expected=expected, explanation=explanation
        )

    def _explain(
        self,
        count: float,
        expected: float,
        total: float | None,
        share: float | None,
        z: float,
        *,
        is_burst: bool,
        cooling: bool,
        sustained_path: bool,
        gates_ok: bool,
        strength: float,
    ) -> str:
        cfg = self.config
        span = _fmt_span(cfg.bucket)
        if total is not None and total > 0 and share is not None:
            head = (
                f"{_fmt(count)} negative of {_fmt(total)} items in {span} ({100 * count / total:.1f}%); "
                f"baseline share {100 * share:.1f}% = {_fmt(expected)} expected"
            )
        else:
            head = f"{_fmt(count)} negative items in {span}; baseline {_fmt(expected)} per {span}"
        if self._n <= 1:
            return f"{head}; first bucket, learning the baseline"
        ratio_txt = f"{count / expected:.1f}× baseline" if expected > 0 else "nothing expected"
        if sustained_path:
            horizon = _fmt_span(2 * cfg.sustained_halflife)
            ratio_txt += (
                f"; sustained rise: {_fmt(self._recent_obs)} per {span} over the last ~{horizon} "
                f"vs {_fmt(self._recent_exp)} expected"
            )
        if is_burst:
            return f"{head}; {ratio_txt}; burst"
        if cooling:
            when = self._last_alert.isoformat(sep=" ", timespec="minutes") if self._last_alert else "?"
            return f"{head}; {ratio_txt}; still elevated, already alerted at {when}"
        if strength >= 1.0 and not gates_ok:
            return (
                f"{head}; {ratio_txt}; unusual but below the minimum "
                f"({cfg.min_count} items, {_fmt(cfg.min_excess)} above baseline)"
            )
        if z <= 0:
            return f"{head}; {ratio_txt}; at or below baseline"
        return f"{head}; {ratio_txt}; within normal variation"
