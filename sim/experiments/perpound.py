"""Returns against interception, per pound, from one date.

Two instruments start on the same day (the pilot's start, 4 August 2025) and run against the
same-seed counterfactual without any policy (``baseline``):

* **returns**: the pilot's settings (``pilot_50``: adults of covered groups returned to
  France, the legal route matched one for one) at weekly quotas of 50 to every eligible arrival;
* **interception**: an additional UK payment to France (``patrols.extra_payment_gbp_per_year``,
  funding more beach patrol units from ``patrols.extra_payment_start_date``), at-sea
  interception off; and ``interception_plus`` (GBP 160m a year more and at-sea interception
  from the same date) as one point.

Both act on people upstream through the same rule: a newcomer's beliefs are what is publicly
heard now, the success rate of launches among them (:meth:`sim.agents.Migrant.newcomer_beliefs`
reads ``News.success_rate``; :meth:`sim.agents.Migrant.consider_route` decides from those
beliefs), so interception deters upstream through the same expected value as returns do.

Every design point runs on replication ``j``'s seed, the same as the counterfactual's (common
random numbers: :mod:`sim.experiments.tasks`), in one experiment through the project's engine.
For each point and replication the policy-period sums (from ``returns.start_date``, which this
module sets to the same date as the legal route, the extra payment and at-sea interception)
are computed in the worker on the daily series (:func:`policy_period_statistics`), and each
measure is the paired difference against the counterfactual of the same replication, with a
Student-t interval over replications:

* arrivals prevented: counterfactual arrivals minus the policy's;
* extra UK spending: ``uk_cost_gbp_policy_period`` (returns at ``returns.cost_per_return_gbp``,
  which covers detention and transport; the legal route; payments to France, the standing
  payment plus any extra) minus the counterfactual's, so the standing payment (in both) cancels
  and only the policy's extra spending counts;
* GBP per arrival prevented: the ratio of the two means, with Fieller's interval for a ratio of
  paired means (:func:`ratio_ci`). The interval is bounded only when arrivals prevented are
  significantly different from zero (their t interval excludes it); otherwise the ratio has no
  finite interval and the table says so (``prevented_significant`` false, bounds NaN).
  Fieller's interval uses the t quantile, so it keeps its coverage with 4 replications where a
  percentile bootstrap over 4 pairs (at most 35 distinct resamples) would be too narrow;
* deaths, displacement (deterred upstream, left the route), paid crossings and the industry's
  rents (profit of all gangs, including those that exited) in the policy period: the change
  against the counterfactual.

Run ``make per-pound`` (``python -m sim.experiments.perpound``): it writes
``docs/figures/per_pound.csv`` and ``docs/figures/per_pound.png``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import load_config
from sim.experiments.designs import listed
from sim.experiments.engine import RunsFailedError, describe_failures, failed_runs, run_experiment
from sim.experiments.stats import mean_ci
from sim.experiments.store import ExperimentStore
from sim.experiments.tasks import Experiment, OutputSpec

__all__ = ["INTERCEPTION_PAYMENTS", "POLICY_COLUMNS", "RETURNS_QUOTAS", "difference_ci", "format_per_pound",
           "paired_against", "per_pound", "per_pound_table", "plot_per_pound", "policy_date_overrides", "policy_period_statistics",
           "ratio_ci", "run_points"]

#: Weekly quotas of the returns instrument (with the pilot's settings).
RETURNS_QUOTAS: tuple[int | str, ...] = (50, 100, 200, 400, "all")
#: Additional UK payments to France (GBP/year) of the interception instrument.
INTERCEPTION_PAYMENTS: tuple[float, ...] = (40e6, 80e6, 160e6, 320e6, 640e6)
#: Days between the announcement and the start of returns (the pilot's: 10 July to 4 August 2025).
ANNOUNCE_LEAD_DAYS = 25
#: Daily columns summed over the policy period in each run (:func:`policy_period_statistics`).
POLICY_COLUMNS = ("arrivals_uk", "paid_crossings", "deaths", "deterred_upstream", "left_route", "returns",
                  "legal_admissions", "repeat_arrivals", "inflow", "people_launched", "people_prevented",
                  "launches", "launches_prevented", "policy_cost_gbp", "legal_route_cost_gbp",
                  "payments_to_france_gbp", "gang_profit_gbp")
#: The columns ``uk_cost_gbp_policy_period`` sums (:func:`sim.metrics.summarize`).
UK_COST_COLUMNS = ("policy_cost_gbp", "legal_route_cost_gbp", "payments_to_france_gbp")
STATISTICS = "sim.experiments.perpound:policy_period_statistics"


# ----------------------------------------------------------------------------- the runs
def policy_period_statistics(ts: pd.DataFrame, config: Any) -> dict[str, float]:
    """Sums over the policy period (days from ``returns.start_date``, as the summary's
    ``*_policy_period`` measures) of :data:`POLICY_COLUMNS`, and ``uk_cost_gbp`` (the sum of
    :data:`UK_COST_COLUMNS`, as ``uk_cost_gbp_policy_period``). Computed in the worker on the
    daily series (the engine's ``OutputSpec.statistics``)."""
    in_policy = ts.index >= pd.Timestamp(config.returns.start_date)
    sums = ts.loc[in_policy, list(POLICY_COLUMNS)].sum()
    out = {c: float(sums[c]) for c in POLICY_COLUMNS}
    out["uk_cost_gbp"] = float(sum(out[c] for c in UK_COST_COLUMNS))
    return out


def policy_date_overrides(policy_start: str | dt.date) -> dict[str, str]:
    """Overrides putting every instrument's start on ``policy_start``: returns (announced
    :data:`ANNOUNCE_LEAD_DAYS` before, as the pilot), the legal route, the extra payment to
    France and at-sea interception. At the pilot's date they equal the shipped values."""
    d = dt.date.fromisoformat(str(policy_start))
    return {"returns.start_date": d.isoformat(),
            "returns.announce_date": (d - dt.timedelta(days=ANNOUNCE_LEAD_DAYS)).isoformat(),
            "legal_route.start_date": d.isoformat(),
            "patrols.extra_payment_start_date": d.isoformat(),
            "patrols.at_sea_interception_start_date": d.isoformat()}


def _check_one_date(points: Sequence[Mapping[str, Any]], overrides: Mapping[str, Any]) -> dt.date:
    """The policy start shared by every point; raises ValueError if an instrument would start on
    another day (the per-pound comparison needs one date)."""
    dates: set[dt.date] = set()
    for p in points:
        params = {k: v for k, v in p.items() if k != "scenario"}
        cfg = load_config(p["scenario"], overrides={**overrides, **params})
        start = cfg.returns.start_date
        others = [cfg.legal_route.start_date, cfg.patrols.extra_payment_start_date]
        if cfg.patrols.at_sea_interception:
            others.append(cfg.patrols.at_sea_interception_start_date)
        if any(o != start for o in others):
            raise ValueError(f"point {dict(p)}: the instruments do not start on one date "
                             f"(returns {start}, legal route, extra payment, at-sea interception: {others})")
        dates.add(start)
    if len(dates) != 1:
        raise ValueError(f"the points have different policy starts: {sorted(dates)}")
    return dates.pop()


def run_points(points: Sequence[Mapping[str, Any]], *, name: str, replications: int, seed: int = 1,
               policy_start: str | dt.date | None = None, overrides: Mapping[str, Any] | None = None,
               out: str | Path | None = None, executor: str = "process", workers: int | None = 2,
               progress: bool = False) -> tuple[pd.DataFrame, ExperimentStore]:
    """Run ``points`` (mappings with a ``scenario`` and dotted overrides; the first is the
    counterfactual) on common random numbers through the engine, into the store ``out``.

    Returns one row per run: ``point``, ``replication``, the summary and the policy-period sums
    (``stat:<column>``), and the store. Raises :class:`RunsFailedError` if a run failed (the
    pairs would rest on fewer replications).
    """
    if replications < 2:
        raise ValueError(f"replications must be >= 2 for confidence intervals, got {replications}")
    ov = dict(overrides or {})
    if policy_start is not None:
        ov = {**policy_date_overrides(policy_start), **ov}
    _check_one_date(points, ov)
    exp = Experiment(design=listed(list(points), replications), base=None, overrides=ov, seed=seed,
                     outputs=OutputSpec(frequency="end", statistics=STATISTICS), name=name)
    path = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"channel-{name}-"))
    store = run_experiment(exp, path, executor=executor, workers=workers, progress=progress)
    failed = failed_runs(store)
    if len(failed):
        raise RunsFailedError(f"{describe_failures(failed, exp.design.n_runs)}; tracebacks in {store.path}", failed)
    runs = store.runs(columns=["run_id", "point", "replication", "seed_entropy", "spawn_key"])
    df = runs.merge(store.summaries(), on="run_id", how="inner")
    return df.sort_values(["point", "replication"]).reset_index(drop=True), store


# ----------------------------------------------------------------------------- statistics
def ratio_ci(num: Sequence[float], den: Sequence[float], level: float = 0.95) -> tuple[float, float, float, bool]:
    """Ratio of means ``mean(num) / mean(den)`` over paired replications with Fieller's interval.

    Returns ``(ratio, lower, upper, bounded)``. The interval is bounded when ``mean(den)`` is
    significantly different from zero (``mean(den)^2 > t^2 var(mean(den))``); otherwise
    ``bounded`` is False and the bounds are NaN. The ratio is NaN when ``mean(den) <= 0``.
    """
    from scipy import stats

    a, b = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    n = a.size
    ma, mb = float(a.mean()), float(b.mean())
    ratio = ma / mb if mb > 0 else math.nan
    if n < 2:
        return ratio, math.nan, math.nan, False
    t2 = float(stats.t.ppf(0.5 + level / 2, n - 1)) ** 2
    v11, v22 = float(a.var(ddof=1)) / n, float(b.var(ddof=1)) / n
    v12 = float(np.cov(a, b, ddof=1)[0, 1]) / n
    qa = mb * mb - t2 * v22
    if not (mb > 0 and qa > 0):
        return ratio, math.nan, math.nan, False
    qb = ma * mb - t2 * v12
    qc = ma * ma - t2 * v11
    disc = max(qb * qb - qa * qc, 0.0)
    lo, hi = (qb - math.sqrt(disc)) / qa, (qb + math.sqrt(disc)) / qa
    return ratio, lo, hi, True


def difference_ci(prefix: str, x: np.ndarray) -> dict[str, float]:
    """``{prefix: mean, prefix_lower, prefix_upper}`` of per-replication differences ``x`` (t interval)."""
    m, lo, hi, _ = mean_ci(x)
    return {prefix: m, f"{prefix}_lower": lo, f"{prefix}_upper": hi}


def paired_against(df: pd.DataFrame, point: int, reference: int = 0) -> dict[str, np.ndarray]:
    """Per-replication values of ``point`` and of ``reference`` (aligned by replication) for
    every numeric column: ``{column: (policy, counterfactual)}`` as a 2 x n array."""
    a = df[df["point"] == point].set_index("replication").sort_index()
    c = df[df["point"] == reference].set_index("replication").sort_index()
    if list(a.index) != list(c.index):
        raise ValueError(f"point {point} and the counterfactual do not have the same replications")
    cols = [k for k in a.columns if pd.api.types.is_numeric_dtype(a[k]) and k in c.columns]
    return {k: np.vstack([a[k].to_numpy(dtype=float), c[k].to_numpy(dtype=float)]) for k in cols}


# ----------------------------------------------------------------------------- the experiment
def _design(returns_quotas: Sequence[int | str], payments: Sequence[float], interception_plus: bool,
            reference: str, returns_scenario: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Design points and, for each policy point, its (instrument, level, label)."""
    points: list[dict[str, Any]] = [{"scenario": reference}]
    meta: list[dict[str, Any]] = []
    for q in returns_quotas:
        points.append({"scenario": returns_scenario, "returns.quota_per_week": q})
        meta.append({"instrument": "returns", "level": str(q),
                     "level_value": math.nan if q == "all" else float(q),
                     "label": "every eligible arrival" if q == "all" else f"{q}/week"})
    for x in payments:
        points.append({"scenario": reference, "patrols.extra_payment_gbp_per_year": float(x)})
        meta.append({"instrument": "interception", "level": f"{x / 1e6:g}", "level_value": float(x),
                     "label": f"+GBP {x / 1e6:g}m/year"})
    if interception_plus:
        points.append({"scenario": "interception_plus"})
        cfg = load_config("interception_plus")
        x = cfg.patrols.extra_payment_gbp_per_year
        meta.append({"instrument": "interception_plus", "level": f"{x / 1e6:g}", "level_value": float(x),
                     "label": f"+GBP {x / 1e6:g}m/year, at-sea interception"})
    return points, meta


def per_pound(returns_quotas: Sequence[int | str] = RETURNS_QUOTAS,
              payments: Sequence[float] = INTERCEPTION_PAYMENTS, *, interception_plus: bool = True,
              reference: str = "baseline", returns_scenario: str = "pilot_50", replications: int = 4,
              seed: int = 1, policy_start: str | dt.date = "2025-08-04", overrides: Mapping[str, Any] | None = None,
              out: str | Path | None = None, executor: str = "process", workers: int | None = 2,
              progress: bool = False, level: float = 0.95) -> pd.DataFrame:
    """Returns and interception against the same-seed counterfactual, per pound.

    Parameters
    ----------
    returns_quotas
        Weekly quotas (``"all"``: every eligible arrival) run on ``returns_scenario``.
    payments
        Additional UK payments to France (GBP/year) run on ``reference``.
    interception_plus
        Whether to add the shipped ``interception_plus`` scenario as one point.
    policy_start
        The day every instrument starts (and the policy period begins).
    overrides
        Fields set in every run (e.g. ``{"start_date": "2025-01-01"}``).
    out
        The experiment store (a temporary directory if None); rerunning resumes.

    Returns
    -------
    pandas.DataFrame
        One row per policy point: ``instrument`` (returns, interception, interception_plus),
        ``level``, ``label``; ``prevented`` (counterfactual minus policy arrivals in the policy
        period), ``extra_spending_gbp`` (UK spending above the counterfactual's) with its parts,
        ``gbp_per_prevented`` (ratio of means, Fieller interval; ``prevented_significant``),
        and the changes of deaths, displacement (``deterred_upstream_change``,
        ``left_route_change``, ``displaced_change``), paid crossings, rents (policy period and the
        verdict's last 26 weeks) and the share of people launched whose launch was prevented
        (``prevented_at_coast_share_change``); each with ``_lower``/``_upper`` (95% t interval over
        replications of the paired differences). ``policy_start`` is the date of the period.
    """
    points, meta = _design(returns_quotas, payments, interception_plus, reference, returns_scenario)
    df, _ = run_points(points, name="per_pound", replications=replications, seed=seed, policy_start=policy_start,
                       overrides=overrides, out=out, executor=executor, workers=workers, progress=progress)
    return per_pound_table(df, points, meta, policy_start, level)


def per_pound_table(df: pd.DataFrame, points: Sequence[Mapping[str, Any]], meta: Sequence[Mapping[str, Any]],
                    policy_start: str | dt.date, level: float = 0.95) -> pd.DataFrame:
    """The table of :func:`per_pound` from its runs (:func:`run_points`): point 0 is the
    counterfactual, point ``i`` the policy ``meta[i - 1]``."""
    start = dt.date.fromisoformat(str(policy_start))
    rows = []
    for i, m in enumerate(meta, start=1):
        v = paired_against(df, i)
        arr, spend = v["stat:arrivals_uk"], v["stat:uk_cost_gbp"]
        prevented = arr[1] - arr[0]
        extra = spend[0] - spend[1]
        row: dict[str, Any] = {**m, "scenario": points[i]["scenario"],
                               "params": json.dumps({k: x for k, x in points[i].items() if k != "scenario"}),
                               "policy_start": start.isoformat(), "replications": prevented.size,
                               "counterfactual_arrivals": float(arr[1].mean())}
        row.update(difference_ci("prevented", prevented))
        row["prevented_pct"] = 100 * row["prevented"] / row["counterfactual_arrivals"]
        row["prevented_significant"] = bool(row["prevented_lower"] > 0)
        row.update(difference_ci("extra_spending_gbp", extra))
        for part, col in (("returns", "policy_cost_gbp"), ("legal_route", "legal_route_cost_gbp"),
                          ("payments_france", "payments_to_france_gbp")):
            x = v[f"stat:{col}"]
            row[f"extra_{part}_gbp"] = float((x[0] - x[1]).mean())
        r, lo, hi, bounded = ratio_ci(extra, prevented, level)
        row.update(gbp_per_prevented=r, gbp_per_prevented_lower=lo, gbp_per_prevented_upper=hi,
                   gbp_per_prevented_bounded=bounded)
        for name, col in (("deaths_change", "stat:deaths"), ("deterred_upstream_change", "stat:deterred_upstream"),
                          ("left_route_change", "stat:left_route"), ("paid_crossings_change", "stat:paid_crossings"),
                          ("rents_change_gbp", "stat:gang_profit_gbp"),
                          ("rents_window_change_gbp", "gang_profit_gbp_window")):
            row.update(difference_ci(name, v[col][0] - v[col][1]))
        row.update(difference_ci("displaced_change", v["stat:deterred_upstream"][0] + v["stat:left_route"][0]
                               - v["stat:deterred_upstream"][1] - v["stat:left_route"][1]))
        paid, rents = v["stat:paid_crossings"], v["stat:gang_profit_gbp"]
        row["paid_crossings_change_pct"] = 100 * float((paid[0] - paid[1]).mean() / paid[1].mean())
        row["rents_change_pct"] = 100 * float((rents[0] - rents[1]).mean() / rents[1].mean())
        with np.errstate(divide="ignore", invalid="ignore"):
            share = v["stat:people_prevented"] / v["stat:people_launched"]
        row.update(difference_ci("prevented_at_coast_share_change", share[0] - share[1]))
        row["returns"] = float(v["stat:returns"][0].mean())
        row["achieved_return_rate"] = float(np.nanmean(v["achieved_return_rate"][0]))
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- output
INSTRUMENT_LABELS = {"returns": "returns to France (pilot's terms, weekly quota)",
                     "interception": "extra UK payment to France for beach patrols",
                     "interception_plus": "interception_plus: +GBP 160m/year and at-sea interception"}


def _gbp(v: float) -> str:
    if not math.isfinite(v):
        return "-"
    return f"{v / 1e6:,.1f}m" if abs(v) >= 1e6 else f"{v:,.0f}"


def format_per_pound(df: pd.DataFrame) -> str:
    """A plain-text table: prevented, extra spending and GBP per arrival prevented, with intervals."""
    lines = [f"{'instrument':<18}{'level':<38}{'prevented [95% CI]':>26}{'extra UK spending [95% CI]':>32}"
             f"{'GBP per prevented [95% CI]':>34}{'deaths':>16}{'displaced':>22}"]
    for r in df.itertuples(index=False):
        ci = (f"{_gbp(r.gbp_per_prevented)} [{_gbp(r.gbp_per_prevented_lower)}, {_gbp(r.gbp_per_prevented_upper)}]"
              if r.gbp_per_prevented_bounded else f"{_gbp(r.gbp_per_prevented)} [not significant]")
        lines.append(
            f"{r.instrument:<18}{r.label:<38}"
            f"{f'{r.prevented:,.0f} [{r.prevented_lower:,.0f}, {r.prevented_upper:,.0f}]':>26}"
            f"{f'{_gbp(r.extra_spending_gbp)} [{_gbp(r.extra_spending_gbp_lower)}, {_gbp(r.extra_spending_gbp_upper)}]':>32}"
            f"{ci:>34}{f'{r.deaths_change:+,.0f}':>16}{f'{r.displaced_change:+,.0f}':>22}")
    return "\n".join(lines)


def plot_per_pound(df: pd.DataFrame, path: str | Path | None = None) -> Any:
    """Arrivals prevented against extra UK spending (left) and UK spending per arrival prevented
    (right), one curve per instrument with 95% interval bars; the legend below the panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {"returns": dict(color="#b2182b", marker="o", ls="-"),
              "interception": dict(color="#2166ac", marker="s", ls="-"),
              "interception_plus": dict(color="#1b7837", marker="*", ls="none", markersize=14)}
    # where each instrument's point labels go (offset in points, horizontal alignment)
    placing = {"returns": ((7, -12), "left"), "interception": ((6, -12), "left"),
               "interception_plus": ((9, 3), "left")}
    since = f"since {pd.Timestamp(df['policy_start'].iloc[0]):%-d %b %Y}" if "policy_start" in df else "in the policy period"
    xlabel = f"extra UK spending {since}, above the no-policy run (GBP million)"
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13.5, 5.8))
    xmax = float(np.nanmax(df["extra_spending_gbp_upper"])) / 1e6 * 1.1
    ymax = float(np.nanmax(df["prevented_upper"])) / 1e3 * 1.1
    # lines of equal spending per arrival prevented, for reading the left panel (labelled below)
    iso = [(k, min(xmax, ymax * 1e3 * k / 1e6)) for k in (10_000, 30_000, 100_000)]
    for k, x_end in iso:
        ax.plot([0.0, x_end], [0.0, x_end * 1e6 / k / 1e3], color="0.75", lw=0.9, ls=":", zorder=0)
    skipped = []
    for inst, g in df.groupby("instrument", sort=False):
        st = styles.get(inst, dict(marker="o", ls="-"))
        x, y = g["extra_spending_gbp"] / 1e6, g["prevented"] / 1e3
        ax.errorbar(x, y, xerr=[x - g["extra_spending_gbp_lower"] / 1e6, g["extra_spending_gbp_upper"] / 1e6 - x],
                    yerr=[y - g["prevented_lower"] / 1e3, g["prevented_upper"] / 1e3 - y], capsize=3,
                    label=INSTRUMENT_LABELS.get(inst, inst), **st)
        offset, ha = placing.get(inst, ((6, -12), "left"))
        for xi, yi, lab in zip(x, y, g["label"], strict=True):
            short = lab.replace("every eligible arrival", "every eligible arrival").replace(
                ", at-sea interception", " + at sea")
            right_edge = xi > 0.8 * xmax
            ax.annotate(short, (xi, yi), textcoords="offset points", fontsize=7.5, color=st.get("color", "k"),
                        xytext=(-offset[0], offset[1]) if right_edge else offset, ha="right" if right_edge else ha)
        # right panel: spending per arrival prevented, Fieller interval; open marker when unbounded
        r = g["gbp_per_prevented"] / 1e3
        bnd = g["gbp_per_prevented_bounded"].astype(bool)
        bx.errorbar(x[bnd], r[bnd], yerr=[r[bnd] - g["gbp_per_prevented_lower"][bnd] / 1e3,
                                          g["gbp_per_prevented_upper"][bnd] / 1e3 - r[bnd]], capsize=3, **st)
        open_ = ~bnd & r.notna()
        if open_.any():
            bx.plot(x[open_], r[open_], **{**st, "ls": "none", "markerfacecolor": "white"})
        if st.get("ls") != "none":
            bx.plot(x[r.notna()], r[r.notna()], color=st.get("color"), ls="-", lw=1, alpha=0.5)
        skipped += list(g.loc[r.isna(), "label"])
    ax.set_xlim(0, xmax)
    ax.set_ylim(min(0.0, float(np.nanmin(df["prevented_lower"])) / 1e3 * 1.3), ymax)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"arrivals prevented {since} (thousands of people)")
    ax.set_title("Arrivals prevented against extra UK spending", fontsize=11)
    bx.set_xlim(0, xmax)
    bx.set_yscale("log")
    bx.set_xlabel(xlabel)
    bx.set_ylabel("UK spending per arrival prevented (GBP thousand, log scale)")
    bx.set_title("Spending per arrival prevented (ratio of means, Fieller 95% interval)", fontsize=11)
    note = "open marker: arrivals prevented not significantly above zero (no finite interval)"
    if skipped:
        note += "\nnot shown (no arrivals prevented on average): " + ", ".join(skipped)
    bx.text(0.02, 0.98, note, transform=bx.transAxes, fontsize=7.5, va="top", color="0.3")
    for a in (ax, bx):
        a.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, fontsize=9)
    n = int(df["replications"].min())
    fig.suptitle(f"Returns against interception per pound, {since} to the end of the run: each policy paired "
                 f"with the same-seed no-policy run; means and 95% intervals over {n} replications", fontsize=10.5)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    # the equal-cost lines' labels run along them (the angle on screen, known once laid out)
    for k, x_end in iso:
        y_end = x_end * 1e6 / k / 1e3
        (x0, y0), (x1, y1) = ax.transData.transform([(0.0, 0.0), (x_end, y_end)])
        ax.annotate(f"GBP {k // 1000}k per arrival prevented", (0.93 * x_end, 0.93 * y_end), ha="right",
                    va="bottom", rotation=math.degrees(math.atan2(y1 - y0, x1 - x0)), rotation_mode="anchor",
                    textcoords="offset points", xytext=(0, 2), fontsize=7.5, color="0.45")
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig


def experiment_main(argv: Sequence[str] | None, *, description: str, stem: str, run: Any, plot: Any,
                    fmt: Any) -> pd.DataFrame:
    """The command line shared by the experiment modules: run (``run(replications=, seed=, out=,
    workers=, progress=)``), then write ``<figures>/<stem>.csv`` and ``.png`` and print the table."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--replications", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=f"outputs/{stem}", help="experiment store (resumable)")
    p.add_argument("--figures", default="docs/figures", help=f"where {stem}.csv and {stem}.png go")
    a = p.parse_args(argv)
    df = run(replications=a.replications, seed=a.seed, out=a.out, workers=a.workers, progress=True)
    fig_dir = Path(a.figures)
    fig_dir.mkdir(parents=True, exist_ok=True)
    df.to_csv(fig_dir / f"{stem}.csv", index=False, float_format="%.6g")
    plot(df, fig_dir / f"{stem}.png")
    print(fmt(df))
    print(f"wrote {fig_dir / f'{stem}.csv'} and {fig_dir / f'{stem}.png'}")
    return df


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    return experiment_main(argv, description="Returns against interception, per pound, from one date.",
                           stem="per_pound", run=per_pound, plot=plot_per_pound, fmt=format_per_pound)


if __name__ == "__main__":
    main()
