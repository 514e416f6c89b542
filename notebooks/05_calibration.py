# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Calibration: the data, the targets, simulated against observed
#
# A model that does not look like the Channel before the pilot cannot say much about
# the pilot. This notebook shows the data the model is calibrated to, the targets
# (each pattern with its observed value and tolerance, defined once in
# [`../sim/calibration/targets.py`](../sim/calibration/targets.py)), how the
# calibration works (ABC-SMC in [`../sim/calibration/abc.py`](../sim/calibration/abc.py),
# run through the experiment engine), and the shipped baseline against every target.
# The committed report is [`../docs/validation/report.md`](../docs/validation/report.md);
# the calibration that produced the baseline is in
# [`../sim/configs/calibration/baseline_emulated.yaml`](../sim/configs/calibration/baseline_emulated.yaml)
# (emulator-assisted ABC-SMC, `sim/calibration/emulated.py`) and its results in
# [`../docs/calibration/`](../docs/calibration/summary.json).

# %% [markdown]
# **Size.** `setup` below (from [`../sim/notebook.py`](../sim/notebook.py)) reads the
# environment variable `CHANNEL_SIM_NOTEBOOK_SIZE`: `full` by default, or `small` (as the
# tests use) for short horizons, few replications and tiny grids: the same functions, the
# same code path, in well under a minute. Experiment stores go to
# `CHANNEL_SIM_NOTEBOOK_OUT` (default `../outputs/notebooks`); rerunning a cell resumes
# from what is already stored. `setup(..., executor="serial")` runs the experiments in
# this process instead of 2 worker processes.

# %%
import matplotlib.pyplot as plt  # noqa: F401  (for figures of your own)
import pandas as pd

import sim  # noqa: F401  (for the exercises)
from sim.notebook import setup

SIZE, SMALL, OUT, SHORT, EXECUTOR, WORKERS = setup("05_calibration")

# %% [markdown]
# ## The data
#
# The UK Home Office publishes the people and boats arriving each day. `observed()`
# gives the series daily, weekly, monthly or yearly, with people per boat and the
# share of days with any crossing.

# %%
from sim.calibration import default_targets, load_published, observed

yearly = observed("yearly", "2022-01-01", "2025-07-31")
yearly[["people", "boats", "people_per_boat", "crossing_day_share"]].round(2)

# %%
monthly = observed("monthly", "2022-01-01", "2025-07-31")
ax = monthly["people"].plot(figsize=(9, 3), marker=".", title="Arrivals by month (Home Office)")
_ = ax.set_ylabel("people")

# %% [markdown]
# Besides the series, a few published figures: the share of attempts the French
# prevented, prices, deaths, and the Albania case. Each row names its source.

# %%
load_published()[["quantity", "period", "low", "high", "unit", "source"]]

# %% [markdown]
# ## The targets
#
# Each pattern is a `Target`: a statistic computed from a daily frame (the same code
# for the observed series and for a simulated run), an observed value or band, and a
# tolerance. Its *error* is the miss in units of the tolerance: at most 1 means met.

# %%
targets = default_targets()
pd.DataFrame([{"target": t.name, "observed": t.observed_text(), "tolerance": t.tolerance_text(),
               "source": t.source[:60]} for t in targets])

# %% [markdown]
# ## The shipped baseline against every target
#
# `validate()` runs the baseline from 2022 to July 2025 on several seeds (common
# random numbers), and the same runs without the UK-Albania returns deal, through the
# experiment engine. The error of a target is computed on the mean over runs.

# %%
from sim.calibration import validate
from sim.calibration.report import (
    plot_albania,
    plot_boats_and_days,
    plot_daily_counts,
    plot_monthly_arrivals,
    plot_posterior,
    plot_prices_prevention_deaths,
)

v = validate("baseline", out=OUT / "validation", replications=2 if SMALL else 8, seed=20250731,
             executor=EXECUTOR, workers=WORKERS, progress=False)
table = v.table()
print(f"{int(table['met'].sum())} of {len(table)} targets met")
table[["target", "observed", "simulated", "sim_low", "sim_high", "error", "met"]].round(3)

# %%
fig = plot_monthly_arrivals(v)

# %%
fig = plot_boats_and_days(v)

# %%
fig = plot_daily_counts(v)

# %%
fig = plot_prices_prevention_deaths(v)

# %% [markdown]
# **The Albania natural experiment.** In December 2022 the UK and Albania agreed
# fast returns; Albanians had been about a quarter of arrivals, and their crossings
# fell by about 90% within a year. In the model the deal makes return near-certain
# for that group (`groups.0.bilateral_return_prob`); the figure compares the same
# runs with and without it.

# %%
fig = plot_albania(v)
print(f"fall in Albanian arrivals 2023 vs 2022: {v.stats['albania_fall'].mean():.0%} with the deal, "
      f"{v.stats_no_deal['albania_fall'].mean():.0%} without")

# %% [markdown]
# ## How the calibration works: a small ABC-SMC you can run
#
# Approximate Bayesian computation keeps the parameter sets whose simulated targets
# come close to the observed ones. The sequential version (ABC-SMC) starts from the
# prior, keeps the closest candidates, and proposes new candidates around them with a
# shrinking threshold. Here it recovers two parameters from data the model generated
# itself at known values (so we know the answer): the level of inflow and the
# strength of beach prevention, over 2022 only.

# %%
from sim.calibration import CalibrationSpec, Prior, calibrate

TRUE = {"environment.base_inflow_per_day": 180.0, "patrols.prevention_max": 0.7}
spec = CalibrationSpec(
    parameters=(Prior("environment.base_inflow_per_day", 100, 260), Prior("patrols.prevention_max", 0.45, 0.95)),
    overrides={"end_date": "2022-12-31"},
    targets=("arrivals_2022", "monthly_arrivals", "prevented_share", "people_per_boat_by_year"),
    particles=6 if SMALL else 20, replications=1, budget=36 if SMALL else 200, seed=11,
    synthetic={"params": TRUE, "seed": 99, "tolerance_scale": 0.25},
)
result = calibrate(spec, OUT / "abc_demo", executor=EXECUTOR, workers=WORKERS, progress=False)
print(f"{result.runs} runs, thresholds {[round(e, 2) for e in result.epsilons]}")
result.summary_table().round(3)

# %%
fig = plot_posterior(result.particles, spec.parameters)
for ax, p in zip(fig.axes, spec.parameters, strict=False):
    ax.axvline(TRUE[p.path], color="k", ls="--")

# %% [markdown]
# ## The shipped calibration
#
# `channel-sim calibrate` ran the same idea on the real data, with the fourteen
# parameters and priors of `sim/configs/calibration/baseline_emulated.yaml`. Real runs are
# too slow for a population of 1,000 particles, so the ABC-SMC runs on a Gaussian-process
# emulator fitted to 416 real runs, and its candidates for the shipped point are checked
# with the real model. The chosen values are in `sim/configs/baseline.yaml`; the
# effective sample size per generation shows whether the posterior rests on many
# particles. Its results are committed:

# %%
import json
from pathlib import Path

from sim.calibration.abc import Prior

shipped = Path("../docs/calibration")
summary = json.loads((shipped / "summary.json").read_text())
print(f"{summary['runs']} real runs, {summary['generations']} generations, chosen: {summary['chosen_from']}")
print(pd.DataFrame(summary["diagnostics"])[["generation", "accepted", "epsilon", "ess"]].round(3).to_string(index=False))
pd.DataFrame(summary["posterior"]).round(3)

# %%
priors = [Prior(k, v["low"], v["high"], v["log"]) for k, v in summary["spec"]["parameters"].items()]
fig = plot_posterior(pd.read_parquet(shipped / "particles.parquet"), priors)

# %% [markdown]
# ## Exercises
#
# 1. In the small ABC-SMC above, drop `prevented_share` from the targets. Is
#    `patrols.prevention_max` still recovered? What does that say about which data
#    identify which parameter?
# 2. Change `TRUE` to a prevention of 0.85 and rerun. Is the recovery as good near
#    the edge of the prior?
# 3. Which target does the shipped baseline miss by most (largest error)? Look at its
#    figure: is the miss in level, in shape, or in a few months?
# 4. Validate the baseline with the upstream choice switched off, e.g.
#    `validate(sim.load_config("baseline", {"mechanisms.upstream_choice": False}), out=OUT / "no_upstream")`.
#    Which targets break? (Hint: the Albania case.)
# 5. Widen a prior in a copy of `sim/configs/calibration/baseline.yaml` (plain ABC-SMC) and run
#    `channel-sim calibrate --spec your.yaml --budget 200 --out outputs/my_cal`.
#    How much do the posterior intervals depend on the budget?
