"""Scores for probabilistic forecasts given as predictive samples.

A forecast of ``n_months`` monthly counts is an array of predictive samples,
``n_samples x n_months`` (people per month). Every score here is computed month by
month and then averaged over the months of a window, so forecasts of windows of the
same length are comparable; lower is better for the interval score and the CRPS.

References
----------
Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
estimation. *Journal of the American Statistical Association* 102(477), 359-378.
(The interval score is their eq. 43; the CRPS in its energy form their eq. 21.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "ScoreTable",
    "band_columns",
    "coverage",
    "crps_samples",
    "interval_score",
    "quantile_bands",
    "score_table",
]


def _as_samples(samples, obs=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Samples as a float ``n_samples x n_months`` array and observations as a float vector."""
    x = np.asarray(samples, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"samples must be a non-empty n_samples x n_months array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("samples contain NaN or infinite values")
    if obs is None:
        return x, None
    y = np.atleast_1d(np.asarray(obs, dtype=float))
    if y.shape != (x.shape[1],):
        raise ValueError(f"obs must have one value per month ({x.shape[1]}), got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("obs contain NaN or infinite values")
    return x, y


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"a central interval's level must be in (0, 1), got {level}")
    return level


def band_columns(level: float) -> tuple[str, str]:
    """Column names of the central interval at ``level``: ``0.9 -> ("lo90", "hi90")``."""
    pct = f"{100 * _check_level(level):g}"
    return f"lo{pct}", f"hi{pct}"


def _central(x: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    level = _check_level(level)
    lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return lo, hi


def quantile_bands(samples, levels: Sequence[float] = (0.5, 0.9), index=None) -> pd.DataFrame:
    """The median and central intervals of predictive samples, month by month.

    Parameters
    ----------
    samples
        Predictive samples, ``n_samples x n_months`` (people per month).
    levels
        Levels of the central intervals, each in (0, 1); ``0.9`` is the interval from
        the 5% to the 95% quantile (linear interpolation between order statistics).
    index
        Optional index of the result (e.g. the months' start dates); default
        ``0..n_months-1``, or the columns of ``samples`` if it is a DataFrame.

    Returns
    -------
    pandas.DataFrame
        One row per month: ``median`` and, for each level, ``lo<pct>`` and ``hi<pct>``
        (people per month), e.g. ``lo50, hi50, lo90, hi90``.
    """
    if index is None and isinstance(samples, pd.DataFrame):
        index = samples.columns
    x, _ = _as_samples(samples)
    out = {"median": np.median(x, axis=0)}
    for level in levels:
        lo, hi = _central(x, level)
        c_lo, c_hi = band_columns(level)
        out[c_lo], out[c_hi] = lo, hi
    return pd.DataFrame(out, index=index)


def coverage(samples, obs, level: float) -> float:
    """Share of months whose observation lies in the central predictive interval.

    Parameters
    ----------
    samples
        Predictive samples, ``n_samples x n_months`` (people per month).
    obs
        Observed values, one per month (people per month).
    level
        The interval's nominal level in (0, 1), e.g. ``0.9`` for the 5%-95% interval.

    Returns
    -------
    float
        The share (0 to 1) of months with ``lo <= obs <= hi``; a calibrated forecast
        has about ``level``.
    """
    x, y = _as_samples(samples, obs)
    lo, hi = _central(x, level)
    return float(np.mean((y >= lo) & (y <= hi)))


def interval_score(lo, hi, obs, alpha: float) -> float:
    """The interval score of central ``(1 - alpha)`` intervals, averaged over months.

    For one month, ``IS = (hi - lo) + (2 / alpha) (lo - y) 1{y < lo}
    + (2 / alpha) (y - hi) 1{y > hi}`` (Gneiting & Raftery 2007, eq. 43): the width
    plus a penalty for an observation outside, proportional to its distance.

    Parameters
    ----------
    lo, hi
        The intervals' ends, one per month (people per month), ``lo <= hi``.
    obs
        Observed values, one per month (people per month).
    alpha
        One minus the nominal level, in (0, 1): ``0.1`` for 90% intervals.

    Returns
    -------
    float
        The mean interval score (people per month); lower is better.
    """
    lo, hi, y = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (lo, hi, obs))
    if not (lo.shape == hi.shape == y.shape) or lo.size == 0:
        raise ValueError(f"lo, hi and obs must have the same non-empty shape, got {lo.shape}, {hi.shape}, {y.shape}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if np.any(lo > hi):
        raise ValueError("every interval needs lo <= hi")
    return float(np.mean(_interval_score_each(lo, hi, y, alpha)))


def _interval_score_each(lo: np.ndarray, hi: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    below = np.clip(lo - y, 0.0, None)
    above = np.clip(y - hi, 0.0, None)
    return (hi - lo) + (2.0 / alpha) * (below + above)


def crps_samples(samples, obs) -> np.ndarray:
    """The continuous ranked probability score of each month's predictive sample.

    The energy form ``CRPS = E|X - y| - 0.5 E|X - X'|`` with ``X, X'`` independent
    draws from the empirical distribution of the ``m`` samples (so ``E|X - X'|`` is
    ``(1/m^2) sum_ij |x_i - x_j|``, the estimator that is exactly the CRPS of the
    samples' empirical distribution function). ``sum_ij |x_i - x_j|`` is computed from
    the sorted samples as ``2 sum_i (2i - m - 1) x_(i)``: O(m log m) per month.

    Parameters
    ----------
    samples
        Predictive samples, ``n_samples x n_months`` (people per month).
    obs
        Observed values, one per month (people per month).

    Returns
    -------
    numpy.ndarray
        The CRPS of each month (people per month, same units as the data); for a
        single sample (a point forecast) it is ``|x - y|``.
    """
    x, y = _as_samples(samples, obs)
    m = x.shape[0]
    xs = np.sort(x, axis=0)
    abs_err = np.mean(np.abs(xs - y[None, :]), axis=0)
    weights = (2.0 * np.arange(1, m + 1) - m - 1.0)[:, None]
    mean_abs_diff = 2.0 * np.sum(weights * xs, axis=0) / (m * m)
    return abs_err - 0.5 * mean_abs_diff


class ScoreTable(NamedTuple):
    """Scores of one forecast window: month by month and summarised."""

    per_month: pd.DataFrame
    """One row per month (index: the months' start dates): ``observed, median, lo50,
    hi50, lo90, hi90`` (people per month), ``in50, in90`` (bool), ``interval_score50,
    interval_score90, crps`` (people per month)."""
    summary: dict
    """``n_months``; ``coverage50, coverage90`` (shares); ``interval_score50,
    interval_score90, crps`` (means over the months, people per month);
    ``observed_mean`` (people per month) and ``crps_rel`` (mean CRPS / observed mean)."""


def score_table(samples, obs, dates=None) -> ScoreTable:
    """Score a window's predictive samples against what was observed.

    Parameters
    ----------
    samples
        Predictive samples, ``n_samples x n_months`` (people per month).
    obs
        Observed values, one per month (people per month).
    dates
        The months (e.g. their start dates), used as the per-month index; default
        the columns of ``samples`` if it is a DataFrame, else ``0..n_months-1``.

    Returns
    -------
    ScoreTable
        ``per_month`` (DataFrame) and ``summary`` (dict): coverage of the central 50% and
        90% intervals, mean interval scores at those levels (``alpha`` 0.5 and 0.1),
        mean CRPS, and the mean CRPS relative to the observed mean (dimensionless; a
        scale-free figure to compare windows of different size).
    """
    if dates is None and isinstance(samples, pd.DataFrame):
        dates = samples.columns
    x, y = _as_samples(samples, obs)
    bands = quantile_bands(x, (0.5, 0.9))
    per = pd.DataFrame({"observed": y}).join(bands)
    per["in50"] = (y >= per["lo50"]) & (y <= per["hi50"])
    per["in90"] = (y >= per["lo90"]) & (y <= per["hi90"])
    per["interval_score50"] = _interval_score_each(per["lo50"].to_numpy(), per["hi50"].to_numpy(), y, 0.5)
    per["interval_score90"] = _interval_score_each(per["lo90"].to_numpy(), per["hi90"].to_numpy(), y, 0.1)
    per["crps"] = crps_samples(x, y)
    if dates is not None:
        per.index = pd.Index(dates, name="month")
    observed_mean = float(y.mean())
    crps = float(per["crps"].mean())
    summary = {
        "n_months": int(y.size),
        "coverage50": float(per["in50"].mean()),
        "coverage90": float(per["in90"].mean()),
        "interval_score50": float(per["interval_score50"].mean()),
        "interval_score90": float(per["interval_score90"].mean()),
        "crps": crps,
        "observed_mean": observed_mean,
        "crps_rel": crps / observed_mean if observed_mean > 0 else float("nan"),
    }
    return ScoreTable(per, summary)
