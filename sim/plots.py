"""Matplotlib figures of runs (used by the command line, the notebooks and the README)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import ticker
from matplotlib.lines import Line2D

from sim.metrics import resample

__all__ = ["plot_overview", "save_figures", "OVERVIEW_PANELS", "plot_comparison_bands", "plot_paired_differences",
           "plot_means", "save_comparison_figures", "COMPARISON_PANELS", "DIFFERENCE_MEASURES", "FORMATS"]

#: File formats the figures can be written in (``fmt`` of the ``save_*`` functions).
FORMATS = ("png", "svg", "pdf")
#: Resolution of PNG figures (vector formats ignore it).
DPI = 150
#: The policy-start line: dashed grey, labelled in the legend.
POLICY_LINE = {"color": "0.35", "lw": 1.0, "ls": "--"}
#: A dated change of a scenario's timeline (sim/timeline.py): a thin line.
CHANGE_LINE = {"color": "0.6", "lw": 0.6, "ls": "-", "alpha": 0.7}

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
    shown_from = min((t.index[0] for t in monthly.values() if len(t)), default=None)
    if policy is not None and shown_from is not None and policy < shown_from:
        policy = None   # before the first month shown
    changes = _change_days(runs, shown_from)
    # a run of a month or two: points (a line through one month draws nothing), a few weeks either side
    short = all(len(t) <= 2 for t in monthly.values()) and shown_from is not None
    for ax, (col, title, scale) in zip(axes.flat, panels, strict=False):
        for name, table in monthly.items():
            if short:
                ax.plot(table.index, table[col] * scale, label=name, lw=1.4, marker="o", ms=4)
                ax.set_xlim(shown_from - pd.Timedelta(days=45),
                            max(t.index[-1] for t in monthly.values() if len(t)) + pd.Timedelta(days=45))
            else:
                (table[col] * scale).plot(ax=ax, label=name, lw=1.4)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("")
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(_number))
        if policy is not None:
            ax.axvline(policy, **POLICY_LINE)
        for d in changes:
            ax.axvline(d, **CHANGE_LINE)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if short:
        fig.autofmt_xdate()
    extra = [(Line2D([], [], **CHANGE_LINE), "timeline change")] if changes else []
    _figure_legend(fig, axes.flat[0], policy_label="policy start" if policy is not None else None, extra=extra)
    return fig


def _change_days(runs: Mapping[str, pd.DataFrame], shown_from: pd.Timestamp | None) -> list[pd.Timestamp]:
    """Days on which any run put a timeline change in force (``timeline_changes``), from ``shown_from``."""
    days: set[pd.Timestamp] = set()
    for ts in runs.values():
        if "timeline_changes" in ts:
            days.update(ts.index[ts["timeline_changes"].to_numpy() > 0])
    return sorted(d for d in days if shown_from is None or d >= shown_from)


def _policy_start(runs: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    """First day any run returned someone (marks the policy start on every panel)."""
    starts = [ts.index[ts["returns"].to_numpy() > 0][0] for ts in runs.values() if (ts["returns"] > 0).any()]
    return min(starts) if starts else None


def _number(value: float, _pos: Any = None) -> str:
    """Tick label without offsets or scientific notation: thousands separated, decimals only when small."""
    a = abs(value)
    if a >= 100 or value == int(value):
        return f"{value:,.0f}"
    if a >= 1:
        return f"{value:,.1f}"
    return f"{value:.2g}"


def _figure_legend(fig: plt.Figure, ax: plt.Axes, *, policy_label: str | None = None,
                   extra: Sequence[tuple[Any, str]] = ()) -> None:
    """One legend for the figure, below the panels (never over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if not lab.startswith("_")]
    if policy_label is not None:
        keep.append((Line2D([], [], **POLICY_LINE), policy_label))
    keep += list(extra)
    if not keep:
        fig.tight_layout()
        return
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend([h for h, _ in keep], [lab for _, lab in keep], loc="lower center", ncol=min(len(keep), 6),
               fontsize=9, frameon=False)


def save_figures(runs: Mapping[str, pd.DataFrame], out_dir: str | Path, *, since: str | None = None,
                 fmt: str = "png") -> list[Path]:
    """Write the overview figure to ``out_dir`` as ``overview.<fmt>`` (png, svg or pdf); return the paths written."""
    _check_format(fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = plot_overview(runs, since=since)
    path = out / f"overview.{fmt}"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [path]


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"figure format must be one of {', '.join(FORMATS)}; got {fmt!r}")


#: Time-series panels of a comparison (variable, title); monthly values from the store.
#: Money (variables with ``gbp`` in the name, except prices) is shown in GBP million.
COMPARISON_PANELS: tuple[tuple[str, str], ...] = (
    ("arrivals_uk", "Arrivals in the UK (people/month)"),
    ("returns", "Returns to France (people/month)"),
    ("mean_price_gbp", "Mean price per seat (GBP)"),
    ("gang_profit_gbp", "Gangs' profit (GBP million/month)"),
    ("active_gangs", "Active gangs"),
    ("waiting_at_coast", "People at the French coast"),
)

#: Summary measures of the paired-differences figure (labels: ``COMPARE_MEASURES``).
DIFFERENCE_MEASURES: tuple[str, ...] = (
    "arrivals_uk_policy_period", "returns", "deaths", "left_route", "market_profit_margin", "gang_profit_gbp_window",
)

#: Money measures shown in GBP, not GBP million (prices and costs per person).
_GBP_PER_UNIT = ("mean_price_gbp", "ac_min_gbp", "cost_per_return_gbp", "cost_per_crossing_prevented_gbp")


def _unit(measure: str) -> str:
    """How a measure is shown: ``percent`` (shares, rates, margins, shares of runs), ``gbp_million``
    (money totals), or ``number``."""
    if (measure.startswith("criterion_") or measure == "business_model_broken"
            or any(w in measure for w in ("share", "rate", "margin"))):
        return "percent"
    if "gbp" in measure and measure not in _GBP_PER_UNIT:
        return "gbp_million"
    return "number"


def _scale(measure: str) -> float:
    return 1e-6 if _unit(measure) == "gbp_million" else 1.0


def _format_axis(axis: Any, measure: str) -> None:
    axis.set_major_locator(ticker.MaxNLocator(nbins=5))   # labels such as -70,000 must not run together
    if _unit(measure) == "percent":
        axis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    else:
        axis.set_major_formatter(ticker.FuncFormatter(_number))


def _policy_starts(comparison: Any) -> list[tuple[pd.Timestamp, str]]:
    """The policy start date of each scenario of a comparison (from its configuration), one
    entry per distinct date, labelled with the scenarios that start then."""
    from sim.config import load_config

    try:
        overrides = comparison.store.read_manifest().get("overrides") or {}
    except Exception:  # noqa: BLE001 - a store without a manifest: no line
        overrides = {}
    starts: dict[pd.Timestamp, list[str]] = {}
    policies = comparison.scenarios[1:] or comparison.scenarios
    for name in policies:
        try:
            cfg = load_config(name, overrides=overrides)
        except Exception:  # noqa: BLE001 - a scenario file moved since: no line for it
            continue
        r = cfg.returns
        has_policy = r.quota_per_week == "all" or r.quota_per_week > 0 or bool(r.return_rate)
        if has_policy or r.start_date > cfg.start_date:
            starts.setdefault(pd.Timestamp(cfg.returns.start_date), []).append(name)
    if len(starts) == 1:
        return [(next(iter(starts)), "policy start")]
    return [(d, f"policy start ({', '.join(names)})") for d, names in sorted(starts.items())]


def _timeline_dates(comparison: Any) -> list[pd.Timestamp]:
    """The dates of the compared scenarios' timeline changes (sim/timeline.py)."""
    from sim.config import load_config

    try:
        overrides = comparison.store.read_manifest().get("overrides") or {}
    except Exception:  # noqa: BLE001 - a store without a manifest
        overrides = {}
    dates: set[pd.Timestamp] = set()
    for name in comparison.scenarios:
        try:
            dates.update(pd.Timestamp(e.date) for e in load_config(name, overrides=overrides).timeline)
        except Exception:  # noqa: BLE001 - a scenario file moved since: no lines for it
            continue
    return sorted(dates)


def plot_comparison_bands(comparison, *, since: str | None = "2024-01-01",
                          panels: Sequence[tuple[str, str]] = COMPARISON_PANELS) -> plt.Figure:
    """Mean and 95% band over replications of monthly series, one line per scenario; the policy
    start is a dashed line; money in GBP million; the legend below the panels."""
    ncols = 3
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.0 * nrows + 0.5), sharex=True, squeeze=False)
    starts = _policy_starts(comparison)
    styles = [{"color": "0.35", "lw": 1.0, "ls": ls} for ls in ("--", ":", "-.", (0, (5, 1)))]
    first = last = None
    for ax, (var, title) in zip(axes.flat, panels, strict=False):
        bands = comparison.timeseries_bands(var)
        scale = _scale(var)
        for name in comparison.scenarios:
            b = bands[bands["scenario"] == name].set_index("date").sort_index()
            if since is not None and (b.index >= pd.Timestamp(since)).any():
                b = b[b.index >= pd.Timestamp(since)]
            if len(b):
                first = b.index[0] if first is None else min(first, b.index[0])
                last = b.index[-1] if last is None else max(last, b.index[-1])
            short = len(b) <= 2   # a run of a month or two: a line or a band of one point draws nothing
            (line,) = ax.plot(b.index, b["mean"] * scale, lw=1.4, label=name, marker="o" if short else None, ms=4)
            ax.fill_between(b.index, b["lower"] * scale, b["upper"] * scale, color=line.get_color(), alpha=0.2, lw=0)
            if short:
                ax.vlines(b.index, b["lower"] * scale, b["upper"] * scale, color=line.get_color(), alpha=0.4, lw=6)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        _format_axis(ax.yaxis, var)
    shown = [(d, lab) for d, lab in starts if first is not None and first <= d <= last + pd.offsets.MonthEnd(1)]
    changes = [d for d in _timeline_dates(comparison) if first is not None and first <= d <= last]
    for ax in list(axes.flat)[:len(panels)]:
        for (d, _), style in zip(shown, styles, strict=False):
            ax.axvline(d, **style)
        for d in changes:
            ax.axvline(d, **CHANGE_LINE)
    if first is not None and last - first < pd.Timedelta(days=62):   # a month or two: not years of empty axis
        for ax in list(axes.flat)[:len(panels)]:
            ax.set_xlim(first - pd.Timedelta(days=45), last + pd.Timedelta(days=45))
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.autofmt_xdate()
    extra = [(Line2D([], [], **style), lab) for (_, lab), style in zip(shown, styles, strict=False)]
    if changes:
        extra.append((Line2D([], [], **CHANGE_LINE), "timeline change"))
    extra.append((plt.Rectangle((0, 0), 1, 1, color="0.5", alpha=0.2, lw=0), "95% band over replications"))
    _figure_legend(fig, axes.flat[0], extra=extra)
    return fig


def _title(measure: str, width: int = 38) -> str:
    from sim.experiments.analysis import COMPARE_MEASURES

    label = COMPARE_MEASURES.get(measure, measure.replace("_", " "))
    if _unit(measure) == "gbp_million":
        label = label.replace("(GBP)", "(GBP million)") if "(GBP)" in label else f"{label} (GBP million)"
    return textwrap.fill(label[:1].upper() + label[1:], width)


def plot_paired_differences(comparison, measures: Sequence[str] = DIFFERENCE_MEASURES) -> plt.Figure:
    """Paired differences against the reference scenario, with 95% intervals: one panel per
    measure in a grid, titled by its label (``COMPARE_MEASURES``), shares and margins in
    percentage points, money in GBP million."""
    d = comparison.differences
    measures = [m for m in measures if m in set(d["measure"])] if len(d) else []
    n = max(len(measures), 1)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    n_scen = max(len(comparison.scenarios) - 1, 1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, (1.6 + 0.35 * n_scen) * nrows + 0.6),
                             squeeze=False)
    for ax, m in zip(axes.flat, measures, strict=False):
        sub = d[d["measure"] == m]
        scale = _scale(m)
        y = list(range(len(sub)))
        diff = sub["difference"] * scale
        ax.errorbar(diff, y, xerr=[diff - sub["lower"] * scale, sub["upper"] * scale - diff], fmt="o", capsize=3)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, sub["scenario"])
        ax.set_ylim(-0.6, len(sub) - 0.4)
        ax.set_title(_title(m), fontsize=9)
        ax.grid(alpha=0.3)
        _format_axis(ax.xaxis, m)
        ax.tick_params(axis="x", labelsize=8)
        if _unit(m) == "percent":
            ax.set_xlabel("percentage points", fontsize=8)
    if not measures:
        axes.flat[0].text(0.5, 0.5, "no paired differences", ha="center", va="center", transform=axes.flat[0].transAxes)
        axes.flat[0].set_axis_off()
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(f"Paired difference from {comparison.scenarios[0]}: mean and 95% interval over replications",
                 fontsize=10)
    fig.tight_layout()
    return fig


def plot_means(comparison, measures: Sequence[str] = DIFFERENCE_MEASURES) -> plt.Figure:
    """Each scenario's mean with its 95% interval over replications (cut at the measure's
    bounds, as in the printed table): one panel per measure, titled by its label
    (``COMPARE_MEASURES``), shares in percent, money in GBP million. The figure of a
    one-scenario comparison, which has no paired differences to show."""
    t = comparison.table
    measures = [m for m in measures if m in set(t["measure"])] if len(t) else []
    n = max(len(measures), 1)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    n_scen = max(len(comparison.scenarios), 1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, (1.6 + 0.35 * n_scen) * nrows + 0.6),
                             squeeze=False)
    for ax, m in zip(axes.flat, measures, strict=False):
        sub = t[t["measure"] == m].set_index("scenario").reindex(comparison.scenarios)
        scale = _scale(m)
        y = list(range(len(sub)))
        mean = sub["mean"] * scale
        err = [(mean - sub["lower"] * scale).fillna(0), (sub["upper"] * scale - mean).fillna(0)]
        ax.errorbar(mean, y, xerr=err, fmt="o", capsize=3)
        ax.set_yticks(y, list(sub.index))
        ax.set_ylim(-0.6, len(sub) - 0.4)
        ax.set_title(_title(m), fontsize=9)
        ax.grid(alpha=0.3)
        _format_axis(ax.xaxis, m)
        ax.tick_params(axis="x", labelsize=8)
    if not measures:
        axes.flat[0].text(0.5, 0.5, "no summary measures", ha="center", va="center", transform=axes.flat[0].transAxes)
        axes.flat[0].set_axis_off()
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    reps = int(t["n"].max()) if len(t) else 0
    fig.suptitle(f"Mean and 95% interval over {reps} replications", fontsize=10)
    fig.tight_layout()
    return fig


def save_comparison_figures(comparison, out_dir: str | Path, *, fmt: str = "png") -> list[Path]:
    """Write the comparison figures to ``out_dir`` (png, svg or pdf) and return the paths:
    ``comparison_timeseries.<fmt>`` (monthly bands) and ``comparison_differences.<fmt>``
    (paired differences against the first scenario); a one-scenario comparison, which has no
    differences, gets ``comparison_means.<fmt>`` (its means with intervals) instead."""
    _check_format(fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    second = ("comparison_differences", plot_paired_differences) if len(comparison.scenarios) > 1 else \
        ("comparison_means", plot_means)
    for name, make in (("comparison_timeseries", plot_comparison_bands), second):
        fig = make(comparison)
        path = out / f"{name}.{fmt}"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        paths.append(path)
    return paths
