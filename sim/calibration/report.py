"""The validation report: simulated against observed for every calibration target.

:func:`validate` runs a configuration (the shipped baseline by default) over the
calibration period with ``replications`` runs on common random numbers, through the
experiment engine, together with the same configuration without the UK-Albania returns
deal (the counterfactual of the natural experiment). :func:`write_report` turns that into
``report.md`` with PNG figures: a table of every target (observed, simulated mean and 90%
band over replications, error, met or not) and figures of monthly arrivals, people per
boat, crossing days by month, daily-count distribution, prices, prevention, deaths and
the Albania scenario. ``channel-sim validate`` does both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.data import observed
from sim.calibration.targets import (
    ALBANIA_GROUP,
    CALIBRATION_END,
    CALIBRATION_START,
    TargetSet,
    default_targets,
    observation_frame,
)
from sim.config import load_config
from sim.experiments.designs import listed
from sim.experiments.engine import Experiment, OutputSpec, run_experiment

__all__ = ["Validation", "validate", "write_report", "validation_statistics", "DAILY_QUANTILES", "FIGURES",
           "plot_monthly_arrivals", "plot_boats_and_days", "plot_daily_counts", "plot_prices_prevention_deaths",
           "plot_albania", "plot_posterior"]

#: Quantiles of daily arrivals shown in the daily-count figure.
DAILY_QUANTILES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
NO_DEAL = {"groups.0.bilateral_return_prob": 0.0}
VARIABLES = ("arrivals_uk", "boats_arrived", "people_launched", "people_prevented", "deaths", "mean_price_gbp",
             f"arrivals_{ALBANIA_GROUP}")


def validation_statistics(ts: pd.DataFrame, config: Any = None) -> dict[str, float]:
    """The targets' statistics and, for the figures, quantiles of daily arrivals."""
    frame = observation_frame(ts, [g.name for g in config.groups] if config is not None else None)
    out = default_targets().statistics(frame)  # as run_statistics, on the one frame
    daily = frame.loc[CALIBRATION_START:CALIBRATION_END, "people"]
    out.update({f"daily_quantile[{q}]": float(daily.quantile(q)) for q in DAILY_QUANTILES})
    out["daily_max"] = float(daily.max())
    return out


@dataclass
class Validation:
    """Simulated statistics per run, the targets, and the monthly time series."""

    config_name: str
    replications: int
    seed: int
    stats: pd.DataFrame          # one row per run of the configuration: flat statistics
    stats_no_deal: pd.DataFrame  # the same without the Albania deal
    monthly: pd.DataFrame        # long: run_id, point, date, variable, value
    targets: TargetSet
    store: Path

    def table(self) -> pd.DataFrame:
        """One row per target: observed, simulated mean and 90% band, error, met."""
        rows = []
        mean_flat = self.stats.mean().to_dict()
        errors = self.targets.errors(mean_flat)
        per_run = [self.targets.unflatten(r) for r in self.stats.to_dict("records")]
        for t in self.targets:
            sims = np.array([float(v[t.name].mean()) for v in per_run])
            mean_series = self.targets.unflatten(mean_flat)[t.name]
            rows.append({
                "target": t.name, "description": t.description, "unit": t.unit,
                "observed": t.observed_text(),
                "simulated": float(mean_series.mean()) if len(mean_series) else float("nan"),
                "sim_low": float(np.quantile(sims, 0.05)), "sim_high": float(np.quantile(sims, 0.95)),
                "vector": t.is_vector, "tolerance": t.tolerance_text(), "error": errors[t.name],
                "met": bool(errors[t.name] <= 1.0), "source": t.source,
            })
        return pd.DataFrame(rows)


def validate(config: str | Mapping[str, Any] = "baseline", out: str | Path = "outputs/validation-runs", *,
             replications: int = 8, seed: int = 20250731, executor: str = "process", workers: int | None = None,
             scheduler: str | None = None, progress: bool = True) -> Validation:
    """Run ``config`` (and its no-Albania-deal counterfactual) over the calibration period.

    The runs go into an experiment store inside ``out`` named by the configuration and a
    hash of the experiment (so rerunning resumes, and a changed configuration gets its
    own store); :func:`write_report`
    writes the report from the returned :class:`Validation`.
    """
    cfg = load_config(config, overrides={"end_date": CALIBRATION_END})
    out = Path(out)
    design = listed([{"groups.0.bilateral_return_prob": None}, NO_DEAL], replications=replications)
    exp = Experiment(design=design, base=cfg.model_dump(mode="json"), seed=seed, name=f"validate-{cfg.name}",
                     outputs=OutputSpec(frequency="monthly", variables=VARIABLES,
                                        statistics="sim.calibration.report:validation_statistics"))
    # one store per experiment (configuration, seed, replications): rerunning resumes, a changed one starts afresh
    store = run_experiment(exp, out / f"{cfg.name}-{exp.fingerprint()[:12]}", executor=executor, workers=workers,
                           scheduler=scheduler, progress=progress)
    runs = store.runs(columns=["run_id", "point", "status"])
    ok = runs[runs["status"] == "ok"]
    if len(ok) < len(runs):
        bad = runs[runs["status"] != "ok"]["run_id"].tolist()
        raise RuntimeError(f"validation runs failed: {bad}; see {store.path}/runs")
    sums = store.summaries().merge(ok[["run_id", "point"]], on="run_id")
    cols = [c for c in sums.columns if c.startswith("stat:")]

    def stats(point: int) -> pd.DataFrame:
        s = sums[sums["point"] == point].sort_values("run_id")[cols]
        return s.rename(columns=lambda c: c[5:]).reset_index(drop=True)

    ts = store.timeseries().merge(ok[["run_id", "point"]], on="run_id")
    return Validation(cfg.name, replications, seed, stats(0), stats(1), ts, default_targets(), store.path)


# ----------------------------------------------------------------------------- report
def _fmt(x: float, unit: str) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if "share" in unit:
        return f"{x:.2f}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def write_report(v: Validation, out: str | Path, *, calibration: str | Path | None = None,
                 title: str | None = None) -> Path:
    """Write ``report.md`` and its figures into ``out``; returns the report's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = v.table()
    figs = _figures(v, out)
    n_met = int(table["met"].sum())
    lines = [
        f"# {title or 'Validation of the ' + v.config_name + ' configuration'}",
        "",
        f"Made by `channel-sim validate` (`sim/calibration/report.py`): configuration `{v.config_name}`, "
        f"{CALIBRATION_START} to {CALIBRATION_END}, {v.replications} replications on common random numbers "
        f"(root seed {v.seed}). Observed: UK Home Office daily small-boat series and the published figures in "
        "`sim/data/` (sources in the table). Targets, statistics and tolerances are defined once in "
        "`sim/calibration/targets.py`; a target is met when its error (the miss in units of its tolerance, for "
        "the mean over replications) is at most 1.",
        "",
        f"**{n_met} of {len(table)} targets met.**",
        "",
        "| target | observed | simulated mean [90% band over runs] | tolerance | error | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        sim_txt = (f"mean {_fmt(r.simulated, r.unit)} [{_fmt(r.sim_low, r.unit)}, {_fmt(r.sim_high, r.unit)}]"
                   if r.vector else
                   f"{_fmt(r.simulated, r.unit)} [{_fmt(r.sim_low, r.unit)}, {_fmt(r.sim_high, r.unit)}]")
        lines.append(f"| `{r.target}`: {r.description} ({r.unit}) | {r.observed} | {sim_txt} | {r.tolerance} | "
                     f"{r.error:.2f} | {'yes' if r.met else '**no**'} |")
    missed = table[~table["met"]]
    lines += ["", "## Misses", ""]
    if missed.empty:
        lines.append("None: every target is within its tolerance.")
    else:
        for r in missed.itertuples(index=False):
            lines.append(f"- `{r.target}` misses by {r.error:.2f} times its tolerance ({r.tolerance}).")
    lines += ["", "## Elements of the vector targets", ""]
    mean_flat = v.stats.mean().to_dict()
    values = v.targets.unflatten(mean_flat)
    for name in ("people_per_boat_by_year", "crossing_day_share_by_month"):
        t = v.targets[name]
        lines += [f"**{name}**", "", "| | " + " | ".join(values[name].index) + " |",
                  "|---|" + "---|" * len(values[name]),
                  "| observed | " + " | ".join(_fmt(x, t.unit) for x in t.observed.reindex(values[name].index)) + " |",
                  "| simulated | " + " | ".join(_fmt(x, t.unit) for x in values[name]) + " |", ""]
    alb = _albania(v)
    lines += ["## The Albania natural experiment", "",
              f"Albanian arrivals in 2023 against 2022: fall {alb['fall']:.0%} with the December 2022 returns deal "
              f"(observed about 90%), {alb['fall_no_deal']:.0%} in the same runs without the deal "
              f"(`groups.0.bilateral_return_prob` = 0). Albanians' share of 2022 arrivals: {alb['share']:.0%} "
              "(observed about 25%).", ""]
    if calibration is not None:
        lines += _calibration_section(Path(calibration))
    lines += ["## Figures", ""]
    for name, caption in figs:
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    table.to_csv(out / "targets.csv", index=False)
    return path


def _albania(v: Validation) -> dict[str, float]:
    return {"fall": float(v.stats["albania_fall"].mean()), "fall_no_deal": float(v.stats_no_deal["albania_fall"].mean()),
            "share": float(v.stats["albania_share_2022"].mean())}


def _calibration_section(folder: Path) -> list[str]:
    f = folder / "summary.json"
    if not f.is_file():
        return [f"(No calibration summary at `{folder}`.)", ""]
    s = json.loads(f.read_text())
    lines = ["## Calibration", "",
             f"ABC-SMC (`channel-sim calibrate`, `sim/calibration/abc.py`, spec `{s['spec']['name']}`): "
             f"{s['runs']} runs ({s.get('run_seconds', 0) / 60:.0f} min of run time, summed over runs), "
             f"{s['generations']} generations, "
             f"{s['spec']['particles']} particles, {s['spec']['replications']} replications per candidate; "
             f"thresholds {', '.join(f'{e:.2f}' for e in s['epsilons'])}. Chosen: the {s.get('chosen_from', '')} "
             f"(the best of the posterior mean and the {s['spec'].get('select_top', 0)} closest particles on "
             f"{s['spec'].get('select_replications', 0)} runs each).", "",
             "| parameter | prior | posterior mean | posterior sd | 90% interval | chosen | shipped |",
             "|---|---|---|---|---|---|---|"]
    adjusted: dict[str, float] = {}
    adj = folder / "adjustment.yaml"
    if adj.is_file():
        import yaml

        adjusted = dict((yaml.safe_load(adj.read_text()) or {}).get("values") or {})
    for r in s["posterior"]:
        shipped = adjusted.get(r["parameter"], r["chosen"])
        lines.append(f"| `{r['parameter']}` | [{r['prior_low']:g}, {r['prior_high']:g}] | {r['mean']:.3g} | "
                     f"{r['sd']:.2g} | [{r['q05']:.3g}, {r['q95']:.3g}] | {r['chosen']:g} | {shipped:g} |")
    if adjusted:
        lines += ["", f"The shipped baseline adjusts {len(adjusted)} of the chosen values by hand "
                      f"(`{adj.name}` in the calibration folder says why and how): the posterior has not converged."]
    return lines + [""]


# ----------------------------------------------------------------------------- figures
def _band(ax: Any, x: Any, runs: np.ndarray, label: str, color: str = "C0") -> None:
    import matplotlib.dates as mdates

    ax.fill_between(x, np.quantile(runs, 0.05, axis=0), np.quantile(runs, 0.95, axis=0), color=color, alpha=0.25,
                    lw=0, label=f"{label}, 90% band")
    ax.plot(x, runs.mean(axis=0), color=color, lw=1.8, label=f"{label}, mean")
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))


def _vector_runs(v: Validation, name: str, stats: pd.DataFrame | None = None) -> tuple[list[str], np.ndarray]:
    stats = v.stats if stats is None else stats
    per_run = [v.targets.unflatten(r)[name] for r in stats.to_dict("records")]
    labels = list(per_run[0].index)
    return labels, np.array([s.reindex(labels).to_numpy(dtype=float) for s in per_run])


def _points(ax: Any, labels: list[str], runs: np.ndarray, obs: Sequence[float], ylabel: str) -> None:
    xs = np.arange(len(labels))
    lo, hi = np.quantile(runs, 0.05, axis=0), np.quantile(runs, 0.95, axis=0)
    m = runs.mean(axis=0)
    ax.errorbar(xs + 0.1, m, yerr=[m - lo, hi - m], fmt="o", color="C0", label="simulated (mean, 90% band)")
    ax.plot(xs - 0.1, list(obs), "ks", label="observed")
    ax.set_xticks(xs, labels)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)


def plot_monthly_arrivals(v: Validation) -> Any:
    """Monthly arrivals: observed against the simulated mean and 90% band."""
    import matplotlib.pyplot as plt

    labels, runs = _vector_runs(v, "monthly_arrivals")
    x = pd.to_datetime([f"{m}-01" for m in labels])
    obs = v.targets["monthly_arrivals"].observed.reindex(labels)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    _band(ax, x, runs, "simulated")
    ax.plot(x, obs.to_numpy(), "k.-", lw=1, label="observed (Home Office)")
    ax.set_ylabel("arrivals per month")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_boats_and_days(v: Validation) -> Any:
    """People per boat by year and the share of days with a crossing by month."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, name, ylabel in ((axes[0], "people_per_boat_by_year", "people per boat"),
                             (axes[1], "crossing_day_share_by_month", "share of days with a crossing")):
        labels, runs = _vector_runs(v, name)
        _points(ax, labels, runs, v.targets[name].observed.reindex(labels).to_numpy(), ylabel)
    axes[0].set_xlabel("year (2025: Jan-Jul)")
    axes[1].set_xlabel("month")
    return fig


def plot_daily_counts(v: Validation) -> Any:
    """Quantiles of daily arrivals: observed against simulated."""
    import matplotlib.pyplot as plt

    sim_q = v.stats[[f"daily_quantile[{q}]" for q in DAILY_QUANTILES]].to_numpy()
    daily = observed("daily", CALIBRATION_START, CALIBRATION_END)["people"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    _points(ax, [f"{q:g}" for q in DAILY_QUANTILES], sim_q, [float(daily.quantile(q)) for q in DAILY_QUANTILES],
            "arrivals on the day")
    ax.set_xlabel("quantile of daily arrivals")
    ax.set_title(f"zero days: observed {float((daily == 0).mean()):.0%}, simulated "
                 f"{v.stats['zero_day_share'].mean():.0%}; busiest day: observed {int(daily.max())}, simulated "
                 f"max {v.stats['daily_max'].max():.0f}", fontsize=8)
    return fig


def plot_prices_prevention_deaths(v: Validation) -> Any:
    """The seat price over time against its published band; prevention and deaths against theirs."""
    import matplotlib.pyplot as plt

    ts = v.monthly[v.monthly["point"] == 0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    price = ts[ts["variable"] == "mean_price_gbp"].pivot(index="run_id", columns="date", values="value")
    band = v.targets["price_per_seat"].band
    axes[0].axhspan(*band, color="0.85", label="published band")
    _band(axes[0], pd.to_datetime(price.columns), price.to_numpy(), "simulated")
    axes[0].set_ylabel("mean price per seat (GBP)")
    axes[0].legend(frameon=False, fontsize=8)
    names = ["prevented_share", "deaths_per_1000_2024"]
    for k, name in enumerate(names):
        t = v.targets[name]
        vals = v.stats[name].to_numpy()
        lo_b, hi_b = t.band
        axes[1].plot([lo_b / hi_b, 1.0], [k, k], color="0.6", lw=8, solid_capstyle="butt",
                     label="published band" if k == 0 else None)
        axes[1].plot(vals / hi_b, np.full(len(vals), k) + 0.12, "o", color="C0", ms=4,
                     label="simulated runs" if k == 0 else None)
        axes[1].annotate(f"band {lo_b:.2g}-{hi_b:.2g}; simulated mean {vals.mean():.2g}", (0.02, k + 0.3),
                         fontsize=8)
    axes[1].set_yticks(range(len(names)), ["prevented share", "deaths/1,000 (2024)"])
    axes[1].set_xlabel("relative to the band's upper end")
    axes[1].set_xlim(0, max(1.5, float(axes[1].get_xlim()[1])))
    axes[1].set_ylim(-0.6, len(names) - 0.2)
    axes[1].legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def plot_albania(v: Validation) -> Any:
    """Albanian arrivals by month with and without the December 2022 returns deal."""
    import matplotlib.pyplot as plt

    col = f"arrivals_{ALBANIA_GROUP}"
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for point, label, color in ((0, "with the Dec 2022 returns deal", "C0"), (1, "without the deal", "C1")):
        a = v.monthly[(v.monthly["point"] == point) & (v.monthly["variable"] == col)]
        a = a.pivot(index="run_id", columns="date", values="value")
        _band(ax, pd.to_datetime(a.columns), a.to_numpy(), label, color)
    ax.axvline(pd.Timestamp("2022-12-13"), color="k", ls=":", lw=1)
    ax.annotate("UK-Albania deal", (pd.Timestamp("2022-12-20"), ax.get_ylim()[1] * 0.9), fontsize=8)
    ax.set_ylabel("Albanian arrivals per month (simulated)")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_posterior(particles: pd.DataFrame, priors: Sequence[Any], generation: int | None = None) -> Any:
    """Histograms of each parameter: the prior range, the first and the final accepted population.

    ``particles`` is a calibration's ``particles`` table (``particles.parquet``);
    ``priors`` its :class:`~sim.calibration.abc.Prior` list (or dicts with path/low/high).
    """
    import matplotlib.pyplot as plt

    pri = [p if hasattr(p, "path") else type("P", (), p) for p in priors]
    last = int(particles["generation"].max()) if generation is None else generation
    acc = particles[particles["accepted"]]
    final = acc[acc["generation"] == (acc["generation"].max() if generation is None else last)]
    first = acc[acc["generation"] == 0]
    n = len(pri)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax, p in zip(axes.flat, pri, strict=False):
        bins = np.linspace(p.low, p.high, 21)
        ax.hist(first[p.path], bins=bins, color="0.7", label="generation 0 accepted")
        ax.hist(final[p.path], bins=bins, weights=final["weight"] * len(final), color="C0", alpha=0.7,
                label="final population (weighted)")
        ax.set_xlim(p.low, p.high)
        ax.set_title(p.path, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


FIGURES = (
    ("monthly_arrivals.png", "Monthly arrivals, 2022-01 to 2025-07", plot_monthly_arrivals),
    ("boats_and_days.png", "People per boat by year; share of days with a crossing by month", plot_boats_and_days),
    ("daily_counts.png", "Distribution of daily arrivals (quantiles)", plot_daily_counts),
    ("prices_prevention_deaths.png", "Price per seat over time; prevented share and deaths against their "
     "published bands", plot_prices_prevention_deaths),
    ("albania.png", "The Albania natural experiment: Albanian arrivals with and without the deal", plot_albania),
)


def _figures(v: Validation, out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    figs = []
    for name, caption, fn in FIGURES:
        fig = fn(v)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        figs.append((name, caption))
    return figs
