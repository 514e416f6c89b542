"""The quota threshold search (sim.experiments.threshold) and phase diagrams (.phase)."""

from __future__ import annotations

import dataclasses
import math

import matplotlib
import numpy as np
import pytest
from scipy import stats

from sim.config import CONFIG_DIR
from sim.experiments import (
    Experiment,
    OutputSpec,
    grid,
    load_sweep,
    replication_seed,
    run_experiment,
)
from sim.experiments.phase import phase_diagram, plot_phase, wilson_interval
from sim.experiments.testfunctions import synthetic_verdict
from sim.experiments.threshold import (
    Bracket,
    bisect_threshold,
    bisect_thresholds,
    candidate_grid,
    format_threshold,
    median_order_ci,
    threshold_quota,
)

matplotlib.use("Agg")

SYNTHETIC = "sim.experiments.testfunctions:synthetic_verdict"
QUOTA = "returns.quota_per_week"
PAYMENT = "patrols.uk_payment_gbp_per_year"
#: One simulated year of the pilot with the policy in force from February, so that the
#: 26-week verdict window at the end of the year lies inside the policy period.
ONE_YEAR = {
    "start_date": "2025-01-01",
    "end_date": "2025-12-31",
    "returns.start_date": "2025-02-03",
    "returns.announce_date": "2025-01-15",
    "legal_route.start_date": "2025-02-03",
}
#: Within one year the market does not break at any quota; with no legal challenges and a
#: stricter verdict (margin at or below 30%) both outcomes occur, so that the search
#: brackets a threshold and the phase diagram has both colours (the tests hold either way).
#: Without returns the one-year margin is 36-44% on these seeds, so quota 0 never breaks.
RELAXED = {**ONE_YEAR, "returns.challenge_block_share": 0.0, "verdict.profit_margin_threshold": 0.3}


def _true_thresholds(seed: int, n: int) -> np.ndarray:
    return np.array(
        [
            synthetic_verdict({QUOTA: 0}, replication_seed(seed, j))["true_threshold"]
            for j in range(n)
        ]
    )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return threshold_quota(
        None,
        replications=30,
        seed=7,
        lo=0,
        hi=1000,
        tolerance=25,
        executor="serial",
        model=SYNTHETIC,
        out=tmp_path_factory.mktemp("thr"),
    )


def test_bisection_finds_each_seeds_threshold(synthetic):
    r = synthetic
    true = _true_thresholds(7, 30)
    per = r.per_replication
    assert len(per) == 30 and r.n_censored == 0 and not per["censored"].any()
    # broken iff quota > true: not broken at `lower`, broken at `threshold`, within the tolerance
    assert (per["lower"].to_numpy() <= true).all() and (true < per["threshold"].to_numpy()).all()
    assert (per["threshold"] - per["lower"] <= 25).all()
    # bisection: about log2(40 cells) rounds after the two bracket ends
    assert r.n_runs == len(r.evaluations) == len(r.store.runs()) == per["runs"].sum()
    assert per["runs"].max() <= 2 + math.ceil(math.log2(40)) and r.rounds <= 1 + math.ceil(
        math.log2(40)
    )
    ev = r.evaluations  # round 0: both ends for every seed; then one run per seed still searching
    assert (
        ev[ev["round"] == 0].groupby("replication")["value"].agg(sorted) == [[0, 1000]] * 30
    ).all()
    later = ev[ev["round"] > 0]
    assert (later.groupby("round")["replication"].nunique() == later.groupby("round").size()).all()


def test_intervals_cover_the_known_threshold(synthetic):
    r = synthetic
    # thresholds are rounded up to the grid: their expectation is 300 + about tolerance/2
    assert r.mean_lower <= 300 + 12.5 <= r.mean_upper
    assert r.n_mean == 30
    assert r.mean == pytest.approx(r.per_replication["threshold"].mean())
    t_half = stats.t.ppf(0.975, 29) * r.per_replication["threshold"].std(ddof=1) / math.sqrt(30)
    assert r.mean_upper - r.mean == pytest.approx(t_half)
    # the population median of the smallest breaking quota is 301
    assert r.median_lower <= 301 <= r.median_upper and r.median_coverage >= 0.95
    text = format_threshold(r)
    assert (
        "mean " in text
        and "order-statistic interval" in text
        and "censored (not broken at 1000): 0 of 30" in text
    )


def test_search_is_reproducible_and_resumes(synthetic, tmp_path):
    r = synthetic
    again = threshold_quota(
        None,
        replications=30,
        seed=7,
        lo=0,
        hi=1000,
        tolerance=25,
        executor="serial",
        model=SYNTHETIC,
        out=r.store.path,
    )
    assert again.per_replication.equals(r.per_replication)
    assert len(again.store.runs()) == r.n_runs  # every run was already in the store
    other = threshold_quota(
        None,
        replications=30,
        seed=8,
        lo=0,
        hi=1000,
        tolerance=25,
        executor="serial",
        model=SYNTHETIC,
        out=tmp_path,
    )
    assert not other.per_replication["threshold"].equals(r.per_replication["threshold"])


def test_bracket_ends_and_censoring(tmp_path):
    # thresholds 300 + 60 z: with lo = 280 some seeds are broken already, with hi = 330 some never
    r = threshold_quota(
        None,
        replications=12,
        seed=3,
        lo=280,
        hi=330,
        tolerance=10,
        executor="serial",
        model=SYNTHETIC,
        out=tmp_path,
    )
    true = _true_thresholds(3, 12)
    per = r.per_replication
    at_lo = true < 280
    censored = true >= 330
    assert at_lo.any() and censored.any()
    assert (per.loc[at_lo, "threshold"] == 280).all() and per.loc[at_lo, "lower"].isna().all()
    assert (per["censored"].to_numpy() == censored).all() and per.loc[
        censored, "threshold"
    ].isna().all()
    assert (per.loc[at_lo | censored, "runs"] == 2).all()
    assert r.n_censored == censored.sum() and r.n_mean == 12 - censored.sum()
    assert np.isinf(r.thresholds[censored]).all()
    text = format_threshold(r)
    assert "> 330" in text and "censored" in text and "biased low" in text and "<= 280" in text


# ----------------------------------------------------------------------------- the bisection alone
def _brute_force(switch: int, n: int) -> Bracket:
    """The bracket of a verdict broken from index ``switch`` on, by looking at every index."""
    if switch <= 0:
        return Bracket(None, 0)
    if switch >= n:
        return Bracket(n - 1, None)
    return Bracket(switch - 1, switch)


def test_bisection_of_a_step_function_matches_brute_force():
    for n in (2, 3, 5, 8, 41):
        for switch in range(-1, n + 2):
            assert bisect_threshold(lambda i, s=switch: i >= s, n) == _brute_force(switch, n), (n, switch)


def test_bisection_runs_rounds_of_batches_one_cell_per_searching_replication():
    n, switches = 41, [0, 3, 17, 20, 40, 41, 99, 12]
    calls: list[tuple[int, list[tuple[int, int]]]] = []

    def evaluate(cells, rnd):
        calls.append((rnd, list(cells)))
        return {(i, j): i >= switches[j] for i, j in cells}

    got = bisect_thresholds(n, len(switches), evaluate)
    assert got == {j: _brute_force(s, n) for j, s in enumerate(switches)}
    assert [rnd for rnd, _ in calls] == list(range(len(calls)))
    first = calls[0][1]  # round 0: both ends of every replication
    assert first == [(0, j) for j in range(8)] + [(n - 1, j) for j in range(8)]
    searching = {j for j, s in enumerate(switches) if 0 < s < n}  # neither broken at 0 nor censored
    for _, cells in calls[1:]:
        reps = [j for _, j in cells]
        assert len(reps) == len(set(reps)) and set(reps) <= searching
    assert len(calls) - 1 <= math.ceil(math.log2(n - 1))  # bisection: log2 of the 40 steps
    # every replication's cells narrow its bracket: at most 2 + log2 evaluations each
    per_rep = [sum(j == r for _, cells in calls for _, j in cells) for r in range(8)]
    assert max(per_rep) <= 2 + math.ceil(math.log2(n - 1))
    assert Bracket(None, 0).censored is False and Bracket(40, None).censored is True
    with pytest.raises(ValueError, match="at least 2"):
        bisect_thresholds(1, 1, evaluate)
    with pytest.raises(ValueError, match="replications"):
        bisect_thresholds(5, 0, evaluate)


def test_threshold_search_reuses_one_process_pool_for_every_round(synthetic, tmp_path):
    """Every round runs in the same two worker processes, with the serial search's results."""
    r = threshold_quota(
        None,
        replications=30,
        seed=7,
        lo=0,
        hi=1000,
        tolerance=25,
        executor="process",
        workers=2,
        model=SYNTHETIC,
        out=tmp_path,
    )
    assert r.rounds > 3 and r.per_replication.equals(synthetic.per_replication)
    assert r.evaluations.equals(synthetic.evaluations)
    assert r.store.runs()["pid"].nunique() <= 2


def test_invalid_arguments():
    with pytest.raises(ValueError, match="0 <= lo < hi"):
        threshold_quota(None, lo=100, hi=100, model=SYNTHETIC, executor="serial")
    with pytest.raises(ValueError, match="tolerance must be >= 1"):
        threshold_quota(None, tolerance=0, model=SYNTHETIC, executor="serial")
    with pytest.raises(ValueError, match="replications"):
        threshold_quota(None, replications=0, model=SYNTHETIC, executor="serial")
    assert candidate_grid(0, 100, 30) == [0, 30, 60, 90, 100]


def test_median_order_statistic_interval():
    x = np.arange(1.0, 11.0)  # n = 10: [x_(2), x_(9)] covers 1 - 2 P(Bin(10, 1/2) <= 1) = 97.9%
    med, lo, hi, cov = median_order_ci(x)
    assert (med, lo, hi) == (5.5, 2.0, 9.0) and cov == pytest.approx(1 - 2 * 11 / 1024)
    med, lo, hi, cov = median_order_ci(np.array([1.0, 2.0, 3.0, np.inf, np.inf]))
    assert med == 3.0 and (lo, hi) == (1.0, np.inf) and cov == pytest.approx(1 - 2 / 32)
    assert np.isnan(median_order_ci(np.array([]))[0])


@pytest.mark.slow
def test_threshold_on_the_channel_model(tmp_path):
    """One simulated year, 2 replications, a coarse grid (0, 400, ..., 1600)."""
    r = threshold_quota(
        "pilot_50",
        overrides=RELAXED,
        replications=2,
        seed=1,
        lo=0,
        hi=1600,
        tolerance=400,
        executor="serial",
        out=tmp_path,
    )
    per = r.per_replication
    assert len(per) == 2 and r.n_runs <= 2 * 4
    assert (r.store.runs()["status"] == "ok").all()
    for row in per.itertuples(index=False):
        if row.censored:
            assert math.isnan(row.threshold)
        else:
            assert 0 <= row.threshold <= 1600
            assert math.isnan(row.lower) or row.threshold - row.lower == 400
    # the verdicts seen are consistent with a monotone threshold, seed by seed
    for _, g in r.evaluations.groupby("replication"):
        broken, intact = g.loc[g["broken"], "value"], g.loc[~g["broken"], "value"]
        assert broken.empty or intact.empty or intact.max() < broken.min()
    assert "smallest returns.quota_per_week" in format_threshold(r)


def test_wilson_interval():
    lo, hi = wilson_interval(0, 5)
    assert lo == 0.0 and 0.4 < hi < 0.5
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(1 - hi) and lo < 0.5 < hi


@pytest.mark.slow
def test_phase_diagram_on_a_tiny_grid(tmp_path):
    exp = Experiment(
        design=grid({QUOTA: [0, 800], PAYMENT: [0, 320e6]}, replications=2),
        base="pilot_50",
        overrides=RELAXED,
        seed=4,
        outputs=OutputSpec(frequency="end"),
    )
    store = run_experiment(exp, tmp_path, executor="serial", progress=False)
    df = phase_diagram(store)
    assert len(df) == 4 and list(df.columns[:2]) == [QUOTA, PAYMENT]
    assert (df["replications"] == 2).all()
    assert df["p_broken"].between(0, 1).all()
    assert (df["p_broken_lower"] <= df["p_broken"]).all() and (
        df["p_broken"] <= df["p_broken_upper"]
    ).all()
    summ = store.summaries().merge(store.runs()[["run_id", "point"]], on="run_id")
    assert df["p_broken"].tolist() == summ.groupby("point")["business_model_broken"].mean().tolist()
    assert df["market_profit_margin"].tolist() == pytest.approx(
        summ.groupby("point")["market_profit_margin"].mean().tolist()
    )
    assert (df.loc[df[QUOTA] == 0, "p_broken"] == 0).all()  # no returns, a paying market

    from matplotlib.figure import Figure

    fig = plot_phase(df, QUOTA, PAYMENT)
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # the heat map and its colour bar
    ax = fig.axes[0]
    assert "quota" in ax.get_xlabel() and "payment" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "800"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "320"]
    assert len(ax.texts) == 4 and "P(business model broken)" in fig.axes[1].get_ylabel()
    fig2 = plot_phase(df, QUOTA, PAYMENT, value="market_profit_margin")
    assert all(t.get_text().endswith("%") for t in fig2.axes[0].texts)
    with pytest.raises(ValueError, match="not swept"):
        phase_diagram(store, QUOTA, "beliefs.rumour_trust")
    with pytest.raises(ValueError, match="column 'nope'"):
        plot_phase(df, QUOTA, PAYMENT, value="nope")


def test_quota_vs_interception_sweep_is_valid():
    exp = load_sweep(CONFIG_DIR / "sweeps" / "quota_vs_interception.yaml")
    exp.validate()
    assert exp.design.kind == "grid" and exp.base == "pilot_50" and exp.design.replications == 5
    assert exp.design.factors == [QUOTA, PAYMENT] and exp.outputs.frequency == "monthly"
    assert exp.design.n_points == 24
    cfg = exp.base_config_dict()
    assert cfg["start_date"] == "2025-01-01" and cfg["end_date"] == "2027-12-31"
    assert cfg["returns"]["start_date"] == "2025-08-04"


def test_a_rounds_run_count_is_its_selection_not_the_whole_grid(tmp_path, capsys):
    """The engine counts (progress bar, 'runs done / skipped') the runs a round selects."""
    from sim.experiments.designs import grid
    from sim.experiments.engine import run_experiment
    from sim.experiments.tasks import OutputSpec
    from sim.experiments.threshold import SearchExperiment

    exp = SearchExperiment(design=grid({"x": [1.0, 2.0, 3.0]}, 4), base={}, seed=1,
                           outputs=OutputSpec(frequency="end"), model="sim.experiments.testfunctions:noisy_linear",
                           selected=frozenset({(0, 1), (2, 3)}))
    assert exp.run_ids() == ["p00000-r001", "p00002-r003"]
    assert [t["run_id"] for t in exp.tasks()] == exp.run_ids()
    assert len(dataclasses.replace(exp, selected=None).run_ids()) == 12
    run_experiment(exp, tmp_path, executor="serial", progress=False)
    more = dataclasses.replace(exp, selected=frozenset({(0, 1), (1, 0)}))
    capsys.readouterr()
    run_experiment(more, tmp_path, executor="serial", progress=True)
    assert "1 runs done, 0 failed, 1 skipped" in capsys.readouterr().err
