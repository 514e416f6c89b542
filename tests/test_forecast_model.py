"""The agent-based model as a forecaster (sim/forecast/model.py) and `channel-sim forecast`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.calibration.data import load_daily
from sim.cli import main
from sim.forecast.model import ModelForecaster, update_inflow
from sim.forecast.report import BEGIN, END, replace_block, rolling_validation

ORIGIN = "2022-10-31"
QUICK = {"people_per_agent": 20}


def _forecaster(tmp_path, **kw):
    return ModelForecaster(scenario="baseline", posterior="docs/calibration", draws=2, replications=1,
                           executor="serial", out=tmp_path, overrides=dict(QUICK), **kw)


def test_the_inflow_update_weighs_prior_and_data_by_their_precision():
    u = update_inflow(0.0, 0.3, observed=200.0, simulated=100.0, misfit_sd=0.3, months=4)
    assert u.data_mean == pytest.approx(math.log(2.0))
    assert u.data_sd == pytest.approx(0.15)
    w = (1 / 0.3**2, 1 / 0.15**2)
    assert u.mean == pytest.approx(w[1] * math.log(2.0) / sum(w))
    assert u.sd == pytest.approx(math.sqrt(1 / sum(w)))
    none = update_inflow(0.1, 0.3, None, None, 0.3, 0)
    assert (none.mean, none.sd, none.data_mean) == (0.1, 0.3, None)


def test_the_forecast_never_sees_the_data_after_its_origin(tmp_path):
    daily = load_daily()
    full = _forecaster(tmp_path / "a")(daily, ORIGIN, 2, 0, np.random.default_rng(3))
    cut = _forecaster(tmp_path / "b")(daily.loc[:ORIGIN], ORIGIN, 2, 0, np.random.default_rng(3))
    changed = daily.copy()
    changed.loc["2022-11-01":, "people"] *= 10
    moved = _forecaster(tmp_path / "c")(changed, ORIGIN, 2, 0, np.random.default_rng(3))
    assert list(full.columns) == [pd.Timestamp("2022-11-01"), pd.Timestamp("2022-12-01")]
    assert full.shape == (2, 2) and (full.to_numpy() > 0).all()
    pd.testing.assert_frame_equal(full, cut)
    pd.testing.assert_frame_equal(full, moved)


def test_rolling_validation_scores_the_model_beside_the_benchmarks(tmp_path):
    report = tmp_path / "report.md"
    report.write_text(f"# Report\n\ntext\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    scores, monthly = rolling_validation(_forecaster(tmp_path / "runs"), load_daily(), tmp_path,
                                         origins=(ORIGIN,), horizon_months=2)
    assert set(scores["forecaster"]) == {"agent-based model", "seasonal naive", "Poisson random walk"}
    assert np.isfinite(scores[["coverage50", "coverage90", "crps"]].to_numpy()).all()
    text = report.read_text()
    assert "old" not in text and "after" in text and "Rolling-origin forecasts" in text
    assert (tmp_path / "rolling.png").stat().st_size > 0 and (tmp_path / "rolling.md").is_file()
    assert replace_block("x", "S") == "x\n\nS\n"


@pytest.mark.parametrize(("argv", "message"), [
    (["--until", "2023-01-30"], "--until"),
    (["--until", "2030-01-31"], "--until"),
    (["--until", "July"], "--until"),
    (["--until", "2023-01-31", "--horizon", "0"], "--horizon"),
    (["--until", "2023-01-31", "--draws", "0"], "--draws"),
    (["--until", "2023-01-31", "--posterior", "/nonexistent"], "--posterior"),
])
def test_forecast_rejects_bad_input_with_exit_2(argv, message, capsys):
    assert main(["forecast", *argv]) == 2
    assert message in capsys.readouterr().err


def test_forecast_prints_its_monthly_table(tmp_path, capsys):
    assert main(["forecast", "--until", ORIGIN, "--horizon", "2", "--draws", "2", "--replications", "1",
                 "--scenario", "baseline", "--set", "people_per_agent=20", "--executor", "serial",
                 "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2022-11" in out and "2022-12" in out and "90% interval" in out
    table = pd.read_csv(tmp_path / "forecast.csv")
    assert (table["lo90"] <= table["median"]).all() and (table["median"] <= table["hi90"]).all()
    assert table["observed"].notna().all()


def test_a_forecast_replaces_the_scratch_stores_of_an_earlier_one(tmp_path):
    daily = load_daily()
    a = _forecaster(tmp_path)(daily, ORIGIN, 2, 0, np.random.default_rng(3))
    b = _forecaster(tmp_path)(daily, ORIGIN, 2, 0, np.random.default_rng(4))   # other draws, same folder
    assert a.shape == b.shape and not np.allclose(a.to_numpy(), b.to_numpy())
