"""Reliability (issue 14): one writer per store, no finished run lost on a kill, a dead
worker fails only its run, seeds copied not consumed, finite values, exit codes.

The slow tests start real sweep processes (``python -m sim.cli sweep``) on the cheap test
model and kill them once the store shows finished runs.
"""

from __future__ import annotations

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
from sim.experiments import Experiment, ExperimentStore, OutputSpec, listed, run_experiment
from sim.experiments.store import StoreLockedError

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
    from sim.experiments.executors import _death_cause

    assert "was killed by SIGKILL (the out-of-memory killer sends it)" in _death_cause([-signal.SIGKILL])
    assert "was killed by SIGSEGV" in _death_cause([None, -signal.SIGSEGV])
    assert "exited with code 3" in _death_cause([3])
    assert "running this run died" in _death_cause([None])


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


#: (id, files to write, argv ({tmp} is the test's directory), message fragment, exit code)
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
]


@pytest.mark.parametrize(("files", "argv", "fragment", "code"), [p[1:] for p in PROBES], ids=[p[0] for p in PROBES])
def test_probe(tmp_path, capsys, monkeypatch, files, argv, fragment, code):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text == "LIVE_LOCK":  # a writer that is alive on this host (our parent process)
            _held_lock(path.parent, os.getppid(), socket.gethostname())
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
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err
    if code == 2 and argv[0] == "sweep" and "store-locked" not in str(files):
        assert not (tmp_path / "store" / "manifest.json").exists()  # refused before anything ran
