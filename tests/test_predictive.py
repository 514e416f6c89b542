"""Policy results over the posterior (issue 11): draws, the nested design, the variance split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.experiments.predictive import (
    format_predictive,
    plot_predictive,
    posterior_draws,
    predictive_runs,
    predictive_table,
    variance_split,
    wilson_interval,
)

SHORT = {"start_date": "2025-10-01", "end_date": "2026-03-31"}   # into 2026, past the last calibrated year


def test_wilson_interval_of_one_in_eight_lies_in_the_unit_interval():
    lo, hi = wilson_interval(1, 8)
    assert 0.0 <= lo < 1 / 8 < hi <= 1.0
    assert wilson_interval(0, 8)[0] == 0.0 and wilson_interval(8, 8)[1] == 1.0


def test_variance_split_adds_up_and_finds_each_source():
    rng = np.random.default_rng(0)
    d, k, r = 5, 3, 4
    cube = (rng.normal(0, 3, (d, 1, 1)) + rng.normal(0, 2, (d, k, 1)) + rng.normal(0, 1, (d, k, r)))
    v = variance_split(cube)
    assert v["var_parametric"] + v["var_inflow"] + v["var_stochastic"] == pytest.approx(v["var_total"])
    flat = variance_split(np.broadcast_to(rng.normal(0, 1, (d, 1, r)), (d, k, r)))   # paths identical
    assert flat["var_inflow"] == 0.0


def test_posterior_draws_follow_the_weights_and_are_reproducible():
    post = pd.DataFrame({"a.b": [1.0, 2.0, 3.0], "weight": [0.0, 0.25, 0.75], "distance": [1, 1, 1]})
    draws = posterior_draws(post, 400, seed=3)
    assert set(draws.columns) == {"a.b", "particle"}
    assert (draws["particle"] != 0).all()
    assert (draws["particle"] == 2).mean() == pytest.approx(0.75, abs=0.07)
    pd.testing.assert_frame_equal(draws, posterior_draws(post, 400, seed=3))
    with pytest.raises(ValueError, match="weight"):
        posterior_draws(post.drop(columns="weight"), 3)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    draws = posterior_draws("docs/calibration", 3, seed=1)
    runs = predictive_runs(["baseline", "quota_200"], draws, tmp_path_factory.mktemp("pred"), paths=2,
                           replications=2, overrides={**SHORT, "environment.future_inflow": "ensemble"},
                           executor="process", workers=2)
    return draws, runs


def test_predictive_runs_cover_the_nested_design_on_common_seeds(study):
    draws, runs = study
    assert len(runs) == 2 * 3 * 2 * 2
    assert set(runs["scenario"]) == {"baseline", "quota_200"}
    # the same seed for a replication in every scenario, draw and path
    seeds = runs.groupby("replication")["spawn_key"].nunique() if "spawn_key" in runs else None
    assert seeds is None or (seeds == 1).all()
    # a path fixes the future inflow: the same factor in both scenarios and every replication
    f = runs.groupby(["draw", "path"])["future_inflow_factor"].nunique()
    assert (f == 1).all()
    assert runs.groupby("draw")["future_inflow_factor"].nunique().max() == 2
    # every draw has futures of its own: path k is not one future shared by all draws
    assert runs.groupby("path")["future_inflow_factor"].nunique().min() == 3


def test_predictive_table_splits_the_variance_and_pairs_within_draw_path_and_replication(study):
    _, runs = study
    table = predictive_table(runs, ["arrivals_uk_policy_period", "paid_crossings_policy_period", "returns"])
    parts = table["var_parametric"] + table["var_inflow"] + table["var_stochastic"]
    np.testing.assert_allclose(parts, table["var_total"], rtol=1e-9, atol=1e-6)
    base = table[(table["scenario"] == "baseline") & (table["measure"] != "returns")]   # no returns in baseline
    assert (base["var_inflow"] > 0).all()
    diff = table[(table["scenario"] == "quota_200 - baseline") & (table["measure"] == "returns")].iloc[0]
    key = ["draw", "path", "replication"]
    a = runs[runs["scenario"] == "quota_200"].set_index(key)["returns"]
    b = runs[runs["scenario"] == "baseline"].set_index(key)["returns"]
    paired = (a - b.reindex(a.index)).to_numpy()
    assert diff["median"] == pytest.approx(np.median(paired))
    assert diff["var_total"] == pytest.approx(paired.var())
    assert diff["mean"] > 0


def test_a_fixed_future_gives_no_inflow_variance(tmp_path):
    draws = posterior_draws("docs/calibration", 2, seed=2)
    runs = predictive_runs(["baseline"], draws, tmp_path / "fixed", paths=2, replications=1,
                           overrides={**SHORT, "environment.future_inflow": "fixed"}, executor="serial")
    table = predictive_table(runs, ["arrivals_uk", "deaths"])
    assert (table["var_inflow"] == 0).all()
    assert (table["var_parametric"] > 0).any()


def test_the_text_and_the_figure_show_every_scenario_and_measure(study, tmp_path):
    _, runs = study
    table = predictive_table(runs, ["arrivals_uk_policy_period", "business_model_broken"])
    text = format_predictive(table, {"arrivals_uk_policy_period": ("arrivals since the policy start", "{:,.0f}")})
    assert "arrivals since the policy start" in text and "quota_200 - baseline" in text
    assert "(Wilson)" in text and "variance:" in text
    # a paired difference of a share is the difference of the shares, in points (not quantiles of -1/0/1)
    diff = table[(table["scenario"] == "quota_200 - baseline") & (table["measure"] == "business_model_broken")]
    line = next(x for x in text.splitlines() if x.strip().startswith("quota_200 - baseline") and "pts" in x)
    assert f"{100 * diff['mean'].iloc[0]:+.1f} pts" in line and "(difference of the shares)" in line
    fig = plot_predictive(runs, ["arrivals_uk_policy_period", "paid_crossings_policy_period"])
    fig.savefig(tmp_path / "bands.png")
    assert (tmp_path / "bands.png").stat().st_size > 5000


def test_compare_posterior_writes_the_predictive_table_and_figure(tmp_path, capsys):
    from sim.cli import main

    out = tmp_path / "cmp"
    code = main(["compare", "baseline", "pilot_50", "--posterior", "docs/calibration", "--draws", "2", "--paths", "2",
                 "--replications", "1", "--set", "start_date=2025-11-01", "--years", "0.3", "--workers", "2",
                 "--quiet", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "pilot_50 - baseline" in printed and "variance:" in printed
    table = pd.read_csv(out / "predictive.csv")
    assert {"median", "p05", "p95", "var_stochastic", "var_parametric", "var_inflow"} <= set(table.columns)
    assert set(table["scenario"]) == {"baseline", "pilot_50", "pilot_50 - baseline"}
    # the market's side as compare reports it: rents, displacement and the UK's spending
    assert {"gang_profit_gbp_window", "displaced_policy_period", "uk_cost_gbp_policy_period"} <= set(table["measure"])
    assert "industry rents, last 26 weeks (GBP)" in printed
    assert (out / "predictive_bands.png").is_file()
    assert len(pd.read_csv(out / "predictive_runs.csv")) == 2 * 2 * 2
    assert main(["compare", "baseline", "--posterior", str(tmp_path), "--out", str(tmp_path / "bad")]) == 2
    assert "posterior.csv" in capsys.readouterr().err


def test_compare_gives_a_share_of_runs_a_wilson_interval():
    """The plain comparison's share of runs broken: a Wilson interval, never a t interval cut at 0."""
    from sim.experiments.analysis import comparison_tables

    df = pd.DataFrame({"scenario": ["a"] * 8 + ["b"] * 8, "replication": list(range(8)) * 2,
                       "business_model_broken": [True] + [False] * 7 + [False] * 8,
                       "deaths": [3.0, 4, 5, 6, 2, 3, 4, 5] * 2})
    table, _ = comparison_tables(df, ["a", "b"], ["business_model_broken", "deaths"])
    a = table[(table["scenario"] == "a") & (table["measure"] == "business_model_broken")].iloc[0]
    assert a["mean"] == pytest.approx(1 / 8)
    assert (a["lower"], a["upper"]) == pytest.approx(wilson_interval(1, 8))
    assert 0.0 < a["lower"] < 1 / 8 and not a["lower_cut"]
    b = table[(table["scenario"] == "b") & (table["measure"] == "business_model_broken")].iloc[0]
    assert b["lower"] == 0.0 and b["upper"] > 0.2          # none of 8: the upper end is informative


def test_draws_in_blocks_give_the_same_runs_and_keep_a_store_per_block(tmp_path):
    """A study run in blocks of draws (each its own store) gives exactly the runs of one store,
    and a larger study reuses the blocks already done."""
    draws = posterior_draws("docs/calibration", 3, seed=4)
    kw = dict(paths=1, replications=1, overrides={"start_date": "2025-10-01", "end_date": "2025-12-31"},
              executor="serial")
    one = predictive_runs(["baseline"], draws, tmp_path / "one", **kw)
    blocks = predictive_runs(["baseline"], draws, tmp_path / "blocks", block=2, **kw)
    assert sorted(p.name for p in (tmp_path / "blocks").iterdir()) == ["draws_0000-0001", "draws_0002-0002"]
    cols = ["scenario", "draw", "path", "replication", "arrivals_uk", "deaths"]
    pd.testing.assert_frame_equal(one[cols], blocks[cols])
    # a draw more: the first block is reused as it is (draws are prefix-stable), the second grows
    more = posterior_draws("docs/calibration", 4, seed=4)
    pd.testing.assert_frame_equal(more.iloc[:3], draws)
    first = tmp_path / "blocks" / "draws_0000-0001"
    stamps = {f: f.stat().st_mtime_ns for f in first.rglob("*.parquet")}      # the runs (the manifest is rewritten)
    grown = predictive_runs(["baseline"], more, tmp_path / "blocks", block=2, **kw)
    assert stamps and {f: f.stat().st_mtime_ns for f in first.rglob("*.parquet")} == stamps
    pd.testing.assert_frame_equal(grown[cols].iloc[:3], one[cols])
    assert len(grown) == 4
    with pytest.raises(ValueError, match="block"):
        predictive_runs(["baseline"], draws, tmp_path / "bad", block=0, **kw)


def test_a_design_crossed_with_the_posterior_nests_points_draws_and_paths():
    from sim.experiments.designs import grid
    from sim.experiments.predictive import FUTURE_SEED, cross_with_posterior

    draws = posterior_draws("docs/calibration", 3, seed=0)
    design = grid({"returns.quota_per_week": [50, 200], "patrols.uk_payment_gbp_per_year": [0, 1e8]}, 2)
    crossed = cross_with_posterior(design, draws, paths=2)
    pts = crossed.points
    assert len(pts) == 4 * 3 * 2 and crossed.replications == 2
    # point-major, then draw, then path
    assert pts[FUTURE_SEED].tolist()[:6] == [0, 1, 1000, 1001, 2000, 2001]   # future_seed(draw, path)
    assert pts[FUTURE_SEED].tolist()[6:12] == pts[FUTURE_SEED].tolist()[:6]
    assert (pts["returns.quota_per_week"].iloc[:6] == design.points["returns.quota_per_week"].iloc[0]).all()
    col = "migrants.choice_scale_gbp"
    assert pts[col].iloc[[0, 2, 4]].tolist() == pytest.approx(draws[col].tolist())
    assert pts[col].iloc[6:12].tolist() == pts[col].iloc[:6].tolist()
    with pytest.raises(ValueError, match="posterior draws set too"):
        cross_with_posterior(grid({col: [1.0, 2.0]}), draws)
    with pytest.raises(ValueError, match="paths"):
        cross_with_posterior(design, draws, paths=0)
    # a block of a study keeps the study's draw numbers (and so its futures)
    block = cross_with_posterior(design, draws.iloc[1:], paths=2, first_draw=1)
    assert block.points[FUTURE_SEED].tolist()[:4] == [1000, 1001, 2000, 2001]
    pd.testing.assert_frame_equal(block.points.iloc[:4].reset_index(drop=True), pts.iloc[2:6].reset_index(drop=True))
    with pytest.raises(ValueError, match="first_draw"):
        cross_with_posterior(design, draws, first_draw=-1)
    from sim.experiments.predictive import future_seed
    with pytest.raises(ValueError, match="path must be in"):
        future_seed(0, 1000)


@pytest.mark.slow
def test_the_phase_diagram_over_the_posterior_pools_every_draw_into_its_cell(tmp_path, capsys):
    import yaml

    from sim.experiments.phase import main
    from tests.test_threshold import RELAXED

    sweep = {"name": "tiny_phase", "base": "pilot_50", "overrides": RELAXED, "seed": 3, "replications": 1,
             "design": {"kind": "grid", "factors": {"returns.quota_per_week": [0, 1600],
                                                    "patrols.uk_payment_gbp_per_year": [0, 320000000]}}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sweep))
    assert main(["--sweep", str(path), "--posterior", "docs/calibration", "--draws", "2", "--workers", "1",
                 "--out", str(tmp_path / "store"), "--figures", str(tmp_path / "docs")]) == 0
    df = pd.read_csv(tmp_path / "docs" / "phase_posterior.csv")
    assert len(df) == 4 and (df["replications"] == 2).all()      # 2 draws x 1 path x 1 replication per cell
    assert ((df["p_broken_lower"] <= df["p_broken"]) & (df["p_broken"] <= df["p_broken_upper"])).all()
    assert (tmp_path / "docs" / "phase_posterior.png").stat().st_size > 5000
    assert "2 posterior draws x 1 future inflow path(s)" in capsys.readouterr().out
