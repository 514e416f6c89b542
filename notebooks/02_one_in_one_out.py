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
# # 02 · Does "one in, one out" break the smugglers' business model?
#
# We compare the baseline (no returns quota) with the pilot as reported (50 returns a
# week, `pilot_50`) and larger quotas (`quota_200`, and `quota_all`: every eligible
# arrival returned). `sim.compare` runs every scenario on **common random numbers**:
# replication *j* of every scenario uses the same random streams, so the differences
# against the baseline are paired and much less noisy than differences of means.
# The baseline is calibrated to 2022 to July 2025 (notebook 05); what follows the
# pilot's start is what the model does under its assumptions, not a forecast.

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

SIZE, SMALL, OUT, SHORT, EXECUTOR, WORKERS = setup("02_one_in_one_out")

# %%
from sim.experiments import format_comparison
from sim.plots import plot_comparison_bands, plot_paired_differences

SCENARIOS = ["baseline", "pilot_50", "quota_200", "quota_all"]
REPLICATIONS = 3 if SMALL else 8
cmp = sim.compare(SCENARIOS, replications=REPLICATIONS, seed=1, overrides=SHORT, out=OUT / "compare",
                  executor=EXECUTOR, workers=WORKERS)
horizon = sim.load_config("baseline", overrides=SHORT)
print(f"{len(SCENARIOS)} scenarios x {REPLICATIONS} replications, {horizon.start_date} to {horizon.end_date}")
print()
print(format_comparison(cmp))

# %% [markdown]
# ## Paired differences against the baseline
#
# Each point is the mean over replications of (scenario − baseline) on the same seeds,
# with its 95% confidence interval. An interval that excludes 0 is an effect the runs
# can tell from noise.

# %%
fig = plot_paired_differences(cmp)

# %%
d = cmp.differences.set_index(["scenario", "measure"])
for s in SCENARIOS[1:]:
    a = d.loc[(s, "arrivals_uk_policy_period")]
    m = d.loc[(s, "market_profit_margin")]
    print(f"{s}: arrivals since the policy start {a['difference']:+,.0f} [{a['lower']:+,.0f}, {a['upper']:+,.0f}]; "
          f"profit margin {m['difference']:+.1%} [{m['lower']:+.1%}, {m['upper']:+.1%}] against the baseline")

# %% [markdown]
# ## Monthly series with bands over the replications

# %%
fig = plot_comparison_bands(cmp, since="2025-01-01")

# %% [markdown]
# ## Arrivals per return
#
# The pilot admits one person by the legal route for each person returned; how many
# people arrive for each one returned tells how much of the flow the quota touches.

# %%
t = cmp.table.set_index(["scenario", "measure"])
for s in SCENARIOS[1:]:
    r = t.loc[(s, "arrivals_per_return")]
    q = t.loc[(s, "returns")]
    print(f"{s}: {q['mean']:,.0f} returns, one return per {r['mean']:.1f} arrivals "
          f"[{r['lower']:.1f}, {r['upper']:.1f}]")

# %% [markdown]
# ## What "breaking the business model" means
#
# The verdict is defined in [`../sim/metrics.py`](../sim/metrics.py) (ODD section 7.13).
# Over the last weeks of a run (`verdict.window_weeks`), the business model is **broken**
# when the market profit margin — the gangs' total profit divided by their total
# revenue — is at or below `verdict.profit_margin_threshold` (the market no longer pays
# for itself), **or** when the active gangs at the end have fallen to
# `verdict.gang_share_threshold` of those at the start or fewer. The thresholds of
# this run:

# %%
v = sim.load_config("pilot_50", overrides=SHORT).verdict
print(f"window: last {v.window_weeks} weeks; broken if margin <= {v.profit_margin_threshold:.0%} "
      f"or active gangs <= {v.gang_share_threshold:.0%} of those at the start")

# %%
broken = t.xs("business_model_broken", level="measure")["mean"]
margin = t.xs("market_profit_margin", level="measure")
for s in SCENARIOS:
    print(f"{s:>10}: broken in {broken[s]:.0%} of {REPLICATIONS} runs; market profit margin "
          f"{margin.loc[s, 'mean']:.1%} [{margin.loc[s, 'lower']:.1%}, {margin.loc[s, 'upper']:.1%}]")
policies = SCENARIOS[1:]
if not (broken[policies] > 0).any():
    print(f"\nIn these runs no quota broke the business model: in every run of every scenario the gangs' "
          f"margin stayed above {v.profit_margin_threshold:.0%} (lowest scenario mean "
          f"{margin.loc[policies, 'mean'].min():.1%}) and enough gangs stayed active.")
else:
    hit = [s for s in policies if broken[s] > 0]
    print(f"\nThe business model broke in some runs of: {', '.join(hit)}.")

# %% [markdown]
# The replications are paired: each row below is one seed, so you can see that a
# quota moves the margin in the same direction in (almost) every replication even when
# the spread across seeds is large.

# %%
cmp.wide("market_profit_margin").round(3)

# %% [markdown]
# ## Exercises
#
# 1. Add a scenario of your own: copy `../sim/configs/quota_200.yaml` to a new file with
#    `quota_per_week: 100`, add its path to `SCENARIOS` and rerun. Where does it sit?
# 2. Compare `pilot_50` with `legal_route_only`. How much of the pilot's effect on
#    arrivals comes from the legal route rather than from returns?
# 3. The "repeat arrivals" row grows with the quota. Explain why, using the
#    `RETURNED` state in [`../sim/agents/migrant.py`](../sim/agents/migrant.py).
# 4. Rerun with half the replications and then twice as many. How do the confidence
#    intervals of the paired differences change (roughly as 1/sqrt(n))?
# 5. Change `verdict.profit_margin_threshold` through `overrides` (e.g. 0.2). Does any
#    quota "break" the business model now? What does that tell you about the definition?
