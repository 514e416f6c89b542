"""Phase diagrams: where in a two-factor grid the business model breaks.

:func:`phase_diagram` reads a store made from a grid over two factors (for example the
weekly returns quota against the UK's payment to France for beach patrols, the sweep
``sim/configs/sweeps/quota_vs_interception.yaml``) and gives, for each cell, the probability
that the business model is broken (the share of replications whose verdict
``business_model_broken`` is true, with a Wilson 95% interval) and the mean market profit
margin of the last 26 weeks (with a Student-t interval). :func:`plot_phase` draws either
as an annotated heat map::

    store = run_experiment(load_sweep(CONFIG_DIR / "sweeps" / "quota_vs_interception.yaml"), "outputs/qvi")
    df = phase_diagram(store)
    plot_phase(df, "returns.quota_per_week", "patrols.uk_payment_gbp_per_year").savefig("phase.png")
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.stats import mean_ci, wilson_interval
from sim.experiments.store import ExperimentStore

__all__ = ["phase_diagram", "plot_phase", "FACTOR_LABELS", "wilson_interval"]  # wilson_interval: from .stats

#: Axis labels (and a scale) for factors commonly put on a phase diagram.
FACTOR_LABELS: dict[str, tuple[str, float, str]] = {
    "returns.quota_per_week": ("weekly returns quota (returns/week)", 1.0, "{:,.0f}"),
    "patrols.uk_payment_gbp_per_year": (
        "UK payment to France for patrols (GBP m/year)",
        1e-6,
        "{:,.0f}",
    ),
    "patrols.base_capacity_units": ("French patrol capacity (units)", 1.0, "{:,.0f}"),
    "patrols.at_sea_interception_prob": ("at-sea interception probability", 1.0, "{:.2f}"),
    "migrants.valuation_median_gbp": (
        "median valuation of staying in the UK (GBP k)",
        1e-3,
        "{:,.0f}",
    ),
    "migrants.wealth_median_gbp": ("median wealth (GBP k)", 1e-3, "{:,.1f}"),
    "beliefs.memory_half_life_days": ("belief memory half-life (days)", 1.0, "{:,.0f}"),
    "beliefs.rumour_trust": ("trust in rumours", 1.0, "{:.2f}"),
}
VALUE_LABELS = {
    "p_broken": "P(business model broken)",
    "market_profit_margin": "mean market profit margin, last 26 weeks",
}


def phase_diagram(
    store: ExperimentStore, x: str | None = None, y: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Probability of a broken business model and mean profit margin on a two-factor grid.

    Parameters
    ----------
    store
        A store whose design sweeps (at least) the two factors.
    x, y
        The two factors (dotted paths). By default the design's two factors, in the
        design's column order. With more factors in the design, the runs at the other
        factors' levels are pooled into each (x, y) cell.
    level
        Level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (x, y) cell, sorted by x then y: the two factors, ``replications``,
        ``n_broken``, ``p_broken`` with ``p_broken_lower``/``p_broken_upper`` (Wilson),
        ``market_profit_margin`` with ``market_profit_margin_lower``/``_upper`` (t).

    Raises
    ------
    ValueError
        If the store has no successful runs, the factors cannot be determined, a factor
        is not in the design, or the summaries lack the verdict or the margin.
    """
    if not store.exists():
        raise ValueError(f"{store.path} is not an experiment store (no manifest.json)")
    manifest = store.read_manifest()
    factors = [c for c in (manifest.get("design") or {}).get("columns", []) if c != "scenario"]
    if x is None and y is None:
        if len(factors) != 2:
            raise ValueError(
                f"the design of {store.path} has {len(factors)} factors {factors}; "
                "name the two for the diagram with x= and y="
            )
        x, y = factors
    if x is None or y is None or x == y:
        raise ValueError(f"give two different factors x and y (the design has {factors})")
    for f in (x, y):
        if f not in factors:
            raise ValueError(f"factor '{f}' is not swept in {store.path}; the design has {factors}")
    runs = store.runs(columns=["run_id", "params", "status"])
    summ = store.summaries()
    if not len(summ):
        raise ValueError(f"{store.path} has no successful runs")
    for col in ("business_model_broken", "market_profit_margin"):
        if col not in summ.columns:
            raise ValueError(
                f"the summaries of {store.path} have no '{col}' (is this a Channel-model store?)"
            )
    ok = runs[runs["status"] == "ok"]
    params = pd.DataFrame([json.loads(p) for p in ok["params"]], index=ok.index)
    base = manifest.get("base_config") or {}
    for f in (x, y):
        if f not in params.columns:
            params[f] = np.nan
        params[f] = params[f].fillna(_dotted(base, f))
    cells = pd.concat([ok[["run_id"]], params[[x, y]]], axis=1).merge(
        summ[["run_id", "business_model_broken", "market_profit_margin"]], on="run_id"
    )
    rows = []
    for (vx, vy), g in cells.groupby([x, y], sort=True):
        broken = g["business_model_broken"].astype(bool).to_numpy()
        k, n = int(broken.sum()), len(broken)
        plo, phi = wilson_interval(k, n, level)
        m, mlo, mhi, _ = mean_ci(g["market_profit_margin"].astype(float).to_numpy(), level)
        rows.append(
            {
                x: vx,
                y: vy,
                "replications": n,
                "n_broken": k,
                "p_broken": k / n,
                "p_broken_lower": plo,
                "p_broken_upper": phi,
                "market_profit_margin": m,
                "market_profit_margin_lower": mlo,
                "market_profit_margin_upper": mhi,
            }
        )
    return pd.DataFrame(rows)


def _dotted(d: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(d, list) and part.isdigit():
            d = d[int(part)]
        elif isinstance(d, dict) and part in d:
            d = d[part]
        else:
            return np.nan
    return d


def _tick(factor: str, v: Any) -> str:
    _, scale, fmt = FACTOR_LABELS.get(factor, (factor, 1.0, "{:g}"))
    try:
        return fmt.format(float(v) * scale)
    except (TypeError, ValueError):
        return str(v)


def plot_phase(
    df: pd.DataFrame,
    x: str,
    y: str,
    value: str = "p_broken",
    *,
    ax: Any = None,
    title: str | None = None,
    annotate: bool = True,
    cmap: str | None = None,
) -> Any:
    """Heat map of a phase-diagram value over the two factors.

    Cells are placed by level (evenly spaced whatever the values), labelled with each
    factor's levels, annotated with the value (a probability for ``p_broken``, a
    percentage for the margin), with a colour bar.

    Parameters
    ----------
    df
        A table from :func:`phase_diagram`.
    x, y
        The factors on the horizontal and vertical axes.
    value
        The column to show (``p_broken`` or ``market_profit_margin``, or any other).
    ax
        A matplotlib Axes to draw on (default: a new figure).
    title
        Figure title (default: the value's description).
    annotate
        Write the value in each cell.
    cmap
        Colour map (default: ``viridis`` for a probability, ``RdYlGn`` for the margin).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If a column is missing or a cell appears twice.
    """
    import matplotlib.pyplot as plt

    for col in (x, y, value):
        if col not in df.columns:
            raise ValueError(f"column '{col}' is not in the table; it has {list(df.columns)}")
    if df.duplicated([x, y]).any():
        raise ValueError(f"the table has several rows for some ({x}, {y}) cells; aggregate first")
    table = df.pivot(index=y, columns=x, values=value).sort_index().sort_index(axis=1)
    z = table.to_numpy(dtype=float)
    is_prob = value.startswith("p_")
    is_margin = "margin" in value
    if ax is None:
        fig, ax = plt.subplots(
            figsize=(max(5.0, 0.9 * z.shape[1] + 3), max(3.5, 0.7 * z.shape[0] + 2)),
            layout="constrained",
        )
    else:
        fig = ax.figure
    kw: dict[str, Any] = {
        "cmap": cmap or ("viridis" if is_prob else "RdYlGn" if is_margin else "viridis")
    }
    if is_prob:
        kw.update(vmin=0.0, vmax=1.0)
    elif is_margin and np.isfinite(z).any():
        lim = float(np.nanmax(np.abs(z))) or 1.0
        kw.update(vmin=-lim, vmax=lim)
    mesh = ax.pcolormesh(
        np.arange(z.shape[1] + 1) - 0.5,
        np.arange(z.shape[0] + 1) - 0.5,
        np.ma.masked_invalid(z),
        **kw,
    )
    cbar = fig.colorbar(mesh, ax=ax)
    cbar.set_label(VALUE_LABELS.get(value, value))
    ax.set_xticks(range(z.shape[1]), [_tick(x, v) for v in table.columns])
    ax.set_yticks(range(z.shape[0]), [_tick(y, v) for v in table.index])
    ax.set_xlabel(FACTOR_LABELS.get(x, (x,))[0])
    ax.set_ylabel(FACTOR_LABELS.get(y, (y,))[0])
    if annotate:
        norm = mesh.norm
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                v = z[i, j]
                if not np.isfinite(v):
                    continue
                text = f"{v:.2f}" if is_prob else f"{v:.0%}" if is_margin else f"{v:.3g}"
                shade = float(norm(v))
                # white text on dark cells: the low end of viridis, both ends of a diverging map
                light = shade < 0.55 if kw["cmap"] == "viridis" else not 0.12 < shade < 0.88
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if light else "black",
                )
    ax.set_title(title or VALUE_LABELS.get(value, value))
    return fig


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.experiments.phase``: run a two-factor sweep (by default the shipped
    quota x interception sweep), over the posterior with ``--posterior``, and write its phase
    diagram (table and figure)."""
    import argparse
    import dataclasses
    from pathlib import Path

    from sim.experiments.engine import run_experiment
    from sim.experiments.predictive import cross_with_posterior, posterior_draws
    from sim.experiments.spec import load_sweep
    from sim.experiments.tasks import OutputSpec

    ap = argparse.ArgumentParser(prog="python -m sim.experiments.phase",
                                 description="phase diagram of a two-factor sweep, optionally over the posterior")
    ap.add_argument("--sweep", default="quota_vs_interception", help="sweep file (shipped name or path)")
    ap.add_argument("--posterior", default=None, help="calibration folder: run every point for posterior draws")
    ap.add_argument("--draws", type=int, default=10, help="posterior draws (the study's first ones; default 10)")
    ap.add_argument("--paths", type=int, default=1, help="future inflow paths per draw (default 1)")
    ap.add_argument("--replications", type=int, default=None, help="replications per point (and draw, path)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="outputs/phase", help="the sweep's store (resumable)")
    ap.add_argument("--figures", default=None, help="also write the table and figure here")
    args = ap.parse_args(argv)
    exp = load_sweep(args.sweep, replications=args.replications)
    factors = [c for c in exp.design.points.columns if c != "scenario"]
    if len(factors) != 2:
        ap.error(f"the sweep {args.sweep} has {len(factors)} factors {factors}; a phase diagram needs two")
    x, y = factors
    label = "replications"
    if args.posterior:
        draws = posterior_draws(args.posterior, args.draws, seed=0)
        exp = dataclasses.replace(exp, design=cross_with_posterior(exp.design, draws, args.paths),
                                  name=f"{exp.name}_posterior", outputs=OutputSpec(frequency="end"))
        label = (f"{args.draws} posterior draws x {args.paths} future inflow path(s) x "
                 f"{exp.design.replications} replication(s)")
    store = run_experiment(exp, args.out, workers=args.workers, progress=True)
    df = phase_diagram(store, x, y, level=0.90 if args.posterior else 0.95)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"{exp.name}: P(business model broken) and market margin per cell, over {label}")
        print(df.round(3).to_string(index=False))
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
    plot_phase(df, x, y, "p_broken", ax=axes[0], title=f"P(business model broken), {label}")
    plot_phase(df, x, y, "market_profit_margin", ax=axes[1], title="mean market profit margin, last 26 weeks")
    for d in {args.out, args.figures} - {None}:
        Path(d).mkdir(parents=True, exist_ok=True)
        stem = "phase_posterior" if args.posterior else "phase"
        df.to_csv(Path(d) / f"{stem}.csv", index=False)
        fig.savefig(Path(d) / f"{stem}.png", dpi=150)
        print(f"table: {Path(d) / (stem + '.csv')}\nfigure: {Path(d) / (stem + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
