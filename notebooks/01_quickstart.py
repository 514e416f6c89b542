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
# # 01 · Quickstart: one run of the Channel model
#
# This notebook runs the model once, reads its daily time series, draws the package's
# overview figure and explains, in plain words, what each kind of agent does. The
# model and its parameters are described in [`../docs/ODD.md`](../docs/ODD.md).
# The baseline is calibrated to the Home Office small-boat series 2022 to July 2025
# (notebook 05 and [`../docs/validation/report.md`](../docs/validation/report.md));
# after July 2025 the numbers are what the model does under its assumptions, not
# forecasts.

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

import sim
from sim.notebook import setup

SIZE, SMALL, OUT, SHORT, EXECUTOR, WORKERS = setup("01_quickstart")

# %% [markdown]
# ## Run the baseline
#
# `sim.load_config` reads a shipped scenario (a YAML file in [`../sim/configs/`](../sim/configs/));
# `overrides` changes fields without editing the file. `sim.run` simulates day by day
# from the start date to the end date and returns a `RunResult` with `.timeseries`
# (one row per day) and `.summary` (totals and the verdict). We also run the
# one-in-one-out pilot (`pilot_50`) on the same seed, to have something to compare.

# %%
baseline_cfg = sim.load_config("baseline", overrides=SHORT)
pilot_cfg = sim.load_config("pilot_50", overrides=SHORT)
base = sim.run(baseline_cfg, seed=1)
pilot = sim.run(pilot_cfg, seed=1)
print(f"{baseline_cfg.name}: {baseline_cfg.start_date} to {baseline_cfg.end_date}, "
      f"{len(base.timeseries)} days in {base.wall_seconds:.1f} s")
print(f"{pilot_cfg.name}: returns from {pilot_cfg.returns.start_date}, "
      f"quota {pilot_cfg.returns.quota_per_week} a week")

# %% [markdown]
# ## Read the time series
#
# `sim.metrics.resample` aggregates the daily series by month, each column as the
# table `sim.metrics.AGGREGATION` says: flows (arrivals, returns, profit) are summed,
# levels (prices) are averaged, stocks (active gangs) are read at the end of the month.
# The overview figure below aggregates the same way.

# %%
from sim.metrics import aggregation_of, resample

ts = base.timeseries
columns = ["arrivals_uk", "returns", "mean_price_gbp", "gang_profit_gbp", "active_gangs"]
print({c: aggregation_of(c) for c in columns})
monthly = resample(ts, "MS", columns)
monthly.tail(12).round(0)

# %%
keys = ["arrivals_uk", "arrivals_uk_policy_period", "returns", "arrivals_per_return", "deaths",
        "mean_price_gbp", "market_profit_margin", "active_gangs_end", "initial_gangs", "business_model_broken"]
pd.DataFrame({"baseline": base.summary, "pilot_50": pilot.summary}).loc[keys]

# %%
s = pilot.summary
print(f"Under the pilot, {s['arrivals_uk_policy_period']:,.0f} people arrived after the policy start and "
      f"{s['returns']:,.0f} were returned, one return per {s['arrivals_per_return']:.1f} arrivals. "
      f"Over the last 26 weeks the gangs kept {s['market_profit_margin']:.0%} of their revenue as profit, "
      f"and the business model is {'broken' if s['business_model_broken'] else 'not broken'} in this run.")

# %% [markdown]
# ## Arrivals, prices and the gangs' profit
#
# `sim.plots.plot_overview` draws monthly panels for several runs side by side (the
# dashed line marks the first return).

# %%
from sim.plots import OVERVIEW_PANELS, plot_overview

wanted = {"arrivals_uk", "returns", "mean_price_gbp", "gang_profit_gbp", "active_gangs", "waiting_at_coast"}
fig = plot_overview({"baseline": base.timeseries, "pilot_50": pilot.timeseries},
                    panels=[p for p in OVERVIEW_PANELS if p[0] in wanted])

# %% [markdown]
# ## The agents, in plain words
#
# * **Migrant** ([`../sim/agents/migrant.py`](../sim/agents/migrant.py), class `Migrant`):
#   one person. They travel to the northern French coast, wait, and decide whether to
#   pay a gang for a seat, apply to the legal route, keep waiting or leave for another
#   EU country. The decision weighs how much they value reaching the UK against the
#   price, the chance of getting across, the believed chance of being returned, and the
#   risk of dying at sea (`Migrant.decide_many`). Their beliefs about being returned
#   move with what they hear and see (`Migrant.hear_contacts`, `Migrant.hear_announcement`,
#   `Migrant.learn_returned`). Someone who is
#   returned is back at the coast and may try again.
# * **SmugglingGang** ([`../sim/agents/gang.py`](../sim/agents/gang.py)): a network on
#   one stretch of coast. It sells seats (paid up front), buys boats, launches on days
#   the weather allows, and each week reprices, changes tactics (e.g. "taxi boats") and
#   invests (`SmugglingGang.weekly_review`). Every pound is booked in a ledger; a gang
#   that keeps losing money leaves the market, and new gangs enter when it pays
#   (`GangMarket.maybe_enter`).
# * **BorderPatrol** ([`../sim/agents/patrol.py`](../sim/agents/patrol.py)): French
#   police in one coastal sector. Their capacity comes from France and from the UK's
#   payment; the chance of stopping a launch rises with capacity per launch but with
#   diminishing returns (`prevention_probability`), and units move weekly to where
#   boats are seen (`redeploy_patrols`).
# * **ReturnsAuthority** ([`../sim/agents/returns.py`](../sim/agents/returns.py)): the
#   UK Home Office. From the policy start it detains eligible arrivals and returns them
#   to France within the weekly quota (legal challenges block some returns), and admits
#   people by the legal route, one for each person returned (`ReturnsAuthority.step`).
#
# The model that puts them on a daily schedule is `ChannelModel`
# ([`../sim/model.py`](../sim/model.py)); everyone's state is kept in a population store
# ([`../sim/population.py`](../sim/population.py)); the reporters and the verdict are in
# [`../sim/metrics.py`](../sim/metrics.py). You can step the Mesa model yourself and
# look at individual agents:

# %%
from sim.agents import MigrantState

model = sim.ChannelModel(pilot_cfg, rng=1)
days = (pilot_cfg.returns.start_date - pilot_cfg.start_date).days + 60   # to two months into the pilot
for _ in range(days):
    model.step()          # one day
gang = model.market.active[0]
print(gang)
print(f"gang {gang.gang_index}: sector {gang.sector}, price £{gang.price_gbp:,.0f}, {gang.boats} boats, "
      f"cash £{gang.cash_gbp:,.0f}")
print(f"{len(model.patrols)} patrol sectors; capacity of the first: {model.patrols[0].capacity_units:.1f} units")
auth = model.authority
print(f"returns authority: quota {auth.quota_per_week} a week, policy active on day {model.day}: {auth.policy_active}, "
      f"{auth.returned_last_week} returned last week")

waiting = model.pop.where(MigrantState.WAITING, MigrantState.BOOKED)
person = model.agent_of_row[waiting[0]]     # the Mesa agent of one person at the coast
print(person)
print(f"a person at the coast: state {person.state.name}, values the UK at £{person.valuation_gbp:,.0f}, "
      f"has £{person.wealth_gbp:,.0f}, believes the chance of being returned is {person.believed_return_prob:.1%}")

# %% [markdown]
# ## Exercises
#
# 1. Run `pilot_50` with `overrides={"returns.quota_per_week": 200}` (and the same seed).
#    How do monthly arrivals and the gangs' profit change? Is one seed enough to tell?
# 2. Run the baseline with seeds 1 to 5 and plot the five arrival series with
#    `plot_overview`. How large is the run-to-run noise compared with the pilot's effect?
# 3. Look at `channel-sim params migrants` (or `docs/ODD.md`): double
#    `migrants.valuation_median_gbp` and describe what happens to prices and arrivals.
# 4. Read `Migrant.decide_many` in [`../sim/agents/migrant.py`](../sim/agents/migrant.py)
#    and the per-person loop it calls, `choose` in
#    [`../sim/agents/decision.py`](../sim/agents/decision.py), and write the decision rule
#    in one sentence of your own.
# 5. Using the stock columns `n_<state>`, check that everyone who ever entered the model
#    (`cum_inflow`) is in exactly one state on the last day.
