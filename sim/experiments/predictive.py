"""Policy results over the posterior: predictive distributions with their variance split.

Every scenario runs for ``N`` posterior draws x ``K`` future inflow paths x ``R``
replications (issue 11). The draws are particles of the calibration's final population,
drawn by weight (:func:`posterior_draws`); future inflow path ``k`` of draw ``d`` fixes the
inflow after the last calibrated year (``environment.future_inflow_seed`` =
:func:`future_seed` ``(d, k)``, ODD 7.2), so every draw has futures of its own and the
study samples the future ensemble with the parameters (``N x K`` futures, not ``K`` shared
by every draw); replication
``r`` uses the seed ``SeedSequence(seed, spawn_key=(r,))``. Scenarios, draws and paths share
the replications' seeds (common random numbers), and every scenario shares the draws and
the paths, so a paired difference against the first scenario is taken within draw, path
and replication.

For each scenario and measure (and each paired difference), :func:`predictive_table`
gives the mean, median and 5% and 95% quantiles over all runs, and the variance split by
the law of total variance over the nested design (population variances, so that the three
parts add up to the total exactly):

* ``var_parametric`` = Var over draws of the draw's mean;
* ``var_inflow`` = mean over draws of the Var over paths of the path's mean;
* ``var_stochastic`` = mean over draws and paths of the Var over replications.

With ``future_inflow: fixed`` every path gives the same runs, so ``var_inflow`` is 0. A
share (a yes/no outcome such as ``business_model_broken``) also gets a Wilson interval
(:func:`wilson_interval`), which stays in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.designs import Design, listed
from sim.experiments.engine import run_experiment
from sim.experiments.executors import Executor
from sim.experiments.stats import wilson_interval
from sim.experiments.tasks import Experiment, OutputSpec

__all__ = ["MEASURES", "cross_with_posterior", "future_seed", "format_predictive", "plot_predictive", "posterior_draws", "predictive_runs",
           "predictive_table", "variance_split", "wilson_interval"]

#: Summary fields reported by default (a yes/no field is a share).
MEASURES = ("arrivals_uk_policy_period", "paid_crossings_policy_period", "gang_profit_gbp_window",
            "deaths", "displaced_policy_period", "critical_return_rate", "business_model_broken")
FUTURE_SEED = "environment.future_inflow_seed"
#: Future inflow paths per draw at most (the seed of draw d's path k is d * MAX_PATHS + k).
MAX_PATHS = 1000


def future_seed(draw: int, path: int) -> int:
    """The future inflow seed of path ``path`` of posterior draw ``draw``: distinct for every
    (draw, path), and stable as a study grows by draws or paths (the same draw and path keep
    their future)."""
    if not 0 <= path < MAX_PATHS:
        raise ValueError(f"path must be in 0..{MAX_PATHS - 1}, got {path}")
    if draw < 0:
        raise ValueError(f"draw must be >= 0, got {draw}")
    return int(draw) * MAX_PATHS + int(path)


def posterior_draws(calibration: str | Path | pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` parameter sets drawn by weight (with replacement) from the calibration's final
    population (``posterior.csv`` in the folder ``calibration``, or that table); one row per
    draw, the parameters as dotted columns and ``particle``, the row drawn."""
    post = calibration if isinstance(calibration, pd.DataFrame) else pd.read_csv(Path(calibration) / "posterior.csv")
    if "weight" not in post.columns:
        raise ValueError("the posterior table needs a 'weight' column (docs/calibration/posterior.csv)")
    if n < 1:
        raise ValueError(f"draws must be at least 1, got {n}")
    w = post["weight"].to_numpy(dtype=float)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("posterior weights must be finite, non-negative and not all zero")
    idx = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xD1A,))).choice(len(post), size=n,
                                                                                          p=w / w.sum())
    params = post.drop(columns=[c for c in ("weight", "distance") if c in post.columns])
    return params.iloc[idx].reset_index(drop=True).assign(particle=idx)


def cross_with_posterior(design: Design, draws: pd.DataFrame, paths: int = 1, first_draw: int = 0) -> Design:
    """Every point of ``design`` crossed with every posterior draw and future inflow path.

    The result is a list design of ``n_points x n_draws x paths`` points, in that nesting
    order: the point's fields, then the draw's parameters (dotted columns of ``draws``),
    then ``environment.future_inflow_seed`` = :func:`future_seed` ``(d, k)`` for draw ``d``
    (``first_draw`` + its row in ``draws``: a block of a study keeps the study's draw numbers);
    its replications are ``design``'s. Point ``(p, d, k)`` is number
    ``(p * n_draws + d - first_draw) * paths + k``. Any
    sweep then runs over the posterior: a table made per point (such as
    :func:`~sim.experiments.phase.phase_diagram`, which pools every run of an (x, y) cell)
    is a predictive one, over parameters, future inflow and noise together.
    """
    if isinstance(paths, bool) or not isinstance(paths, int) or not 1 <= paths <= MAX_PATHS:
        raise ValueError(f"paths must be a whole number in 1..{MAX_PATHS}, got {paths!r}")
    if len(draws) < 1:
        raise ValueError("at least one posterior draw is needed")
    if isinstance(first_draw, bool) or not isinstance(first_draw, int) or first_draw < 0:
        raise ValueError(f"first_draw must be a whole number >= 0, got {first_draw!r}")
    params = draws.drop(columns=["particle"], errors="ignore").to_dict("records")
    clash = sorted(set(design.points.columns) & (set(params[0]) | {FUTURE_SEED}))
    if clash:
        raise ValueError(f"the design sets {clash}, which the posterior draws set too")
    points = [{**{c: v for c, v in point.items() if v is not None and v == v},
               **{c: float(x) for c, x in row.items()}, FUTURE_SEED: future_seed(d, k)}
              for point in design.points.to_dict("records")
              for d, row in enumerate(params, start=first_draw) for k in range(paths)]
    return listed(points, replications=design.replications)


def predictive_runs(scenarios: Sequence[str], draws: pd.DataFrame, out: str | Path, *, paths: int = 2,
                    replications: int = 2, seed: int = 1, overrides: dict[str, Any] | None = None,
                    executor: str | Executor = "process", workers: int | None = None,
                    progress: bool = False, block: int | None = None) -> pd.DataFrame:
    """Run every scenario for every draw, future path and replication; one row per run:
    ``scenario``, ``draw``, ``path``, ``replication`` and the summary's fields.

    ``block`` (draws per store): the draws run in blocks of that many, each an experiment with
    its own store ``out/draws_AAAA-BBBB`` (None: one store at ``out``). A long study then keeps
    every finished block when it is interrupted, resumes block by block, and grows by blocks:
    draws are prefix-stable (:func:`posterior_draws`), and a replication's seed depends on the
    replication alone, so the runs are the same whatever the blocking."""
    if not scenarios:
        raise ValueError("at least one scenario is needed")
    if not 1 <= paths <= MAX_PATHS or replications < 1:
        raise ValueError(f"paths must be in 1..{MAX_PATHS} and replications at least 1, got {paths} and {replications}")
    if block is not None and (isinstance(block, bool) or not isinstance(block, int) or block < 1):
        raise ValueError(f"block must be a whole number of draws >= 1, got {block!r}")
    params = draws.drop(columns=["particle"], errors="ignore")
    size = block or max(len(params), 1)
    frames = []
    for b0 in range(0, len(params), size):
        sub = params.iloc[b0:b0 + size]
        where = Path(out) if block is None else Path(out) / f"draws_{b0:04d}-{b0 + len(sub) - 1:04d}"
        frames.append(_run_block(scenarios, sub, b0, where, paths=paths, replications=replications, seed=seed,
                                 overrides=overrides, executor=executor, workers=workers, progress=progress))
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["scenario", "draw", "path", "replication"], kind="stable").reset_index(drop=True)


def _run_block(scenarios: Sequence[str], params: pd.DataFrame, first_draw: int, out: Path, *, paths: int,
               replications: int, seed: int, overrides: dict[str, Any] | None, executor: str | Executor,
               workers: int | None, progress: bool) -> pd.DataFrame:
    design = cross_with_posterior(listed([{"scenario": str(s)} for s in scenarios], replications=replications),
                                  params, paths, first_draw=first_draw)
    keys = [(s, d, k) for s in scenarios for d in range(first_draw, first_draw + len(params)) for k in range(paths)]
    exp = Experiment(design=design, base=str(scenarios[0]),
                     overrides=dict(overrides or {}), seed=seed, outputs=OutputSpec(frequency="end"),
                     name="predictive")
    store = run_experiment(exp, out, executor=executor, workers=workers, progress=progress)
    runs = store.runs(columns=["run_id", "point", "replication", "status"])
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        raise RuntimeError(f"{len(failed)} of {len(runs)} runs failed (see the store at {out}); a predictive "
                           "table over an incomplete design would be biased")
    sums = store.summaries().drop(columns=["scenario"], errors="ignore")
    table = runs.merge(sums, on="run_id")
    key = pd.DataFrame(keys, columns=["scenario", "draw", "path"])
    return pd.concat([key.iloc[table["point"].to_numpy()].reset_index(drop=True),
                      table.drop(columns=["point", "status"]).reset_index(drop=True)], axis=1)


def variance_split(values: np.ndarray) -> dict[str, float]:
    """Law of total variance over a balanced ``(draws, paths, replications)`` array
    (population variances: the parts add up to ``var_total``)."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 3:
        raise ValueError(f"expected a (draws, paths, replications) array, got shape {x.shape}")
    path_means = x.mean(axis=2)
    return {"var_total": float(x.var()), "var_parametric": float(path_means.mean(axis=1).var()),
            "var_inflow": float(path_means.var(axis=1).mean()), "var_stochastic": float(x.var(axis=2).mean())}


def _cube(df: pd.DataFrame, col: str) -> np.ndarray:
    n_d, n_k, n_r = (df[c].nunique() for c in ("draw", "path", "replication"))
    ordered = df.sort_values(["draw", "path", "replication"], kind="stable")
    return ordered[col].to_numpy(dtype=float).reshape(n_d, n_k, n_r)


def _row(scenario: str, measure: str, cube: np.ndarray, share: bool) -> dict[str, Any]:
    flat = cube.ravel()
    ok = flat[np.isfinite(flat)]
    row: dict[str, Any] = {"scenario": scenario, "measure": measure, "runs": int(flat.size),
                           "finite": int(ok.size)}
    if ok.size:
        row.update(mean=float(ok.mean()), median=float(np.median(ok)), p05=float(np.quantile(ok, 0.05)),
                   p95=float(np.quantile(ok, 0.95)))
    row.update(variance_split(cube) if ok.size == flat.size else dict.fromkeys(
        ("var_total", "var_parametric", "var_inflow", "var_stochastic"), math.nan))
    if share and ok.size:
        row["wilson_p05"], row["wilson_p95"] = wilson_interval(int(ok.sum()), int(ok.size), level=0.90)
    return row


def predictive_table(runs: pd.DataFrame, measures: Sequence[str] = MEASURES) -> pd.DataFrame:
    """One row per scenario and measure, then per paired difference against the first scenario
    (``scenario`` reads ``"X - first"``): summaries of the predictive distribution and the
    variance split (see the module text)."""
    scenarios = list(dict.fromkeys(runs["scenario"]))
    measures = [m for m in measures if m in runs.columns]
    rows = []
    cubes = {s: {m: _cube(runs[runs["scenario"] == s], m) for m in measures} for s in scenarios}
    for s in scenarios:
        for m in measures:
            rows.append(_row(s, m, cubes[s][m], runs[m].dtype == bool))
    first = scenarios[0]
    for s in scenarios[1:]:
        for m in measures:
            rows.append(_row(f"{s} - {first}", m, cubes[s][m] - cubes[first][m], False))
    return pd.DataFrame(rows)


def format_predictive(table: pd.DataFrame, labels: dict[str, tuple[str, str]] | None = None) -> str:
    """The table as text: per measure and scenario, median [5%, 95%] and the variance shares
    (parametric / inflow / stochastic, in percent of the total). ``labels`` maps a measure to
    (label, number format), as ``sim.cli.SUMMARY_ROWS`` does."""
    labels = labels or {}
    lines = []
    for measure, rows in table.groupby("measure", sort=False):
        label, fmt = labels.get(measure, (measure, "{:,.3g}"))
        lines.append(label)
        share = "wilson_p05" in rows.columns and bool(rows["wilson_p05"].notna().any())
        for r in rows.itertuples():
            if not r.finite:
                lines.append(f"  {r.scenario:<34} -")
                continue
            total = r.var_total
            shares = ("  variance: " + " / ".join(f"{100 * getattr(r, c) / total:.0f}%" for c in
                                                 ("var_parametric", "var_inflow", "var_stochastic"))
                      if math.isfinite(total) and total > 0 else "")
            wilson = getattr(r, "wilson_p05", math.nan)
            if isinstance(wilson, float) and math.isfinite(wilson):      # a share
                centre, band = f"{r.mean:.0%}", f"[{r.wilson_p05:.0%}, {r.wilson_p95:.0%}] (Wilson)"
            elif share:      # a paired difference of a share: runs are -1, 0 or 1, so their mean
                centre, band = f"{100 * r.mean:+.1f} pts", "(difference of the shares)"
            else:
                centre, band = fmt.format(r.median), f"[{fmt.format(r.p05)}, {fmt.format(r.p95)}]"
            lines.append(f"  {r.scenario:<34} {centre:>12} {band}{shares}")
    lines.append("median [5%, 95%] over draws x paths x replications; a share: its mean [90% Wilson interval], "
                 "a difference of shares in percentage points; variance: parametric / future inflow / stochastic")
    return "\n".join(lines)


def plot_predictive(runs: pd.DataFrame, measures: Sequence[str], labels: dict[str, str] | None = None) -> Any:
    """Predictive bands: for each measure a panel with, per scenario, the 5-95% range over all
    runs (line), the 25-75% range (box) and the median (dot)."""
    import matplotlib.pyplot as plt

    labels = labels or {}
    measures = [m for m in measures if m in runs.columns and runs[m].dtype != bool]
    scenarios = list(dict.fromkeys(runs["scenario"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(3.2 * len(measures), 0.5 * len(scenarios) + 1.6),
                             squeeze=False)
    for ax, m in zip(axes[0], measures, strict=True):
        for i, s in enumerate(scenarios):
            x = runs.loc[runs["scenario"] == s, m].to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            if not x.size:
                continue
            q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
            ax.plot([q[0], q[4]], [i, i], color="0.4", lw=1)
            ax.plot([q[1], q[3]], [i, i], color="C0", lw=6, solid_capstyle="butt")
            ax.plot(q[2], i, "o", color="k", ms=4)
        ax.set_yticks(range(len(scenarios)), scenarios if ax is axes[0][0] else [""] * len(scenarios))
        ax.set_ylim(len(scenarios) - 0.5, -0.5)
        ax.set_title(labels.get(m, m), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
