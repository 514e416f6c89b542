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


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs_from_anywhere(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["MPLBACKEND"] = "Agg"
    sh = Transcript(env)
    src, dist, venv, work = _sources(base), base / "dist", base / "venv", base / "work"
    work.mkdir()

    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src, cwd=base)
    wheels = sorted(dist.glob("channel_sim-*.whl"))
    assert [w.name for w in wheels] == [f"channel_sim-{VERSION}-py3-none-any.whl"], sh

    sh(sys.executable, "-m", "venv", venv, cwd=base)
    py = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    exe = py.parent / "channel-sim"
    sh(py, "-m", "pip", "install", "-q", wheels[0], cwd=base, timeout=600)

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
