"""Tail probabilities of counts: how surprising is ``x`` items when ``mu`` were expected?

Counts are modelled as negative binomial with mean ``mu`` and variance ``mu + phi * mu**2``
(``phi = 0`` is Poisson). The surprise is reported as a *normal score*: the ``z`` for
which a standard normal variable has the same upper-tail probability. That keeps one
scale for a quiet scope (6 items when 0.1 were expected: z ≈ 6) and a busy one
(1,300 items when 1,000 were expected with 20 % noise: z ≈ 1.5), where a square-root
or Gaussian approximation would understate the first by half.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

__all__ = ["anscombe", "log_sf", "log_sf_share", "normal_score", "normal_score_share"]

_NORMAL = NormalDist()
_Z_CAP = 37.0  # normal score of the smallest positive double; beyond it every burst is "certain"
_MAX_TERMS = 60
_TOLERANCE = 1e-5  # relative; the rest of the tail is bounded by a geometric series


def anscombe(x: float, mu: float, phi: float) -> float:
    """Residual of ``x`` on the square-root (Anscombe) scale, in standard deviations."""
    return (
        2.0 * (math.sqrt(x + 0.375) - math.sqrt(max(mu, 0.0) + 0.375)) / math.sqrt(1.0 + phi * max(mu, 0.0))
    )


def log_sf(x: float, mu: float, phi: float) -> float:
    """Natural log of P(X >= x) for X ~ NB(mean ``mu``, variance ``mu + phi mu²``).

    Sums the upper tail from the term at ``x``: terms shrink geometrically beyond the
    mean, and what is left after ``_MAX_TERMS`` terms is bounded by a geometric series.
    """
    k = math.ceil(x - 1e-9)
    if k <= 0:
        return 0.0
    if mu <= 0.0:
        return -math.inf
    if phi < 1e-9:
        log_term = k * math.log(mu) - mu - math.lgamma(k + 1)
        r, q = math.inf, 0.0
    else:
        r = 1.0 / phi
        q = mu / (mu + r)
        log_term = (
            math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1) + r * math.log1p(-q) + k * math.log(q)
        )
    total = term = 1.0
    j = k
    for _ in range(_MAX_TERMS):
        ratio = mu / (j + 1) if q == 0.0 else (j + r) / (j + 1) * q
        term *= ratio
        total += term
        j += 1
        if term < _TOLERANCE * total:
            break
    else:
        ratio = mu / (j + 1) if q == 0.0 else (j + r) / (j + 1) * q
        total += term * ratio / (1.0 - ratio) if ratio < 1.0 else total
    return min(0.0, log_term + math.log(total))


def _sum_tail(log_first: float, ratio: Callable[[int], float], k: int, last: int) -> float:
    """ln of the sum of the terms k..last whose first is exp(log_first) and whose successive ratios
    are ``ratio(j)`` (term j+1 / term j); what is left after _MAX_TERMS is bounded geometrically."""
    total = term = 1.0
    j = k
    for _ in range(_MAX_TERMS):
        if j >= last:
            return log_first + math.log(total)
        term *= ratio(j)
        total += term
        j += 1
        if term < _TOLERANCE * total:
            return log_first + math.log(total)
    r = ratio(j) if j < last else 0.0
    total += term * r / (1.0 - r) if r < 1.0 else total
    return log_first + math.log(total)


def log_sf_share(x: float, n: float, p: float, phi: float) -> float:
    """Natural log of P(X >= x) for the negatives X among ``n`` items when the negative share is
    ``p``: beta-binomial with intra-class correlation ``phi * p`` (its variance is then close to the
    negative binomial's ``mu + phi mu²`` for small shares, and it knows X cannot exceed n)."""
    k, total = math.ceil(x - 1e-9), round(n)
    if k <= 0:
        return 0.0
    if k > total or p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return 0.0
    rho = min(max(phi * p, 0.0), 0.5)
    log_choose = math.lgamma(total + 1) - math.lgamma(k + 1) - math.lgamma(total - k + 1)
    if rho < 1e-9:
        first = log_choose + k * math.log(p) + (total - k) * math.log1p(-p)
        odds = p / (1.0 - p)
        return min(0.0, _sum_tail(first, lambda j: (total - j) / (j + 1) * odds, k, total))
    a, b = p * (1.0 - rho) / rho, (1.0 - p) * (1.0 - rho) / rho

    def lbeta(u: float, v: float) -> float:
        return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)

    first = log_choose + lbeta(k + a, total - k + b) - lbeta(a, b)
    return min(
        0.0, _sum_tail(first, lambda j: (total - j) / (j + 1) * (j + a) / (total - j - 1 + b), k, total)
    )


def _score(lp: float) -> float:
    if lp >= math.log(0.5):
        return 0.0
    if lp < -700.0:
        return _Z_CAP
    return min(-_NORMAL.inv_cdf(math.exp(lp)), _Z_CAP)


def normal_score_share(x: float, n: float, p: float, phi: float) -> float:
    """:func:`normal_score` for ``x`` negatives among ``n`` items at a negative share ``p``."""
    mu = n * p
    if x <= mu:
        return min(0.0, anscombe(x, mu, phi))
    if anscombe(x, mu, phi) < 0.5 and n * p * (1 - p) > 4:
        return max(anscombe(x, mu, phi), 0.0)
    return _score(log_sf_share(x, n, p, phi))


def normal_score(x: float, mu: float, phi: float) -> float:
    """The normal score of P(X >= x): 0 at the mean, ~1.64 at a 5 % tail, ~6 at one in a billion.

    At or below the mean, the (negative) Anscombe residual is returned instead, so the
    score still says how far below normal a scope is.
    """
    if x <= mu:
        return min(0.0, anscombe(x, mu, phi))
    approx = anscombe(x, mu, phi)
    if approx < 0.5:  # far from the tail: the square-root residual is accurate enough
        return max(approx, 0.0)
    return _score(log_sf(x, mu, phi))
