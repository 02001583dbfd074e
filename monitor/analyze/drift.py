"""Slow rises over days ("drifts"): reported and shown, never paged.

A burst detector learns a new normal within a couple of days, so a negative share that
climbs from 5 % to 30 % over four days never looks like a burst. :func:`find_drift`
looks at daily counts instead: it searches the day at which the days since differ most
from the days before (a likelihood-ratio change point on the negative share, or on the
daily count when totals are unknown), and reports a drift when the rise is significant,
large, still there on the last day, and older than one day (a one-day jump is a burst's
business). The start is walked back over the first days of a gradual rise, so a ramp is
dated from where it began rather than from its middle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Drift", "find_drift"]

MIN_BEFORE = 4  # days of baseline needed before a change point
MIN_AFTER = 2  # a rise must have lasted this many days to be a drift
MIN_RATIO = 1.5  # ... be at least this large
MIN_ITEMS = 10  # ... carried by at least this many negative items since it started
MIN_LLR = 10.0  # ... and this unlikely under "no change" (log-likelihood ratio; ~ p < 1e-5)


@dataclass(frozen=True)
class Drift:
    """A sustained rise of the negative share (or count) of one scope."""

    start: str
    """First local day of the rise (ISO date)."""
    days: int
    """Days from the start to the last day counted, both included."""
    before: float
    """Negative share (or negative items per day) before the start."""
    after: float
    """The same since the start."""
    items: float
    """Negative items since the start."""
    share: bool
    """``before`` and ``after`` are shares (True) or items per day."""

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else math.inf

    def describe(self) -> str:
        """One line for reports and the console, in Chinese."""
        times = f"约 {self.ratio:.1f} 倍" if math.isfinite(self.ratio) else "此前几乎为零"
        since = f"自 {self.start[5:]} 起 {self.days} 天"
        if self.share:
            pp = 100 * (self.after - self.before)
            return (
                f"负面占比 {100 * self.before:.1f}% → {100 * self.after:.1f}%"
                f"（+{pp:.1f} 个百分点，{times}），{since}，共 {self.items:.0f} 条负面"
            )
        return (
            f"负面 {self.before:.1f} → {self.after:.1f} 条/天（{times}），{since}，共 {self.items:.0f} 条负面"
        )


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x <= 0 else x * math.log(y)


def _llr_share(k1: float, n1: float, k2: float, n2: float) -> float:
    """Log-likelihood ratio of two binomial proportions against one shared proportion."""
    p1, p2, p = k1 / n1, k2 / n2, (k1 + k2) / (n1 + n2)

    def ll(k: float, n: float, q: float) -> float:
        return _xlogy(k, q) + _xlogy(n - k, 1.0 - q) if 0.0 < q < 1.0 else 0.0

    return ll(k1, n1, p1) + ll(k2, n2, p2) - ll(k1, n1, p) - ll(k2, n2, p)


def _llr_rate(k1: float, d1: float, k2: float, d2: float) -> float:
    """Log-likelihood ratio of two Poisson rates (per day) against one shared rate."""
    r1, r2, r = k1 / d1, k2 / d2, (k1 + k2) / (d1 + d2)

    def ll(k: float, d: float, q: float) -> float:
        return _xlogy(k, q * d) - q * d if q > 0 else 0.0

    return ll(k1, d1, r1) + ll(k2, d2, r2) - ll(k1, d1, r) - ll(k2, d2, r)


def find_drift(days: Sequence[tuple[str, float, float]]) -> Drift | None:
    """The strongest sustained rise in ``days`` = [(ISO day, negative items, all items)], oldest
    first, consecutive; None when there is none. Days without any item are left out of shares."""
    rows = [(d, float(k), float(n)) for d, k, n in days if n >= k >= 0]
    use_share = any(n > k for _, k, n in rows)
    if use_share:  # a day without items says nothing about a share
        rows = [r for r in rows if r[2] > 0]
    if len(rows) < MIN_BEFORE + MIN_AFTER:
        return None
    best: tuple[float, int] | None = None
    for c in range(MIN_BEFORE, len(rows) - MIN_AFTER + 1):
        k1 = sum(r[1] for r in rows[:c])
        k2 = sum(r[1] for r in rows[c:])
        if use_share:
            n1 = sum(r[2] for r in rows[:c])
            n2 = sum(r[2] for r in rows[c:])
            if n1 <= 0 or n2 <= 0:
                continue
            before, after, llr = k1 / n1, k2 / n2, _llr_share(k1, n1, k2, n2)
        else:
            before, after = k1 / c, k2 / (len(rows) - c)
            llr = _llr_rate(k1, c, k2, len(rows) - c)
        if after <= before or k2 < MIN_ITEMS or llr < MIN_LLR:
            continue
        if before > 0 and after < MIN_RATIO * before:
            continue
        if best is None or llr > best[0]:
            best = (llr, c)
    if best is None:
        return None
    c = best[1]

    def rate(part: Sequence[tuple[str, float, float]]) -> float:
        k = sum(r[1] for r in part)
        if use_share:
            n = sum(r[2] for r in part)
            return k / n if n > 0 else 0.0
        return k / len(part)

    before = rate(rows[:c])
    # still there: the last day is above the midpoint between before and after
    if rate(rows[-1:]) < (before + rate(rows[c:])) / 2:
        return None
    # a ramp starts where its days first rise clearly above the baseline
    step = (rate(rows[c:]) - before) / 4
    while c > MIN_BEFORE and rate(rows[c - 1 : c]) > before + step:
        c -= 1
        before = rate(rows[:c])
    after = rate(rows[c:])
    return Drift(
        start=rows[c][0],
        days=len(rows) - c,
        before=before,
        after=after,
        items=sum(r[1] for r in rows[c:]),
        share=use_share,
    )
