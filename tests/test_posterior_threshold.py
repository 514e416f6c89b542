"""The critical quota over the posterior (issue 11): one bisection per draw, path and replication."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from sim.experiments.posterior_threshold import (
    format_posterior_threshold,
    main,
    plot_posterior_threshold,
    threshold_over_posterior,
)
from sim.experiments.predictive import posterior_draws, predictive_runs
from tests.test_threshold import RELAXED

matplotlib.use("Agg")

QUOTA = "returns.quota_per_week"


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    out = tmp_path_factory.mktemp("post-threshold")
    draws = posterior_draws("docs/calibration", 2, seed=5)
    r = threshold_over_posterior(draws, paths=1, replications=2, lo=0, hi=1600, tolerance=800,
                                 overrides=RELAXED, executor="serial", out=out)
    return draws, r, out


@pytest.mark.slow
def test_every_cell_is_bracketed_and_the_curve_counts_the_cells(search):
    _, r, _ = search
    per = r.per_cell
    assert len(per) == 4 and set(per["draw"]) == {0, 1} and set(per["replication"]) == {0, 1}
    for row in per.itertuples(index=False):
        assert row.censored == math.isinf(row.threshold)
        assert row.censored or math.isnan(row.lower) or row.threshold - row.lower == 800
    # each cell's verdicts are monotone in the quota, as the bisection assumes
    for _, g in r.evaluations.groupby(["draw", "path", "replication"]):
        broken, intact = g.loc[g["broken"], "value"], g.loc[~g["broken"], "value"]
        assert broken.empty or intact.empty or intact.max() < broken.min()
    t = per["threshold"].to_numpy()
    assert r.curve["quota"].tolist() == [0, 800, 1600]
    assert r.curve["n_broken"].tolist() == [int((t <= q).sum()) for q in (0, 800, 1600)]
    assert (np.diff(r.curve["share"]) >= 0).all()
    assert ((r.curve["lower"] <= r.curve["share"]) & (r.curve["share"] <= r.curve["upper"])).all()
    assert r.quota_for(1.01) == math.inf
    text = format_posterior_threshold(r)
    assert "2 posterior draws x 1 future inflow paths x 2 replications = 4 cells" in text
    assert "critical quota: median" in text


@pytest.mark.slow
def test_a_cell_run_is_the_predictive_study_run_at_that_quota(search, tmp_path):
    """Common random numbers with compare --posterior: same draw, path, replication and quota,
    same run."""
    draws, r, _ = search
    ev = r.evaluations
    row = ev[(ev["draw"] == 1) & (ev["replication"] == 1) & (ev["value"] == 1600)].iloc[0]
    runs = predictive_runs(["pilot_50"], draws, tmp_path, paths=1, replications=2,
                           overrides={**RELAXED, QUOTA: 1600}, executor="serial")
    same = runs[(runs["draw"] == 1) & (runs["replication"] == 1)].iloc[0]
    assert same["business_model_broken"] == row["broken"]
    assert same["achieved_return_rate"] == pytest.approx(row["achieved_return_rate"], rel=0, abs=0)
    assert same["arrivals_uk_policy_period"] == row["arrivals_uk_policy_period"]


@pytest.mark.slow
def test_a_rerun_resumes_from_the_store_and_writes_the_figure(search, tmp_path):
    draws, r, out = search
    again = threshold_over_posterior(draws, paths=1, replications=2, lo=0, hi=1600, tolerance=800,
                                     overrides=RELAXED, executor="serial", out=out)
    pd.testing.assert_frame_equal(again.per_cell, r.per_cell)
    assert len(again.store.runs()) == r.n_runs          # nothing ran twice
    plot_posterior_threshold(r).savefig(tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 5000


def test_bad_arguments_name_the_field():
    draws = posterior_draws("docs/calibration", 1, seed=0)
    with pytest.raises(ValueError, match="paths"):
        threshold_over_posterior(draws, paths=0)
    with pytest.raises(ValueError, match="n_draws"):
        threshold_over_posterior("docs/calibration")
    with pytest.raises(ValueError, match="lo < hi"):
        threshold_over_posterior(draws, lo=600, hi=600)
    assert callable(main)
