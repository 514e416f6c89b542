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
# # 04 · Sensitivity: which assumptions drive the answer?
#
# Many parameters are uncertain even after calibration: the data of 2022-2025 pin
# down levels and patterns, not how people respond to a policy never tried before.
# A global sensitivity analysis
# varies several at once over plausible ranges and asks which of them move the gangs'
# profit margin and the arrivals. **Morris screening** is cheap: `mu_star` (the mean
# absolute elementary effect) ranks parameters by influence, and a large `sigma`
# relative to `mu_star` signals non-linearity or interactions. **Sobol indices** split
# the output variance: `S1` is a parameter's own share, `ST` its share including
# interactions. Both designs run through the same experiment engine; the bounds
# follow [`../sim/configs/sweeps/morris.yaml`](../sim/configs/sweeps/morris.yaml) and
# [`../sim/configs/sweeps/sobol.yaml`](../sim/configs/sweeps/sobol.yaml).

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

from sim.notebook import setup

SIZE, SMALL, OUT, SHORT, EXECUTOR, WORKERS = setup("04_sensitivity")

# %%
from sim.experiments import (
    Experiment,
    OutputSpec,
    morris,
    morris_indices,
    plot_indices,
    run_experiment,
    sobol,
    sobol_indices,
)

BOUNDS = {
    "returns.quota_per_week": [0, 1000],
    "patrols.uk_payment_gbp_per_year": [0, 640_000_000],
    "migrants.valuation_median_gbp": [10_000, 60_000],
    "beliefs.memory_half_life_days": [30, 365],
    "migrants.wealth_median_gbp": [2_000, 8_000],
}
if SMALL:   # three parameters only
    BOUNDS = {k: BOUNDS[k] for k in list(BOUNDS)[:3]}
OUTPUTS = ["market_profit_margin", "arrivals_uk_policy_period"]
OVERRIDES = {"start_date": "2025-01-01", **SHORT}

# %% [markdown]
# ## Morris screening

# %%
m_design = morris(BOUNDS, trajectories=2 if SMALL else 20, seed=20250806, levels=4)
m_exp = Experiment(design=m_design, base="pilot_50", overrides=OVERRIDES, seed=20250806,
                   outputs=OutputSpec(frequency="end"), name="morris")
print(f"Morris: {m_design.n_runs} runs")
m_store = run_experiment(m_exp, OUT / "morris", executor=EXECUTOR, workers=WORKERS, progress=False)
m_table = morris_indices(m_store, OUTPUTS)
m_table

# %%
fig = plot_indices(m_table, output="market_profit_margin")

# %%
mm = m_table[m_table["output"] == "market_profit_margin"].sort_values("mu_star", ascending=False)
top = mm.iloc[0]
print("ranking by mu_star (market profit margin): " + ", ".join(
    f"{r.parameter} ({r.mu_star:.3f})" for r in mm.itertuples()))
rank = list(mm["parameter"]).index("returns.quota_per_week") + 1
q = mm.set_index("parameter").loc["returns.quota_per_week"]
print(f"The margin moves most with {top['parameter']}: on average {100 * top['mu_star']:.1f} percentage "
      f"points per step of 2/3 of its range. The returns quota ranks {rank} of {len(mm)} "
      f"({100 * q['mu_star']:.1f} points).")

# %% [markdown]
# ## Sobol indices
#
# In full mode this is the analysis of `sim/configs/sweeps/sobol.yaml` (n = 64, 448 runs,
# about 10 minutes on 2 cores). In small mode the sample is tiny (n = 2): the code
# path is the same, but the indices are noise — do not read them.

# %%
s_design = sobol(BOUNDS, n=2 if SMALL else 64, seed=20250805)
s_exp = Experiment(design=s_design, base="pilot_50", overrides=OVERRIDES, seed=20250805,
                   outputs=OutputSpec(frequency="end"), name="sobol")
print(f"Sobol: {s_design.n_runs} runs")
s_store = run_experiment(s_exp, OUT / "sobol", executor=EXECUTOR, workers=WORKERS, progress=False)
s_table = sobol_indices(s_store, OUTPUTS)
s_table

# %%
fig = plot_indices(s_table, output="market_profit_margin")

# %%
ss = s_table[s_table["output"] == "market_profit_margin"].sort_values("ST", ascending=False)
print("total-order indices ST (market profit margin): " + ", ".join(
    f"{r.parameter} {r.ST:.2f}" for r in ss.itertuples()))
if SMALL:
    print("(small mode: too few runs for these indices to mean anything)")

# %% [markdown]
# ## Exercises
#
# 1. Add `migrants.choice_scale_gbp` (which sets the gangs' markup), or another parameter from `channel-sim params`, to
#    `BOUNDS`, with a range inside its declared range, and rerun the Morris screening.
# 2. Use `business_model_broken` as an output. Why is a 0/1 output hard for these methods?
# 3. Double the Morris trajectories. Does the ranking of the top parameters change?
# 4. Compare `S1` and `ST` for the quota. What does a large gap between them mean for
#    a policy maker who can only choose the quota?
# 5. With one replication per point the model's own noise shows up as interaction.
#    Set `replications=3` in the designs and see how the indices change.
