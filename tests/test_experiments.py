"""The experiment engine: designs, seeds, executors, the store, faults, resume, comparisons."""

from __future__ import annotations

import gc
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main as cli_main
from sim.config import ConfigError
from sim.experiments import (
    Design,
    Experiment,
    ExperimentStore,
    ModelTarget,
    OutputSpec,
    RunOutput,
    StoreMismatchError,
    compare,
    grid,
    latin_hypercube,
    listed,
    load_spec,
    load_sweep,
    morris,
    open_executor,
    replication_seed,
    resolve_target,
    run_experiment,
    scenarios,
    sobol,
)
from sim.experiments.analysis import unpaired_differences
from sim.experiments.designs import design_from_spec, expand_range
from sim.experiments.stats import weighted_quantile

ROOT = Path(__file__).resolve().parent.parent
NOISY = "sim.experiments.testfunctions:noisy_linear"
#: A short pilot scenario: half a year with the policy active from its second month.
SHORT = {"start_date": "2025-07-01", "end_date": "2025-12-31"}


# ----------------------------------------------------------------------------- designs
def test_grid_is_the_full_factorial_of_lists_and_ranges():
    d = grid({"returns.quota_per_week": [0, 50, 200],
              "patrols.uk_payment_gbp_per_year": {"start": 0, "stop": 300e6, "step": 100e6}}, replications=4)
    assert d.n_points == 3 * 4 and d.n_runs == 48
    assert sorted(d.points["returns.quota_per_week"].unique()) == [0, 50, 200]
    assert sorted(d.points["patrols.uk_payment_gbp_per_year"].unique()) == [0, 1e8, 2e8, 3e8]
    assert not d.points.duplicated().any()


def test_ranges_include_stop_and_keep_integers():
    assert expand_range({"start": 0, "stop": 100, "step": 25}) == [0, 25, 50, 75, 100]
    assert all(isinstance(v, int) for v in expand_range({"start": 0, "stop": 100, "step": 25}))
    assert expand_range({"start": 0.1, "stop": 0.3, "step": 0.1}) == [0.1, 0.2, 0.3]
    with pytest.raises(ValueError, match="step"):
        expand_range({"start": 0, "stop": 10, "step": -1})
    with pytest.raises(ValueError, match="start, stop and step"):
        expand_range({"start": 0, "stop": 10})


def test_listed_points_keep_missing_fields_empty():
    d = listed([{"returns.quota_per_week": 50}, {"returns.quota_per_week": 200, "uk.illegal_working_enforcement": 0.5}])
    assert d.n_points == 2 and list(d.points.columns) == ["returns.quota_per_week", "uk.illegal_working_enforcement"]
    assert d.points.iloc[0].isna()["uk.illegal_working_enforcement"]


def test_latin_hypercube_has_one_point_per_stratum_and_stays_in_bounds():
    bounds = {"a": [0, 10], "b": [100, 200]}
    d = latin_hypercube(bounds, n=20, seed=3)
    assert d.n_points == 20
    for name, (lo, hi) in bounds.items():
        x = d.points[name].to_numpy()
        assert ((x >= lo) & (x <= hi)).all()
        strata = np.floor((x - lo) / (hi - lo) * 20).astype(int)
        assert sorted(strata) == list(range(20))
    pd.testing.assert_frame_equal(d.points, latin_hypercube(bounds, n=20, seed=3).points)


def test_sobol_and_morris_designs_have_salib_sizes_and_levels():
    bounds = {"a": [0, 1], "b": [-2, 2], "c": [5, 6]}
    s = sobol(bounds, n=64, seed=1)
    assert s.n_points == 64 * (3 + 2) and s.problem["names"] == ["a", "b", "c"]
    assert s.points["b"].between(-2, 2).all()
    s2 = sobol(bounds, n=64, seed=1, calc_second_order=True)
    assert s2.n_points == 64 * (2 * 3 + 2)
    m = morris(bounds, trajectories=10, seed=1, levels=4)
    assert m.n_points == 10 * (3 + 1)
    assert set(np.round(m.points["a"] * 3, 9)) <= {0.0, 1.0, 2.0, 3.0}
    with pytest.raises(ValueError, match="power of 2"):
        sobol(bounds, n=60, seed=1)


def test_design_round_trips_through_plain_data():
    for d in (grid({"x": [1, 2]}, 3), scenarios(["baseline", "pilot_50"], 2), sobol({"a": [0, 1]}, 8, seed=2)):
        back = Design.from_dict(json.loads(json.dumps(d.to_dict())))
        pd.testing.assert_frame_equal(back.points, d.points, check_dtype=False)
        assert (back.kind, back.replications, back.problem) == (d.kind, d.replications, d.problem)


def test_design_spec_errors_are_clear():
    with pytest.raises(ValueError, match="kind must be one of"):
        design_from_spec({"kind": "random"}, 1, 1)
    with pytest.raises(ValueError, match="needs the field 'factors'"):
        design_from_spec({"kind": "grid"}, 1, 1)
    with pytest.raises(ValueError, match="unknown field"):
        design_from_spec({"kind": "grid", "factors": {"x": [1]}, "levelz": 3}, 1, 1)


# ----------------------------------------------------------------------------- seeds
def test_replications_share_seeds_across_points_and_each_run_records_its_seed(tmp_path):
    assert replication_seed(11, 2).generate_state(4).tolist() == \
        np.random.SeedSequence(11).spawn(3)[2].generate_state(4).tolist()
    exp = Experiment(listed([{"x": 0.0}, {"x": 10.0}], replications=3), base=None, model=NOISY, seed=11,
                     outputs=OutputSpec(frequency="end"))
    store = run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    runs = store.runs()
    assert set(runs["seed_entropy"]) == {"11"}
    assert runs.groupby("replication")["spawn_key"].nunique().eq(1).all()
    y = store.summaries().set_index("run_id")["y"]
    # common random numbers: point 1 - point 0 = 10 exactly, replication by replication
    for j in range(3):
        assert y[f"p00001-r{j:03d}"] - y[f"p00000-r{j:03d}"] == pytest.approx(10.0)
    assert y["p00000-r000"] != y["p00000-r001"]


def test_a_single_run_is_reproducible_alone_from_its_record(tmp_path):
    exp = Experiment(grid({"returns.quota_per_week": [100]}, replications=2), base="pilot_50", overrides=SHORT,
                     seed=5, outputs=OutputSpec(frequency="end"))
    store = run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    rec = store.runs().iloc[1]
    cfg = sim.load_config("pilot_50", {**SHORT, **json.loads(rec["params"])})
    seed = np.random.SeedSequence(int(rec["seed_entropy"]), spawn_key=tuple(json.loads(rec["spawn_key"])))
    alone = sim.run(cfg, seed=seed).summary
    stored = store.summaries().set_index("run_id").loc[rec["run_id"]]
    assert alone["arrivals_uk"] == stored["arrivals_uk"]
    assert alone["returns"] == stored["returns"]


# ----------------------------------------------------------------------------- executors
def _comparable(store: ExperimentStore) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    runs = store.runs().drop(columns=["wall_seconds", "finished_at", "host", "pid"])
    return runs, store.summaries(), store.timeseries()


def test_serial_process_and_dask_executors_give_identical_stores(tmp_path):
    exp = Experiment(grid({"returns.quota_per_week": [0, 300]}, replications=2), base="pilot_50", overrides=SHORT,
                     seed=3, outputs=OutputSpec(frequency="weekly"))
    stores = {
        "serial": run_experiment(exp, tmp_path / "serial", executor="serial", progress=False),
        "process": run_experiment(exp, tmp_path / "process", executor="process", workers=2, progress=False),
        "dask": run_experiment(exp, tmp_path / "dask", executor="dask", workers=2, progress=False),
    }
    ref = _comparable(stores["serial"])
    assert len(ref[1]) == 4 and len(ref[2]) > 0
    for name in ("process", "dask"):
        got = _comparable(stores[name])
        for a, b in zip(ref, got, strict=True):
            pd.testing.assert_frame_equal(a, b, obj=name)
    assert ref[1].set_index("run_id").loc["p00001-r000", "returns"] > 0


def test_the_dask_executors_own_workers_are_set_up_for_runs_also_after_a_restart():
    """As a process pool's workers: each keeps what its first task imported out of later garbage
    collections; and Dask's profiler, which samples the running task every 10 ms for a dashboard
    that is not started, is stopped. A worker its nanny restarts is set up again."""
    from sim.experiments.dask_worker import PROFILER_CALLBACKS

    def setup_of(dask_worker):  # noqa: ANN001, ANN202 - runs in the worker
        from sim.experiments import tasks

        return tasks.FREEZE_AFTER_FIRST_TASK, sorted(set(dask_worker.periodic_callbacks) & set(PROFILER_CALLBACKS))

    with open_executor("dask", workers=1) as ex:
        client = ex._connect()
        before = client.run(setup_of)
        client.restart()
        after = client.run(setup_of)
    assert len(before) == 1 and len(after) == 1
    assert list(before.values()) == [(True, [])] and list(after.values()) == [(True, [])]


# ----------------------------------------------------------------------------- faults
def test_a_failing_run_is_recorded_and_the_others_finish_then_retry_reruns_it(tmp_path, monkeypatch):
    exp = Experiment(listed([{"x": 1.0}, {"x": 2.0, "fail": True}, {"x": 3.0}], replications=2), base=None,
                     model=NOISY, seed=1, outputs=OutputSpec(frequency="end"))
    store = run_experiment(exp, tmp_path / "s", executor="serial", progress=False, chunk_size=2)
    runs = store.runs().set_index("run_id")
    assert (runs["status"] == "failed").sum() == 2
    failed = runs.loc["p00001-r000"]
    assert "RuntimeError: asked to fail" in failed["error"] and "Traceback" in failed["traceback"]
    assert len(store.summaries()) == 4
    # rerunning without --retry-failed skips everything
    run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    assert len(store.runs()) == 6
    monkeypatch.setenv("NOISY_LINEAR_HEALED", "1")
    run_experiment(exp, tmp_path / "s", executor="serial", progress=False, retry_failed=True)
    runs = store.runs()
    assert len(runs) == 6 and runs["run_id"].is_unique and (runs["status"] == "ok").all()
    assert store.summaries()["run_id"].is_unique and len(store.summaries()) == 6


def test_sigkill_mid_sweep_then_resume_gives_every_run_exactly_once(tmp_path):
    out = tmp_path / "store"
    script = tmp_path / "sweep.py"
    script.write_text(textwrap.dedent(f"""
        from sim.experiments import Experiment, OutputSpec, listed, run_experiment

        def experiment():
            return Experiment(listed([{{"x": float(i), "sleep": 0.05}} for i in range(60)]), base=None,
                              model="{NOISY}", seed=2, outputs=OutputSpec(frequency="end"))

        if __name__ == "__main__":
            run_experiment(experiment(), {str(out)!r}, executor="serial", progress=False, chunk_size=3)
    """))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(list((out / "runs").glob("chunk-*.parquet"))) < 4:
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = len(ExperimentStore(out).runs())
    assert 0 < before < 60
    # a half-written chunk from the killed process is cleaned up on resume
    (out / "summaries" / "chunk-999999-deadbeef.parquet").write_bytes(b"not parquet")
    sys.path.insert(0, str(tmp_path))
    try:
        import sweep  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    store = run_experiment(sweep.experiment(), out, executor="serial", progress=False)
    runs = store.runs()
    assert len(runs) == 60 and runs["run_id"].is_unique
    assert set(runs["run_id"]) == {f"p{i:05d}-r000" for i in range(60)}
    assert len(store.summaries()) == 60 and store.summaries()["run_id"].is_unique
    assert len(store.read_manifest()["resumed"]) == 1


def test_a_changed_design_against_an_existing_store_is_refused(tmp_path):
    base = dict(base=None, model=NOISY, seed=1, outputs=OutputSpec(frequency="end"))
    run_experiment(Experiment(listed([{"x": 1.0}], 2), **base), tmp_path / "s", executor="serial", progress=False)
    with pytest.raises(StoreMismatchError, match="design"):
        run_experiment(Experiment(listed([{"x": 2.0}], 2), **base), tmp_path / "s", executor="serial", progress=False)
    with pytest.raises(StoreMismatchError, match="seed"):
        run_experiment(Experiment(listed([{"x": 1.0}], 2), **{**base, "seed": 9}), tmp_path / "s",
                       executor="serial", progress=False)
    assert len(ExperimentStore(tmp_path / "s").runs()) == 2  # nothing already computed is lost


def test_an_invalid_design_point_is_refused_before_anything_runs(tmp_path):
    exp = Experiment(grid({"returns.quota_per_week": [50, -5]}), base="pilot_50", overrides=SHORT)
    with pytest.raises(ConfigError, match=r"design point 1 .*returns.quota_per_week"):
        run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    assert not (tmp_path / "s" / "manifest.json").exists()


def test_manifest_records_design_seed_versions_and_command(tmp_path):
    exp = Experiment(grid({"returns.quota_per_week": [0, 100]}), base="pilot_50", overrides=SHORT, seed=4,
                     outputs=OutputSpec(frequency="end"))
    store = run_experiment(exp, tmp_path / "s", executor="serial", progress=False, command_line=["test"])
    m = store.read_manifest()
    assert m["seed"] == 4 and m["n_runs"] == 2 and m["design"]["kind"] == "grid"
    assert m["base_config"]["returns"]["quota_per_week"] == 50
    assert {"mesa", "numpy", "pandas", "pyarrow"} <= set(m["package_versions"])
    assert m["command_line"] == ["test"] and "git_revision" in m


# ----------------------------------------------------------------------------- analysis
def test_paired_interval_is_narrower_than_the_unpaired_one_on_the_same_runs(tmp_path):
    cmp = compare(["baseline", "pilot_50"], replications=5, seed=2, overrides={"start_date": "2025-01-01",
                  "end_date": "2026-06-30"}, out=tmp_path / "c", executor="process", workers=2)
    wide = cmp.wide("arrivals_uk_policy_period")
    paired = cmp.differences.set_index("measure").loc["arrivals_uk_policy_period"]
    unpaired = unpaired_differences(wide, "baseline").iloc[0]
    assert paired["upper"] - paired["lower"] < unpaired["upper"] - unpaired["lower"]
    assert paired["difference"] == pytest.approx(unpaired["difference"])
    table = cmp.table.set_index(["scenario", "measure"])
    assert table.loc[("baseline", "returns"), "mean"] == 0
    assert table.loc[("pilot_50", "returns"), "mean"] > 0
    bands = cmp.timeseries_bands("arrivals_uk")
    assert set(bands["scenario"]) == {"baseline", "pilot_50"} and (bands["lower"] <= bands["upper"]).all()


def test_cli_sweep_analyze_and_export(tmp_path, capsys):
    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(textwrap.dedent("""
        name: tiny
        base: pilot_50
        overrides: {start_date: 2025-07-01, end_date: 2025-12-31}
        seed: 3
        replications: 2
        design:
          kind: grid
          factors:
            returns.quota_per_week: [0, 200]
        outputs: {frequency: monthly, variables: [arrivals_uk, returns]}
    """))
    out = tmp_path / "store"
    assert cli_main(["sweep", str(sweep), "--executor", "serial", "--out", str(out), "--quiet"]) == 0
    assert cli_main(["analyze", str(out)]) == 0
    text = capsys.readouterr().out
    assert "grid design, 4 of 4 runs" in text and "returns.quota_per_week" in text
    assert cli_main(["export", str(out), "--csv"]) == 0
    ts = pd.read_csv(out / "csv" / "timeseries.csv")
    assert set(ts["variable"]) == {"arrivals_uk", "returns"} and ts["run_id"].nunique() == 4
    # a misspelt field in a sweep file is a clear error, exit 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nbase: pilot_50\ndesign: {kind: grid, factors: {returns.quota_per_wek: [1]}}\n")
    assert cli_main(["sweep", str(bad), "--executor", "serial", "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "did you mean 'quota_per_week'" in capsys.readouterr().err


def test_monthly_output_aggregates_flows_by_sum_and_levels_by_mean(tmp_path):
    exp = Experiment(grid({"returns.quota_per_week": [100]}), base="pilot_50", overrides=SHORT, seed=1,
                     outputs=OutputSpec(frequency="monthly", variables=("arrivals_uk", "active_gangs",
                                                                        "mean_price_gbp")))
    store = run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    ts = store.timeseries().pivot(index="date", columns="variable", values="value")
    daily = sim.run(sim.load_config("pilot_50", {**SHORT, "returns.quota_per_week": 100}),
                    seed=replication_seed(1, 0)).timeseries
    assert ts["arrivals_uk"].sum() == daily["arrivals_uk"].sum()
    assert ts["active_gangs"].iloc[-1] == daily["active_gangs"].iloc[-1]
    assert math.isclose(ts["mean_price_gbp"].iloc[0], daily["mean_price_gbp"]["2025-07"].mean())


def test_stock_columns_are_kept_at_the_end_of_each_period(tmp_path):
    """Stocks of people by state (``n_*``) aggregate by the period's last day (sim.metrics.AGGREGATION)."""
    exp = Experiment(grid({"returns.quota_per_week": [100]}), base="pilot_50", overrides=SHORT, seed=1,
                     outputs=OutputSpec(frequency="weekly", variables=("n_waiting", "n_in_uk", "arrivals_uk")))
    store = run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    ts = store.timeseries().pivot(index="date", columns="variable", values="value")
    daily = sim.run(sim.load_config("pilot_50", {**SHORT, "returns.quota_per_week": 100}),
                    seed=replication_seed(1, 0)).timeseries
    weekly_last = daily[["n_waiting", "n_in_uk"]].resample("W-SUN").last()
    assert (ts["n_waiting"].to_numpy() == weekly_last["n_waiting"].to_numpy()).all()
    assert (ts["n_in_uk"].to_numpy() == weekly_last["n_in_uk"].to_numpy()).all()
    assert ts["n_in_uk"].is_monotonic_increasing  # a stock, not a sum of daily stocks
    assert ts["arrivals_uk"].sum() == daily["arrivals_uk"].sum()


# ----------------------------------------------------------------------------- model targets
def _walk_configure(base, overrides):
    return {"steps": 60, "drift": 0.0, **(base or {}), **overrides}


def _walk_prepare(values):
    return {k: int(round(v)) if k == "steps" else v for k, v in values.items()}


def _walk_check(base, params):
    if {**base, **params}["steps"] < 1:
        raise ConfigError("steps: must be >= 1")


def _walk_run(params, seed, base_config):
    cfg = {**base_config, **params}
    rng = np.random.default_rng(seed)
    days = pd.date_range("2025-01-01", periods=cfg["steps"], freq="D", name="date")
    x = cfg["drift"] + rng.normal(size=len(days))
    ts = pd.DataFrame({"arrivals_uk": x, "waiting_at_coast": np.cumsum(x), "active_gangs": np.arange(len(days))},
                      index=days)
    return RunOutput({"total": float(x.sum()), "steps": cfg["steps"]}, ts, cfg)


def _walk_statistics(ts, cfg):
    return {"mean": float(ts["arrivals_uk"].mean()), "drift": cfg["drift"]}


#: A toy model with every capability the Channel model has: a configuration, prepared and
#: checked design points, a daily time series.
WALK = ModelTarget(run=_walk_run, configure=_walk_configure, prepare=_walk_prepare, check=_walk_check)


def test_a_model_target_brings_its_configuration_checks_and_time_series(tmp_path):
    design = listed([{"steps": 40.4}, {"steps": 70.0, "drift": 1.0}], replications=2)
    exp = Experiment(design, base={"drift": 0.5}, model="tests.test_experiments:WALK", seed=3,
                     outputs=OutputSpec(frequency="monthly", variables=("arrivals_uk", "waiting_at_coast",
                                                                        "active_gangs"),
                                        statistics="tests.test_experiments:_walk_statistics"))
    store = run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    assert (store.runs()["status"] == "ok").all()
    assert store.read_manifest()["base_config"] == {"steps": 60, "drift": 0.5}
    summ = store.summaries().set_index("run_id")
    assert summ.loc["p00000-r000", "steps"] == 40 and summ.loc["p00001-r001", "steps"] == 70  # prepared
    assert summ.loc["p00000-r000", "stat:drift"] == 0.5 and summ.loc["p00001-r000", "stat:drift"] == 1.0
    daily = _walk_run({"steps": 70, "drift": 1.0}, replication_seed(3, 1), {"steps": 60, "drift": 0.5}).timeseries
    ts = store.timeseries()
    ts = ts[ts["run_id"] == "p00001-r001"].pivot(index="date", columns="variable", values="value")
    assert len(ts) == 3  # January, February, March
    assert ts["arrivals_uk"].iloc[0] == pytest.approx(daily["arrivals_uk"]["2025-01"].sum())  # a flow: sum
    assert ts["waiting_at_coast"].iloc[1] == pytest.approx(daily["waiting_at_coast"]["2025-02"].mean())  # level
    assert ts["active_gangs"].iloc[2] == daily["active_gangs"].iloc[-1]  # a stock: the last day
    # a design point the target's check refuses stops the sweep before anything runs
    bad = Experiment(listed([{"steps": 10}, {"steps": -5}]), base=None, model="tests.test_experiments:WALK")
    with pytest.raises(ConfigError, match=r"design point 1 .*steps: must be >= 1"):
        run_experiment(bad, tmp_path / "bad", executor="serial", progress=False)
    assert not (tmp_path / "bad" / "manifest.json").exists()


def test_channel_is_an_alias_and_plain_functions_are_targets_without_capabilities(tmp_path):
    channel = resolve_target("channel")
    assert channel is resolve_target("sim.experiments.channel:channel_model")
    assert channel.configure is not None and channel.check is not None and channel.variables is not None
    noisy = resolve_target(NOISY)
    assert (noisy.configure, noisy.prepare, noisy.check, noisy.variables) == (None, None, None, None)
    assert noisy.base_config("baseline", {"x": 1}) is None
    with pytest.raises(ValueError, match="module:function"):
        resolve_target("no_colon_here")
    # a plain function keeps no time series, whatever the frequency asked
    exp = Experiment(listed([{"x": 1.0}]), base="baseline", model=NOISY, outputs=OutputSpec(frequency="daily"))
    store = run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    assert len(store.summaries()) == 1 and len(store.timeseries()) == 0
    assert store.read_manifest()["base_config"] is None
    # statistics need a time series: the run fails, recorded
    exp = Experiment(listed([{"x": 1.0}]), base=None, model=NOISY,
                     outputs=OutputSpec(frequency="end", statistics="tests.test_experiments:_walk_statistics"))
    runs = run_experiment(exp, tmp_path / "t", executor="serial", progress=False).runs()
    assert runs["status"].tolist() == ["failed"] and "needs a model with a daily time series" in runs["error"][0]


# ----------------------------------------------------------------------------- reusable executors
def test_one_open_executor_serves_several_experiments_and_is_left_open(tmp_path):
    def exp(seed):
        return Experiment(listed([{"x": float(i)} for i in range(6)], replications=2), base=None, model=NOISY,
                          seed=seed, outputs=OutputSpec(frequency="end"))

    with open_executor("process", workers=2) as ex:
        a = run_experiment(exp(1), tmp_path / "a", executor=ex, progress=False)
        b = run_experiment(exp(2), tmp_path / "b", executor=ex, progress=False)
        assert not ex.closed
        pids = set(a.runs()["pid"]) | set(b.runs()["pid"])
        assert len(pids) <= 2 and os.getpid() not in pids  # the same two workers did both
        with pytest.raises(ValueError, match="workers and scheduler"):
            run_experiment(exp(1), tmp_path / "a", executor=ex, workers=2, progress=False)
    assert ex.closed
    with pytest.raises(RuntimeError, match="closed"):
        run_experiment(exp(3), tmp_path / "c", executor=ex, progress=False)
    serial = run_experiment(exp(1), tmp_path / "serial", executor="serial", progress=False)
    pd.testing.assert_frame_equal(serial.summaries(), a.summaries())
    with pytest.raises(ValueError, match="executor must be one of"):
        open_executor("threads")


# ----------------------------------------------------------------------------- spec files
def test_sweep_and_calibration_files_share_one_reader(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("design: {kind: list, points: [{x: 1.0}]}\nmodel: sim.experiments.testfunctions:noisy_linear\n")
    s = load_spec(f, kind="sweep", fields=("design", "model"))
    assert (s.name, s.base, s.overrides, s.seed) == ("s", "baseline", {}, 1)
    assert s.fields == {"design": {"kind": "list", "points": [{"x": 1.0}]}, "model": NOISY}
    exp = load_sweep(f)
    assert exp.model == NOISY and exp.base_config_dict() is None and exp.design.n_runs == 1
    assert load_spec(f, kind="c", fields=("design", "model"), default_overrides={"a": 1}).overrides == {"a": 1}
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['model'\]; a calibration file has"):
        load_spec(f, kind="calibration", fields=("design",))
    with pytest.raises(ConfigError, match="sweep file '.*nope.yaml' not found"):
        load_spec(tmp_path / "nope.yaml", kind="sweep", fields=())
    f.write_text("seed: twelve\n")
    with pytest.raises(ConfigError, match="seed must be a whole number"):
        load_sweep(f)
    f.write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match="a sweep file is a mapping"):
        load_sweep(f)
    f.write_text("outputs: {frequency: hourly}\ndesign: {kind: list, points: [{x: 1}]}\n")
    with pytest.raises(ConfigError, match="outputs.frequency must be one of"):
        load_sweep(f)


def test_weighted_quantile():
    x, w = np.array([3.0, 1.0, 2.0, 4.0]), np.array([1.0, 1.0, 1.0, 1.0])
    assert weighted_quantile(x, w, [0.0, 0.25, 0.5, 0.75, 1.0]) == [1.0, 1.0, 2.0, 3.0, 4.0]
    assert weighted_quantile(x, np.array([0.0, 0.0, 0.0, 1.0]), [0.05, 0.95]) == [4.0, 4.0]
    assert weighted_quantile(x, np.array([10.0, 0.0, 1.0, 1.0]), [0.5]) == [3.0]


def test_a_pool_worker_freezes_what_its_first_task_imported_once_and_the_parent_never(monkeypatch):
    from sim.experiments import executors, tasks

    assert tasks.FREEZE_AFTER_FIRST_TASK is False      # the parent (serial runs) never freezes
    monkeypatch.setattr(tasks, "_tasks_run", 0)
    monkeypatch.setattr(executors.signal, "signal", lambda *a: None)   # the initializer's Ctrl-C set-up
    executors._init_worker()                            # what a pool's worker runs first
    try:
        assert tasks.FREEZE_AFTER_FIRST_TASK is True
        before = gc.get_freeze_count()
        tasks._freeze_imports_once()                    # the first task: nothing frozen yet
        assert gc.get_freeze_count() == before
        tasks._freeze_imports_once()                    # the second: what is alive is frozen
        frozen = gc.get_freeze_count()
        assert frozen > before
        tasks._freeze_imports_once()                    # once only
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        tasks.FREEZE_AFTER_FIRST_TASK = False
