"""Build the teaching notebooks in ``notebooks/`` from the cell lists below.

Run ``python scripts/make_notebooks.py`` after editing a cell here; the notebooks are
written without outputs (so nothing stale is ever committed). Each notebook reads

* ``CHANNEL_SIM_NOTEBOOK_SIZE``: ``full`` (default) or ``small`` (short horizons, few
  replications and tiny grids; the same functions, used by ``tests/test_notebooks.py``);
* ``CHANNEL_SIM_NOTEBOOK_OUT``: where experiment stores go (default ``../outputs/notebooks``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip())


def setup(name: str) -> list:
    """The size parameter and output folder, first code cell of every notebook."""
    return [
        md("""
        **Size.** `SIZE` below is `"full"` by default. Set the environment variable
        `CHANNEL_SIM_NOTEBOOK_SIZE=small` (as the tests do) for short horizons, few
        replications and tiny grids: the same functions, the same code path, in well
        under a minute. Experiment stores go to `CHANNEL_SIM_NOTEBOOK_OUT` (default
        `../outputs/notebooks`); rerunning a cell resumes from what is already stored.
        """),
        code(f"""
        import os
        from pathlib import Path

        SIZE = os.environ.get("CHANNEL_SIM_NOTEBOOK_SIZE", "full")
        assert SIZE in ("small", "full"), f"CHANNEL_SIM_NOTEBOOK_SIZE must be 'small' or 'full', got {{SIZE!r}}"
        SMALL = SIZE == "small"
        OUT = Path(os.environ.get("CHANNEL_SIM_NOTEBOOK_OUT", "../outputs/notebooks")) / "{name}" / SIZE
        OUT.mkdir(parents=True, exist_ok=True)
        EXECUTOR, WORKERS = "process", 2      # or "serial"
        # small mode: from 2025-01-01 (the pilot starts 2025-08-04) to mid-2026
        SHORT = {{"start_date": "2025-01-01", "end_date": "2026-06-30"}} if SMALL else {{}}
        print(f"size: {{SIZE}}; stores in {{OUT}}")
        """),
        code("""
        import matplotlib.pyplot as plt  # noqa: F401  (for figures of your own)
        import pandas as pd

        import sim
        import sim.plots  # noqa: F401  (sets a non-interactive backend; the next line restores inline figures)

        %matplotlib inline
        pd.set_option("display.width", 160)
        """),
    ]


def exercises(text: str):
    """The last cell of every notebook (the tests check it is there)."""
    return new_markdown_cell("## Exercises\n\n" + textwrap.dedent(text).strip())

# ----------------------------------------------------------------------------- 01
NB01 = [
    md("""
    # 01 · Quickstart: one run of the Channel model

    This notebook runs the model once, reads its daily time series, draws the package's
    overview figure and explains, in plain words, what each kind of agent does. The
    model and its parameters are described in [`../docs/ODD.md`](../docs/ODD.md).
    The baseline is calibrated to the Home Office small-boat series 2022 to July 2025
    (notebook 05 and [`../docs/validation/report.md`](../docs/validation/report.md));
    after July 2025 the numbers are what the model does under its assumptions, not
    forecasts.
    """),
    *setup("01_quickstart"),
    md("""
    ## Run the baseline

    `sim.load_config` reads a shipped scenario (a YAML file in [`../sim/configs/`](../sim/configs/));
    `overrides` changes fields without editing the file. `sim.run` simulates day by day
    from the start date to the end date and returns a `RunResult` with `.timeseries`
    (one row per day) and `.summary` (totals and the verdict). We also run the
    one-in-one-out pilot (`pilot_50`) on the same seed, to have something to compare.
    """),
    code("""
    baseline_cfg = sim.load_config("baseline", overrides=SHORT)
    pilot_cfg = sim.load_config("pilot_50", overrides=SHORT)
    base = sim.run(baseline_cfg, seed=1)
    pilot = sim.run(pilot_cfg, seed=1)
    print(f"{baseline_cfg.name}: {baseline_cfg.start_date} to {baseline_cfg.end_date}, "
          f"{len(base.timeseries)} days in {base.wall_seconds:.1f} s")
    print(f"{pilot_cfg.name}: returns from {pilot_cfg.returns.start_date}, "
          f"quota {pilot_cfg.returns.quota_per_week} a week")
    """),
    md("""
    ## Read the time series

    `sim.metrics.resample` aggregates the daily series by month, each column as the
    table `sim.metrics.AGGREGATION` says: flows (arrivals, returns, profit) are summed,
    levels (prices) are averaged, stocks (active gangs) are read at the end of the month.
    The overview figure below aggregates the same way.
    """),
    code("""
    from sim.metrics import aggregation_of, resample

    ts = base.timeseries
    columns = ["arrivals_uk", "returns", "mean_price_gbp", "gang_profit_gbp", "active_gangs"]
    print({c: aggregation_of(c) for c in columns})
    monthly = resample(ts, "MS", columns)
    monthly.tail(12).round(0)
    """),
    code("""
    keys = ["arrivals_uk", "arrivals_uk_policy_period", "returns", "arrivals_per_return", "deaths",
            "mean_price_gbp", "market_profit_margin", "active_gangs_end", "initial_gangs", "business_model_broken"]
    pd.DataFrame({"baseline": base.summary, "pilot_50": pilot.summary}).loc[keys]
    """),
    code("""
    s = pilot.summary
    print(f"Under the pilot, {s['arrivals_uk_policy_period']:,.0f} people arrived after the policy start and "
          f"{s['returns']:,.0f} were returned, one return per {s['arrivals_per_return']:.1f} arrivals. "
          f"Over the last 26 weeks the gangs kept {s['market_profit_margin']:.0%} of their revenue as profit, "
          f"and the business model is {'broken' if s['business_model_broken'] else 'not broken'} in this run.")
    """),
    md("""
    ## Arrivals, prices and the gangs' profit

    `sim.plots.plot_overview` draws monthly panels for several runs side by side (the
    dashed line marks the first return).
    """),
    code("""
    from sim.plots import OVERVIEW_PANELS, plot_overview

    wanted = {"arrivals_uk", "returns", "mean_price_gbp", "gang_profit_gbp", "active_gangs", "waiting_at_coast"}
    fig = plot_overview({"baseline": base.timeseries, "pilot_50": pilot.timeseries},
                        panels=[p for p in OVERVIEW_PANELS if p[0] in wanted])
    """),
    md("""
    ## The agents, in plain words

    * **Migrant** ([`../sim/agents/migrant.py`](../sim/agents/migrant.py), class `Migrant`):
      one person. They travel to the northern French coast, wait, and decide whether to
      pay a gang for a seat, apply to the legal route, keep waiting or leave for another
      EU country. The decision weighs how much they value reaching the UK against the
      price, the chance of getting across, the believed chance of being returned, and the
      risk of dying at sea (`Migrant.decide_many`). Their beliefs about being returned
      move with what they hear and see (`Migrant.hear_contacts`, `Migrant.hear_announcement`,
      `Migrant.learn_returned`). Someone who is
      returned is back at the coast and may try again.
    * **SmugglingGang** ([`../sim/agents/gang.py`](../sim/agents/gang.py)): a network on
      one stretch of coast. It sells seats (paid up front), buys boats, launches on days
      the weather allows, and each week reprices, changes tactics (e.g. "taxi boats") and
      invests (`SmugglingGang.weekly_review`). Every pound is booked in a ledger; a gang
      that keeps losing money leaves the market, and new gangs enter when it pays
      (`GangMarket.maybe_enter`).
    * **BorderPatrol** ([`../sim/agents/patrol.py`](../sim/agents/patrol.py)): French
      police in one coastal sector. Their capacity comes from France and from the UK's
      payment; the chance of stopping a launch rises with capacity per launch but with
      diminishing returns (`prevention_probability`), and units move weekly to where
      boats are seen (`redeploy_patrols`).
    * **ReturnsAuthority** ([`../sim/agents/returns.py`](../sim/agents/returns.py)): the
      UK Home Office. From the policy start it detains eligible arrivals and returns them
      to France within the weekly quota (legal challenges block some returns), and admits
      people by the legal route, one for each person returned (`ReturnsAuthority.step`).

    The model that puts them on a daily schedule is `ChannelModel`
    ([`../sim/model.py`](../sim/model.py)); everyone's state is kept in a population store
    ([`../sim/population.py`](../sim/population.py)); the reporters and the verdict are in
    [`../sim/metrics.py`](../sim/metrics.py). You can step the Mesa model yourself and
    look at individual agents:
    """),
    code("""
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
    """),
    exercises("""
    1. Run `pilot_50` with `overrides={"returns.quota_per_week": 200}` (and the same seed).
       How do monthly arrivals and the gangs' profit change? Is one seed enough to tell?
    2. Run the baseline with seeds 1 to 5 and plot the five arrival series with
       `plot_overview`. How large is the run-to-run noise compared with the pilot's effect?
    3. Look at `channel-sim params migrants` (or `docs/ODD.md`): double
       `migrants.valuation_median_gbp` and describe what happens to prices and arrivals.
    4. Read `Migrant.decide_many` in [`../sim/agents/migrant.py`](../sim/agents/migrant.py)
       and write the decision rule in one sentence of your own.
    5. Using the stock columns `n_<state>`, check that everyone who ever entered the model
       (`cum_inflow`) is in exactly one state on the last day.
    """),
]

# ----------------------------------------------------------------------------- 02
NB02 = [
    md("""
    # 02 · Does "one in, one out" break the smugglers' business model?

    We compare the baseline (no returns quota) with the pilot as reported (50 returns a
    week, `pilot_50`) and larger quotas (`quota_200`, and `quota_all`: every eligible
    arrival returned). `sim.compare` runs every scenario on **common random numbers**:
    replication *j* of every scenario uses the same random streams, so the differences
    against the baseline are paired and much less noisy than differences of means.
    The baseline is calibrated to 2022 to July 2025 (notebook 05); what follows the
    pilot's start is what the model does under its assumptions, not a forecast.
    """),
    *setup("02_one_in_one_out"),
    code("""
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
    """),
    md("""
    ## Paired differences against the baseline

    Each point is the mean over replications of (scenario − baseline) on the same seeds,
    with its 95% confidence interval. An interval that excludes 0 is an effect the runs
    can tell from noise.
    """),
    code("""
    fig = plot_paired_differences(cmp)
    """),
    code("""
    d = cmp.differences.set_index(["scenario", "measure"])
    for s in SCENARIOS[1:]:
        a = d.loc[(s, "arrivals_uk_policy_period")]
        m = d.loc[(s, "market_profit_margin")]
        print(f"{s}: arrivals since the policy start {a['difference']:+,.0f} [{a['lower']:+,.0f}, {a['upper']:+,.0f}]; "
              f"profit margin {m['difference']:+.1%} [{m['lower']:+.1%}, {m['upper']:+.1%}] against the baseline")
    """),
    md("""
    ## Monthly series with bands over the replications
    """),
    code("""
    fig = plot_comparison_bands(cmp, since="2025-01-01")
    """),
    md("""
    ## Arrivals per return

    The pilot admits one person by the legal route for each person returned; how many
    people arrive for each one returned tells how much of the flow the quota touches.
    """),
    code("""
    t = cmp.table.set_index(["scenario", "measure"])
    for s in SCENARIOS[1:]:
        r = t.loc[(s, "arrivals_per_return")]
        q = t.loc[(s, "returns")]
        print(f"{s}: {q['mean']:,.0f} returns, one return per {r['mean']:.1f} arrivals "
              f"[{r['lower']:.1f}, {r['upper']:.1f}]")
    """),
    md("""
    ## What "breaking the business model" means

    The verdict is defined in [`../sim/metrics.py`](../sim/metrics.py) (ODD section 7.13).
    Over the last weeks of a run (`verdict.window_weeks`), the business model is **broken**
    when the market profit margin — the gangs' total profit divided by their total
    revenue — is at or below `verdict.profit_margin_threshold` (the market no longer pays
    for itself), **or** when the active gangs at the end have fallen to
    `verdict.gang_share_threshold` of those at the start or fewer. The thresholds of
    this run:
    """),
    code("""
    v = sim.load_config("pilot_50", overrides=SHORT).verdict
    print(f"window: last {v.window_weeks} weeks; broken if margin <= {v.profit_margin_threshold:.0%} "
          f"or active gangs <= {v.gang_share_threshold:.0%} of those at the start")
    """),
    code("""
    broken = t.xs("business_model_broken", level="measure")["mean"]
    margin = t.xs("market_profit_margin", level="measure")
    for s in SCENARIOS:
        print(f"{s:>10}: broken in {broken[s]:.0%} of {REPLICATIONS} runs; market profit margin "
              f"{margin.loc[s, 'mean']:.1%} [{margin.loc[s, 'lower']:.1%}, {margin.loc[s, 'upper']:.1%}]")
    policies = SCENARIOS[1:]
    if not (broken[policies] > 0).any():
        print(f"\\nIn these runs no quota broke the business model: in every run of every scenario the gangs' "
              f"margin stayed above {v.profit_margin_threshold:.0%} (lowest scenario mean "
              f"{margin.loc[policies, 'mean'].min():.1%}) and enough gangs stayed active.")
    else:
        hit = [s for s in policies if broken[s] > 0]
        print(f"\\nThe business model broke in some runs of: {', '.join(hit)}.")
    """),
    md("""
    The replications are paired: each row below is one seed, so you can see that a
    quota moves the margin in the same direction in (almost) every replication even when
    the spread across seeds is large.
    """),
    code("""
    cmp.wide("market_profit_margin").round(3)
    """),
    exercises("""
    1. Add a scenario of your own: copy `../sim/configs/quota_200.yaml` to a new file with
       `quota_per_week: 100`, add its path to `SCENARIOS` and rerun. Where does it sit?
    2. Compare `pilot_50` with `legal_route_only`. How much of the pilot's effect on
       arrivals comes from the legal route rather than from returns?
    3. The "repeat arrivals" row grows with the quota. Explain why, using the
       `RETURNED` state in [`../sim/agents/migrant.py`](../sim/agents/migrant.py).
    4. Rerun with half the replications and then twice as many. How do the confidence
       intervals of the paired differences change (roughly as 1/sqrt(n))?
    5. Change `verdict.profit_margin_threshold` through `overrides` (e.g. 0.2). Does any
       quota "break" the business model now? What does that tell you about the definition?
    """),
]

# ----------------------------------------------------------------------------- 03
NB03 = [
    md("""
    # 03 · Parameter sweeps: a phase diagram and the threshold quota

    Does the business model break as a function of the weekly returns quota **and** of
    French interception (the UK's payment to France for beach patrols)? The sweep file
    [`../sim/configs/sweeps/quota_vs_interception.yaml`](../sim/configs/sweeps/quota_vs_interception.yaml)
    defines the grid; `run_experiment` runs it into a resumable store and
    `phase_diagram` turns the store into the probability of a broken business model
    (with Wilson intervals) and the mean profit margin in each cell. In small mode we
    build a smaller `Experiment` from the sweep file with `grid(...)`.
    """),
    *setup("03_parameter_sweeps"),
    code("""
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
    """),
    code("""
    store = run_experiment(exp, OUT / "phase", executor=EXECUTOR, workers=WORKERS, progress=False)
    phase = phase_diagram(store, QUOTA, PAYMENT)
    phase.round(3)
    """),
    code("""
    fig = plot_phase(phase, QUOTA, PAYMENT)
    """),
    code("""
    fig = plot_phase(phase, QUOTA, PAYMENT, value="market_profit_margin")
    """),
    code("""
    n_cells = len(phase)
    any_broken = phase[phase["n_broken"] > 0]
    best = phase.loc[phase["market_profit_margin"].idxmin()]
    print(f"The business model broke in at least one run in {len(any_broken)} of {n_cells} cells "
          f"({exp.design.replications} replications each). The lowest mean margin, "
          f"{best['market_profit_margin']:.1%} [{best['market_profit_margin_lower']:.1%}, "
          f"{best['market_profit_margin_upper']:.1%}], is at a quota of {best[QUOTA]:,.0f} a week "
          f"and a UK payment of £{best[PAYMENT] / 1e6:,.0f}m a year.")
    """),
    md("""
    ## The threshold quota

    `threshold_quota` searches, for each seed separately, the smallest weekly quota at
    which the business model breaks (bisection on a grid of candidate quotas), and
    reports the mean and median with intervals. A seed for which the model is not
    broken even at the top of the bracket is **censored** (the threshold is above `hi`).
    """),
    code("""
    search = dict(replications=2, lo=0, hi=1000, tolerance=250) if SMALL else \\
        dict(replications=10, lo=0, hi=2000, tolerance=25)
    thr = threshold_quota("pilot_50", seed=20250804, overrides={"start_date": "2025-01-01", **SHORT},
                          executor=EXECUTOR, workers=WORKERS, out=OUT / "threshold", **search)
    print(format_threshold(thr))
    """),
    code("""
    if thr.n_censored == thr.replications:
        print(f"In none of the {thr.replications} seeds did a quota up to {thr.hi:,} a week break the business model "
              f"({thr.n_runs} runs): under these parameters the threshold, if there is one, lies above {thr.hi:,}.")
    else:
        print(f"{thr.replications - thr.n_censored} of {thr.replications} seeds broke below {thr.hi:,} a week; "
              f"median threshold {thr.median:,.0f} [{thr.median_lower:,.0f}, {thr.median_upper:,.0f}].")
    """),
    exercises("""
    1. Replace the interception axis with `migrants.valuation_median_gbp` (e.g. 10,000 to
       60,000) and draw the phase diagram again. Which axis matters more for the margin?
    2. Add a third factor to the grid; `phase_diagram` pools it unless you pass `x=`/`y=`.
       Make one diagram per level of the third factor instead.
    3. Run the threshold search on `interception_plus` instead of `pilot_50`. Does more
       interception lower the threshold quota?
    4. Rerun a cell after changing nothing: why does it finish at once? (Look in the store
       folder printed at the top, and at `run_experiment`'s docstring.)
    5. The verdict looks at the last 26 weeks. Lengthen the horizon (`end_date`) and see
       whether the margin keeps falling or levels off.
    """),
]

# ----------------------------------------------------------------------------- 04
NB04 = [
    md("""
    # 04 · Sensitivity: which assumptions drive the answer?

    Many parameters are uncertain even after calibration: the data of 2022-2025 pin
    down levels and patterns, not how people respond to a policy never tried before.
    A global sensitivity analysis
    varies several at once over plausible ranges and asks which of them move the gangs'
    profit margin and the arrivals. **Morris screening** is cheap: `mu_star` (the mean
    absolute elementary effect) ranks parameters by influence, and a large `sigma`
    relative to `mu_star` signals non-linearity or interactions. **Sobol indices** split
    the output variance: `S1` is a parameter's own share, `ST` its share including
    interactions. Both designs run through the same experiment engine; the bounds
    follow [`../sim/configs/sweeps/morris.yaml`](../sim/configs/sweeps/morris.yaml) and
    [`../sim/configs/sweeps/sobol.yaml`](../sim/configs/sweeps/sobol.yaml).
    """),
    *setup("04_sensitivity"),
    code("""
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
    """),
    md("## Morris screening"),
    code("""
    m_design = morris(BOUNDS, trajectories=2 if SMALL else 20, seed=20250806, levels=4)
    m_exp = Experiment(design=m_design, base="pilot_50", overrides=OVERRIDES, seed=20250806,
                       outputs=OutputSpec(frequency="end"), name="morris")
    print(f"Morris: {m_design.n_runs} runs")
    m_store = run_experiment(m_exp, OUT / "morris", executor=EXECUTOR, workers=WORKERS, progress=False)
    m_table = morris_indices(m_store, OUTPUTS)
    m_table
    """),
    code("""
    fig = plot_indices(m_table, output="market_profit_margin")
    """),
    code("""
    mm = m_table[m_table["output"] == "market_profit_margin"].sort_values("mu_star", ascending=False)
    top = mm.iloc[0]
    print("ranking by mu_star (market profit margin): " + ", ".join(
        f"{r.parameter} ({r.mu_star:.3f})" for r in mm.itertuples()))
    rank = list(mm["parameter"]).index("returns.quota_per_week") + 1
    q = mm.set_index("parameter").loc["returns.quota_per_week"]
    print(f"The margin moves most with {top['parameter']}: on average {100 * top['mu_star']:.1f} percentage "
          f"points per step of 2/3 of its range. The returns quota ranks {rank} of {len(mm)} "
          f"({100 * q['mu_star']:.1f} points).")
    """),
    md("""
    ## Sobol indices

    In full mode this is the analysis of `sim/configs/sweeps/sobol.yaml` (n = 64, 448 runs,
    about 10 minutes on 2 cores). In small mode the sample is tiny (n = 2): the code
    path is the same, but the indices are noise — do not read them.
    """),
    code("""
    s_design = sobol(BOUNDS, n=2 if SMALL else 64, seed=20250805)
    s_exp = Experiment(design=s_design, base="pilot_50", overrides=OVERRIDES, seed=20250805,
                       outputs=OutputSpec(frequency="end"), name="sobol")
    print(f"Sobol: {s_design.n_runs} runs")
    s_store = run_experiment(s_exp, OUT / "sobol", executor=EXECUTOR, workers=WORKERS, progress=False)
    s_table = sobol_indices(s_store, OUTPUTS)
    s_table
    """),
    code("""
    fig = plot_indices(s_table, output="market_profit_margin")
    """),
    code("""
    ss = s_table[s_table["output"] == "market_profit_margin"].sort_values("ST", ascending=False)
    print("total-order indices ST (market profit margin): " + ", ".join(
        f"{r.parameter} {r.ST:.2f}" for r in ss.itertuples()))
    if SMALL:
        print("(small mode: too few runs for these indices to mean anything)")
    """),
    exercises("""
    1. Add `migrants.choice_scale_gbp` (which sets the gangs' markup), or another parameter from `channel-sim params`, to
       `BOUNDS`, with a range inside its declared range, and rerun the Morris screening.
    2. Use `business_model_broken` as an output. Why is a 0/1 output hard for these methods?
    3. Double the Morris trajectories. Does the ranking of the top parameters change?
    4. Compare `S1` and `ST` for the quota. What does a large gap between them mean for
       a policy maker who can only choose the quota?
    5. With one replication per point the model's own noise shows up as interaction.
       Set `replications=3` in the designs and see how the indices change.
    """),
]

# ----------------------------------------------------------------------------- 05
NB05 = [
    md("""
    # 05 · Calibration: the data, the targets, simulated against observed

    A model that does not look like the Channel before the pilot cannot say much about
    the pilot. This notebook shows the data the model is calibrated to, the targets
    (each pattern with its observed value and tolerance, defined once in
    [`../sim/calibration/targets.py`](../sim/calibration/targets.py)), how the
    calibration works (ABC-SMC in [`../sim/calibration/abc.py`](../sim/calibration/abc.py),
    run through the experiment engine), and the shipped baseline against every target.
    The committed report is [`../docs/validation/report.md`](../docs/validation/report.md);
    the calibration that produced the baseline is in
    [`../sim/configs/calibration/baseline.yaml`](../sim/configs/calibration/baseline.yaml) and its results in
    [`../docs/calibration/`](../docs/calibration/summary.json).
    """),
    *setup("05_calibration"),
    md("""
    ## The data

    The UK Home Office publishes the people and boats arriving each day. `observed()`
    gives the series daily, weekly, monthly or yearly, with people per boat and the
    share of days with any crossing.
    """),
    code("""
    from sim.calibration import default_targets, load_published, observed

    yearly = observed("yearly", "2022-01-01", "2025-07-31")
    yearly[["people", "boats", "people_per_boat", "crossing_day_share"]].round(2)
    """),
    code("""
    monthly = observed("monthly", "2022-01-01", "2025-07-31")
    ax = monthly["people"].plot(figsize=(9, 3), marker=".", title="Arrivals by month (Home Office)")
    ax.set_ylabel("people");
    """),
    md("""
    Besides the series, a few published figures: the share of attempts the French
    prevented, prices, deaths, and the Albania case. Each row names its source.
    """),
    code("""
    load_published()[["quantity", "period", "low", "high", "unit", "source"]]
    """),
    md("""
    ## The targets

    Each pattern is a `Target`: a statistic computed from a daily frame (the same code
    for the observed series and for a simulated run), an observed value or band, and a
    tolerance. Its *error* is the miss in units of the tolerance: at most 1 means met.
    """),
    code("""
    targets = default_targets()
    pd.DataFrame([{"target": t.name, "observed": t.observed_text(), "tolerance": t.tolerance_text(),
                   "source": t.source[:60]} for t in targets])
    """),
    md("""
    ## The shipped baseline against every target

    `validate()` runs the baseline from 2022 to July 2025 on several seeds (common
    random numbers), and the same runs without the UK-Albania returns deal, through the
    experiment engine. The error of a target is computed on the mean over runs.
    """),
    code("""
    from sim.calibration import validate
    from sim.calibration.report import (plot_albania, plot_boats_and_days, plot_daily_counts,
                                        plot_monthly_arrivals, plot_posterior, plot_prices_prevention_deaths)

    v = validate("baseline", out=OUT / "validation", replications=2 if SMALL else 8, seed=20250731,
                 executor=EXECUTOR, workers=WORKERS, progress=False)
    table = v.table()
    print(f"{int(table['met'].sum())} of {len(table)} targets met")
    table[["target", "observed", "simulated", "sim_low", "sim_high", "error", "met"]].round(3)
    """),
    code("""
    fig = plot_monthly_arrivals(v)
    """),
    code("""
    fig = plot_boats_and_days(v)
    """),
    code("""
    fig = plot_daily_counts(v)
    """),
    code("""
    fig = plot_prices_prevention_deaths(v)
    """),
    md("""
    **The Albania natural experiment.** In December 2022 the UK and Albania agreed
    fast returns; Albanians had been about a quarter of arrivals, and their crossings
    fell by about 90% within a year. In the model the deal makes return near-certain
    for that group (`groups.0.bilateral_return_prob`); the figure compares the same
    runs with and without it.
    """),
    code("""
    fig = plot_albania(v)
    print(f"fall in Albanian arrivals 2023 vs 2022: {v.stats['albania_fall'].mean():.0%} with the deal, "
          f"{v.stats_no_deal['albania_fall'].mean():.0%} without")
    """),
    md("""
    ## How the calibration works: a small ABC-SMC you can run

    Approximate Bayesian computation keeps the parameter sets whose simulated targets
    come close to the observed ones. The sequential version (ABC-SMC) starts from the
    prior, keeps the closest candidates, and proposes new candidates around them with a
    shrinking threshold. Here it recovers two parameters from data the model generated
    itself at known values (so we know the answer): the level of inflow and the
    strength of beach prevention, over 2022 only.
    """),
    code("""
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
    """),
    code("""
    fig = plot_posterior(result.particles, spec.parameters)
    for ax, p in zip(fig.axes, spec.parameters):
        ax.axvline(TRUE[p.path], color="k", ls="--")
    """),
    md("""
    ## The shipped calibration

    `channel-sim calibrate` ran the same procedure on the real data, with the nine
    parameters and priors of `sim/configs/calibration/baseline.yaml`; the chosen values (the
    posterior mean) are in `sim/configs/baseline.yaml`. Its results are committed:
    """),
    code("""
    import json

    from sim.calibration.abc import Prior

    shipped = Path("../docs/calibration")
    summary = json.loads((shipped / "summary.json").read_text())
    print(f"{summary['runs']} runs, {summary['generations']} generations, {summary['wall_seconds'] / 60:.0f} min")
    pd.DataFrame(summary["posterior"]).round(3)
    """),
    code("""
    priors = [Prior(k, v["low"], v["high"], v["log"]) for k, v in summary["spec"]["parameters"].items()]
    fig = plot_posterior(pd.read_parquet(shipped / "particles.parquet"), priors)
    """),
    exercises("""
    1. In the small ABC-SMC above, drop `prevented_share` from the targets. Is
       `patrols.prevention_max` still recovered? What does that say about which data
       identify which parameter?
    2. Change `TRUE` to a prevention of 0.85 and rerun. Is the recovery as good near
       the edge of the prior?
    3. Which target does the shipped baseline miss by most (largest error)? Look at its
       figure: is the miss in level, in shape, or in a few months?
    4. Validate the baseline with the upstream choice switched off, e.g.
       `validate(sim.load_config("baseline", {"mechanisms.upstream_choice": False}), out=OUT / "no_upstream")`.
       Which targets break? (Hint: the Albania case.)
    5. Widen a prior in a copy of `sim/configs/calibration/baseline.yaml` and run
       `channel-sim calibrate --spec your.yaml --budget 200 --out outputs/my_cal`.
       How much do the posterior intervals depend on the budget?
    """),
]

NOTEBOOKS = {
    "01_quickstart": NB01,
    "02_one_in_one_out": NB02,
    "03_parameter_sweeps": NB03,
    "04_sensitivity": NB04,
    "05_calibration": NB05,
}


def build() -> list[Path]:
    NB_DIR.mkdir(exist_ok=True)
    paths = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        })
        for i, c in enumerate(nb.cells):
            c["id"] = f"{name[:2]}-{i:02d}"
        nbformat.validate(nb)
        path = NB_DIR / f"{name}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in build():
        print(p.relative_to(ROOT))
