"""Matplotlib figures of runs (used by the command line, the notebooks and the README)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from sim.metrics import resample

__all__ = ["plot_overview", "save_figures", "OVERVIEW_PANELS", "plot_comparison_bands", "plot_paired_differences",
           "save_comparison_figures"]

#: (column, title, display scale): each column is aggregated by month as
#: ``sim.metrics.aggregation_of`` says (flows summed, levels averaged, stocks at the
#: month's end) and then multiplied by the scale (1e-6 shows GBP in millions).
OVERVIEW_PANELS: tuple[tuple[str, str, float], ...] = (
    ("arrivals_uk", "Arrivals in the UK (people/month)", 1.0),
    ("returns", "Returns to France (people/month)", 1.0),
    ("mean_price_gbp", "Mean price per seat (GBP)", 1.0),
    ("gang_profit_gbp", "Gangs' profit (GBP million/month)", 1e-6),
    ("active_gangs", "Active gangs (end of month)", 1.0),
    ("waiting_at_coast", "People at the French coast (mean)", 1.0),
    ("people_per_boat", "People per boat (mean)", 1.0),
    ("deaths", "Deaths at sea (people/month)", 1.0),
    ("left_route", "Left the route (people/month)", 1.0),
)


def plot_overview(runs: Mapping[str, pd.DataFrame], *, since: str | None = None,
                  panels: Sequence[tuple[str, str, float]] = OVERVIEW_PANELS) -> plt.Figure:
    """Monthly time series of several runs side by side, one panel per measure.

    Parameters
    ----------
    runs
        Scenario name -> daily time series (``RunResult.timeseries``).
    since
        Optional first date shown (e.g. ``"2025-01-01"``).
    panels
        (column, title, display scale) per panel; the months are aggregated by
        ``sim.metrics.resample``.
    """
    if since is not None and all(ts.index[-1] < pd.Timestamp(since) for ts in runs.values()):
        since = None  # the runs end before `since`: show them whole
    ncols = 3
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.0 * nrows), sharex=True, squeeze=False)
    policy = _policy_start(runs)
    columns = list(dict.fromkeys(col for col, _, _ in panels))
    monthly = {name: resample(ts[ts.index >= pd.Timestamp(since)] if since else ts, "MS", columns)
               for name, ts in runs.items()}
    for ax, (col, title, scale) in zip(axes.flat, panels, strict=False):
        for name, table in monthly.items():
            (table[col] * scale).plot(ax=ax, label=name, lw=1.4)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("")
        ax.grid(alpha=0.3)
        if policy is not None:
            ax.axvline(policy, color="grey", lw=0.8, ls="--")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _policy_start(runs: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    """First day any run returned someone (marks the policy start on every panel)."""
    starts = [ts.index[ts["returns"].to_numpy() > 0][0] for ts in runs.values() if (ts["returns"] > 0).any()]
    return min(starts) if starts else None


def save_figures(runs: Mapping[str, pd.DataFrame], out_dir: str | Path, *, since: str | None = None) -> list[Path]:
    """Write the overview figure (PNG) to ``out_dir``; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = plot_overview(runs, since=since)
    path = out / "overview.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


#: Time-series panels of a comparison (variable, title); monthly values from the store.
COMPARISON_PANELS: tuple[tuple[str, str], ...] = (
    ("arrivals_uk", "Arrivals in the UK (people/month)"),
    ("returns", "Returns to France (people/month)"),
    ("mean_price_gbp", "Mean price per seat (GBP)"),
    ("gang_profit_gbp", "Gangs' profit (GBP/month)"),
    ("active_gangs", "Active gangs"),
    ("waiting_at_coast", "People at the French coast"),
)


def plot_comparison_bands(comparison, *, since: str | None = "2024-01-01",
                          panels: Sequence[tuple[str, str]] = COMPARISON_PANELS) -> plt.Figure:
    """Mean and 95% band over replications of monthly series, one line per scenario."""
    ncols = 3
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.0 * nrows), sharex=True, squeeze=False)
    for ax, (var, title) in zip(axes.flat, panels, strict=False):
        bands = comparison.timeseries_bands(var)
        for name in comparison.scenarios:
            b = bands[bands["scenario"] == name].set_index("date").sort_index()
            if since is not None and (b.index >= pd.Timestamp(since)).any():
                b = b[b.index >= pd.Timestamp(since)]
            (line,) = ax.plot(b.index, b["mean"], lw=1.4, label=name)
            ax.fill_between(b.index, b["lower"], b["upper"], color=line.get_color(), alpha=0.2, lw=0)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def plot_paired_differences(comparison, measures: Sequence[str] = ("arrivals_uk_policy_period", "deaths",
                                                                   "left_route", "market_profit_margin")) -> plt.Figure:
    """Paired differences against the reference scenario, with 95% intervals (one panel each)."""
    d = comparison.differences
    measures = [m for m in measures if m in set(d["measure"])] if len(d) else []
    fig, axes = plt.subplots(1, max(len(measures), 1), figsize=(4.2 * max(len(measures), 1), 2.8), squeeze=False)
    for ax, m in zip(axes.flat, measures, strict=False):
        sub = d[d["measure"] == m]
        y = range(len(sub))
        ax.errorbar(sub["difference"], y, xerr=[sub["difference"] - sub["lower"], sub["upper"] - sub["difference"]],
                    fmt="o", capsize=3)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(list(y), sub["scenario"])
        ax.set_title(f"{m}\nminus {comparison.scenarios[0]}", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_comparison_figures(comparison, out_dir: str | Path) -> list[Path]:
    """Write the comparison figures (PNG) to ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in (("comparison_timeseries.png", plot_comparison_bands(comparison)),
                      ("comparison_differences.png", plot_paired_differences(comparison))):
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
