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
# # 03 · Parameter sweeps: a phase diagram and the threshold quota
#
# Does the business model break as a function of the weekly returns quota **and** of
# French interception (the UK's payment to France for beach patrols)? The sweep file
# [`../sim/configs/sweeps/quota_vs_interception.yaml`](../sim/configs/sweeps/quota_vs_interception.yaml)
# defines the grid; `run_experiment` runs it into a resumable store and
# `phase_diagram` turns the store into the probability of a broken business model
# (with Wilson intervals) and the mean profit margin in each cell. In small mode we
# build a smaller `Experiment` from the sweep file with `grid(...)`.

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

import sim
from sim.notebook import setup

SIZE, SMALL, OUT, SHORT, EXECUTOR, WORKERS = setup("03_parameter_sweeps")

# %%
from sim.experiments import (
    Experiment,
    format_threshold,
    grid,
    load_sweep,
    phase_diagram,
    plot_phase,
    run_experiment,
    threshold_quota,
)

QUOTA, PAYMENT = "returns.quota_per_week", "patrols.uk_payment_gbp_per_year"
sweep = load_sweep(sim.config.CONFIG_DIR / "sweeps" / "quota_vs_interception.yaml")  # shipped with sim
if SMALL:
    exp = Experiment(design=grid({QUOTA: [0, 800], PAYMENT: [0, 480_000_000]}, replications=2),
                     base=sweep.base, overrides={**sweep.overrides, **SHORT}, seed=sweep.seed,
                     outputs=sweep.outputs, name=f"{sweep.name}_small")
else:
    exp = sweep
print(f"{exp.name}: {exp.design.n_points} points x {exp.design.replications} replications = "
      f"{exp.design.n_runs} runs on {exp.base}")

# %%
store = run_experiment(exp, OUT / "phase", executor=EXECUTOR, workers=WORKERS, progress=False)
phase = phase_diagram(store, QUOTA, PAYMENT)
phase.round(3)

# %%
fig = plot_phase(phase, QUOTA, PAYMENT)

# %%
fig = plot_phase(phase, QUOTA, PAYMENT, value="market_profit_margin")

# %%
n_cells = len(phase)
any_broken = phase[phase["n_broken"] > 0]
best = phase.loc[phase["market_profit_margin"].idxmin()]
print(f"The business model broke in at least one run in {len(any_broken)} of {n_cells} cells "
      f"({exp.design.replications} replications each). The lowest mean margin, "
      f"{best['market_profit_margin']:.1%} [{best['market_profit_margin_lower']:.1%}, "
      f"{best['market_profit_margin_upper']:.1%}], is at a quota of {best[QUOTA]:,.0f} a week "
      f"and a UK payment of £{best[PAYMENT] / 1e6:,.0f}m a year.")

# %% [markdown]
# ## The threshold quota
#
# `threshold_quota` searches, for each seed separately, the smallest weekly quota at
# which the business model breaks (bisection on a grid of candidate quotas), and
# reports the mean and median with intervals. A seed for which the model is not
# broken even at the top of the bracket is **censored** (the threshold is above `hi`).

# %%
search = dict(replications=2, lo=0, hi=1000, tolerance=250) if SMALL else \
    dict(replications=10, lo=0, hi=2000, tolerance=25)
thr = threshold_quota("pilot_50", seed=20250804, overrides={"start_date": "2025-01-01", **SHORT},
                      executor=EXECUTOR, workers=WORKERS, out=OUT / "threshold", **search)
print(format_threshold(thr))

# %%
if thr.n_censored == thr.replications:
    print(f"In none of the {thr.replications} seeds did a quota up to {thr.hi:,} a week break the business model "
          f"({thr.n_runs} runs): under these parameters the threshold, if there is one, lies above {thr.hi:,}.")
else:
    print(f"{thr.replications - thr.n_censored} of {thr.replications} seeds broke below {thr.hi:,} a week; "
          f"median threshold {thr.median:,.0f} [{thr.median_lower:,.0f}, {thr.median_upper:,.0f}].")

# %% [markdown]
# ## Exercises
#
# 1. Replace the interception axis with `migrants.valuation_median_gbp` (e.g. 10,000 to
#    60,000) and draw the phase diagram again. Which axis matters more for the margin?
# 2. Add a third factor to the grid; `phase_diagram` pools it unless you pass `x=`/`y=`.
#    Make one diagram per level of the third factor instead.
# 3. Run the threshold search on `interception_plus` instead of `pilot_50`. Does more
#    interception lower the threshold quota?
# 4. Rerun a cell after changing nothing: why does it finish at once? (Look in the store
#    folder printed at the top, and at `run_experiment`'s docstring.)
# 5. The verdict looks at the last 26 weeks. Lengthen the horizon (`end_date`) and see
#    whether the margin keeps falling or levels off.
