"""A wheel installs anywhere: built from the sources, installed with its dependencies into a
fresh virtual environment outside the repository, and run from a temporary directory.

This is what a user of ``pip install channel-sim`` gets: no editable install, no
repository on the path, no ``configs/`` next to the working directory. The shipped
scenarios must come from the package. The dependencies come from the package index
(pip's cache makes a rerun quick); the whole test takes about a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Transcript:
    """Every command with its exit code and output, printed when the test fails."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.lines: list[str] = []

    def __call__(self, *cmd: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        args = [str(c) for c in cmd]
        t0 = time.perf_counter()
        res = subprocess.run(args, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout)
        self.lines.append(f"$ (cd {cwd}) {' '.join(args)}\n[exit {res.returncode}, {time.perf_counter() - t0:.1f} s]\n"
                          f"{res.stdout.rstrip()}\n{res.stderr.rstrip()}".rstrip())
        assert res.returncode == 0, f"command failed: {' '.join(args)}\n\n{self}"
        return res

    def __str__(self) -> str:
        return "\n\n".join(self.lines)


def _sources(dest: Path) -> Path:
    """The files a wheel is built from, copied out of the repository (pip builds in the
    source tree, and the repository must not get a build/ folder or be on any path)."""
    src = dest / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "sim", src / "sim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


class Installed:
    """A wheel of the sources installed into a fresh venv outside the repository."""

    def __init__(self, base: Path):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env["MPLBACKEND"] = "Agg"
        self.sh = Transcript(env)
        self.base = base
        src, dist, self.venv = _sources(base), base / "dist", base / "venv"
        self.sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src, cwd=base)
        self.wheels = sorted(dist.glob("channel_sim-*.whl"))
        assert [w.name for w in self.wheels] == [f"channel_sim-{VERSION}-py3-none-any.whl"], self.sh
        self.sh(sys.executable, "-m", "venv", self.venv, cwd=base)
        self.py = self.venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        self.exe = self.py.parent / "channel-sim"
        self.sh(self.py, "-m", "pip", "install", "-q", self.wheels[0], cwd=base, timeout=600)

    def workdir(self, name: str) -> Path:
        """An empty directory outside the repository to run commands from."""
        work = self.base / name
        work.mkdir()
        return work


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT)
    return Installed(base)


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs_from_anywhere(installed):
    sh, py, exe, venv = installed.sh, installed.py, installed.exe, installed.venv
    work = installed.workdir("work")

    # the package and its scenarios come from the venv, not from the repository
    where = sh(py, "-c", "import sim, sim.config; print(sim.__file__); print(sim.config.CONFIG_DIR)", cwd=work)
    pkg, config_dir = (Path(line) for line in where.stdout.split())
    assert pkg.is_relative_to(venv) and config_dir.is_relative_to(venv), sh
    assert sh(exe, "--version", cwd=work).stdout.strip() == f"channel-sim {VERSION}", sh
    assert sh(exe, cwd=work).stdout.startswith("usage: channel-sim"), sh

    res = sh(exe, "run", "baseline", "--years", "0.1", cwd=work)
    assert "arrivals in the UK (whole run)" in res.stdout, sh
    ts = pd.read_csv(work / "outputs" / "baseline_timeseries.csv", index_col="date")
    assert len(ts) == round(365.25 * 0.1), sh
    assert (work / "outputs" / "overview.png").read_bytes()[:8] == PNG_MAGIC

    res = sh(exe, "compare", "baseline", "pilot_50", "--replications", "2", "--years", "0.5", "--quiet", cwd=work)
    assert "paired differences against baseline" in res.stdout, sh
    out = work / "outputs" / "compare"
    for fig in ("comparison_timeseries.png", "comparison_differences.png"):
        assert (out / fig).read_bytes()[:8] == PNG_MAGIC, sh
    assert any((out / "store").rglob("*.parquet")), sh
    print(sh)  # shown with -s (or -rP): the install transcript


#: The smallest shipped sweep: quota_vs_interception's 24 grid points with one replication each.
SWEEP, SWEEP_POINTS = "quota_vs_interception", 24


@pytest.mark.slow
def test_wheel_runs_a_shipped_sweep_by_name(installed):
    """``channel-sim sweep NAME`` with a sweep shipped in the wheel (sim/configs/sweeps/NAME.yaml),
    run from a directory that has no sweep files; one replication of 0.1 years keeps it short (24 runs)."""
    sh, exe = installed.sh, installed.exe
    work = installed.workdir("sweep")
    assert not list(work.rglob("*.yaml"))
    sh(exe, "sweep", SWEEP, "--replications", "1", "--years", "0.1", "--workers", "2", "--quiet", "--out", "store",
       cwd=work, timeout=900)
    sh(exe, "export", "store", "--flat", "--out", "flat", cwd=work)
    flat = pd.read_csv(work / "flat" / "results.csv")
    assert len(flat) == SWEEP_POINTS and (flat["status"] == "ok").all(), sh
    assert {"returns.quota_per_week", "patrols.uk_payment_gbp_per_year"} <= set(flat.columns), sh
