"""Matplotlib figures of runs (used by the command line, the notebooks and the README)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["plot_overview", "save_figures", "OVERVIEW_PANELS"]

#: (column, title, how to aggregate by month)
OVERVIEW_PANELS: tuple[tuple[str, str, str], ...] = (
    ("arrivals_uk", "Arrivals in the UK (people/month)", "sum"),
    ("returns", "Returns to France (people/month)", "sum"),
    ("mean_price_gbp", "Mean price per seat (GBP)", "mean"),
    ("gang_profit_gbp", "Gangs' profit (GBP million/month)", "sum_millions"),
    ("active_gangs", "Active gangs (end of month)", "last"),
    ("waiting_at_coast", "People at the French coast (mean)", "mean"),
    ("people_per_boat", "People per boat (mean)", "mean"),
    ("deaths", "Deaths at sea (people/month)", "sum"),
    ("left_route", "Left the route (people/month)", "sum"),
)


def plot_overview(runs: Mapping[str, pd.DataFrame], *, since: str | None = None,
                  panels: Sequence[tuple[str, str, str]] = OVERVIEW_PANELS) -> plt.Figure:
    """Monthly time series of several runs side by side, one panel per measure.

    Parameters
    ----------
    runs
        Scenario name -> daily time series (``RunResult.timeseries``).
    since
        Optional first date shown (e.g. ``"2025-01-01"``).
    """
    if since is not None and all(ts.index[-1] < pd.Timestamp(since) for ts in runs.values()):
        since = None  # the runs end before `since`: show them whole
    ncols = 3
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.0 * nrows), sharex=True, squeeze=False)
    policy = _policy_start(runs)
    for ax, (col, title, how) in zip(axes.flat, panels, strict=False):
        for name, ts in runs.items():
            s = ts[col]
            if since:
                s = s[s.index >= pd.Timestamp(since)]
            if how == "sum_millions":
                monthly = s.resample("MS").sum() / 1e6
            else:
                monthly = s.resample("MS").agg(how)
            monthly.plot(ax=ax, label=name, lw=1.4)
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
