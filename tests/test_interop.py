"""Interop: Mesa's batch_run, the EMA workbench, the flat export, and the figures' formats."""

from __future__ import annotations

import importlib.util
import json
import math

import mesa
import numpy as np
import pandas as pd
import pytest

import sim
from sim import interop
from sim.config import ConfigError
from tests.helpers import live_models

#: Three months of the pilot, the policy starting in its third month.
SHORT = {"start_date": "2025-06-01", "end_date": "2025-08-31"}


@pytest.fixture(scope="module")
def short_cfg():
    return sim.load_config("pilot_50", SHORT)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# ----------------------------------------------------------------------------- Mesa batch_run
def test_batch_run_gives_one_summary_row_per_run_equal_to_sim_run(short_cfg):
    df = interop.batch_run([short_cfg], seeds=[1, 2])
    assert len(df) == 2 and list(df.columns[:2]) == ["scenario", "seed"]
    assert df["seed"].tolist() == ["1", "2"]
    assert (df["days"] == short_cfg.n_days).all()          # never cut at Mesa's max_steps
    alone = sim.run(short_cfg, seed=2).summary
    row = df.iloc[1].to_dict()
    assert set(alone) <= set(row)
    different = [k for k in alone if not _same(alone[k], row[k])]
    assert not different, different


def test_batch_run_frees_every_model_over_20_runs(short_cfg):
    cfg = sim.load_config(short_cfg, {"end_date": "2025-06-21"})
    interop.batch_run([cfg], seeds=[0])                    # warm-up: imports, caches
    before = live_models()
    df = interop.batch_run([cfg, sim.load_config(cfg, {"returns.quota_per_week": 0})], seeds=range(10))
    assert len(df) == 20
    assert live_models() == before              # no growth: every model was freed


def test_mesa_batch_run_with_run_model_is_whole_runs_whatever_max_steps(short_cfg):
    before = live_models()
    parameters, seed_arg = interop.mesa_seeds({"config": [short_cfg]}, [3])
    rows = mesa.batch_run(interop.RunModel, parameters=parameters, **seed_arg, max_steps=5,
                          data_collection_period=1, display_progress=False)
    assert len(rows) == 1
    row = rows[0]
    assert row["days"] == short_cfg.n_days
    summary = sim.run(short_cfg, seed=3).summary
    assert row["arrivals_uk"] == summary["arrivals_uk"]     # the total, not the last day's flow
    assert row["business_model_broken"] == summary["business_model_broken"]
    assert live_models() == before


def test_run_model_stepped_by_hand_keeps_its_series_and_summary(short_cfg):
    m = interop.RunModel(short_cfg, rng=4, years=0.05)
    m.run_model()
    assert not m.running and m.summary["days"] == len(m.timeseries) == 18
    assert m.timeseries["arrivals_uk"].sum() == m.summary["arrivals_uk"]
    m.step()                                                # finished: a no-op
    assert m.summary["days"] == 18


def test_batch_run_validates_before_running():
    with pytest.raises(ConfigError, match="years"):
        interop.batch_run(["pilot_50"], seeds=[1], years=-1)
    with pytest.raises(ConfigError):
        interop.batch_run(["no_such_scenario"], seeds=[1])
    with pytest.raises(ValueError, match="seed"):
        interop.batch_run(["pilot_50"], seeds=[])


# ----------------------------------------------------------------------------- EMA workbench
def test_names_map_between_ema_identifiers_and_dotted_fields():
    assert interop.dotted_name("environment__base_inflow_per_day") == "environment.base_inflow_per_day"
    assert interop.ema_name("returns.quota_per_week") == "returns__quota_per_week"
    assert interop.ema_name("returns.quota_per_week").isidentifier()


def test_ema_model_function_runs_the_scenario_with_the_fields_given(short_cfg):
    f = interop.ema_model(short_cfg, outcomes=("returns", "arrivals_uk", "business_model_broken"), seed=5)
    out = f(returns__quota_per_week=0)
    assert set(out) == {"returns", "arrivals_uk", "business_model_broken"}
    assert all(isinstance(v, float) for v in out.values())
    assert out["returns"] == 0.0
    expected = sim.run(sim.load_config(short_cfg, {"returns.quota_per_week": 0}), seed=5).summary
    assert out["arrivals_uk"] == expected["arrivals_uk"]
    assert f(**{"returns.quota_per_week": 0}) == out                 # dotted names work too
    assert f(returns__quota_per_week=np.int64(0), seed=5) == out     # numpy scalars, as EMA passes them
    with pytest.raises(ConfigError, match="no_such_field"):
        f(returns__no_such_field=1)
    with pytest.raises(KeyError, match="nope"):
        interop.ema_model(short_cfg, outcomes=("nope",))()
    with pytest.raises(TypeError, match="verdict_reasons"):
        interop.ema_model(short_cfg, outcomes=("verdict_reasons",))()


@pytest.mark.skipif(importlib.util.find_spec("ema_workbench") is None,
                    reason="ema_workbench is not installed (the optional ema extra: pip install 'channel-sim[ema]')")
def test_ema_workbench_runs_four_experiments(short_cfg):
    from ema_workbench import Constant, IntegerParameter, Model, ScalarOutcome, perform_experiments
    from ema_workbench.em_framework.evaluators import SequentialEvaluator

    before = live_models()
    model = Model("channel", function=interop.ema_model(short_cfg, outcomes=("returns", "arrivals_uk")))
    model.uncertainties = [IntegerParameter("returns__quota_per_week", 0, 300)]
    model.constants = [Constant("seed", 7)]
    model.outcomes = [ScalarOutcome("returns"), ScalarOutcome("arrivals_uk")]
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = perform_experiments(model, 4, evaluator=evaluator)
    assert len(experiments) == 4
    assert len(outcomes["returns"]) == len(outcomes["arrivals_uk"]) == 4
    assert np.isfinite(outcomes["arrivals_uk"]).all()
    assert live_models() == before


# ----------------------------------------------------------------------------- the flat export
@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    from sim.experiments import Experiment, OutputSpec, grid, run_experiment

    exp = Experiment(grid({"returns.quota_per_week": [0, 100]}, replications=2), base="pilot_50", overrides=SHORT,
                     seed=3, outputs=OutputSpec(frequency="end"))
    return run_experiment(exp, tmp_path_factory.mktemp("flat") / "store", executor="serial", progress=False)


def test_results_is_one_flat_row_per_run_with_parameters_seed_and_summary(tiny_store):
    flat = tiny_store.results()
    runs, summ = tiny_store.runs(), tiny_store.summaries()
    assert len(flat) == len(runs) == 4 and flat["run_id"].tolist() == runs["run_id"].tolist()
    assert list(flat.columns[:8]) == ["run_id", "point", "replication", "scenario", "status", "seed", "spawn_key",
                                      "returns.quota_per_week"]
    assert flat["returns.quota_per_week"].tolist() == [json.loads(p)["returns.quota_per_week"] for p in runs["params"]]
    assert (flat["seed"] == "3").all() and (flat["scenario"] == "pilot_50").all()
    for col in set(summ.columns) - {"run_id", "seed", "scenario"}:
        pd.testing.assert_series_equal(flat[col], summ[col], check_names=False, check_dtype=False)


def test_export_flat_round_trips_the_store(tiny_store, tmp_path):
    from sim.cli import main as cli_main

    assert cli_main(["export", str(tiny_store.path), "--flat", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]
    back = pd.read_csv(tmp_path / "results.csv")
    flat = tiny_store.results()
    assert back.columns.tolist() == flat.columns.tolist() and len(back) == len(flat)
    numeric = [c for c in flat.columns if pd.api.types.is_numeric_dtype(flat[c]) and not pd.api.types.is_bool_dtype(flat[c])]
    pd.testing.assert_frame_equal(back[numeric], flat[numeric], check_dtype=False)
    assert back["business_model_broken"].tolist() == flat["business_model_broken"].tolist()
    summ = tiny_store.summaries().set_index("run_id")
    for r in back.itertuples(index=False):
        assert r.arrivals_uk == summ.loc[r.run_id, "arrivals_uk"]


# ----------------------------------------------------------------------------- figures
@pytest.fixture(scope="module")
def small_comparison(tmp_path_factory):
    return sim.compare(["baseline", "pilot_50"], replications=2, seed=1, overrides=SHORT, executor="serial",
                       out=tmp_path_factory.mktemp("cmp") / "store")


def test_difference_figure_is_a_grid_with_labels_percent_and_gbp_million(small_comparison):
    import matplotlib.pyplot as plt

    from sim.experiments.analysis import COMPARE_MEASURES
    from sim.plots import DIFFERENCE_MEASURES, plot_paired_differences

    fig = plot_paired_differences(small_comparison)
    try:
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert len(axes) == len(DIFFERENCE_MEASURES)
        width, height = fig.get_size_inches()
        assert width / height < 3                                     # a grid, not a strip
        titles = {ax.get_title().replace("\n", " "): ax for ax in axes}
        assert all("_" not in t for t in titles)                      # labels, not column names
        margin = next(ax for t, ax in titles.items() if t.lower().startswith(COMPARE_MEASURES["market_profit_margin"]))
        fig.canvas.draw()
        assert any("%" in lab.get_text() for lab in margin.get_xticklabels())
        assert any("GBP million" in t for t in titles)
        rents = next(ax for t, ax in titles.items() if "GBP million" in t)
        d = small_comparison.differences
        want = d.loc[d["measure"] == "gang_profit_gbp_window", "difference"].to_numpy() * 1e-6
        assert np.allclose(rents.lines[0].get_xdata(), want)
    finally:
        plt.close(fig)


def test_timeseries_figure_marks_the_policy_start_and_shows_money_in_millions(small_comparison):
    import matplotlib.pyplot as plt

    from sim.plots import plot_comparison_bands

    fig = plot_comparison_bands(small_comparison)
    try:
        fig.canvas.draw()
        start = pd.Timestamp(sim.load_config("pilot_50", SHORT).returns.start_date)
        profit = next(ax for ax in fig.axes if "profit" in ax.get_title())
        assert "GBP million" in profit.get_title()
        assert not profit.yaxis.get_offset_text().get_text()          # no "1e7"
        dashed = [ln for ln in profit.lines if ln.get_linestyle() == "--"]
        assert dashed and pd.Timestamp(mdates_num2date(dashed[0].get_xdata()[0])).date() == start.date()
        assert all(ax.get_legend() is None for ax in fig.axes)         # one legend, outside the panels
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert {"baseline", "pilot_50", "policy start"} <= set(labels)
    finally:
        plt.close(fig)


def mdates_num2date(x):
    import matplotlib.dates as mdates

    return x if isinstance(x, (pd.Timestamp, np.datetime64)) else mdates.num2date(x).replace(tzinfo=None)


@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_figures_in_vector_formats(small_comparison, tmp_path, fmt, magic):
    from sim.plots import save_comparison_figures, save_figures

    paths = save_comparison_figures(small_comparison, tmp_path, fmt=fmt)
    assert [p.name for p in paths] == [f"comparison_timeseries.{fmt}", f"comparison_differences.{fmt}"]
    assert all(p.read_bytes().startswith(magic) for p in paths)
    ts = sim.run(sim.load_config("pilot_50", SHORT), seed=1).timeseries
    (overview,) = save_figures({"pilot_50": ts}, tmp_path, fmt=fmt)
    assert overview.name == f"overview.{fmt}" and overview.read_bytes().startswith(magic)
    with pytest.raises(ValueError, match="png, svg, pdf"):
        save_figures({"pilot_50": ts}, tmp_path, fmt="jpg")


def test_cli_format_flag(tmp_path, capsys):
    from sim.cli import main as cli_main

    out = tmp_path / "run"
    assert cli_main(["run", "pilot_50", "--years", "0.05", "--format", "svg", "--out", str(out)]) == 0
    assert (out / "overview.svg").read_bytes().startswith(b"<?xml") and not (out / "overview.png").exists()
    out = tmp_path / "cmp"
    assert cli_main(["compare", "baseline", "pilot_50", "--replications", "2", "--years", "0.05", "--executor",
                     "serial", "--quiet", "--format", "pdf", "--out", str(out)]) == 0
    assert (out / "comparison_differences.pdf").read_bytes().startswith(b"%PDF")
    assert "comparison_timeseries.pdf" in capsys.readouterr().out
