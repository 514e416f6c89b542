"""Which uncertain inputs drive a policy's effect across the posterior: first-order
variance-based indices from the runs of a predictive study (no extra runs).

A predictive study (:mod:`sim.experiments.predictive`) runs every scenario for ``N``
posterior draws x ``K`` future inflow paths x ``R`` replications. Its inputs are then random
with the posterior-conditioned distribution: the calibrated parameters of each draw (jointly,
with the posterior's correlations), the future inflow factor of each path, and the model's
own noise. For an output ``Y`` (a measure of one scenario, or its paired difference against
a reference scenario, within draw, path and replication) and an input ``X_i`` the
first-order index is

    S_i = Var(E[Y | X_i]) / Var(Y),

the share of the output's variance that knowing ``X_i`` alone removes. It is estimated from
the given data (Plischke 2010, Reliability Engineering & System Safety 95:354; Saltelli et
al. 2008, section 4.6): the runs are sorted by ``X_i`` and cut into ``bins`` classes of about
equal size, and ``S_i`` is the variance of the class means (weighted by class size) over the
variance of ``Y``. An input that is constant within a draw is binned over draws, so the runs
of one draw never straddle two classes.

The estimator is biased upward by about ``(bins - 1) / n`` times the share of variance no
input explains; the bias is estimated by the mean index of ``permutations`` random
reorderings of ``Y`` (which have no relation to ``X_i``) and subtracted. Intervals are the
5% and 95% quantiles over ``bootstrap`` resamples of the draws (with their paths and
replications), each corrected by its own permutation bias (a resample repeats draws, which
makes classes of copies and a larger bias), so they carry the finite number of posterior
draws.

**Reading the indices.** The posterior's inputs are correlated (a calibration trades one
parameter against another), so first-order indices can overlap and need not add up to the
explained share; an input with a large index carries information about the output, alone
or through the inputs it is tied to. The stochastic share (the mean variance over
replications, from :func:`~sim.experiments.predictive.variance_split`) is what no input
explains. Parameters not calibrated stay at their assumed values in a predictive study, so
they cannot appear here; the one-at-a-time and Sobol analyses of the assumed parameters are
:mod:`sim.experiments.sensitivity` and ``make per-pound``/``make recross``.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["first_order_indices", "study_output", "plot_first_order", "read_study", "study_indices", "verdict_profile"]

#: Permutations per bootstrap resample for its own bias.
BOOTSTRAP_PERMUTATIONS = 5

#: The input column for the future inflow (the run summary's factor of the last simulated year).
INFLOW = "future_inflow_factor"


def study_output(runs: pd.DataFrame, measure: str, scenario: str, reference: str | None = None) -> pd.DataFrame:
    """One row per (draw, path, replication) of ``scenario``: ``y`` (the measure, or its paired
    difference against ``reference``) and the future inflow factor."""
    if measure not in runs.columns:
        raise KeyError(f"the study's runs have no measure '{measure}'")
    key = ["draw", "path", "replication"]
    a = runs[runs["scenario"] == scenario].set_index(key)
    if a.empty:
        raise KeyError(f"no runs of scenario '{scenario}' in the study (it has {sorted(set(runs['scenario']))})")
    y = a[measure].astype(float)
    if reference is not None:
        b = runs[runs["scenario"] == reference].set_index(key)
        if b.empty:
            raise KeyError(f"no runs of the reference scenario '{reference}' in the study")
        y = y - b[measure].astype(float).reindex(y.index)
    out = pd.DataFrame({"y": y})
    if INFLOW in a.columns:
        out[INFLOW] = a[INFLOW].astype(float)
    return out.reset_index()


def _index(x: np.ndarray, y: np.ndarray, groups: np.ndarray, bins: int) -> float:
    """Binned first-order index; runs are ordered by x, and runs of one group stay together."""
    order = np.lexsort((groups, x))
    ys, gs = y[order], groups[order]
    # class boundaries at group changes closest to equal-count cuts
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    n = len(ys)
    cuts = sorted({int(starts[np.argmin(np.abs(starts - n * k / bins))]) for k in range(1, bins)} - {0})
    edges = [0, *cuts, n]
    means = np.array([ys[a:b].mean() for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a])
    sizes = np.array([b - a for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a], dtype=float)
    var = ys.var()
    if var <= 0 or len(means) < 2:
        return float("nan")
    return float(np.sum(sizes * (means - ys.mean()) ** 2) / n / var)


def first_order_indices(runs: pd.DataFrame, draws: pd.DataFrame, measure: str, scenario: str,
                        reference: str | None = None, *, bins: int = 10, permutations: int = 20,
                        bootstrap: int = 200, seed: int = 0) -> pd.DataFrame:
    """First-order indices of every calibrated parameter (the columns of ``draws``, one row per
    draw in the study's order) and of the future inflow factor, for ``measure`` of ``scenario``
    (or its paired difference against ``reference``).

    Returns one row per input: ``input``, ``index`` (bias-corrected), ``p05``, ``p95``
    (bootstrap over draws), ``raw`` (uncorrected) and ``bias``; and a last row
    ``stochastic (replications)`` with the share of the variance within draw and path, and
    ``total`` with the output's variance in ``raw``."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    data = study_output(runs, measure, scenario, reference)
    params = draws.drop(columns=["particle"], errors="ignore").reset_index(drop=True)
    if data["draw"].max() >= len(params):
        raise ValueError(f"the study has draw {int(data['draw'].max())} but only {len(params)} draws were given")
    y = data["y"].to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(f"'{measure}' is not finite in every run of {scenario}; the indices need every run")
    draw = data["draw"].to_numpy()
    path_group = draw * 10_000 + data["path"].to_numpy()
    inputs: dict[str, tuple[np.ndarray, np.ndarray]] = {
        c: (params[c].to_numpy(dtype=float)[draw], draw) for c in params.columns}
    if INFLOW in data.columns:
        inputs["future inflow factor"] = (data[INFLOW].to_numpy(dtype=float), path_group)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5E5,)))
    n_draws = int(draw.max()) + 1
    rows_by_draw = [np.flatnonzero(draw == d) for d in range(n_draws)]
    boot_sets = []
    for _ in range(bootstrap):
        pick = rng.integers(0, n_draws, size=n_draws)
        idx = np.concatenate([rows_by_draw[d] for d in pick])
        # resampled draws become distinct groups
        new_group = np.concatenate([np.full(len(rows_by_draw[d]), i) for i, d in enumerate(pick)])
        boot_sets.append((idx, new_group))
    perms = [rng.permutation(len(y)) for _ in range(permutations)]
    rows: list[dict[str, Any]] = []
    for name, (x, groups) in inputs.items():
        raw = _index(x, y, groups, bins)
        bias = float(np.mean([_index(x, y[p], groups, bins) for p in perms])) if permutations else 0.0
        boots = []
        for idx, new_group in boot_sets:
            sub_groups = new_group * 10_000 + (groups[idx] % 10_000 if name == "future inflow factor" else 0)
            xb, yb = x[idx], y[idx]
            # the bias of the resample itself (repeated draws make classes of copies, a larger bias)
            b_bias = np.mean([_index(xb, yb[rng.permutation(len(yb))], sub_groups, bins)
                              for _ in range(BOOTSTRAP_PERMUTATIONS)]) if permutations else 0.0
            boots.append(_index(xb, yb, sub_groups, bins) - b_bias)
        b = np.asarray(boots, dtype=float)
        b = b[np.isfinite(b)]
        rows.append({"input": name, "index": raw - bias, "p05": float(np.quantile(b, 0.05)) if b.size else np.nan,
                     "p95": float(np.quantile(b, 0.95)) if b.size else np.nan, "raw": raw, "bias": bias})
    within = data.groupby(["draw", "path"])["y"].transform(lambda s: s - s.mean()).to_numpy(dtype=float)
    rows.append({"input": "stochastic (replications)", "index": float(np.mean(within ** 2) / y.var())
                 if y.var() > 0 else np.nan, "p05": np.nan, "p95": np.nan, "raw": np.nan, "bias": np.nan})
    rows.append({"input": "total", "index": np.nan, "p05": np.nan, "p95": np.nan, "raw": float(y.var()),
                 "bias": np.nan})
    out = pd.DataFrame(rows)
    out.insert(0, "output", measure if reference is None else f"{measure}: {scenario} - {reference}")
    return out


#: Criteria of the verdict (summary columns), in the order the report lists them.
CRITERIA = ("criterion_not_viable", "criterion_no_rents", "criterion_gangs_collapsed",
            "criterion_rents_collapsed_vs_counterfactual")
#: Inputs and outputs compared between broken and intact runs.
PROFILE = (INFLOW, "critical_return_rate", "achieved_return_rate", "viable_demand_share")


def verdict_profile(runs: pd.DataFrame) -> pd.DataFrame:
    """Which runs break the business model: for every scenario with at least one broken run,
    the number broken, the medians of :data:`PROFILE` in broken and intact runs, and how many
    broken runs meet each criterion of :data:`CRITERIA` (a run may meet several)."""
    if "business_model_broken" not in runs.columns:
        raise KeyError("the study's runs have no 'business_model_broken'")
    rows = []
    for scenario, g in runs.groupby("scenario", sort=False):
        broken = g["business_model_broken"].astype(bool)
        if not broken.any():
            continue
        row: dict[str, Any] = {"scenario": scenario, "runs": len(g), "broken": int(broken.sum())}
        for col in PROFILE:
            if col in g.columns:
                row[f"{col}_broken"] = float(g.loc[broken, col].median())
                row[f"{col}_intact"] = float(g.loc[~broken, col].median()) if (~broken).any() else np.nan
        for c in CRITERIA:
            if c in g.columns:
                row[c] = int(g.loc[broken, c].astype(bool).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def format_verdict_profile(profile: pd.DataFrame) -> str:
    """Plain text of :func:`verdict_profile`: one paragraph per scenario."""
    if not len(profile):
        return "no run of the study breaks the business model"
    lines = ["runs that break the business model: medians in broken against intact runs"]
    for row in profile.to_dict("records"):
        lines.append(f"  {row['scenario']}: {row['broken']} of {row['runs']} runs broken")
        for col in PROFILE:
            if f"{col}_broken" in row:
                lines.append(f"    {col:<24} {row[f'{col}_broken']:.3g} against {row[f'{col}_intact']:.3g}")
        met = ", ".join(f"{c.removeprefix('criterion_')} {row[c]}" for c in CRITERIA if c in row)
        lines.append(f"    criteria met by the broken runs: {met}")
    return "\n".join(lines)


def plot_first_order(tables: Sequence[pd.DataFrame], titles: Sequence[str] | None = None, top: int = 10) -> Any:
    """One panel per table: the ``top`` inputs by index with their 90% bootstrap intervals, and
    the stochastic share."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(4.6 * len(tables), 3.8), squeeze=False)
    for k, (ax, t) in enumerate(zip(axes[0], tables, strict=True)):
        main = t[~t["input"].isin(["total", "stochastic (replications)"])].sort_values("index", ascending=False)
        main = main.head(top)
        noise = t[t["input"] == "stochastic (replications)"]
        names = [*main["input"], *noise["input"]]
        vals = [*main["index"], *noise["index"]]
        y = np.arange(len(names))
        colors = ["C0"] * len(main) + ["0.6"] * len(noise)
        ax.barh(y, np.clip(vals, 0, None), color=colors)
        lo = np.clip(main["index"] - main["p05"], 0, None)
        hi = np.clip(main["p95"] - main["index"], 0, None)
        ax.errorbar(main["index"], y[:len(main)], xerr=[lo, hi], fmt="none", ecolor="k", lw=1, capsize=2)
        ax.set_yticks(y, [n.replace("environment.", "").replace("gangs.", "").replace("migrants.", "")
                          .replace("patrols.", "").replace("groups.0.", "albanian ") for n in names], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("first-order index (share of variance)", fontsize=8)
        ax.set_title(titles[k] if titles else str(t["output"].iloc[0]), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


#: The outputs `make study` explains: (measure, scenario, reference, title).
STUDY_OUTPUTS = (
    ("arrivals_uk_policy_period", "pilot_50", "baseline", "pilot's effect on arrivals since the policy start"),
    ("gang_profit_gbp_window", "pilot_50", "baseline", "pilot's effect on rents (verdict window)"),
    ("critical_return_rate", "pilot_50", None, "critical return rate, pilot (the verdict's margin)"),
)


def read_study(folder: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs and the draws of a ``compare --posterior`` folder (its predictive_runs.csv and
    posterior_draws.csv)."""
    from pathlib import Path

    return pd.read_csv(Path(folder) / "predictive_runs.csv"), pd.read_csv(Path(folder) / "posterior_draws.csv")


def study_indices(folder: str | tuple[pd.DataFrame, pd.DataFrame],
                  outputs: Sequence[tuple[str, str, str | None, str]] = STUDY_OUTPUTS,
                  **kwargs: Any) -> tuple[pd.DataFrame, list[pd.DataFrame], list[str]]:
    """The indices of ``outputs`` from a ``compare --posterior`` folder (or its
    :func:`read_study` tables); outputs whose scenarios the study lacks are skipped."""
    runs, draws = read_study(folder) if isinstance(folder, str | PathLike) else folder
    tables, titles = [], []
    have = set(runs["scenario"])
    for measure, scenario, reference, title in outputs:
        if scenario in have and (reference is None or reference in have) and measure in runs.columns:
            tables.append(first_order_indices(runs, draws, measure, scenario, reference, **kwargs))
            titles.append(title)
    if not tables:
        raise ValueError(f"the study in {folder} has none of the scenarios of {[o[1] for o in outputs]}")
    return pd.concat(tables, ignore_index=True), tables, titles


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="python -m sim.experiments.posterior_sensitivity",
                                 description="first-order indices over a predictive study (compare --posterior)")
    ap.add_argument("--study", default="outputs/study", help="the compare --posterior output folder")
    ap.add_argument("--figures", default=None, help="also write the table and figure here (e.g. docs/study)")
    ap.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of the draws (default 200)")
    args = ap.parse_args(argv)
    runs, draws = read_study(args.study)
    table, tables, titles = study_indices((runs, draws), bootstrap=args.bootstrap)
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(table[["output", "input", "index", "p05", "p95"]].round(3).to_string(index=False))
    fig = plot_first_order(tables, titles)
    profile = verdict_profile(runs) if "business_model_broken" in runs.columns else None
    if profile is not None:
        print()
        print(format_verdict_profile(profile))
    for d in {args.study, args.figures} - {None}:
        Path(d).mkdir(parents=True, exist_ok=True)
        if profile is not None:
            profile.to_csv(Path(d) / "verdict_profile.csv", index=False)
        table.to_csv(Path(d) / "posterior_sensitivity.csv", index=False)
        fig.savefig(Path(d) / "posterior_sensitivity.png", dpi=150)
        print(f"table: {Path(d) / 'posterior_sensitivity.csv'}\nfigure: {Path(d) / 'posterior_sensitivity.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
