"""Statistics over replications and particles, in one place.

* :func:`mean_ci`: a mean with its Student-t interval (comparisons, point tables, phase
  diagrams, the threshold search).
* :func:`clip_interval`: an interval cut to the range a measure can take (a count is never
  below 0, a share never outside [0, 1]), saying which end was cut.
* :func:`paired_differences` / :func:`unpaired_differences`: differences against a
  reference column, paired by replication (common random numbers) or not (Welch).
* :func:`median_order_ci`: a median with its distribution-free order-statistic interval
  (valid under right-censoring as long as the interval's ends are finite).
* :func:`wilson_interval`: a proportion's Wilson score interval.
* :func:`weighted_quantile`: quantiles of a weighted sample (the ABC posterior).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["mean_ci", "clip_interval", "difference_bounds", "paired_differences", "unpaired_differences", "median_order_ci", "wilson_interval",
           "weighted_quantile"]


def mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, lower, upper, n) with a Student-t interval; NaNs are dropped."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(x.mean())
    if n == 1:
        return m, float("nan"), float("nan"), 1
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half, n


def clip_interval(lower: float, upper: float,
                  bounds: tuple[float, float] | None) -> tuple[float, float, bool, bool]:
    """``(lower, upper)`` cut to ``bounds`` (the range the measure can take, e.g. ``(0, inf)``
    for a count, ``(0, 1)`` for a share), and whether each end was cut.

    A Student-t interval is symmetric about the mean, so for a measure near its bound (a
    few deaths in a short run) it can reach values the measure cannot take: such an end
    is set to the bound, and the flags say so (the interval then covers at least as much
    as the t interval of the values the measure can take). NaN ends stay NaN.

    Returns
    -------
    (lower, upper, lower_cut, upper_cut)
    """
    if bounds is None:
        return lower, upper, False, False
    lo_bound, hi_bound = bounds
    lower_cut = bool(lower < lo_bound)   # False for NaN
    upper_cut = bool(upper > hi_bound)
    return (float(lo_bound) if lower_cut else lower, float(hi_bound) if upper_cut else upper, lower_cut, upper_cut)


def difference_bounds(bounds: tuple[float, float] | None) -> tuple[float, float] | None:
    """The range of a difference of two values of a measure with range ``bounds``: ``(-1, 1)``
    for a share; None (no bound) when the measure is unbounded above or below (a count)."""
    if bounds is None:
        return None
    lo, hi = bounds
    if math.isinf(lo) or math.isinf(hi):
        return None
    return lo - hi, hi - lo


def paired_differences(wide: pd.DataFrame, reference: str, level: float = 0.95) -> pd.DataFrame:
    """Per-replication differences of each column against ``reference``, with t intervals.

    ``wide`` has one row per replication and one column per scenario.
    """
    rows = []
    for col in wide.columns:
        if col == reference:
            continue
        m, lo, hi, n = mean_ci((wide[col] - wide[reference]).to_numpy(), level)
        rows.append({"scenario": col, "difference": m, "lower": lo, "upper": hi, "n": n})
    return pd.DataFrame(rows)


def unpaired_differences(wide: pd.DataFrame, reference: str, level: float = 0.95) -> pd.DataFrame:
    """Welch intervals for the difference of means, ignoring the pairing (for contrast)."""
    from scipy import stats

    rows = []
    a = wide[reference].dropna().to_numpy(dtype=float)
    for col in wide.columns:
        if col == reference:
            continue
        b = wide[col].dropna().to_numpy(dtype=float)
        d = b.mean() - a.mean()
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        se = np.sqrt(va + vb)
        dof = (va + vb) ** 2 / ((va**2 / (a.size - 1)) + (vb**2 / (b.size - 1))) if se > 0 else 1.0
        half = float(stats.t.ppf(0.5 + level / 2, dof) * se)
        rows.append({"scenario": col, "difference": d, "lower": d - half, "upper": d + half})
    return pd.DataFrame(rows)


def median_order_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """Median and distribution-free order-statistic interval for the median.

    The interval is ``[x_(k), x_(n+1-k)]`` with the largest ``k`` whose coverage
    ``1 - 2 P(Binomial(n, 1/2) <= k - 1)`` is at least ``level``; when even ``k = 1``
    falls short (``n < 6`` at 95%), the interval is ``[min, max]`` with its lower coverage.
    ``inf`` values (right-censored) sort last.

    Returns
    -------
    (median, lower, upper, coverage)
        NaNs when ``values`` is empty.
    """
    from scipy import stats

    x = np.sort(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    median = float(x[n // 2]) if n % 2 else float((x[n // 2 - 1] + x[n // 2]) / 2)
    best_k, coverage = 1, 1 - 2 * stats.binom.cdf(0, n, 0.5)
    for k in range(1, (n + 1) // 2 + 1):
        cov = 1 - 2 * stats.binom.cdf(k - 1, n, 0.5)
        if cov >= level:
            best_k, coverage = k, cov
    return median, float(x[best_k - 1]), float(x[n - best_k]), float(coverage)


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n`` (NaNs when ``n == 0``)."""
    from scipy import stats

    if n == 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exactly 0 (1) with no (every) success: the formula's ends are that analytically, up to rounding
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def weighted_quantile(x: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Quantiles ``qs`` of the sample ``x`` with weights ``w``: for each ``q``, the smallest
    value whose cumulative normalised weight reaches ``q`` (no interpolation)."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    cw = cw / cw[-1]
    return [float(x[order][min(np.searchsorted(cw, q), len(x) - 1)]) for q in qs]
