"""Provenance of an experiment store: package versions, the git revision, the manifest."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.experiments.tasks import Experiment

__all__ = ["PACKAGES", "git_revision", "new_manifest", "package_versions", "run_note"]

#: Packages whose versions a manifest records (with Python's).
PACKAGES = ("channel-sim", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "scipy", "SALib", "dask", "distributed")


def package_versions() -> dict[str, str]:
    """Python's version and those of :data:`PACKAGES` that are installed."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def git_revision() -> str | None:
    """The commit of the source tree this package runs from, or None outside a git checkout."""
    try:
        root = Path(__file__).resolve().parents[2]
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_note(experiment: Experiment, command_line: list[str] | None = None) -> dict[str, Any]:
    """What one invocation records: the experiment's fingerprint data, when and how it started."""
    return {**experiment.fingerprint_data(), "started": dt.datetime.now(dt.UTC).isoformat(),
            "command_line": command_line if command_line is not None else list(sys.argv)}


def new_manifest(experiment: Experiment, note: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a new store: ``note`` with the name, fingerprint, size and provenance."""
    return {**note, "name": experiment.name, "fingerprint": experiment.fingerprint(),
            "n_runs": experiment.design.n_runs, "package_versions": package_versions(),
            "git_revision": git_revision(), "created": note["started"]}
