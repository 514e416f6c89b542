"""Analysis of experiment stores: means with confidence intervals, paired comparisons.

``sim.compare(["baseline", "pilot_50"], replications=10, seed=1)`` runs each scenario on
the same seeds (common random numbers) and returns, for the summary measures, each
scenario's mean with a 95% confidence interval (Student t over replications) and the
paired difference against the first scenario (the mean of per-replication differences,
with its t interval). Because replication ``j`` of every scenario shares its random
streams, paired intervals are much narrower than the intervals of the separate means.

A t interval is symmetric about the mean, so for a measure near the end of its range (a
few deaths in a short run, a share near 100%) it can reach values the measure cannot
take. Such an end is cut at the bound (:func:`measure_bounds`: counts and money spent at
0, shares at 0 and 1; differences of shares at -1 and 1), the ``lower_cut`` and
``upper_cut`` columns say which, and :func:`format_comparison` marks it with ``*``. A
yes/no outcome of a run (``business_model_broken``, ``criterion_*``, ``entry_pays``) has
a share of runs as its mean and a Wilson interval, which stays in [0, 1].
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import load_config
from sim.experiments.designs import scenarios
from sim.experiments.engine import RunsFailedError, describe_failures, failed_runs, run_experiment
from sim.experiments.executors import Executor
from sim.experiments.stats import (
    clip_interval,
    difference_bounds,
    mean_ci,
    paired_differences,
    unpaired_differences,
    wilson_interval,
)
from sim.experiments.store import ExperimentStore
from sim.experiments.tasks import Experiment, OutputSpec
from sim.metrics import rents_collapsed

__all__ = ["compare", "Comparison", "COMPARE_MEASURES", "load_store", "point_table", "format_comparison",
           "comparison_tables", "measure_bounds", "variable_bounds",
           # re-exported from sim.experiments.stats, where they live
           "mean_ci", "paired_differences", "unpaired_differences"]

#: Summary measures a comparison reports (name -> label).
COMPARE_MEASURES: dict[str, str] = {
    "arrivals_uk_policy_period": "arrivals since the policy start",
    "paid_crossings_policy_period": "paid crossings since the policy start",
    "deterred_upstream": "deterred upstream (went elsewhere before the coast)",
    "displaced_policy_period": "displaced to other EU states since the policy start",
    "returns": "returns (quota)",
    "arrivals_per_return": "arrivals per return",
    "achieved_return_rate": "returns per eligible arrival (policy period)",
    "recross_share_6m": "returned people arriving again within 6 months",
    "prevented_share": "prevented share of people launched",
    "deaths": "deaths at sea",
    "left_route": "left the route (to other EU states)",
    "legal_admissions": "admitted by the legal route",
    "repeat_arrivals": "repeat arrivals (returned before)",
    "mean_price_gbp": "mean price per seat, last 26 weeks (GBP)",
    "market_profit_margin": "market profit margin, last 26 weeks",
    "active_gangs_end": "active gangs at the end",
    "gang_profit_gbp_window": "industry rents, last 26 weeks (GBP)",
    "viable_demand_share": "would-be customers willing to pay the lowest cost of a seat",
    "critical_return_rate": "return rate at which covered demand stops filling boats",
    "entry_value_gbp": "value of entry (52 weeks of a gang's mean profit, GBP)",
    "criterion_not_viable": "share of runs: not viable",
    "criterion_no_rents": "share of runs: no rents",
    "criterion_gangs_collapsed": "share of runs: gangs collapsed since the policy start",
    "criterion_rents_collapsed_vs_counterfactual": "share of runs: rents collapsed against the first scenario",
    "business_model_broken": "share of runs with the business model broken",
    "policy_cost_gbp": "cost of returns (GBP)",
    "uk_cost_gbp_policy_period": "UK spending since the policy start: returns, legal route, payments to France (GBP)",
}


#: The range each summary measure can take, for cutting intervals to it (:func:`measure_bounds`):
#: counts, people, prices and costs are never negative; shares and probabilities lie in [0, 1];
#: the market profit margin (profit / revenue, costs >= 0) is at most 1 but can be negative.
#: Profits and the value of entry can be negative: not listed, not cut.
_NON_NEGATIVE = ("arrivals_uk", "arrivals_uk_policy_period", "paid_crossings", "paid_crossings_policy_period",
                 "deterred_upstream", "displaced_policy_period", "returns", "returns_bilateral", "arrivals_per_return",
                 "achieved_return_rate", "deaths", "deaths_per_1000_crossing", "left_route", "legal_admissions",
                 "repeat_arrivals", "people_per_boat", "mean_price_gbp", "gang_revenue_gbp_window", "active_gangs_end",
                 "initial_gangs", "gangs_at_policy_start", "gang_entries", "gang_exits", "ac_min_gbp",
                 "customers_at_cost_per_week", "min_scale_seats_per_week", "policy_cost_gbp", "legal_route_cost_gbp",
                 "payments_to_france_gbp_policy_period", "uk_cost_gbp_policy_period", "potential_inflow", "inflow")
_SHARES = ("prevented_share", "launches_prevented_share", "recross_share_6m", "viable_demand_share",
           "critical_return_rate", "business_model_broken")
_INF = float("inf")


def is_yes_no(measure: str) -> bool:
    """Whether a summary measure is a yes/no outcome of a run (its mean is a share of runs,
    given a Wilson interval rather than a t interval)."""
    return measure in ("business_model_broken", "entry_pays") or measure.startswith("criterion_")


def measure_bounds(measure: str) -> tuple[float, float] | None:
    """The range summary measure ``measure`` can take (``(0, inf)`` for counts and money
    spent, ``(0, 1)`` for shares and shares of runs, ``(-inf, 1)`` for the profit margin), or
    None if it has none (profits, or a measure not known here)."""
    if measure in _SHARES or measure.startswith("criterion_"):
        return 0.0, 1.0
    if measure == "market_profit_margin":
        return -_INF, 1.0
    if measure in _NON_NEGATIVE:
        return 0.0, _INF
    return None


#: Columns of the daily time series that can be negative (losses, debts); every other column
#: is a count, a price, a stock, a share or an amount spent.
_SIGNED_VARIABLES = ("gang_profit_gbp", "gang_cash_gbp")


def variable_bounds(variable: str) -> tuple[float, float] | None:
    """The range a variable of the daily time series can take: ``(0, inf)`` for every column
    of the Channel model's series except the gangs' profit and cash (None: no bound)."""
    from sim.metrics import daily_columns

    if variable in _SIGNED_VARIABLES:
        return None
    if variable in daily_columns() or variable.startswith("arrivals_"):
        return 0.0, _INF
    return None


def load_store(path: str | Path) -> ExperimentStore:
    store = ExperimentStore(path)
    if not store.exists():
        raise FileNotFoundError(f"{path} is not an experiment store (no manifest.json)")
    return store


def _with_design(store: ExperimentStore) -> pd.DataFrame:
    """Summaries joined with each run's point, replication, scenario and parameters."""
    import json

    runs = store.runs()
    summ = store.summaries()
    if not len(summ):
        return pd.DataFrame()
    params = pd.DataFrame([json.loads(p) for p in runs["params"]], index=runs.index)
    meta = pd.concat([runs[["run_id", "point", "replication", "scenario"]], params], axis=1)
    return meta.merge(summ, on="run_id", how="inner", suffixes=("", "_summary"))


def point_table(store: ExperimentStore, measures: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and 95% interval of each measure at each design point."""
    df = _with_design(store)
    if not len(df):
        return df
    manifest = store.read_manifest()
    factors = [c for c in manifest["design"]["columns"] if c in df.columns]
    measures = [m for m in (measures or list(COMPARE_MEASURES)) if m in df.columns]
    rows = []
    for point, g in df.groupby("point", sort=True):
        row: dict[str, Any] = {"point": point, **{f: g[f].iloc[0] for f in factors}}
        for m in measures:
            mean, lo, hi, n = mean_ci(g[m].astype(float).to_numpy())
            lo, hi, _, _ = clip_interval(lo, hi, measure_bounds(m))
            row[m] = mean
            row[f"{m}_lower"], row[f"{m}_upper"] = lo, hi
        row["replications"] = len(g)
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class Comparison:
    """The result of :func:`compare`."""

    table: pd.DataFrame         # one row per (scenario, measure): mean, lower, upper, n, lower_cut, upper_cut
    differences: pd.DataFrame   # one row per (scenario, measure) against the first scenario (the same columns)
    store: ExperimentStore
    scenarios: list[str]

    def wide(self, measure: str) -> pd.DataFrame:
        """Replications x scenarios for one measure."""
        df = _with_design(self.store)
        return df.pivot(index="replication", columns="scenario", values=measure)[self.scenarios].astype(float)

    def timeseries_bands(self, variable: str = "arrivals_uk") -> pd.DataFrame:
        """Mean and 95% band over replications of a time-series variable, by scenario (the band
        cut to the range the variable can take, :func:`variable_bounds`)."""
        runs = self.store.runs(columns=["run_id", "scenario"])
        ts = self.store.timeseries([variable]).merge(runs, on="run_id")
        rows = []
        bounds = variable_bounds(variable)
        for (scen, date), g in ts.groupby(["scenario", "date"], sort=True):
            m, lo, hi, n = mean_ci(g["value"].to_numpy())
            lo, hi, _, _ = clip_interval(lo, hi, bounds)   # a band of a count never dips below 0
            rows.append({"scenario": scen, "date": date, "mean": m, "lower": lo, "upper": hi})
        return pd.DataFrame(rows)


#: Measures that are shares or probabilities (printed as percentages).
SHARE_MEASURES = ("prevented_share", "market_profit_margin", "business_model_broken", "achieved_return_rate",
                  "recross_share_6m", "viable_demand_share", "critical_return_rate")


def compare(configs: Sequence[str], *, replications: int = 10, seed: int = 1,
            overrides: Mapping[str, Any] | None = None, out: str | Path | None = None,
            executor: str | Executor = "process", workers: int | None = None, progress: bool = False,
            measures: Sequence[str] | None = None, frequency: str = "monthly",
            allow_failed: bool = False) -> Comparison:
    """Run scenarios on common random numbers and compare them with the first.

    Parameters
    ----------
    configs
        Scenario names or YAML paths; the first is the reference.
    replications
        Runs per scenario (replication ``j`` uses the same seeds in every scenario).
    seed
        Root seed of the comparison.
    overrides
        Fields set in every scenario (e.g. ``{"start_date": "2025-01-01"}``).
    out
        Store directory (a temporary one if None); rerunning with the same arguments resumes.
    allow_failed
        Compare what succeeded when runs failed (each mean's ``n`` then says how many
        replications it rests on), instead of raising.

    Returns
    -------
    Comparison

    Raises
    ------
    RunsFailedError
        If a run failed (unless ``allow_failed``): the means would rest on fewer
        replications than asked, and the pairs on fewer pairs. The message names the runs.
    """
    names = [str(c) for c in configs]
    if len(names) < 1:
        raise ValueError("compare needs at least one scenario")
    if replications < 2:
        raise ValueError(f"replications must be >= 2 for confidence intervals, got {replications}")
    exp = Experiment(design=scenarios(names, replications), base=None, overrides=dict(overrides or {}),
                     seed=seed, outputs=OutputSpec(frequency=frequency), name="compare")
    path = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="channel-compare-"))
    store = run_experiment(exp, path, executor=executor, workers=workers, progress=progress)
    failed = failed_runs(store)
    if len(failed) and not allow_failed:
        raise RunsFailedError(f"{describe_failures(failed, exp.design.n_runs)}. The comparison would rest on fewer "
                              f"than {replications} replications per scenario, so none is reported; the "
                              f"tracebacks are in the runs table of {store.path}", failed)
    df = _against_reference(_with_design(store), names, dict(overrides or {}))
    table, differences = comparison_tables(df, names, measures)
    return Comparison(table, differences, store, names)


def comparison_tables(df: pd.DataFrame, names: Sequence[str],
                      measures: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables of a :class:`Comparison` from one row per run (``scenario``, ``replication``
    and the summary measures): each scenario's mean with its t interval, and the paired
    differences against ``names[0]``; every interval cut at the measure's bounds
    (:func:`measure_bounds`; the ``lower_cut`` and ``upper_cut`` columns say where)."""
    names = list(names)
    measures = [m for m in (measures or list(COMPARE_MEASURES)) if m in df.columns]
    rows, diffs = [], []
    for m in measures:
        wide = df.pivot(index="replication", columns="scenario", values=m).reindex(columns=names).astype(float)
        bounds = measure_bounds(m)
        yes_no = is_yes_no(m)
        for s in names:
            mean, lo, hi, n = mean_ci(wide[s].to_numpy())
            if yes_no and n:            # a share of runs: the Wilson interval, inside [0, 1] by construction
                lo, hi = wilson_interval(round(mean * n), n)
            lo, hi, lo_cut, hi_cut = clip_interval(lo, hi, bounds)
            rows.append({"scenario": s, "measure": m, "mean": mean, "lower": lo, "upper": hi, "n": n,
                         "lower_cut": lo_cut, "upper_cut": hi_cut})
        if len(names) > 1:
            d = paired_differences(wide, names[0])
            d.insert(1, "measure", m)
            cut = [clip_interval(lo, hi, difference_bounds(bounds)) for lo, hi in zip(d["lower"], d["upper"],
                                                                                     strict=True)]
            d["lower"], d["upper"] = [c[0] for c in cut], [c[1] for c in cut]
            d["lower_cut"], d["upper_cut"] = [c[2] for c in cut], [c[3] for c in cut]
            diffs.append(d)
    differences = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame()
    return pd.DataFrame(rows), differences


def _against_reference(df: pd.DataFrame, names: list[str], overrides: dict[str, Any]) -> pd.DataFrame:
    """The verdict's counterfactual criterion, with the first scenario as each replication's
    same-seed counterfactual: industry rents at or below ``verdict.counterfactual_rent_share`` of
    the reference's rents (:func:`sim.metrics.rents_collapsed`); the verdict is updated with it."""
    if len(names) < 2 or "gang_profit_gbp_window" not in df.columns:
        return df
    df = df.copy()
    ref = df[df["scenario"] == names[0]].set_index("replication")["gang_profit_gbp_window"]
    cf_rents = df["replication"].map(ref).astype(float)
    share = df["scenario"].map({n: load_config(n, overrides).verdict.counterfactual_rent_share for n in names})
    held = rents_collapsed(df["gang_profit_gbp_window"].astype(float), cf_rents, share) & (df["scenario"] != names[0])
    df["criterion_rents_collapsed_vs_counterfactual"] = held.where(df["scenario"] != names[0])
    df["business_model_broken"] = df["business_model_broken"].astype(bool) | held
    return df


def _fmt(m: str, v: float) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if m in SHARE_MEASURES or m.startswith("criterion_"):
        return f"{v:.1%}"
    if m == "arrivals_per_return":
        return f"{v:,.1f}"
    if "_gbp" in m and abs(v) >= 1e6:
        return f"{v / 1e6:,.1f}m"
    return f"{v:,.0f}"


def format_comparison(c: Comparison) -> str:
    """Plain-text tables: means [95% CI] by scenario, then paired differences."""
    names = c.scenarios
    labels = {m: COMPARE_MEASURES.get(m, m) for m in c.table["measure"].unique()}
    lw = max(len(v) for v in labels.values()) + 2
    cells: dict[tuple[str, str], str] = {}
    for r in c.table.itertuples(index=False):
        ci = "" if np.isnan(r.lower) else \
            f" [{_fmt(r.measure, r.lower)}{_cut(r, 'lower')}, {_fmt(r.measure, r.upper)}{_cut(r, 'upper')}]"
        cells[(r.measure, r.scenario)] = _fmt(r.measure, r.mean) + ci
    dc = {(r.measure, r.scenario): f"{_sign(r.measure, r.difference)}"
          + ("" if np.isnan(r.lower) else f" [{_sign(r.measure, r.lower)}{_cut(r, 'lower')}, "
                                          f"{_sign(r.measure, r.upper)}{_cut(r, 'upper')}]")
          for r in c.differences.itertuples(index=False)} if len(c.differences) else {}
    w = max(14, *(len(v) + 2 for v in (*cells.values(), *dc.values())), *(len(n) + 2 for n in names))
    n_reps = int(c.table["n"].max()) if len(c.table) else 0
    out = [f"means over {n_reps} replications with 95% confidence intervals (common random numbers; "
           "a share of runs: Wilson)",
           " " * lw + "".join(f"{n:>{w}}" for n in names)]
    for m, label in labels.items():
        out.append(f"{label:<{lw}}" + "".join(f"{cells.get((m, n), '-'):>{w}}" for n in names))
    if len(c.differences):
        out += ["", f"paired differences against {names[0]} (mean [95% CI] of per-replication differences)",
                " " * lw + "".join(f"{n:>{w}}" for n in names[1:])]
        for m, label in labels.items():
            out.append(f"{label:<{lw}}" + "".join(f"{dc.get((m, n), '-'):>{w}}" for n in names[1:]))
    if any("*" in v for v in (*cells.values(), *dc.values())):
        out += ["", "* the end of the t interval fell outside the values the measure can take and is cut at its "
                    "bound (counts and money spent at 0, shares at 0% and 100%)"]
    return "\n".join(out)


def _cut(row: Any, end: str) -> str:
    """``*`` if the ``end`` (``lower``, ``upper``) of the row's interval was cut at the measure's bound."""
    return "*" if bool(getattr(row, f"{end}_cut", False)) else ""


def _sign(m: str, v: float) -> str:
    s = _fmt(m, v)
    return s if s.startswith("-") or s == "-" else "+" + s
