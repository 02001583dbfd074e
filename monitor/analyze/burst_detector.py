"""Online burst detector for counts of negative items, over sliding windows.

One :class:`BurstDetector` watches one scope (the store, a platform, a product, a SKU, a
rule). :meth:`BurstDetector.update` is called once per *step* (5 minutes by default) with
the number of negative items published in it (and, when known, the number of all items)
and returns a :class:`BurstVerdict` for the windows that end with that step. Windows
slide by one step, so no clock boundary can split a burst: 6 complaints between 09:50
and 10:10 are 6 complaints in the window ending at 10:10.

The model, chosen so that it holds for 0-10 items per hour as well as for thousands:

* **Expected count.** With totals, ``baseline negative share × items in the window`` (a
  promotion that multiplies the volume at an unchanged share expects more negatives).
  Without, a volume baseline ``level × hour-of-day × day-of-week`` (× a promotion lift
  learned while ``promotion=True``). Seasonal factors are ratios of observed to expected
  items with a prior of a few pseudo-items, so a quiet scope's factors stay near 1 until
  there is evidence. Steps are learned one window late, so a burst is judged against a
  baseline that has not seen it, and items that arrive late (:meth:`amend`) still count.
* **Noise.** Negative binomial: variance ``mu + phi mu²`` per window length, ``phi``
  learned from the scope's own (clipped) windows. Poisson noise dominates a quiet scope.
* **Evidence.** For windows of one step, a quarter of ``window`` and ``window``: the normal
  score of the tail probability of the window's count (``monitor.analyze.counts``).
* **Decision.** A burst when the evidence of a window holding at least ``min_count``
  items reaches ``z_min`` and ``relative`` × the median of the scope's daily maximum
  evidence over the last ``baseline`` (a scope whose normal traffic is itself spiky must
  stand out from its own ordinary spikes), outside the ``cooldown`` of its last alert
  unless the evidence is stronger than the alert's. ``score >= 0.5`` is exactly "raise
  a burst alert now"; the NAB benchmark uses this same decision.
* **Days.** Negative and total items per local day are kept for the last
  :data:`DAYS_KEPT` days, for the drift finder (``monitor.analyze.drift``).

``now`` is never read from the clock: the start of each step is passed in (local time:
the hour of day and the weekday are read from it).
"""

from __future__ import annotations

import copy
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from monitor.analyze.burst_text import Reading, explain
from monitor.analyze.counts import normal_score, normal_score_share

__all__ = ["DAYS_KEPT", "BurstConfig", "BurstDetector", "BurstVerdict"]

_STATE_VERSION = 2
DAYS_KEPT = 28
RECENT = 6  # windows: the memory of the recent share (half-life), so a days-long climb is no burst
ELEVATED_Z = 2.0  # evidence above which a scope is still "elevated" (a burst is not over yet)
_PRIOR = 5.0  # pseudo-items behind every seasonal factor and the promotion lift
_CLIP = 6.0  # counts are clipped to mu + 6 sd before the baseline learns from them
_PHI0 = 0.1  # over-dispersion assumed at first, weighted like one day of steps
_FLOOR = 0.05  # no hour or weekday is expected below 5 % of the average one
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)


@dataclass(frozen=True)
class BurstConfig:
    """The detector's settings: few, in time spans rather than step counts.

    The defaults are the product defaults and the configuration the NAB benchmark
    reports (``bench/nab.py``, chosen there by leave-one-stream-out cross-validation).
    """

    step: timedelta = timedelta(minutes=5)
    """Resolution of the sliding windows; ``update`` is called once per step."""
    window: timedelta = timedelta(hours=1)
    """Longest sliding window; windows of one step and of a quarter of it are judged too."""
    min_count: int = 5
    """Never a burst with fewer negative items than this in the window."""
    z_min: float = 4.0
    """Evidence needed at least: the normal score of the window count's tail probability."""
    relative: float = 1.0
    """... and this multiple of the median daily maximum evidence over ``baseline``."""
    baseline: timedelta = timedelta(days=14)
    """Memory of the baseline: the level learns with a half-life of a seventh of it (2 days),
    the seasonal profile and the noise with half of it; the daily maxima kept span all of it."""
    cooldown: timedelta = timedelta(hours=36)
    """After an alert, the scope alerts again within this time only on stronger evidence."""

    def __post_init__(self) -> None:
        if self.step <= timedelta(0) or self.window < self.step:
            raise ValueError("step must be positive and window at least one step")
        if self.baseline < 2 * _DAY:
            raise ValueError("baseline must be at least 2 days")
        if self.min_count < 1 or self.z_min <= 0 or self.relative < 0 or self.cooldown < timedelta(0):
            raise ValueError("min_count, z_min must be positive; relative, cooldown not negative")

    @property
    def steps(self) -> int:
        return max(1, round(self.window / self.step))

    @property
    def scales(self) -> tuple[int, ...]:
        """Window lengths judged, in steps."""
        n = self.steps
        return tuple(sorted({1, max(1, n // 4), n}))


@dataclass(frozen=True)
class BurstVerdict:
    """The detector's verdict on the windows ending with one step."""

    score: float
    """Anomaly score in [0, 1]; ``>= 0.5`` exactly when ``is_burst``."""
    is_burst: bool
    """Raise a burst alert now."""
    observed: float
    """Negative items in the deciding window."""
    expected: float
    """Expected negative items in that window."""
    window: timedelta
    """Length of the deciding window."""
    z: float
    """Evidence of the deciding window (normal score)."""
    elevated: bool
    """Some window is still clearly above normal (the burst is not over)."""
    explanation: str
    """Plain-language reason (Chinese), usable in an alert."""
    total: float | None = None
    """All items in the deciding window, when known."""
    share: float | None = None
    """Baseline negative share used for the expectation, when known."""


@dataclass
class _Step:
    start: datetime
    count: float
    total: float | None
    mu: float  # expected count of the volume model when the step was judged
    promotion: bool


@dataclass
class _Dispersion:
    num: float = 0.0
    den: float = 0.0
    n: int = 0

    @property
    def phi(self) -> float:
        return max(self.num, 0.0) / self.den if self.den > 0 else _PHI0


@dataclass
class _Evidence:
    z: float = 0.0
    count: float = 0.0
    expected: float = 0.0
    total: float | None = None
    steps: int = 1
    top_z: float = 0.0  # the highest evidence of any window, gated or not
    windows: list[tuple[float, float, float | None, int]] = field(default_factory=list)


def _alpha(step: timedelta, halflife: timedelta) -> float:
    """EWMA weight of one new observation for a half-life."""
    return 1.0 - math.pow(0.5, step / halflife)


class BurstDetector:
    """Online burst detector for one scope; see the module docstring."""

    def __init__(self, config: BurstConfig | None = None) -> None:
        self.config = cfg = config or BurstConfig()
        self._n = 0  # steps learned
        self._level: float | None = None  # expected items per step before seasonality
        self._hod = [[0.0, 0.0] for _ in range(24)]  # observed, expected per hour of day
        self._dow = [[0.0, 0.0] for _ in range(7)]
        self._promo = [0.0, 0.0]
        self._neg = 0.0  # EWMA of negative and of all items per step (share model)
        self._tot = 0.0
        self._share_n = 0
        self._recent = [0.0, 0.0]  # the same over the last hours (RECENT × window)
        self._disp = {s: _Dispersion() for s in cfg.scales}
        self._ring: deque[_Step] = deque()
        self._settled: deque[tuple[float, float]] = (
            deque()
        )  # (clipped count, expected) of the last steps learned
        self._daily_max: deque[float] = deque(maxlen=max(1, round(cfg.baseline / _DAY)))
        self._day: date | None = None
        self._day_max = 0.0
        self._days: dict[str, list[float]] = {}
        self._last_alert: datetime | None = None
        self._alert_count = 0.0
        self._sums: tuple[float, float] | None = None  # sums of the unnormalized seasonal factors
        self._fed_until: datetime | None = None

    # ------------------------------------------------------------------ baseline

    def _factor(self, slots: list[list[float]], raw_sum: float, i: int) -> float:
        o, e = slots[i]
        return max((_PRIOR + o) / (_PRIOR + e) * len(slots) / raw_sum, _FLOOR)

    def _season(self, t: datetime) -> tuple[float, float]:
        """Hour-of-day and weekday factors at ``t`` (each profile averages 1 before the floor)."""
        if self._sums is None:
            self._sums = (
                sum((_PRIOR + o) / (_PRIOR + e) for o, e in self._hod),
                sum((_PRIOR + o) / (_PRIOR + e) for o, e in self._dow),
            )
        return self._factor(self._hod, self._sums[0], t.hour), self._factor(
            self._dow, self._sums[1], t.weekday()
        )

    def _set_slot(self, slots: list[list[float]], i: int, o: float, e: float, which: int) -> None:
        if self._sums is not None:
            old = (_PRIOR + slots[i][0]) / (_PRIOR + slots[i][1])
            sums = list(self._sums)
            sums[which] += (_PRIOR + o) / (_PRIOR + e) - old
            self._sums = (sums[0], sums[1])
        slots[i] = [o, e]

    def _volume_mu(self, t: datetime, promotion: bool) -> float:
        if self._level is None:
            return 0.0
        fh, fd = self._season(t)
        return self._level * fh * fd * (self._lift() if promotion else 1.0)

    @property
    def share(self) -> float | None:
        """Negative share a window is judged against, once items with totals have been learned: the
        baseline's, or the last hours' when that is higher (a share that has been climbing for days is
        a drift, reported by ``monitor.analyze.drift``; a burst is a rise within hours)."""
        if not self._share_n or self._tot <= 0:
            return None
        base = self._neg / self._tot
        if self._recent[1] > 0:
            return max(base, self._recent[0] / self._recent[1])
        return base

    def _learn(self, st: _Step) -> None:
        """Learn from a step that has left the window (so late items are in it)."""
        cfg = self.config
        x = st.count
        if self._level is None:
            self._level, self._n = x, 1
            if st.total is not None:
                self._neg, self._tot, self._share_n = x, st.total, 1
                self._recent = [x, st.total]
            return
        mu_vol = self._volume_mu(st.start, st.promotion)
        share = self.share
        mu = share * st.total if st.total is not None and share is not None else mu_vol
        self._settle(_clip(x, mu, self._disp[1].phi), mu)
        if st.total is not None:
            a = max(_alpha(cfg.step, cfg.baseline / 7), 1.0 / (self._share_n + 1))
            self._neg += a * (_clip(x, mu, self._disp[1].phi) - self._neg)
            self._tot += a * (st.total - self._tot)
            self._share_n += 1
            a = max(_alpha(cfg.step, RECENT * cfg.window), 1.0 / self._share_n)
            self._recent = [
                self._recent[0] + a * (x - self._recent[0]),
                self._recent[1] + a * (st.total - self._recent[1]),
            ]
        x_c = _clip(x, mu_vol, self._disp[1].phi)
        if st.promotion:
            decay = math.pow(0.5, cfg.step / _DAY)
            self._promo = [self._promo[0] * decay + x_c, self._promo[1] * decay + mu_vol / self._lift()]
            return
        fh, fd = self._season(st.start)
        self._n += 1
        a = max(_alpha(cfg.step, cfg.baseline / 7), 1.0 / self._n)
        self._level += a * (x_c / (fh * fd) - self._level)
        # an hour slot is visited (1 h / step) times a day, a weekday slot (1 d / step) times a week;
        # the hour-of-day profile forgets with a half-life of baseline / 2, the weekly one of 2 × baseline
        decay_h = math.pow(0.5, (cfg.step / _HOUR) / ((cfg.baseline / 2) / _DAY))
        decay_d = math.pow(0.5, (cfg.step / _DAY) / ((2 * cfg.baseline) / _WEEK))
        h, d = st.start.hour, st.start.weekday()
        o, e = self._hod[h]
        self._set_slot(self._hod, h, o * decay_h + x_c, e * decay_h + mu_vol / fh, 0)
        o, e = self._dow[d]
        self._set_slot(self._dow, d, o * decay_d + x_c, e * decay_d + mu_vol / fd, 1)

    def _settle(self, x_c: float, mu: float) -> None:
        """Learn the noise of every window length from the steps learned last."""
        cfg = self.config
        self._settled.append((x_c, mu))
        if len(self._settled) > cfg.steps:
            self._settled.popleft()
        a_min = _alpha(cfg.step, cfg.baseline / 2)
        day_steps = round(_DAY / cfg.step)
        x = m = 0.0
        for k, (xk, mk) in enumerate(reversed(self._settled), start=1):
            x += xk
            m += mk
            d = self._disp.get(k)
            if d is None or m <= 0:
                continue
            if d.n == 0:
                d.num, d.den = _PHI0 * m * m, m * m
            d.n += 1
            a = max(a_min, 1.0 / (d.n + day_steps))
            x_c = min(x, m + _CLIP * math.sqrt(m + d.phi * m * m) + 1.0)
            d.num += a * ((x_c - m) ** 2 - x_c - d.num)
            d.den += a * (m * m - d.den)

    def _lift(self) -> float:
        return (_PRIOR + self._promo[0]) / (_PRIOR + self._promo[1])

    # ------------------------------------------------------------------ evidence

    def _evidence(self) -> _Evidence:
        cfg = self.config
        ev = _Evidence(z=-math.inf)
        share = self.share
        x = mu = 0.0
        total: float | None = 0.0
        for k, st in enumerate(reversed(self._ring), start=1):
            x += st.count
            mu += share * st.total if st.total is not None and share is not None else st.mu
            total = None if total is None or st.total is None else total + st.total
            d = self._disp.get(k)
            if d is None:
                continue
            if total is not None and share is not None and total > 0:  # negatives among known items
                z = normal_score_share(x, total, share, d.phi)
            else:
                z = normal_score(x, max(mu, 1e-6), d.phi)
            ev.windows.append((x, mu, total, k))
            ev.top_z = max(ev.top_z, z)
            if x >= cfg.min_count and z > ev.z:
                ev.z, ev.count, ev.expected, ev.total, ev.steps = z, x, mu, total, k
        if ev.z == -math.inf:
            x, mu, total, k = ev.windows[-1] if ev.windows else (0.0, 0.0, None, 1)
            ev.z, ev.count, ev.expected, ev.total, ev.steps = 0.0, x, mu, total, k
        return ev

    # ------------------------------------------------------------------ main entry

    def update(
        self, step_start: datetime, count: float, *, total: float | None = None, promotion: bool = False
    ) -> BurstVerdict:
        """Feed the negative items published in the step starting at ``step_start``.

        ``total`` is the number of all items in the step, if known; ``promotion`` says the
        step is inside a promotion window (双11, 618 …). Call once per step, in time order.
        """
        _check(count, total)
        cfg = self.config
        first = self._level is None and not self._ring
        st = _Step(step_start, float(count), None if total is None else float(total), 0.0, promotion)
        st.mu = self._volume_mu(step_start, promotion)
        self._ring.append(st)
        self._fed_until = step_start + cfg.step
        self._count_day(step_start, count, total)
        ev = self._evidence()
        warm = self._n * cfg.step < _DAY
        thr = cfg.z_min
        if self._daily_max:
            ranked = sorted(self._daily_max)
            thr = max(thr, cfg.relative * ranked[len(ranked) // 2])
        strength = ev.z / thr
        cooling = (
            self._last_alert is not None and timedelta(0) <= step_start - self._last_alert < cfg.cooldown
        )
        is_burst = strength >= 1.0 and not cooling and not first and self._n > 0
        self._track_daily_max(step_start, max(ev.z, 0.0) if not warm else 0.0)
        if is_burst:
            self._last_alert, self._alert_count = step_start, ev.count
            score = 1.0 - 0.5 / strength
        else:
            score = min(0.4999, 0.5 * max(strength, 0.0))
        while len(self._ring) > cfg.steps or (first and self._ring):
            self._learn(self._ring.popleft())
            if first:
                break
        return self._verdict(ev, score, is_burst, cooling, thr, first)

    def learn_only(
        self, step_start: datetime, count: float, *, total: float | None = None, promotion: bool = False
    ) -> None:
        """Feed a step without judging it: history that a new scope learns from."""
        _check(count, total)
        first = self._level is None and not self._ring
        self._fed_until = step_start + self.config.step
        self._ring.append(
            _Step(
                step_start,
                float(count),
                None if total is None else float(total),
                self._volume_mu(step_start, promotion),
                promotion,
            )
        )
        self._count_day(step_start, count, total)
        if first:
            self._learn(self._ring.popleft())
        while len(self._ring) > self.config.steps:
            self._learn(self._ring.popleft())

    @property
    def last_alert(self) -> tuple[datetime | None, float]:
        """(start of the step, count) of the last alert, for :meth:`set_alert`."""
        return self._last_alert, self._alert_count

    def set_alert(self, step_start: datetime | None, count: float = 0.0) -> None:
        """Record an alert raised on a :meth:`peek` verdict (so the cooldown applies), or put back
        an earlier one when the caller did not raise the burst after all."""
        self._last_alert, self._alert_count = step_start, count

    def amend(self, step_start: datetime, count: float, total: float | None = None) -> bool:
        """Add late items to a step still in the window; False when that step is gone."""
        _check(count, total)
        for st in self._ring:
            if st.start == step_start:
                st.count += count
                if total is not None:
                    st.total = (st.total or 0.0) + total
                self._count_day(step_start, count, total)
                return True
        return False

    def peek(
        self, step_start: datetime, count: float, *, total: float | None = None, promotion: bool = False
    ) -> BurstVerdict:
        """The verdict ``update`` would give, without changing the detector."""
        return self.copy().update(step_start, count, total=total, promotion=promotion)

    def copy(self) -> BurstDetector:
        other = copy.copy(self)
        for name in ("_hod", "_dow"):
            setattr(other, name, [list(v) for v in getattr(self, name)])
        other._promo, other._recent = list(self._promo), list(self._recent)
        other._disp = {k: _Dispersion(d.num, d.den, d.n) for k, d in self._disp.items()}
        other._ring = deque(_Step(st.start, st.count, st.total, st.mu, st.promotion) for st in self._ring)
        other._settled = deque(self._settled)
        other._daily_max = deque(self._daily_max, maxlen=self._daily_max.maxlen)
        other._days = {k: list(v) for k, v in self._days.items()}
        return other

    def learn_span(
        self,
        start: datetime,
        steps: int,
        count: float,
        *,
        total: float | None = None,
        promotion: bool = False,
    ) -> None:
        """Learn ``steps`` consecutive steps from ``start``, all in one hour of one day, with ``count``
        (and ``total``) spread evenly over them, without judging: the history a new scope learns from,
        or the hours a quiet scope missed, at the cost of one step. The baseline moves as ``steps``
        calls of :meth:`learn_only` would move it; the noise of the windows learns from single steps only."""
        _check(count, total)
        if steps < 1:
            raise ValueError("steps must be at least 1")
        cfg = self.config
        while self._ring:
            self._learn(self._ring.popleft())
        self._count_day(start, count, total)
        self._fed_until = start + steps * cfg.step
        x = count / steps
        tot = None if total is None else total / steps
        if self._level is None:
            self._level, self._n = x, steps
            if tot is not None:
                self._neg, self._tot, self._share_n = x, tot, steps
                self._recent = [x, tot]
            return

        def weight(fast: float, n: int) -> float:  # total weight of the last of `steps` EWMA updates
            keep = 1.0
            for i in range(1, steps + 1):
                keep *= 1.0 - max(fast, 1.0 / (n + i))
            return 1.0 - keep

        mu_vol = self._volume_mu(start, promotion)
        share = self.share
        phi = self._disp[1].phi
        if tot is not None:
            mu = share * tot if share is not None else mu_vol
            w = weight(_alpha(cfg.step, cfg.baseline / 7), self._share_n)
            self._neg += w * (_clip(x, mu, phi) - self._neg)
            self._tot += w * (tot - self._tot)
            w = weight(_alpha(cfg.step, RECENT * cfg.window), self._share_n - 1)
            self._recent = [
                self._recent[0] + w * (x - self._recent[0]),
                self._recent[1] + w * (tot - self._recent[1]),
            ]
            self._share_n += steps
        x_c = _clip(x, mu_vol, phi)

        def slot(old: list[float], add_o: float, add_e: float, decay: float) -> tuple[float, float]:
            dk = decay**steps
            grow = (1.0 - dk) / (1.0 - decay) if decay < 1.0 else float(steps)
            return old[0] * dk + add_o * grow, old[1] * dk + add_e * grow

        if promotion:
            self._promo = list(slot(self._promo, x_c, mu_vol / self._lift(), math.pow(0.5, cfg.step / _DAY)))
            return
        fh, fd = self._season(start)
        w = weight(_alpha(cfg.step, cfg.baseline / 7), self._n - 1)
        self._level += w * (x_c / (fh * fd) - self._level)
        self._n += steps
        decay_h = math.pow(0.5, (cfg.step / _HOUR) / ((cfg.baseline / 2) / _DAY))
        decay_d = math.pow(0.5, (cfg.step / _DAY) / ((2 * cfg.baseline) / _WEEK))
        h, d = start.hour, start.weekday()
        self._set_slot(self._hod, h, *slot(self._hod[h], x_c, mu_vol / fh, decay_h), 0)
        self._set_slot(self._dow, d, *slot(self._dow[d], x_c, mu_vol / fd, decay_d), 1)

    @property
    def fed_until(self) -> datetime | None:
        """End of the last step fed."""
        return self._fed_until

    @property
    def days(self) -> list[tuple[str, float, float]]:
        """(local day, negative items, all items) for the days kept, oldest first."""
        return [(d, v[0], v[1]) for d, v in sorted(self._days.items())]

    def _count_day(self, t: datetime, count: float, total: float | None) -> None:
        key = t.date().isoformat()
        row = self._days.setdefault(key, [0.0, 0.0])
        row[0] += count
        row[1] += count if total is None else total
        if len(self._days) > DAYS_KEPT:
            for old in sorted(self._days)[: len(self._days) - DAYS_KEPT]:
                del self._days[old]

    def _track_daily_max(self, t: datetime, z: float) -> None:
        day = t.date()
        if self._day is not None and day != self._day:
            if self._n * self.config.step >= _DAY:
                self._daily_max.append(self._day_max)
            self._day_max = 0.0
        self._day = day
        self._day_max = max(self._day_max, z)

    # ------------------------------------------------------------------ explanation

    def _verdict(
        self, ev: _Evidence, score: float, is_burst: bool, cooling: bool, thr: float, first: bool
    ) -> BurstVerdict:
        cfg = self.config
        share = self.share if ev.total is not None else None
        text = explain(
            Reading(ev.count, ev.expected, ev.total, share, ev.steps * cfg.step),
            first=first,
            is_burst=is_burst,
            cooling=cooling and ev.z >= thr,
            below_minimum=ev.top_z >= thr and ev.count < cfg.min_count,
            at_or_below=ev.z <= 0,
            last_alert=self._last_alert,
            min_count=cfg.min_count,
        )
        return BurstVerdict(
            score=score,
            is_burst=is_burst,
            observed=ev.count,
            expected=ev.expected,
            window=ev.steps * cfg.step,
            z=ev.z,
            elevated=ev.top_z >= ELEVATED_Z,
            explanation=text,
            total=ev.total,
            share=share,
        )

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """Everything learned so far, as a JSON-able dict (see :meth:`from_state`)."""
        return {
            "version": _STATE_VERSION,
            "n": self._n,
            "level": self._level,
            "hod": self._hod,
            "dow": self._dow,
            "promo": self._promo,
            "share": [self._neg, self._tot, self._share_n, *self._recent],
            "disp": {str(s): [d.num, d.den, d.n] for s, d in self._disp.items()},
            "ring": [[st.start.isoformat(), st.count, st.total, st.mu, st.promotion] for st in self._ring],
            "settled": [list(v) for v in self._settled],
            "daily_max": list(self._daily_max),
            "day": [self._day.isoformat() if self._day else None, self._day_max],
            "days": self._days,
            "alert": [self._last_alert.isoformat() if self._last_alert else None, self._alert_count],
            "fed_until": self._fed_until.isoformat() if self._fed_until else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: BurstConfig | None = None) -> BurstDetector:
        """Rebuild a detector from :meth:`state_dict` output; ``ValueError`` if it does not fit."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported burst detector state version: {state.get('version')!r}")
        det = cls(config)
        try:
            det._n = int(state["n"])
            det._level = None if state["level"] is None else float(state["level"])
            det._hod = [[float(o), float(e)] for o, e in state["hod"]]
            det._dow = [[float(o), float(e)] for o, e in state["dow"]]
            det._promo = [float(x) for x in state["promo"]]
            neg, tot, share_n, recent_neg, recent_tot = state["share"]
            det._neg, det._tot, det._share_n = float(neg), float(tot), int(share_n)
            det._recent = [float(recent_neg), float(recent_tot)]
            for s, (num, den, n) in state["disp"].items():
                if int(s) in det._disp:
                    det._disp[int(s)] = _Dispersion(float(num), float(den), int(n))
            det._ring = deque(
                _Step(
                    datetime.fromisoformat(t), float(c), None if tt is None else float(tt), float(mu), bool(p)
                )
                for t, c, tt, mu, p in state["ring"]
            )
            det._settled = deque((float(x), float(m)) for x, m in state["settled"])
            det._daily_max.extend(float(z) for z in state["daily_max"])
            day, day_max = state["day"]
            det._day, det._day_max = (None if day is None else date.fromisoformat(day)), float(day_max)
            det._days = {str(k): [float(v[0]), float(v[1])] for k, v in state["days"].items()}
            last, alert_count = state["alert"]
            det._last_alert = None if last is None else datetime.fromisoformat(last)
            det._alert_count = float(alert_count)
            fed = state["fed_until"]
            det._fed_until = None if fed is None else datetime.fromisoformat(fed)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"corrupt burst detector state: {exc}") from exc
        det._sums = None
        if len(det._hod) != 24 or len(det._dow) != 7 or len(det._promo) != 2:
            raise ValueError("corrupt burst detector state: seasonal profiles have the wrong length")
        while len(det._ring) > det.config.steps:  # the window was shortened since the state was saved
            det._learn(det._ring.popleft())
        return det


def _clip(x: float, mu: float, phi: float) -> float:
    """``x`` limited to ``_CLIP`` standard deviations above ``mu``, plus one item (so a scope
    that expects nothing can still learn that it gets some)."""
    mu = max(mu, 0.0)
    return min(x, mu + _CLIP * math.sqrt(mu + phi * mu * mu) + 1.0)


def _check(count: float, total: float | None) -> None:
    if not math.isfinite(count) or count < 0:
        raise ValueError(f"count must be a finite non-negative number, got {count!r}")
    if total is not None and (not math.isfinite(total) or total < count):
        raise ValueError(f"total must be finite and >= count, got total={total!r}, count={count!r}")
