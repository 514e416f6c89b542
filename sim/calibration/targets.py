"""Calibration targets: each pattern of DESIGN section 5, defined once.

A :class:`Target` has a name, a *statistic* computed from a daily observation frame, an
observed value (computed by the same statistic from the Home Office series, or a band
from the published figures), a tolerance and a source. Its :meth:`Target.error` is
the simulated value's miss in units of the tolerance: a target is *met* when the error
is at most 1.

The observation frame has one row per day and the columns of the Home Office series,
``people`` (arrivals) and ``boats`` (boats arriving); a simulated run adds what only
the model records (``people_launched``, ``people_prevented``, ``deaths``, ``price_gbp``
and ``people_<group>`` arrivals by nationality group): see :func:`observation_frame`.

Vector targets (monthly arrivals, the crossing-day share by month, people per boat by
year) reduce their elements to one error by a root mean square, so one month far off
counts, but no single month decides.

The calibration distance (:func:`distance`) is the root mean square of the targets'
errors, so it is about 1 when targets miss by their tolerance on average.

Calibration and validation targets: :func:`default_targets` holds the targets the
calibration fits (``Target.calibration`` true; ABC-SMC's distance uses these and a
calibration spec can name only these). :func:`all_targets` adds the validation targets
(``calibration=False``): patterns the validation report checks without fitting them, the
Albanian share of arrivals by published period (:data:`ALBANIA_PERIODS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.data import load_daily, load_published

__all__ = ["Target", "TargetSet", "default_targets", "all_targets", "observation_frame", "run_statistics",
           "distance", "CALIBRATION_START", "CALIBRATION_END", "ALBANIA_GROUP", "AlbaniaPeriod", "ALBANIA_PERIODS"]

#: The calibration period: the Home Office series from 2022 to the pilot's announcement.
CALIBRATION_START = "2022-01-01"
CALIBRATION_END = "2025-07-31"
#: The group of the natural experiment (the UK-Albania returns deal of December 2022).
ALBANIA_GROUP = "albanian"


@dataclass(frozen=True)
class AlbaniaPeriod:
    """A period with a published Albanian share of small-boat arrivals (a validation target).

    ``period`` is the row's period in ``published_figures.csv`` (quantity
    ``albania_share_of_arrivals``): ``low == high`` makes a point target, otherwise a band
    (a range, or a bound from 0). ``tolerance`` is in share points: about 30% of the
    observed share (as the 2022 share's 0.07 of 0.25), at least 0.02.
    """

    name: str
    label: str
    start: str
    end: str
    period: str
    tolerance: float


#: The periods of the published Albanian shares (sim/data/README.md): validation targets only.
ALBANIA_PERIODS = (
    AlbaniaPeriod("albania_share_2022h1", "Jan-Jun 2022", "2022-01-01", "2022-06-30", "2022-01..2022-06", 0.05),
    AlbaniaPeriod("albania_share_2022q3", "Jul-Sep 2022", "2022-07-01", "2022-09-30", "2022-07..2022-09", 0.13),
    AlbaniaPeriod("albania_share_2022q4", "Oct-Dec 2022", "2022-10-01", "2022-12-31", "2022-10..2022-12", 0.03),
    AlbaniaPeriod("albania_share_2023q1", "Jan-Mar 2023", "2023-01-01", "2023-03-31", "2023-01..2023-03", 0.02),
    AlbaniaPeriod("albania_share_2023_jan_oct", "Jan-Oct 2023", "2023-01-01", "2023-10-31", "2023-01..2023-10",
                  0.02),
)

Statistic = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Target:
    """One pattern to reproduce.

    Attributes
    ----------
    name, description
        Identifier and plain-words meaning.
    statistic
        ``f(frame) -> pd.Series`` computed from a daily observation frame (one element
        for a scalar target, labelled ``value``).
    observed
        The observed value(s) (a Series like the statistic's), or None for a band.
    band
        ``(low, high)`` for band targets: met anywhere inside.
    tolerance
        Miss allowed: absolute, or relative to the observed value if ``relative``; for a
        band, the distance outside it that counts as an error of 1.
    relative
        Whether ``tolerance`` is a share of the observed value.
    scale
        For vector targets with ``relative``: ``"element"`` (each element relative to its
        own observed value) or ``"mean"`` (relative to the mean observed value, a
        normalised root mean square error).
    unit, source
        For the report.
    calibration
        Whether the target is fitted by the calibration (enters its distance); False: a
        validation target, only reported (see :func:`all_targets`).
    """

    name: str
    description: str
    statistic: Statistic
    observed: pd.Series | None
    tolerance: float
    relative: bool = False
    band: tuple[float, float] | None = None
    scale: str = "element"
    unit: str = ""
    source: str = ""
    calibration: bool = True

    @property
    def is_band(self) -> bool:
        return self.band is not None

    @property
    def is_vector(self) -> bool:
        return self.observed is not None and len(self.observed) > 1

    def compute(self, frame: pd.DataFrame) -> pd.Series:
        """The statistic of a daily frame."""
        return self.statistic(frame)

    def error(self, simulated: pd.Series | float) -> float:
        """The miss in units of the tolerance (<= 1: met); NaN if the statistic is undefined."""
        sim = _as_series(simulated)
        if self.band is not None:
            lo, hi = self.band
            x = sim.to_numpy(dtype=float)
            miss = np.where(x < lo, lo - x, np.where(x > hi, x - hi, 0.0))
            return float(np.sqrt(np.mean(miss ** 2)) / self.tolerance)
        obs = self.observed.reindex(sim.index) if self.observed is not None else sim * np.nan
        s, o = sim.to_numpy(dtype=float), obs.to_numpy(dtype=float)
        if self.relative:
            denom = np.full_like(o, np.mean(np.abs(o))) if self.scale == "mean" else np.abs(o)
            err = (s - o) / np.where(denom > 0, denom, np.nan) / self.tolerance
        else:
            err = (s - o) / self.tolerance
        if np.isnan(err).all():
            return float("nan")
        return float(np.sqrt(np.nanmean(err ** 2)))

    def met(self, simulated: pd.Series | float) -> bool:
        e = self.error(simulated)
        return bool(e <= 1.0)

    def observed_text(self) -> str:
        if self.band is not None:
            lo, hi = self.band
            if lo == 0:
                return f"at most {_fmt(hi)}"
            if lo == hi:      # a count known exactly (for example deaths in a year)
                return _fmt(lo)
            return _fmt_range(lo, hi)
        assert self.observed is not None
        if len(self.observed) == 1:
            return _fmt(float(self.observed.iloc[0]))
        return f"{len(self.observed)} values, mean {_fmt(float(self.observed.mean()))}"

    def tolerance_text(self) -> str:
        if self.band is not None:
            return f"inside the band (error 1 at {_fmt(self.tolerance)} outside)"
        if self.relative:
            what = "RMS relative error" if self.is_vector else "relative error"
            if self.scale == "mean" and self.is_vector:
                what = "RMS error / mean"
            return f"{what} <= {self.tolerance:.0%}"
        return f"{'RMS ' if self.is_vector else ''}|error| <= {_fmt(self.tolerance)}"


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def _fmt_range(lo: float, hi: float) -> str:
    """``lo to hi`` as :func:`_fmt` writes them, with more significant digits where that would
    write two different bounds the same."""
    a, b = _fmt(lo), _fmt(hi)
    digits = 3
    while a == b and digits < 12:
        digits += 1
        a, b = f"{lo:.{digits}g}", f"{hi:.{digits}g}"
    return f"{a} to {b}"


def _as_series(x: Any) -> pd.Series:
    if isinstance(x, pd.Series):
        return x
    return pd.Series([float(x)], index=["value"])


def _scalar(x: float) -> pd.Series:
    return pd.Series([float(x)], index=["value"])


class TargetSet:
    """An ordered collection of targets, with the flattening used in run summaries."""

    def __init__(self, targets: Iterable[Target]) -> None:
        self.targets = list(targets)
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate target names in {names}")

    def __iter__(self):
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, name: str) -> Target:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(f"no target named {name!r}; targets are {self.names}")

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    def subset(self, names: Sequence[str] | None) -> TargetSet:
        if names is None:
            return self
        return TargetSet(self[n] for n in names)

    def calibration_targets(self) -> TargetSet:
        """The targets that enter the calibration distance (``Target.calibration``)."""
        return TargetSet(t for t in self.targets if t.calibration)

    def validation_only(self) -> TargetSet:
        """The targets that are only reported (``calibration=False``)."""
        return TargetSet(t for t in self.targets if not t.calibration)

    # -- statistics <-> flat dicts -------------------------------------------------------
    def statistics(self, frame: pd.DataFrame) -> dict[str, float]:
        """Every target's statistic of one frame, flattened to ``{"name" or "name[label]": value}``."""
        out: dict[str, float] = {}
        for t in self.targets:
            s = t.compute(frame)
            if len(s) == 1 and s.index[0] == "value":
                out[t.name] = float(s.iloc[0])
            else:
                out.update({f"{t.name}[{k}]": float(v) for k, v in s.items()})
        return out

    def unflatten(self, flat: Mapping[str, float]) -> dict[str, pd.Series]:
        """Back from a flat dict (e.g. a mean over replications) to one Series per target."""
        out: dict[str, pd.Series] = {}
        for t in self.targets:
            if t.name in flat:
                out[t.name] = _scalar(flat[t.name])
                continue
            prefix = t.name + "["
            items = {k[len(prefix):-1]: v for k, v in flat.items() if k.startswith(prefix)}
            out[t.name] = pd.Series(items, dtype=float)
        return out

    def errors(self, flat: Mapping[str, float]) -> dict[str, float]:
        """Each target's error for flat statistics (see :meth:`Target.error`)."""
        values = self.unflatten(flat)
        return {t.name: t.error(values[t.name]) for t in self.targets}

    def with_observed(self, frames: pd.DataFrame | Sequence[pd.DataFrame], *,
                      tolerance_scale: float = 1.0) -> TargetSet:
        """The same targets with observed values taken from ``frames`` (e.g. synthetic data).

        With several frames (runs), each statistic is the mean over them. Band targets
        become point targets; every tolerance is multiplied by ``tolerance_scale``
        (synthetic data can be matched more tightly than the real series).
        """
        if not tolerance_scale > 0:
            raise ValueError(f"tolerance_scale must be > 0, got {tolerance_scale}")
        frames = [frames] if isinstance(frames, pd.DataFrame) else list(frames)
        if not frames:
            raise ValueError("with_observed needs at least one frame")
        out = []
        for t in self.targets:
            obs = pd.concat([t.compute(f) for f in frames], axis=1).mean(axis=1)
            out.append(replace(t, observed=obs, band=None, tolerance=t.tolerance * tolerance_scale,
                               source="synthetic data"))
        return TargetSet(out)


def distance(errors: Mapping[str, float] | Iterable[float]) -> float:
    """Root mean square of target errors (undefined errors count as 10: a large miss)."""
    vals = np.asarray(list(errors.values()) if isinstance(errors, Mapping) else list(errors), dtype=float)
    vals = np.where(np.isnan(vals), 10.0, vals)
    return float(np.sqrt(np.mean(vals ** 2)))


# ----------------------------------------------------------------------------- frames
def observation_frame(ts: pd.DataFrame, groups: Sequence[str] | None = None) -> pd.DataFrame:
    """A simulated daily time series as an observation frame (the Home Office columns and more).

    ``people`` = ``arrivals_uk``, ``boats`` = ``boats_arrived``; plus ``people_launched``,
    ``people_prevented``, ``deaths``, ``price_gbp`` (mean seat price) and ``people_<group>``
    for each ``arrivals_<group>`` column.
    """
    out = pd.DataFrame({
        "people": ts["arrivals_uk"].astype(float), "boats": ts["boats_arrived"].astype(float),
        "people_launched": ts["people_launched"].astype(float),
        "people_prevented": ts["people_prevented"].astype(float),
        "deaths": ts["deaths"].astype(float), "price_gbp": ts["mean_price_gbp"].astype(float),
    }, index=ts.index)
    for c in ts.columns:
        if c.startswith("arrivals_") and c != "arrivals_uk" and (groups is None or c[9:] in groups):
            out["people_" + c[9:]] = ts[c].astype(float)
    return out


def _period(frame: pd.DataFrame, start: str = CALIBRATION_START, end: str = CALIBRATION_END) -> pd.DataFrame:
    return frame.loc[start:end]


# ----------------------------------------------------------------------------- statistics
def _year_sum(year: int, end: str | None = None) -> Statistic:
    def f(frame: pd.DataFrame) -> pd.Series:
        return _scalar(frame.loc[f"{year}-01-01":(end or f"{year}-12-31"), "people"].sum())
    return f


def _monthly_arrivals(frame: pd.DataFrame) -> pd.Series:
    m = _period(frame)["people"].resample("MS").sum()
    m.index = m.index.strftime("%Y-%m")
    return m.astype(float)


def _crossing_day_share_by_month(frame: pd.DataFrame) -> pd.Series:
    d = _period(frame)["people"] > 0
    s = d.groupby(d.index.month).mean()
    s.index = [f"{m:02d}" for m in s.index]
    return s.astype(float)


def _people_per_boat_by_year(frame: pd.DataFrame) -> pd.Series:
    d = _period(frame)
    g = d[["people", "boats"]].groupby(d.index.year).sum()
    s = g["people"] / g["boats"].where(g["boats"] > 0)
    s.index = [str(y) for y in s.index]
    return s.astype(float)


def _prevented_share(frame: pd.DataFrame) -> pd.Series:
    d = _period(frame)
    launched = d["people_launched"].sum()
    return _scalar(d["people_prevented"].sum() / launched if launched > 0 else float("nan"))


def _mean_price(frame: pd.DataFrame) -> pd.Series:
    return _scalar(_period(frame)["price_gbp"].mean())


def _zero_day_share(frame: pd.DataFrame) -> pd.Series:
    return _scalar((_period(frame)["people"] == 0).mean())


def _top_day(frame: pd.DataFrame) -> pd.Series:
    return _scalar(_period(frame)["people"].quantile(0.99))


def _deaths_per_1000(start: str, end: str) -> Statistic:
    def f(frame: pd.DataFrame) -> pd.Series:
        d = frame.loc[start:end]
        people = d["people"].sum()
        return _scalar(1000.0 * d["deaths"].sum() / people if people > 0 else float("nan"))
    return f


def _albania_share_2022(frame: pd.DataFrame) -> pd.Series:
    d = frame.loc["2022-01-01":"2022-12-31"]
    total = d["people"].sum()
    return _scalar(d[f"people_{ALBANIA_GROUP}"].sum() / total if total > 0 else float("nan"))


def _albania_share(start: str, end: str) -> Statistic:
    def f(frame: pd.DataFrame) -> pd.Series:
        d = frame.loc[start:end]
        total = d["people"].sum()
        return _scalar(d[f"people_{ALBANIA_GROUP}"].sum() / total if total > 0 else float("nan"))
    return f


def _albania_fall(frame: pd.DataFrame) -> pd.Series:
    col = f"people_{ALBANIA_GROUP}"
    before = frame.loc["2022-01-01":"2022-12-31", col].sum()
    after = frame.loc["2023-01-01":"2023-12-31", col].sum()
    return _scalar(1.0 - after / before if before > 0 else float("nan"))


# ----------------------------------------------------------------------------- the targets
def _published(quantity: str, period: str | None = None) -> pd.DataFrame:
    pub = load_published()
    rows = pub[pub["quantity"] == quantity]
    if period is not None:
        rows = rows[rows["period"] == period]
    if rows.empty:
        raise KeyError(f"published_figures.csv has no row for {quantity!r} {period or ''}")
    return rows


@lru_cache(maxsize=1)
def default_targets() -> TargetSet:
    """The calibration targets of DESIGN section 5, with observed values from ``sim/data``.

    These (and only these) enter the calibration distance; :func:`all_targets` adds the
    validation targets.
    """
    obs = load_daily().astype(float)
    prevented = pd.concat([_published("prevented_share_people"), _published("prevented_share_boats")])
    price = _published("price_per_seat", "2023-2024").iloc[0]
    deaths_band, deaths_source = _pooled_deaths_band(obs)
    albania_share = float(_published("albania_share_of_arrivals", "2022").iloc[0]["low"])
    albania_fall = float(_published("albania_crossings_fall").iloc[0]["low"])
    ho = "UK Home Office daily small-boat series (sim/data)"

    def from_ho(stat: Statistic) -> pd.Series:
        return stat(obs)

    t = [
        *[Target(f"arrivals_{y}", f"Arrivals by small boat in {y}", _year_sum(y), from_ho(_year_sum(y)),
                 0.15, relative=True, unit="people", source=ho) for y in (2022, 2023, 2024)],
        Target("arrivals_2025_jan_jul", "Arrivals January-July 2025 (the 2025 pace before the pilot)",
               _year_sum(2025, "2025-07-31"), from_ho(_year_sum(2025, "2025-07-31")), 0.20, relative=True,
               unit="people", source=ho),
        Target("monthly_arrivals", "Arrivals by month, 2022-01 to 2025-07 (shape and level)",
               _monthly_arrivals, from_ho(_monthly_arrivals), 0.45, relative=True, scale="mean",
               unit="people/month", source=ho),
        Target("crossing_day_share_by_month", "Share of days with any arrival, by calendar month, 2022-2025",
               _crossing_day_share_by_month, from_ho(_crossing_day_share_by_month), 0.08,
               unit="share of days", source=ho),
        Target("people_per_boat_by_year", "People per boat by year (2025: January-July)",
               _people_per_boat_by_year, from_ho(_people_per_boat_by_year), 0.12, relative=True,
               unit="people/boat", source=ho),
        Target("prevented_share", "Share of people attempting who were prevented, 2022-2025",
               _prevented_share, None, 0.05,
               band=(float(prevented["low"].min()), float(prevented["high"].max())),
               unit="share of people", source="; ".join(prevented["source"].unique())),
        Target("price_per_seat", "Mean price of a seat, 2022-2025",
               _mean_price, None, 500.0, band=(float(price["low"]), float(price["high"])),
               unit="GBP/seat", source=str(price["source"])),
        Target("zero_day_share", "Share of days with no arrival, 2022-2025", _zero_day_share,
               from_ho(_zero_day_share), 0.06, unit="share of days", source=ho),
        Target("top_1pct_day", "Arrivals on the busiest 1% of days (99th percentile of daily arrivals)",
               _top_day, from_ho(_top_day), 0.30, relative=True, unit="people/day", source=ho),
        Target("deaths_per_1000_2022_2025", "Deaths at sea per 1,000 arrivals, January 2022 to July 2025 "
               "(the published yearly counts, 2025's at its January-July share, over the period's arrivals)",
               _deaths_per_1000(CALIBRATION_START, CALIBRATION_END), None, POOLED_DEATHS_TOLERANCE, band=deaths_band,
               unit="deaths per 1,000", source=f"{deaths_source}; arrivals: {ho}"),
        Target("albania_share_2022", "Albanians' share of 2022 arrivals", _albania_share_2022,
               _scalar(albania_share), 0.07, unit="share",
               source=str(_published("albania_share_of_arrivals", "2022").iloc[0]["source"])),
        Target("albania_fall", "Fall in Albanians' crossings, 2023 against 2022 (after the Dec 2022 returns "
               "deal)", _albania_fall, _scalar(albania_fall), 0.10, unit="share",
               source=str(_published("albania_crossings_fall").iloc[0]["source"])),
    ]
    if not all(x.calibration for x in t):
        raise AssertionError("default_targets() holds calibration targets only")
    return TargetSet(t)


def _albania_period_target(p: AlbaniaPeriod) -> Target:
    row = _published("albania_share_of_arrivals", p.period).iloc[0]
    low, high = float(row["low"]), float(row["high"])
    what = f"Albanians' share of arrivals, {p.label}"
    if low == high:
        return Target(p.name, what, _albania_share(p.start, p.end), _scalar(low), p.tolerance, unit="share",
                      source=str(row["source"]), calibration=False)
    return Target(p.name, what + (" (an upper bound)" if low == 0 else ""), _albania_share(p.start, p.end), None,
                  p.tolerance, band=(low, high), unit="share", source=str(row["source"]), calibration=False)


#: Tolerance of the year-by-year deaths-per-1,000 targets (validation): error 1 at this distance
#: outside the band (a year's count is a few dozen deaths, much of them in single incidents).
DEATHS_TOLERANCE = 0.5
#: Tolerance of the pooled 2022-2025 rate (calibration): its band is narrow and it pools about 120
#: deaths, so it is held closer.
POOLED_DEATHS_TOLERANCE = 0.25
#: Years of the published death counts (sim/data/published_figures.csv).
DEATH_YEARS = (2022, 2023, 2024, 2025)


def _year_deaths_band(obs: pd.DataFrame, year: int) -> tuple[float, float, float, str]:
    """(low, high) deaths per 1,000 arrivals in ``year``, the year's arrivals and the source:
    the published count over the year's arrivals; a year the series covers only in part (2025
    to July) at that part's pace scaled to the whole year."""
    row = _published("deaths", str(year)).iloc[0]
    days = obs.loc[str(year)]
    arrivals = float(days["people"].sum()) * (365.0 / len(days) if len(days) < 365 else 1.0)
    return 1000 * float(row["low"]) / arrivals, 1000 * float(row["high"]) / arrivals, arrivals, str(row["source"])


def _pooled_deaths_band(obs: pd.DataFrame) -> tuple[tuple[float, float], str]:
    """Deaths per 1,000 arrivals over the calibration period, from the yearly counts: each
    year's rate band times the period's arrivals of that year, over the period's arrivals."""
    period = obs.loc[CALIBRATION_START:CALIBRATION_END]
    low = high = 0.0
    sources = []
    for year in DEATH_YEARS:
        lo, hi, _, src = _year_deaths_band(obs, year)
        n = float(period.loc[str(year), "people"].sum())
        low, high = low + lo * n / 1000, high + hi * n / 1000
        sources.append(f"{year}: {src}")
    total = float(period["people"].sum())
    return (1000 * low / total, 1000 * high / total), "; ".join(sources)


def _deaths_year_target(obs: pd.DataFrame, year: int) -> Target:
    lo, hi, _, src = _year_deaths_band(obs, year)
    end = min(pd.Timestamp(f"{year}-12-31"), obs.index[-1], pd.Timestamp(CALIBRATION_END))
    part = "" if end.month == 12 else (f", January-{end.strftime('%B')} (the year's count over the year's "
                                       "arrivals at that pace)")
    return Target(f"deaths_per_1000_{year}", f"Deaths at sea per 1,000 arrivals, {year}{part}",
                  _deaths_per_1000(f"{year}-01-01", end.strftime("%Y-%m-%d")), None, DEATHS_TOLERANCE,
                  band=(lo, hi), unit="deaths per 1,000",
                  source=f"{src}; arrivals: UK Home Office daily small-boat series (sim/data)", calibration=False)


@lru_cache(maxsize=1)
def all_targets() -> TargetSet:
    """The calibration targets (:func:`default_targets`) and the validation targets.

    The validation targets (``calibration=False``) are the deaths per 1,000 arrivals year by
    year (:data:`DEATH_YEARS`; the calibration fits their pooled rate) and the Albanian share
    of arrivals by published period (:data:`ALBANIA_PERIODS`, ``sim/data/published_figures.csv``):
    the validation report checks them; the calibration does not fit them.
    """
    obs = load_daily().astype(float)
    return TargetSet([*default_targets(), *(_deaths_year_target(obs, y) for y in DEATH_YEARS),
                      *(_albania_period_target(p) for p in ALBANIA_PERIODS)])


def run_statistics(ts: pd.DataFrame, config: Any = None) -> dict[str, float]:
    """Every default target's statistic of one simulated run (flat; for run summaries)."""
    groups = [g.name for g in config.groups] if config is not None else None
    return default_targets().statistics(observation_frame(ts, groups))
