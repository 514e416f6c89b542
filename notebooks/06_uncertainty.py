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
# # 06 · Uncertainty: policy results over the posterior, and how large a quota must be
#
# Notebook 02 compares policies for *one* parameter set, the shipped baseline: its
# intervals are the model's own noise only. But the calibration (notebook 05) does not
# pin the parameters down: it gives a posterior, a cloud of parameter sets that all fit
# the data about as well. And after the last data year nobody knows how many people will
# consider the route. This notebook propagates both:
#
# * **posterior draws**: parameter sets drawn by weight from the calibration's particles
#   ([`../sim/experiments/predictive.py`](../sim/experiments/predictive.py));
# * **future inflow paths**: each draw gets futures of its own, a random walk in logs
#   fitted to the year-to-year variation of the 2018-2025 series (ODD 7.2);
# * **replications**: the model's own noise.
#
# Every scenario runs on the same draws, paths and seeds (common random numbers), so a
# policy's effect is a paired difference within draw, path and replication. The law of
# total variance then says how much of the spread each source carries.

# %% [markdown]
# **Size.** `setup` below (from [`../sim/notebook.py`](../sim/notebook.py)) reads
# `CHANNEL_SIM_NOTEBOOK_SIZE`: `full` by default (5 draws x 2 paths x 2 replications of
# 2022-2027, 40 runs per scenario, a few minutes on 2 cores), or `small` (3 draws x 2
# paths x 1 replication, January 2025 to June 2026) as the tests use. The full study of
# the README (100 draws, `make study`, about 2 hours) is read from its committed tables
# at the end.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.cli import SUMMARY_ROWS
from sim.experiments.predictive import (
    format_predictive,
    plot_predictive,
    posterior_draws,
    predictive_runs,
    predictive_table,
    variance_split,
)
from sim.notebook import setup

SIZE, SMALL, OUT, SHORT, EXECUTOR, WORKERS = setup("06_uncertainty")
LABELS = {m: (label, fmt) for m, label, fmt in SUMMARY_ROWS}

# %% [markdown]
# ## Draws from the posterior
#
# `posterior_draws` draws parameter sets by weight (with replacement) from the final
# population of the shipped calibration. The draws are prefix-stable: the first five
# draws of a 100-draw study are these five.

# %%
draws = posterior_draws("../docs/calibration", 3 if SMALL else 5, seed=0)
draws.T.round(3)

# %% [markdown]
# ## The pilot over the posterior
#
# `predictive_runs` runs each scenario for every draw, future path and replication: one
# row per run. (`channel-sim compare baseline pilot_50 --posterior docs/calibration
# --draws 5` does the same from the command line and writes `predictive.csv`.)

# %%
runs = predictive_runs(["baseline", "pilot_50"], draws, OUT / "predictive", paths=2,
                       replications=1 if SMALL else 2, overrides=SHORT, executor=EXECUTOR, workers=WORKERS)
runs[["scenario", "draw", "path", "replication", "future_inflow_factor", "arrivals_uk_policy_period",
      "returns", "business_model_broken"]].head(8)

# %% [markdown]
# `predictive_table` summarises each scenario and each paired difference against the
# first scenario: the median and the 5% and 95% quantiles over all runs, and the variance
# split into a parametric part (between draws), a future-inflow part (between paths of a
# draw) and a stochastic part (between replications). A share (runs broken) gets a
# Wilson interval, which stays inside [0, 1].

# %%
table = predictive_table(runs, ["arrivals_uk_policy_period", "paid_crossings_policy_period",
                                "critical_return_rate", "business_model_broken"])
print(format_predictive(table, LABELS))

# %% [markdown]
# ## The variance split by hand
#
# The split is the law of total variance over the nested design (population variances,
# so the parts add up exactly). Here it is for the pilot's effect on arrivals, from the
# runs themselves: the paired difference per (draw, path, replication), then the
# variance of the draws' means, the mean variance of the paths' means within a draw, and
# the mean variance over replications.

# %%
key = ["draw", "path", "replication"]
wide = runs.pivot_table(index=key, columns="scenario", values="arrivals_uk_policy_period")
effect = (wide["pilot_50"] - wide["baseline"]).rename("effect").reset_index()
path_means = effect.groupby(["draw", "path"])["effect"].mean()
by_hand = {
    "var_total": effect["effect"].var(ddof=0),
    "var_parametric": path_means.groupby(level="draw").mean().var(ddof=0),
    "var_inflow": path_means.groupby(level="draw").var(ddof=0).mean(),
    "var_stochastic": effect.groupby(["draw", "path"])["effect"].var(ddof=0).mean(),
}
cube = effect.sort_values(key)["effect"].to_numpy().reshape(
    effect["draw"].nunique(), effect["path"].nunique(), effect["replication"].nunique())
pd.DataFrame({"by hand": by_hand, "variance_split": variance_split(cube)}).round(0)

# %% [markdown]
# The parts add up to the total, and the module's function gives the same numbers. With
# one replication (small mode) the stochastic part is zero by construction: it is then
# folded into the other two, which is why the full study runs two replications per path.

# %%
fig = plot_predictive(runs, ["arrivals_uk_policy_period", "paid_crossings_policy_period", "critical_return_rate"],
                      {m: label for m, (label, _) in LABELS.items()})

# %% [markdown]
# ## The full study (committed)
#
# `make study` runs the five shipped scenarios over 100 draws x 2 paths x 2
# replications and writes its tables to [`../docs/study/`](../docs/study/). The numbers
# below are read from those files, whatever study was last committed (the README says
# how many draws it holds).

# %%
from pathlib import Path

study = Path("../docs/study")
pred = pd.read_csv(study / "predictive.csv")
effects = pred[pred["scenario"].str.endswith(" - baseline")
               & pred["measure"].isin(["arrivals_uk_policy_period", "paid_crossings_policy_period"])]
shares = effects[["var_parametric", "var_inflow", "var_stochastic"]].div(effects["var_total"], axis=0)
pd.concat([effects[["scenario", "measure", "runs", "median", "p05", "p95"]], shares.add_prefix("share_")],
          axis=1).round(2)

# %% [markdown]
# **How large must a quota be?** The threshold search over the posterior bisects, in
# each (draw, path) cell, for the smallest weekly quota that breaks the business model
# ([`../sim/experiments/posterior_threshold.py`](../sim/experiments/posterior_threshold.py)).
# The curve is the share of cells broken at or below each quota, with its 90% Wilson
# interval; a cell not broken at the top of the bracket only says that it needs more.

# %%
curve = pd.read_csv(study / "threshold_curve.csv")
fig, ax = plt.subplots(figsize=(6, 3))
ax.fill_between(curve["quota"], curve["lower"], curve["upper"], alpha=0.3, label="90% Wilson interval")
ax.step(curve["quota"], curve["share"], where="post", label="share of cells broken")
ax.set(xlabel="returns per week", ylabel="P(critical quota <= q)", ylim=(0, 1))
_ = ax.legend(loc="upper left")
print(f"cells: {int(curve['n'].iloc[0])}; broken at the top of the bracket ({int(curve['quota'].iloc[-1])}/week): "
      f"{int(curve['n_broken'].iloc[-1])}")

# %% [markdown]
# **Which inputs drive the pilot's effect?** First-order indices over the posterior from
# the same runs (`posterior_sensitivity.py`): the share of an output's variance explained
# by one input alone, with a bootstrap interval over the draws. The row "stochastic
# (replications)" is the share left to the model's own noise. With few draws the
# parameters cannot be told apart (each draw is its own class); the README says how many
# draws the committed study holds.

# %%
sens = pd.read_csv(study / "posterior_sensitivity.csv")
total = sens[sens["input"] == "total"].set_index("output")["raw"]      # the output's variance
sens = sens[sens["input"] != "total"]
top = (sens.sort_values("index", ascending=False).groupby("output").head(3)
       .sort_values(["output", "index"], ascending=[True, False]))
top[["output", "input", "index", "p05", "p95"]].round(3)

# %%
print("largest index per output (besides the replications' noise):")
for output, rows in sens[sens["input"] != "stochastic (replications)"].groupby("output"):
    best = rows.loc[rows["index"].idxmax()]
    print(f"  {output}: {best['input']} ({best['index']:.2f} [{best['p05']:.2f}, {best['p95']:.2f}]; "
          f"output's standard deviation {np.sqrt(total[output]):.3g})")
print("(a p05 below 0 is the bootstrap's spread around a small index, not a negative share)")

# %% [markdown]
# ## Exercises
#
# 1. Rerun the pilot over the posterior with `future_inflow: fixed` (pass
#    `overrides={**SHORT, "environment.future_inflow": "fixed"}`). What happens to
#    `var_inflow`, and to the width of the baseline's arrivals interval?
# 2. Add `quota_200` to the scenarios. Is its effect's variance mostly parametric or
#    stochastic? Why might a larger policy be more sensitive to the parameters?
# 3. With `paths=1` the future-inflow part cannot be told from the parametric one. Show
#    this by computing `variance_split` on a cube with one path.
# 4. In `../docs/study/verdict_profile.csv`, compare the broken and intact runs. Is the
#    verdict driven by the policy or by the future inflow?
# 5. Run `python -m sim.experiments.posterior_threshold --draws 3 --paths 1 --hi 400
#    --tolerance 100 --out outputs/my_threshold` from the repository root. How many runs
#    does a bisection need per cell?
