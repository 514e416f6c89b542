"""Given-data first-order indices over a predictive study (sim.experiments.posterior_sensitivity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.experiments.posterior_sensitivity import first_order_indices, plot_first_order


def _study(n_draws=300, paths=2, reps=2, seed=0):
    """y = 3 a + 2 log(F) + noise for the policy, 0 for the reference; b plays no part.
    Var: 3^2/12 = 0.75 (a), 4 * 0.3^2 = 0.36 (F), 0.25 (noise): S_a = 0.551, S_F = 0.265, S_b = 0."""
    rng = np.random.default_rng(seed)
    draws = pd.DataFrame({"a": rng.uniform(size=n_draws), "b": rng.uniform(size=n_draws)})
    rows = []
    for d in range(n_draws):
        for k in range(paths):
            f = float(np.exp(rng.normal(0, 0.3)))
            for r in range(reps):
                y = 3 * draws.at[d, "a"] + 2 * np.log(f) + rng.normal(0, 0.5)
                for s, v in (("policy", y), ("reference", 0.0)):
                    rows.append({"scenario": s, "draw": d, "path": k, "replication": r, "m": v,
                                 "future_inflow_factor": f})
    return pd.DataFrame(rows), draws


def test_indices_match_the_analytic_shares_and_an_idle_input_is_near_zero():
    runs, draws = _study()
    t = first_order_indices(runs, draws, "m", "policy", "reference", bootstrap=100, seed=1).set_index("input")
    total = 0.75 + 0.36 + 0.25
    assert t.at["a", "index"] == pytest.approx(0.75 / total, abs=0.06)
    assert t.at["future inflow factor", "index"] == pytest.approx(0.36 / total, abs=0.06)
    assert abs(t.at["b", "index"]) < 0.03 and t.at["b", "p05"] < 0.02
    assert t.at["a", "p05"] < t.at["a", "index"] < t.at["a", "p95"]
    assert t.at["stochastic (replications)", "index"] == pytest.approx(0.25 / total * 0.5, abs=0.05)  # 2 reps: n-1/n
    assert t.at["total", "raw"] == pytest.approx(total, rel=0.15)


def test_bad_inputs_are_named():
    runs, draws = _study(n_draws=20)
    with pytest.raises(KeyError, match="no measure 'x'"):
        first_order_indices(runs, draws, "x", "policy")
    with pytest.raises(KeyError, match="scenario 'nope'"):
        first_order_indices(runs, draws, "m", "nope")
    with pytest.raises(ValueError, match="only 5 draws"):
        first_order_indices(runs, draws.iloc[:5], "m", "policy")
    with pytest.raises(ValueError, match="bins"):
        first_order_indices(runs, draws, "m", "policy", bins=1)


def test_the_figure_shows_each_output(tmp_path):
    runs, draws = _study(n_draws=40)
    t = first_order_indices(runs, draws, "m", "policy", "reference", bootstrap=20)
    fig = plot_first_order([t, t], ["one", "two"])
    fig.savefig(tmp_path / "s.png")
    assert len(fig.axes) == 2 and (tmp_path / "s.png").stat().st_size > 5000


def test_the_command_reads_a_study_folder_and_writes_table_and_figure(tmp_path):
    from sim.experiments.posterior_sensitivity import main

    runs, draws = _study(n_draws=30)
    runs = runs.replace({"scenario": {"policy": "pilot_50", "reference": "baseline"}}).rename(
        columns={"m": "arrivals_uk_policy_period"})
    runs["business_model_broken"] = runs["arrivals_uk_policy_period"] > 2.5
    runs.to_csv(tmp_path / "predictive_runs.csv", index=False)
    draws.to_csv(tmp_path / "posterior_draws.csv", index=False)
    assert main(["--study", str(tmp_path), "--figures", str(tmp_path / "docs"), "--bootstrap", "20"]) == 0
    t = pd.read_csv(tmp_path / "docs" / "posterior_sensitivity.csv")
    assert set(t["output"]) == {"arrivals_uk_policy_period: pilot_50 - baseline"}
    assert (tmp_path / "docs" / "posterior_sensitivity.png").is_file()
    prof = pd.read_csv(tmp_path / "docs" / "verdict_profile.csv")
    assert prof["scenario"].tolist() == ["pilot_50"] and 0 < prof["broken"].iloc[0] < len(runs) // 2


def test_verdict_profile_compares_broken_and_intact_runs():
    from sim.experiments.posterior_sensitivity import format_verdict_profile, verdict_profile

    runs = pd.DataFrame({
        "scenario": ["a"] * 4 + ["b"] * 2,
        "business_model_broken": [True, False, False, True, False, False],
        "future_inflow_factor": [0.3, 0.8, 0.9, 0.5, 1.0, 1.0],
        "critical_return_rate": [0.7, 0.9, 0.88, 0.72, 0.9, 0.9],
        "criterion_not_viable": [True, False, False, False, False, False],
        "criterion_gangs_collapsed": [True, False, False, True, False, False],
    })
    prof = verdict_profile(runs)
    assert prof["scenario"].tolist() == ["a"]            # b never breaks
    row = prof.iloc[0]
    assert (row["runs"], row["broken"]) == (4, 2)
    assert row["future_inflow_factor_broken"] == pytest.approx(0.4)
    assert row["future_inflow_factor_intact"] == pytest.approx(0.85)
    assert (row["criterion_not_viable"], row["criterion_gangs_collapsed"]) == (1, 2)
    assert "a: 2 of 4 runs broken" in format_verdict_profile(prof)
    assert format_verdict_profile(verdict_profile(runs[runs["scenario"] == "b"])).startswith("no run")
