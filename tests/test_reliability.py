"""Reliability (issue 14): one writer per store, no finished run lost on a kill, a dead
worker fails only its run, seeds copied not consumed, finite values, exit codes.

The slow tests start real sweep processes (``python -m sim.cli sweep``) on the cheap test
model and kill them once the store shows finished runs.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
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
from sim.experiments import (
    Experiment,
    ExperimentStore,
    OutputSpec,
    RunOutput,
    listed,
    load_sweep,
    run_experiment,
)
from sim.experiments.store import StoreLockedError, StoreReadOnlyError
from sim.experiments.targets import ModelTarget

ROOT = Path(__file__).resolve().parent.parent
NOISY = "sim.experiments.testfunctions:noisy_linear"
#: Four weeks of the pilot: enough to run every submodel, cheap enough for a probe.
WEEKS = ["--set", "start_date=2025-07-01", "--set", "end_date=2025-07-28"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _sweep_file(path: Path, n: int, sleep: float = 0.0, extra: dict[int, dict] | None = None) -> Path:
    points = [{"x": float(i), **({"sleep": sleep} if sleep else {}), **(extra or {}).get(i, {})} for i in range(n)]
    path.write_text(json.dumps({"name": path.stem, "model": NOISY, "seed": 7, "outputs": {"frequency": "end"},
                                "design": {"kind": "list", "points": points}}))
    return path


def _start_sweep(sweep: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(sweep), "--out", str(out), "--quiet",
                             *extra], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_runs(out: Path, proc: subprocess.Popen, at_least: int, timeout: float = 60) -> set[str]:
    """Poll the store (as any reader would) until it shows ``at_least`` finished runs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended before it could be killed: {proc.communicate()}")
        if (out / "manifest.json").exists():
            seen = set(ExperimentStore(out).finished())
            if len(seen) >= at_least:
                return seen
        time.sleep(0.05)
    raise AssertionError("the sweep did not finish runs in time")


def _reference(tmp_path: Path, n: int) -> pd.Series:
    """y of every run of the same design, run in one go in this process."""
    exp = Experiment(listed([{"x": float(i)} for i in range(n)]), base=None, model=NOISY, seed=7,
                     outputs=OutputSpec(frequency="end"))
    return run_experiment(exp, tmp_path / "reference", executor="serial", progress=False).summaries().set_index(
        "run_id")["y"]


def _assert_complete(out: Path, n: int, reference: pd.Series) -> None:
    store = ExperimentStore(out)
    runs, summaries = store.runs(), store.summaries()
    assert len(runs) == n and runs["run_id"].is_unique and (runs["status"] == "ok").all()
    assert len(summaries) == n and summaries["run_id"].is_unique
    # sleep is a parameter of the killed sweep, not of the reference: y depends on x and the seed only
    pd.testing.assert_series_equal(summaries.set_index("run_id")["y"], reference)
    assert not list((out / "journal").glob("*.jsonl")) and not (out / "writer.lock").exists()


# ----------------------------------------------------------------------------- the lock
def test_a_second_writer_is_refused_naming_the_owner_and_the_first_finishes(tmp_path):
    sweep, out = _sweep_file(tmp_path / "locked.json", 36, sleep=0.25), tmp_path / "store"
    first = _start_sweep(sweep, out, "--executor", "serial")
    try:
        _wait_for_runs(out, first, 1)
        owner = json.loads((out / "writer.lock").read_text())
        assert owner["pid"] == first.pid and owner["host"] == socket.gethostname()
        second = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", str(sweep), "--out", str(out), "--quiet",
                                 "--executor", "serial"], env=ENV, capture_output=True, text=True, timeout=60)
        assert first.poll() is None, "the first sweep ended before the second tried"
        assert second.returncode == 2, second.stderr
        assert f"is being written by pid {first.pid} on host {socket.gethostname()}" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.wait(60) == 0, first.communicate()
    finally:
        if first.poll() is None:
            first.kill()
    _assert_complete(out, 36, _reference(tmp_path, 36))
    # the lock went with its owner: the same command now resumes (nothing left to run)
    assert cli_main(["sweep", str(sweep), "--out", str(out), "--quiet", "--executor", "serial"]) == 0


def _held_lock(out: Path, pid: int, host: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "writer.lock").write_text(json.dumps({"pid": pid, "host": host, "started": "2026-01-01T00:00:00",
                                                 "command": ["channel-sim", "sweep", "x.yaml"]}))


def test_a_stale_lock_of_a_dead_process_is_taken_over_and_a_live_or_remote_owner_refused(tmp_path, capsys):
    exp = Experiment(listed([{"x": 1.0}, {"x": 2.0}]), base=None, model=NOISY, seed=1,
                     outputs=OutputSpec(frequency="end"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _held_lock(tmp_path / "stale", dead.pid, socket.gethostname())
    store = run_experiment(exp, tmp_path / "stale", executor="serial", progress=False)
    assert len(store.runs()) == 2 and not store.lock_path.exists()
    assert f"taking over the lock of pid {dead.pid}, which is no longer running" in capsys.readouterr().err

    _held_lock(tmp_path / "live", os.getppid(), socket.gethostname())
    with pytest.raises(StoreLockedError, match=f"pid {os.getppid()} on host .*channel-sim sweep x.yaml"):
        run_experiment(exp, tmp_path / "live", executor="serial", progress=False)
    _held_lock(tmp_path / "remote", 4242, "another-host.example")
    with pytest.raises(StoreLockedError, match="another-host.example .*cannot tell whether it still runs"):
        run_experiment(exp, tmp_path / "remote", executor="serial", progress=False)
    for d in ("live", "remote"):
        assert not (tmp_path / d / "manifest.json").exists()  # refused before anything was written


def test_the_lock_is_released_when_a_sweep_fails(tmp_path):
    exp = Experiment(listed([{"x": 1.0}]), base=None, model=NOISY, seed=1, outputs=OutputSpec(frequency="end"))
    run_experiment(exp, tmp_path / "s", executor="serial", progress=False)
    other = Experiment(listed([{"x": 5.0}]), base=None, model=NOISY, seed=1, outputs=OutputSpec(frequency="end"))
    with pytest.raises(ValueError, match="different experiment"):
        run_experiment(other, tmp_path / "s", executor="serial", progress=False)
    assert not (tmp_path / "s" / "writer.lock").exists()
    run_experiment(exp, tmp_path / "s", executor="serial", progress=False)  # not locked out by the failure


# ----------------------------------------------------------------------------- kills
def test_kill_9_loses_no_finished_run_and_resume_runs_the_rest_once(tmp_path):
    n = 40
    sweep, out = _sweep_file(tmp_path / "k9.json", n, sleep=0.05), tmp_path / "store"
    proc = _start_sweep(sweep, out, "--executor", "serial")
    try:
        seen = _wait_for_runs(out, proc, 6)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # fewer than a chunk finished: they are all in the journal, and the readers see them
    assert not list((out / "runs").glob("chunk-*.parquet"))
    kept = set(ExperimentStore(out).finished())
    assert seen <= kept and len(kept) < n
    assert cli_main(["export", str(out), "--out", str(tmp_path / "csv")]) == 0  # the existing readers see them too
    assert set(pd.read_csv(tmp_path / "csv" / "summaries.csv")["run_id"]) == kept
    resumed = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", str(sweep), "--out", str(out),
                              "--executor", "serial"], env=ENV, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "which is no longer running" in resumed.stderr  # the lock the killed sweep left
    assert f"{len(kept)} skipped" in resumed.stderr  # only what was not stored ran again
    _assert_complete(out, n, _reference(tmp_path, n))


@pytest.mark.parametrize(("sig", "executor"), [(signal.SIGTERM, "serial"), (signal.SIGINT, "process")])
def test_sigterm_and_ctrl_c_store_what_finished_print_one_line_and_exit_non_zero(tmp_path, sig, executor):
    n = 40
    sweep, out = _sweep_file(tmp_path / "term.json", n, sleep=0.1), tmp_path / "store"
    proc = _start_sweep(sweep, out, "--executor", executor, "--workers", "2")
    try:
        seen = _wait_for_runs(out, proc, 5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("channel-sim:")]
    assert len(lines) == 1 and f"interrupted by {signal.Signals(sig).name}" in lines[0]
    assert "rerun the same command to resume" in lines[0]
    store = ExperimentStore(out)
    kept = set(store.finished())
    assert seen <= kept and len(kept) < n and f"{len(kept)} of {n} runs are in" in lines[0]
    assert not list((out / "journal").glob("*.jsonl"))  # flushed into chunks
    assert not (out / "writer.lock").exists()
    assert cli_main(["sweep", str(sweep), "--out", str(out), "--quiet", "--executor", "serial"]) == 0
    _assert_complete(out, n, _reference(tmp_path, n))


# ----------------------------------------------------------------------------- a dead worker
def test_a_worker_that_kills_its_process_fails_only_its_run_and_the_sweep_goes_on(tmp_path, capsys):
    sweep = _sweep_file(tmp_path / "crash.json", 6, extra={2: {"crash": "kill"}})
    out = tmp_path / "store"
    assert cli_main(["sweep", str(sweep), "--out", str(out), "--quiet", "--executor", "process",
                     "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert "1 of 6 runs failed: p00002-r000 (WorkerCrashed: the worker process running this run was killed by " \
           "SIGKILL" in err and "--retry-failed" in err
    runs = ExperimentStore(out).runs().set_index("run_id")
    assert len(runs) == 6 and runs.loc["p00002-r000", "status"] == "failed"
    assert (runs.drop(index="p00002-r000")["status"] == "ok").all()
    y = ExperimentStore(out).summaries().set_index("run_id")["y"]
    pd.testing.assert_series_equal(y, _reference(tmp_path, 6).drop(index="p00002-r000"))
    # a resume skips the crashed run instead of crashing again; the exit code still says it failed
    assert cli_main(["sweep", str(sweep), "--out", str(out), "--quiet", "--executor", "process"]) == 1
    assert len(ExperimentStore(out).runs()) == 6


def test_the_cause_of_a_worker_death_is_told_from_its_exit_code():
    from sim.experiments.executors import worker_death_cause

    assert "was killed by SIGKILL (the out-of-memory killer sends it)" in worker_death_cause([-signal.SIGKILL])
    assert "was killed by SIGSEGV" in worker_death_cause([None, -signal.SIGSEGV])
    assert "exited with code 3" in worker_death_cause([3])
    assert "running this run died" in worker_death_cause([None])


def test_the_exit_code_of_a_dead_worker_is_read_even_when_the_pool_reaps_it_first():
    """The pool's manager thread reaps a dead worker itself when the pool breaks; reading the
    code must wait for that thread (or for the code) instead of racing it for the process
    (the race made a SIGKILL read as a bare "died" now and then)."""
    import threading

    from sim.experiments.executors import worker_death_cause, worker_exit_codes

    class Reaped:  # the exit code appears when the manager thread has reaped the process
        def __init__(self):
            self.code = None

        @property
        def exitcode(self):
            return self.code

    worker = Reaped()

    def manager_reaps():
        time.sleep(0.3)
        worker.code = -signal.SIGKILL

    class Pool:
        _executor_manager_thread = threading.Thread(target=manager_reaps)

    Pool._executor_manager_thread.start()
    assert worker_exit_codes(Pool(), [worker]) == [-signal.SIGKILL]
    assert "killed by SIGKILL" in worker_death_cause(worker_exit_codes(Pool(), [worker]))
    # no manager thread (another Python): the code is polled until it is known
    late = Reaped()
    threading.Timer(0.3, lambda: setattr(late, "code", 3)).start()
    assert worker_exit_codes(object(), [late]) == [3]
    # a code never known: the timeout ends the wait, and the cause says only that it died
    assert worker_exit_codes(object(), [Reaped()], timeout=0.2) == [None]


def test_workers_exit_when_the_sweep_is_killed(tmp_path):
    """kill -9 of a sweep cannot stop its workers; they notice their parent is gone and exit,
    instead of waiting forever for their next run."""
    sweep, out = _sweep_file(tmp_path / "orphans.json", 40, sleep=0.5), tmp_path / "store"
    proc = _start_sweep(sweep, out, "--executor", "process", "--workers", "2")
    workers: list[int] = []
    try:
        _wait_for_runs(out, proc, 2)  # the workers have started and run
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                  text=True).stdout.split()]
        assert len(workers) >= 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.time() + 30
        while time.time() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "worker processes outlived the killed sweep"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:  # only this test's own processes
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped by init, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


# ----------------------------------------------------------------------------- compare: intervals, one scenario
def test_intervals_of_counts_and_shares_stay_within_what_the_measure_can_take():
    """deaths 42 [-174, 258] was printed: a t interval is cut at the measure's bound, marked, and explained."""
    from sim.experiments.analysis import (
        Comparison,
        comparison_tables,
        format_comparison,
        measure_bounds,
    )
    from sim.experiments.stats import clip_interval, mean_ci, wilson_interval

    runs = pd.DataFrame({
        "scenario": ["a"] * 3 + ["b"] * 3, "replication": [0, 1, 2] * 2,
        "deaths": [0.0, 0.0, 126.0, 10.0, 11.0, 12.0],                   # a: mean 42, t interval below 0
        "prevented_share": [0.90, 0.99, 0.999, 0.5, 0.5, 0.5],            # a: t interval above 100%
        "business_model_broken": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],          # a share of runs
        "gang_profit_gbp_window": [-5e6, 1e6, 2e6, 1e6, 2e6, 3e6],        # a profit can be negative: not cut
        "market_profit_margin": [0.2, 0.9, 0.99, 0.5, 0.5, 0.5],          # at most 1, may be negative
    })
    assert mean_ci(runs["deaths"][:3])[1] < 0  # what was printed before
    table, diffs = comparison_tables(runs, ["a", "b"])
    t = table.set_index(["scenario", "measure"])
    assert t.loc[("a", "deaths"), "lower"] == 0 and t.loc[("a", "deaths"), "lower_cut"]
    assert t.loc[("a", "deaths"), "upper"] == pytest.approx(mean_ci(runs["deaths"][:3])[2])
    assert not t.loc[("a", "deaths"), "upper_cut"] and t.loc[("a", "deaths"), "mean"] == 42
    assert t.loc[("a", "prevented_share"), "upper"] == 1 and t.loc[("a", "prevented_share"), "upper_cut"]
    # a share of runs: Wilson, inside [0, 1] uncut
    assert (t.loc[("a", "business_model_broken"), ["lower", "upper"]].tolist()
            == pytest.approx(list(wilson_interval(1, 3))))
    assert not t.loc[("a", "business_model_broken"), ["lower_cut", "upper_cut"]].any()
    assert t.loc[("a", "gang_profit_gbp_window"), "lower"] < -1e6  # unbounded: as computed
    assert not t.loc[("a", "gang_profit_gbp_window"), ["lower_cut", "upper_cut"]].any()
    assert t.loc[("a", "market_profit_margin"), "upper"] == 1
    for r in table.itertuples():
        b = measure_bounds(r.measure) or (-np.inf, np.inf)
        assert b[0] <= r.lower <= r.mean <= r.upper <= b[1]
    # differences of counts are not bounded; differences of shares lie in [-1, 1]
    d = diffs.set_index("measure")
    assert d.loc["deaths", "lower"] < 0 and not d.loc["deaths", "lower_cut"]
    assert d.loc["prevented_share", "lower"] >= -1 and d.loc["prevented_share", "upper"] <= 1
    text = format_comparison(Comparison(table, diffs, None, ["a", "b"]))  # type: ignore[arg-type]
    assert "42 [0*, " in text and "100.0%*]" in text
    assert "* the end of the t interval fell outside the values the measure can take and is cut at its bound" in text
    assert "-174" not in text
    # nothing cut: no footnote, the table as before
    tb, db = comparison_tables(runs[runs.scenario == "b"], ["b"])
    assert "*" not in format_comparison(Comparison(tb, db, None, ["b"]))  # type: ignore[arg-type]
    assert clip_interval(float("nan"), float("nan"), (0, np.inf))[2:] == (False, False)


def test_a_one_scenario_compare_writes_a_figure_of_its_means_not_an_empty_one(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    from sim.experiments.analysis import compare
    from sim.plots import plot_comparison_bands, plot_means

    out = tmp_path / "cmp"
    assert cli_main(["compare", "pilot_50", "--replications", "2", *WEEKS, "--executor", "serial", "--quiet",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"figure: {out / 'comparison_means.png'}" in printed and "comparison_differences" not in printed
    assert (out / "comparison_means.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "comparison_differences.png").exists()
    c = compare(["pilot_50"], replications=2, seed=1, overrides={"start_date": "2025-07-01",
                                                                  "end_date": "2025-07-28"},
                out=out / "store", executor="serial")  # the same runs, read back
    fig = plot_means(c)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 6 and all(ax.lines for ax in panels)  # a mean and its interval in every panel
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["pilot_50"]
    # four weeks are one month: the series is drawn as points with their intervals, not as invisible lines
    bands = plot_comparison_bands(c, since=None)
    assert all(ax.lines[0].get_marker() == "o" and ax.collections for ax in bands.axes if ax.get_visible())
    band = c.timeseries_bands("arrivals_uk")
    assert (band["lower"] >= 0).all()  # a band of a count never dips below 0
    # and `channel-sim run` of four weeks: its overview shows the month as points, not empty panels
    from sim.plots import plot_overview

    res = sim.run(sim.load_config("pilot_50", {"start_date": "2025-07-01", "end_date": "2025-07-28"}), seed=1)
    overview = plot_overview({"pilot_50": res.timeseries})
    assert all(ax.lines and ax.lines[0].get_marker() == "o" for ax in overview.axes if ax.get_visible())


def test_an_unknown_output_variable_is_refused_when_the_sweep_is_read(tmp_path):
    """Checked against the Channel model's series for the sweep's configuration (its groups
    included); a model whose series is not known before it runs is not checked, and any
    model that lists its variables (the target's ``variables``) is checked the same way."""
    from sim.config import ConfigError

    good = tmp_path / "good.yaml"
    good.write_text("name: g\nbase: pilot_50\noutputs: {variables: [arrivals_uk, arrivals_syrian, n_dead]}\n"
                    "design: {kind: list, points: [{returns.quota_per_week: 5}]}\n")
    assert load_sweep(good).outputs.variables == ("arrivals_uk", "arrivals_syrian", "n_dead")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nbase: pilot_50\noutputs: {variables: arrivals_syria}\n"
                   "design: {kind: scenarios, scenarios: [baseline, pilot_50]}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: outputs.variables: unknown variable 'arrivals_syria'; "
                                          r"did you mean 'arrivals_syrian'\? \(accepted: potential_inflow, "):
        load_sweep(bad)
    walk = tmp_path / "walk.yaml"  # a model of its own: its variables are its business
    walk.write_text("name: w\nmodel: tests.test_reliability:WALK\noutputs: {variables: [anything]}\n"
                    "design: {kind: list, points: [{drift: 1}]}\n")
    assert load_sweep(walk).outputs.variables == ("anything",)
    named = tmp_path / "named.yaml"
    named.write_text("name: n\nmodel: tests.test_reliability:WALK_NAMED\noutputs: {variables: [arrivals_k]}\n"
                     "design: {kind: list, points: [{drift: 1}]}\n")
    with pytest.raises(ConfigError, match=r"named.yaml: outputs.variables: unknown variable 'arrivals_k'; "
                                          r"did you mean 'arrivals_uk'\? \(accepted: arrivals_uk\)"):
        load_sweep(named)


# ----------------------------------------------------------------------------- seeds, configs
def test_a_seed_sequence_is_copied_not_consumed_and_a_config_not_mutated():
    cfg = sim.load_config("pilot_50", {"start_date": "2025-07-01", "end_date": "2025-07-28"})
    before = cfg.model_dump(mode="json")
    seed = np.random.SeedSequence(2024, spawn_key=(3,))
    a = sim.run(cfg, seed=seed)
    assert seed.n_children_spawned == 0
    b = sim.run(cfg, seed=seed)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    assert json.dumps(a.summary, sort_keys=True, default=str) == json.dumps(b.summary, sort_keys=True, default=str)
    assert cfg.model_dump(mode="json") == before
    # and the copy is the same stream as a fresh object: results of runs do not change
    fresh = sim.run(cfg, seed=np.random.SeedSequence(2024, spawn_key=(3,)))
    pd.testing.assert_frame_equal(a.timeseries, fresh.timeseries)


# ----------------------------------------------------------------------------- the probes
MONTHS_NAN = "[0.3, 0.3, 0.3, .nan, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]"
MONTHS_INF = "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, .inf]"


def _sweep_yaml(design: str, **fields: str) -> str:
    head = "".join(f"{k}: {v}\n" for k, v in {"name": "probe", "model": NOISY, "outputs": "{frequency: end}",
                                               **fields}.items())
    return head + "design:\n" + textwrap.indent(textwrap.dedent(design).strip(), "  ") + "\n"


#: Nine levels of nine aliases: a few lines that stand for 9**9 design points (an "alias bomb").
BOMB = {"a": "&a [" + ", ".join(["{x: 1}"] * 9) + "]",
        **{c: f"&{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)}}

#: (id, files to write (text or bytes), argv ({tmp} is the test's directory), message fragment (or fragments),
#: exit code)
PROBES = [
    ("nan-in-month-list", {}, ["check", "baseline", "--set", f"environment.crossable_share_by_month={MONTHS_NAN}"],
     "field 'environment.crossable_share_by_month.3': Input should be a finite number (got nan)", 2),
    ("inf-in-seasonality", {}, ["check", "baseline", "--set", f"environment.inflow_seasonality={MONTHS_INF}"],
     "field 'environment.inflow_seasonality.11': Input should be a finite number (got inf)", 2),
    ("nan-in-year-mapping", {}, ["check", "baseline", "--set", "gangs.boat_price_year_multiplier={2023: .nan}"],
     "field 'gangs.boat_price_year_multiplier.2023': Input should be a finite number (got nan)", 2),
    ("inf-in-year-mapping-file", {"s.yaml": "extends: baseline\nenvironment:\n  inflow_year_multiplier: {2024: .inf}\n"},
     ["check", "{tmp}/s.yaml"], "field 'environment.inflow_year_multiplier.2024': Input should be a finite number", 2),
    ("nan-in-run", {}, ["run", "pilot_50", *WEEKS, "--out", "{tmp}/out", "--set",
                        f"environment.crossable_share_by_month={MONTHS_NAN}"],
     "environment.crossable_share_by_month.3", 2),
    ("nan-in-grid", {"g.yaml": _sweep_yaml("kind: grid\nfactors: {x: [0, .nan, 2]}")},
     ["sweep", "{tmp}/g.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "x: value 2 (nan) is not a finite number", 2),
    ("inf-in-grid-range", {"r.yaml": _sweep_yaml("kind: grid\nfactors: {x: {start: 0, stop: .inf, step: 1}}")},
     ["sweep", "{tmp}/r.yaml", "--out", "{tmp}/store", "--executor", "serial"], "x: stop must be a finite number", 2),
    ("nan-in-list-point", {"l.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}, {x: .nan}]")},
     ["sweep", "{tmp}/l.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "point 2, x: nan is not a finite number", 2),
    ("nan-in-bounds", {"b.yaml": _sweep_yaml("kind: lhs\nn: 4\nbounds: {x: [0, .nan]}")},
     ["sweep", "{tmp}/b.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "x bounds: value 2 (nan) is not a finite number", 2),
    ("nan-in-channel-grid", {"c.yaml": "name: c\nbase: pilot_50\ndesign: {kind: grid, factors: "
                                       "{returns.quota_per_week: [50, .nan]}}\n"},
     ["sweep", "{tmp}/c.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "returns.quota_per_week: value 2 (nan) is not a finite number", 2),
    ("store-locked", {"k.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]"),
                      "store/writer.lock": "LIVE_LOCK"},
     ["sweep", "{tmp}/k.yaml", "--out", "{tmp}/store", "--executor", "serial"], "is being written by pid", 2),
    ("store-is-a-file", {"o.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]"), "afile": "not a store"},
     ["sweep", "{tmp}/o.yaml", "--out", "{tmp}/afile", "--executor", "serial"], "afile is a file, not a store", 2),
    ("sweep-with-failed-runs", {"f.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}, {x: 2, fail: true}, {x: 3}]")},
     ["sweep", "{tmp}/f.yaml", "--out", "{tmp}/store", "--executor", "serial", "--quiet"],
     "1 of 3 runs failed: p00001-r000 (RuntimeError: asked to fail at x=2)", 1),
    ("sweep-all-failed", {"a.yaml": _sweep_yaml("kind: list\npoints: [{x: 1, fail: true}]", replications="2")},
     ["sweep", "{tmp}/a.yaml", "--out", "{tmp}/store", "--executor", "serial", "--quiet"], "2 of 2 runs failed", 1),
    ("compare-with-a-failed-run", {}, ["compare", "baseline", "pilot_50", "--replications", "2", *WEEKS,
                                       "--executor", "serial", "--quiet", "--out", "{tmp}/cmp"],
     "1 of 4 runs failed: p00001-r001 [pilot_50] (RuntimeError: injected failure)", 1),
    # ------------------------------------------------ YAML (sim.config.read_yaml_mapping)
    ("yaml-duplicate-key", {"d.yaml": "extends: baseline\nreturns:\n  quota_per_week: 5\n  quota_per_week: 6\n"},
     ["check", "{tmp}/d.yaml"], "d.yaml: key 'returns.quota_per_week' is given twice (lines 3 and 4)", 2),
    ("yaml-not-utf8", {"l.yaml": b"extends: baseline\nname: caf\xe9\n"}, ["check", "{tmp}/l.yaml"],
     "l.yaml: not UTF-8 text (byte 0xe9 at position 27); save the file as UTF-8", 2),
    ("yaml-nested-too-deeply", {"n.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n"}, ["check", "{tmp}/n.yaml"],
     "n.yaml: nested too deeply to read (more than 64 levels)", 2),
    ("yaml-nested-over-64", {"m.yaml": "a: " + "[" * 80 + "]" * 80 + "\n"}, ["check", "{tmp}/m.yaml"],
     "m.yaml: nested more than 64 levels deep", 2),
    ("yaml-alias-bomb-in-sweep", {"bomb.yaml": _sweep_yaml("kind: list\npoints: *i", **BOMB)},
     ["sweep", "{tmp}/bomb.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "expand it to more than 1,000,000 values", 2),
    ("yaml-recursive-alias", {"r.yaml": "a: &r\n  b: *r\n"}, ["check", "{tmp}/r.yaml"],
     "r.yaml: 'a.b' (line 1) refers to itself through an alias", 2),
    ("yaml-empty-file", {"e.yaml": "# nothing yet\n"}, ["check", "{tmp}/e.yaml"], "e.yaml: the file is empty", 2),
    ("yaml-empty-sweep-file", {"e.yaml": ""}, ["sweep", "{tmp}/e.yaml", "--out", "{tmp}/store"],
     "e.yaml: the file is empty", 2),
    ("extends-empty", {"x.yaml": 'extends: ""\nname: x\n'}, ["check", "{tmp}/x.yaml"],
     "x.yaml: field 'extends' is empty; name the scenario this one extends", 2),
    ("impossible-date", {"d.yaml": "extends: pilot_50\nstart_date: 2022-02-30\n"}, ["check", "{tmp}/d.yaml"],
     ("field 'start_date': Input should be a valid date", "(got '2022-02-30')"), 2),
    ("impossible-date-in-sweep", {"d.yaml": "name: d\nbase: pilot_50\noverrides: {end_date: 2026-02-29}\n"
                                            "design: {kind: list, points: [{returns.quota_per_week: 5}]}\n"},
     ["sweep", "{tmp}/d.yaml", "--out", "{tmp}/store"], ("field 'end_date'", "(got '2026-02-29')"), 2),
    ("scenario-is-a-directory", {"adir/x.txt": "x"}, ["check", "{tmp}/adir"],
     "adir' is a directory, not a scenario file", 2),
    ("unknown-scenario-suggestion", {}, ["check", "pilot50"], "not found; did you mean 'pilot_50'?", 2),
    # ------------------------------------------------ run, compare, export
    ("run-negative-seed", {}, ["run", "pilot_50", "--seed", "-1", "--out", "{tmp}/out"],
     "--seed: must be a whole number >= 0, got -1", 2),
    ("run-since-not-a-date", {}, ["run", "pilot_50", "--since", "notadate", "--out", "{tmp}/out"],
     "--since: 'notadate' is not a date; give YYYY-MM-DD", 2),
    ("run-years-too-short", {}, ["run", "pilot_50", "--years", "0.001", "--out", "{tmp}/out"],
     "--years: must be in [0.005, 60] (at least two days, at most 60 years), got 0.001", 2),
    ("run-out-is-a-file", {"afile": "x"}, ["run", "pilot_50", *WEEKS, "--out", "{tmp}/afile"],
     "afile: is a file, not a directory", 2),
    ("run-out-unwritable", {"afile": "x"}, ["run", "pilot_50", *WEEKS, "--out", "{tmp}/afile/sub"],
     "afile/sub: cannot write there (Not a directory)", 2),
    ("run-a-directory", {"adir/x.txt": "x"}, ["run", "{tmp}/adir", "--out", "{tmp}/out"],
     "adir' is a directory, not a scenario file", 2),
    ("compare-same-scenario-twice", {}, ["compare", "pilot_50", "pilot_50", "--out", "{tmp}/cmp"],
     "scenario 'pilot_50' is given twice (positions 1 and 2)", 2),
    ("compare-negative-seed", {}, ["compare", "baseline", "pilot_50", "--seed", "-1", "--out", "{tmp}/cmp"],
     "--seed: must be a whole number >= 0", 2),
    ("export-out-is-a-file", {"st/manifest.json": "{}", "afile": "x"}, ["export", "{tmp}/st", "--out", "{tmp}/afile"],
     "afile: is a file, not a directory", 2),
    ("export-damaged-chunk", {"st/manifest.json": "{}", "st/runs/chunk-000000-00000000.parquet": "PAR1 cut short"},
     ["export", "{tmp}/st"], ("chunk-000000-00000000.parquet cannot be read", "store check", "--repair"), 2),
    # ------------------------------------------------ sweep files and stores
    ("sweep-out-unwritable", {"o.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]"), "afile": "x"},
     ["sweep", "{tmp}/o.yaml", "--out", "{tmp}/afile/sub", "--executor", "serial"],
     "cannot write the store", 2),
    ("sweep-file-is-a-scalar", {"s.yaml": "just a sentence\n"}, ["sweep", "{tmp}/s.yaml", "--out", "{tmp}/store"],
     "s.yaml: a sweep file is a mapping of fields, got str", 2),
    ("sweep-seed-negative", {"n.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]", seed="-1")},
     ["sweep", "{tmp}/n.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "n.yaml: seed must be a whole number >= 0, got -1", 2),
    ("sweep-seed-text", {"t.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]", seed="abc")},
     ["sweep", "{tmp}/t.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "t.yaml: seed must be a whole number >= 0, got 'abc'", 2),
    ("sweep-replications-text", {"r.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]", replications="many")},
     ["sweep", "{tmp}/r.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "r.yaml: replications must be a whole number >= 1, got 'many'", 2),
    ("manifest-truncated", {"t.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]"),
                            "store/manifest.json": '{"name": "probe", "fingerpr'},
     ["sweep", "{tmp}/t.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "store/manifest.json is damaged (not valid JSON", 2),
    ("analyze-manifest-truncated", {"store/manifest.json": '{"name": "probe", "fingerpr'},
     ["analyze", "{tmp}/store"], "store/manifest.json is damaged (not valid JSON", 2),
    ("store-check-not-a-store", {"adir/x.txt": "x"}, ["store", "check", "{tmp}/adir"],
     "adir is not an experiment store (no manifest.json and no runs/)", 2),
    ("store-check-locked", {"store/manifest.json": "{}", "store/writer.lock": "LIVE_LOCK"},
     ["store", "check", "{tmp}/store", "--repair"], "is being written by pid", 2),
    ("store-check-truncated-manifest", {"store/manifest.json": '{"design": '}, ["store", "check", "{tmp}/store"],
     "manifest.json is damaged", 1),
    # ------------------------------------------------ a sweep file's outputs and model, refused when it is read
    ("sweep-unknown-output-variable", {"v.yaml": "name: v\nbase: pilot_50\noutputs: {frequency: monthly, variables: "
                                                 "[returns, arivals_uk]}\ndesign: {kind: list, points: "
                                                 "[{returns.quota_per_week: 5}]}\n"},
     ["sweep", "{tmp}/v.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     ("v.yaml: outputs.variables: unknown variable 'arivals_uk'; did you mean 'arrivals_uk'? (accepted: ",
      "arrivals_syrian"), 2),
    ("sweep-unknown-outputs-field", {"f.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]").replace(
        "{frequency: end}", "{frequncy: end}")},
     ["sweep", "{tmp}/f.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "f.yaml: outputs: unknown field 'frequncy'; did you mean 'frequency'? (accepted: frequency, variables, "
     "statistics)", 2),
    ("sweep-outputs-not-a-mapping", {"f.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]").replace(
        "{frequency: end}", "[monthly]")},
     ["sweep", "{tmp}/f.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "f.yaml: outputs must be a mapping (frequency, variables, statistics), got ['monthly']", 2),
    ("sweep-statistics-not-importable", {"f.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]").replace(
        "{frequency: end}", "{frequency: end, statistics: 'nosuchmodule:stats'}")},
     ["sweep", "{tmp}/f.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "f.yaml: outputs.statistics: cannot use 'nosuchmodule:stats' (ModuleNotFoundError", 2),
    ("sweep-model-not-importable", {"m.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]", model="nosuchmodule:f")},
     ["sweep", "{tmp}/m.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "m.yaml: model: cannot use 'nosuchmodule:f' (ModuleNotFoundError: No module named 'nosuchmodule')", 2),
    ("sweep-model-no-such-function", {"m.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]",
                                                           model="sim.experiments.testfunctions:nosuch")},
     ["sweep", "{tmp}/m.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "m.yaml: model: cannot use 'sim.experiments.testfunctions:nosuch' (AttributeError", 2),
    ("sweep-model-malformed", {"m.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]", model="notamodel")},
     ["sweep", "{tmp}/m.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     "m.yaml: model: cannot use 'notamodel' (ValueError: expected 'module:function'", 2),
    ("sweep-design-point-out-of-range", {"p.yaml": "name: p\nbase: pilot_50\ndesign: {kind: list, points: "
                                                   "[{returns.quota_per_week: -5}]}\n"},
     ["sweep", "{tmp}/p.yaml", "--out", "{tmp}/store", "--executor", "serial"],
     ("p.yaml: design point 0 ({'returns.quota_per_week': -5}): invalid configuration (scenario 'pilot_50' with the "
      "overrides returns.quota_per_week): field 'returns.quota_per_week': must be a whole number of returns per "
      "week in [0, 100000]"), 2),
    ("export-out-unwritable", {"st/manifest.json": "{}", "afile": "x"},
     ["export", "{tmp}/st", "--out", "{tmp}/afile/sub"], "afile/sub: cannot write there (Not a directory)", 2),
    # ------------------------------------------------ flags out of range, named before anything runs
    ("sweep-workers-zero", {"w.yaml": _sweep_yaml("kind: list\npoints: [{x: 1}]")},
     ["sweep", "{tmp}/w.yaml", "--out", "{tmp}/store", "--workers", "0"],
     "--workers: must be a whole number >= 1 (processes or Dask workers), got 0", 2),
    ("compare-workers-zero", {}, ["compare", "baseline", "pilot_50", "--workers", "0", "--out", "{tmp}/cmp"],
     "--workers: must be a whole number >= 1", 2),
    ("compare-one-replication", {}, ["compare", "baseline", "pilot_50", "--replications", "1", "--out", "{tmp}/cmp"],
     "--replications: must be a whole number >= 2 (a confidence interval needs two runs of each scenario), got 1", 2),
    ("params-unknown-section", {}, ["params", "retrns"],
     "no parameters under 'retrns'; did you mean 'returns'? (sections: ", 2),
]


@pytest.mark.parametrize(("files", "argv", "fragment", "code"), [p[1:] for p in PROBES], ids=[p[0] for p in PROBES])
def test_probe(tmp_path, capsys, monkeypatch, files, argv, fragment, code):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text == "LIVE_LOCK":  # a writer that is alive on this host (our parent process)
            _held_lock(path.parent, os.getppid(), socket.gethostname())
        elif isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    if argv[0] == "compare":  # one run of the comparison fails at run time
        real_run = sim.run

        def flaky_run(cfg, *, seed, **kw):
            if cfg.name == "pilot_50" and tuple(seed.spawn_key) == (1,):
                raise RuntimeError("injected failure")
            return real_run(cfg, seed=seed, **kw)

        monkeypatch.setattr(sim, "run", flaky_run)
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli_main(args) == code
    err = capsys.readouterr()
    err = err.err + (err.out if argv[0] == "store" else "")  # store check prints its report
    for part in (fragment,) if isinstance(fragment, str) else fragment:
        assert part in err
    assert "Traceback" not in err
    if code == 2 and argv[0] == "sweep" and not any(f.startswith("store/") for f in files):
        assert not (tmp_path / "store" / "manifest.json").exists()  # refused before anything ran
    if code == 2 and argv[0] == "compare":
        assert not (tmp_path / "cmp" / "store").exists()


# ----------------------------------------------------------------------------- store check and repair
def _walk(params, seed, base_config):
    """A toy model with a daily time series (the store's three tables), independent of the Channel model."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2025-01-01", periods=int(params.get("steps", 70)), freq="D", name="date")
    x = float(params.get("drift", 0.0)) + rng.normal(size=len(days))
    return RunOutput({"total": float(x.sum())}, pd.DataFrame({"arrivals_uk": x}, index=days))


WALK = ModelTarget(run=_walk)
#: The same model, listing the variables of its series (checked when a sweep file is read).
WALK_NAMED = ModelTarget(run=_walk, variables=lambda base_config: ["arrivals_uk"])


def _walk_sweep(path: Path, n: int) -> Path:
    path.write_text(json.dumps({"name": "walk", "model": "tests.test_reliability:WALK", "seed": 5,
                                "outputs": {"frequency": "monthly", "variables": ["arrivals_uk"]},
                                "design": {"kind": "list", "points": [{"drift": float(i)} for i in range(n)]}}))
    return path


def _store_with_chunks(tmp_path: Path, n: int = 6, chunk_size: int = 2) -> tuple[Path, Path]:
    sweep, out = _walk_sweep(tmp_path / "walk.json", n), tmp_path / "store"
    run_experiment(load_sweep(sweep), out, executor="serial", progress=False, chunk_size=chunk_size)
    return sweep, out


def _tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    store = ExperimentStore(out)
    return (store.summaries().set_index("run_id").sort_index(),
            store.timeseries().sort_values(["run_id", "date", "variable"]).reset_index(drop=True))


def test_store_check_finds_a_truncated_time_series_chunk_repair_sets_it_aside_and_resume_reruns_it(tmp_path, capsys):
    sweep, out = _store_with_chunks(tmp_path)
    ref_summaries, ref_ts = _tables(out)
    assert cli_main(["store", "check", str(out)]) == 0
    assert "6 of 6 runs present (0 failed)\n  healthy" in capsys.readouterr().out
    victim = sorted((out / "timeseries").glob("chunk-*.parquet"))[1]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])  # a disk that filled up, a copy cut short

    assert cli_main(["store", "check", str(out)]) == 1
    report = capsys.readouterr().out
    assert f"problem: timeseries/{victim.name} is unreadable" in report and "--repair" in report
    # the readers and a resume name the chunk and the repair instead of a traceback or a silent exit 0
    assert cli_main(["export", str(out)]) == 2
    assert f"{victim.name} cannot be read" in capsys.readouterr().err
    assert cli_main(["sweep", str(sweep), "--out", str(out), "--quiet", "--executor", "serial"]) == 2
    err = capsys.readouterr().err
    assert f"is damaged: timeseries/{victim.name} is unreadable" in err and "store check" in err

    assert cli_main(["store", "check", str(out), "--repair"]) == 0
    report = capsys.readouterr().out
    assert f"repaired: moved chunk {victim.stem} (runs, summaries, timeseries)" in report
    assert "2 runs missing: resume the sweep" in report
    assert sorted(p.relative_to(out / "quarantine").as_posix() for p in (out / "quarantine").rglob("*.parquet")) == \
        [f"{t}/{victim.name}" for t in ("runs", "summaries", "timeseries")]
    assert len(ExperimentStore(out).runs()) == 4
    assert cli_main(["store", "check", str(out)]) == 0  # healthy: two runs not run yet
    assert "4 of 6 runs present" in capsys.readouterr().out

    assert cli_main(["sweep", str(sweep), "--out", str(out), "--executor", "serial"]) == 0
    assert "2 runs done, 0 failed, 4 skipped" in capsys.readouterr().err
    summaries, ts = _tables(out)
    assert len(ExperimentStore(out).runs()) == 6 and ExperimentStore(out).runs()["run_id"].is_unique
    pd.testing.assert_frame_equal(summaries, ref_summaries)
    pd.testing.assert_frame_equal(ts, ref_ts)  # each run exactly once, as in the undamaged store
    assert cli_main(["store", "check", str(out)]) == 0


def test_store_check_finds_duplicate_runs_and_repair_keeps_one_per_run_id(tmp_path, capsys):
    sweep, out = _store_with_chunks(tmp_path)
    ref_summaries, ref_ts = _tables(out)
    first = sorted((out / "runs").glob("chunk-*.parquet"))[0].name
    for t in ("runs", "summaries", "timeseries"):  # what two writers without a lock left behind
        (out / t / "chunk-999999-00000000.parquet").write_bytes((out / t / first).read_bytes())
    assert cli_main(["store", "check", str(out)]) == 1
    assert "problem: 2 run ids are stored more than once (p00000-r000, p00001-r000)" in capsys.readouterr().out
    assert cli_main(["sweep", str(sweep), "--out", str(out), "--quiet", "--executor", "serial"]) == 2
    assert "2 run ids are stored more than once" in capsys.readouterr().err

    assert cli_main(["store", "check", str(out), "--repair"]) == 0
    assert "removed 2 duplicate rows, keeping one row per run id" in capsys.readouterr().out
    summaries, ts = _tables(out)
    pd.testing.assert_frame_equal(summaries, ref_summaries)
    pd.testing.assert_frame_equal(ts, ref_ts)
    assert cli_main(["sweep", str(sweep), "--out", str(out), "--executor", "serial"]) == 0
    assert "0 runs done, 0 failed, 6 skipped" in capsys.readouterr().err


def test_store_check_leaves_a_healthy_store_as_it_was_and_reports_journals_and_missing_runs(tmp_path, capsys):
    sweep, out = _store_with_chunks(tmp_path, n=4, chunk_size=2)
    victim = sorted((out / "runs").glob("chunk-*.parquet"))[1]
    for t in ("runs", "summaries", "timeseries"):  # as if the sweep had not got that far
        (out / t / victim.name).unlink()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert cli_main(["store", "check", str(out)]) == 0
    report = capsys.readouterr().out
    assert "2 of 4 runs present" in report and "2 runs of the design are missing (p00002-r000, p00003-r000)" in report
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # a check writes nothing
    assert not (out / "writer.lock").exists()


def test_resuming_a_finished_store_on_a_read_only_disk_does_nothing_instead_of_failing(tmp_path, capsys, monkeypatch):
    sweep, out = _store_with_chunks(tmp_path, n=3)
    manifest = (out / "manifest.json").read_bytes()
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr("sim.experiments.store.os.open", read_only)
    with pytest.raises(StoreReadOnlyError, match="cannot write the store .*Read-only file system"):
        with ExperimentStore(out).lock():
            pass
    assert cli_main(["sweep", str(sweep), "--out", str(out), "--executor", "serial"]) == 0
    assert "all 3 runs are in the store, nothing to run (the directory is read-only" in capsys.readouterr().err
    assert (out / "manifest.json").read_bytes() == manifest
    assert cli_main(["store", "check", str(out)]) == 0  # a check reads without the lock
    assert "checking without the writer's lock" in capsys.readouterr().err
    # a store with runs left to do cannot be resumed there: one clear error
    other = _walk_sweep(tmp_path / "more.json", 4)
    assert cli_main(["sweep", str(other), "--out", str(tmp_path / "new"), "--executor", "serial"]) == 2
    assert "cannot write the store" in capsys.readouterr().err


def test_run_with_two_scenarios_of_the_same_name_writes_both(tmp_path, capsys):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("extends: pilot_50\nname: same\n")
    b.write_text("extends: pilot_50\nname: same\nreturns: {quota_per_week: 0}\n")
    out = tmp_path / "out"
    assert cli_main(["run", str(a), str(b), *WEEKS, "--out", str(out)]) == 0
    assert "two scenarios are named 'same': this one is shown and written as 'same-2'" in capsys.readouterr().err
    assert (out / "same_timeseries.csv").is_file() and (out / "same-2_timeseries.csv").is_file()


def test_a_bug_prints_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    def broken(args):
        raise KeyError("oops")

    monkeypatch.setattr("sim.cli._cmd_check", broken)
    assert cli_main(["check", "baseline"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'oops'" in err and "this is a bug in channel-sim" in err


def test_a_full_disk_is_one_error_naming_the_file(tmp_path, capsys, monkeypatch):
    sweep = _sweep_file(tmp_path / "full.json", 3)

    def full(path, df):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ExperimentStore, "_write_parquet", staticmethod(full))
    assert cli_main(["sweep", str(sweep), "--out", str(tmp_path / "store"), "--quiet", "--executor", "serial"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "chunk-" in err and ".parquet: No space left on device" in err
    assert not (tmp_path / "store" / "writer.lock").exists()
    monkeypatch.undo()  # the disk has room again: the journal kept every finished run
    assert set(ExperimentStore(tmp_path / "store").finished()) == {"p00000-r000", "p00001-r000", "p00002-r000"}


def test_the_probe_table_in_docs_lists_every_probe_with_its_exit_code():
    """docs/reliability.md's probe table is generated from PROBES: every probe, its exit code."""
    rows = {}
    for line in (ROOT / "docs" / "reliability.md").read_text().splitlines():
        if line.startswith("| `") and line.rstrip().endswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells[-1]
    missing = [p[0] for p in PROBES if p[0] not in rows]
    assert not missing, f"probes not in the table of docs/reliability.md: {missing}"
    wrong = [p[0] for p in PROBES if rows[p[0]] != str(p[4])]
    assert not wrong, f"probes whose exit code in docs/reliability.md is not the tested one: {wrong}"
