"""A resumable experiment store: a directory of Parquet chunks and a manifest.

Layout::

    DIR/manifest.json              the design, root seed, base config, outputs, versions, command
    DIR/runs/chunk-*.parquet       one row per finished run: ids, parameters, seed, status,
                                   error and traceback, wall time, host
    DIR/summaries/chunk-*.parquet  one row per successful run: the run summary
    DIR/timeseries/chunk-*.parquet long format: run_id, date, variable, value

Runs are written in chunks as they finish. Each chunk file is written to a temporary
name and renamed into place (atomic on POSIX), time series and summaries first and the
runs chunk last: a run counts as finished only once its ``runs`` row exists. Opening a
store removes temporary files and any time-series or summary chunk whose ``runs`` chunk
was never written (a sweep killed mid-write), so every run is present exactly once.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ExperimentStore", "StoreMismatchError"]

TABLES = ("runs", "summaries", "timeseries")


class StoreMismatchError(ValueError):
    """The store on disk belongs to a different experiment than the one requested."""


class ExperimentStore:
    """Read and append to an experiment directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seq = 0

    # -- manifest ---------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any]:
        return json.loads(self.manifest_path.read_text())

    def create(self, manifest: dict[str, Any]) -> None:
        """Start a new store (the directory may exist but must hold no manifest)."""
        self.path.mkdir(parents=True, exist_ok=True)
        for t in TABLES:
            (self.path / t).mkdir(exist_ok=True)
        self._write_json(self.manifest_path, manifest)

    def open_for_resume(self, fingerprint: str, note: dict[str, Any]) -> dict[str, Any]:
        """Check the store is this experiment, clean half-written chunks, log the resume."""
        manifest = self.read_manifest()
        if manifest.get("fingerprint") != fingerprint:
            diffs = ", ".join(sorted(k for k in ("design", "base_config", "seed", "outputs", "model")
                                     if json.dumps(manifest.get(k), sort_keys=True, default=str)
                                     != json.dumps(note.get(k), sort_keys=True, default=str)))
            raise StoreMismatchError(
                f"{self.path} holds a different experiment (differs in: {diffs or 'its fingerprint'}); "
                "use another --out directory, or rerun the command that made this store to resume it")
        self.clean()
        manifest.setdefault("resumed", []).append({k: note[k] for k in ("started", "command_line") if k in note})
        self._write_json(self.manifest_path, manifest)
        return manifest

    def clean(self) -> None:
        """Remove temporary files and chunks not committed by a ``runs`` chunk."""
        committed = {p.stem for p in (self.path / "runs").glob("chunk-*.parquet")}
        for t in TABLES:
            d = self.path / t
            if not d.is_dir():
                continue
            for p in d.iterdir():
                if p.name.startswith(".tmp-") or (t != "runs" and p.suffix == ".parquet" and p.stem not in committed):
                    p.unlink()

    # -- writing ----------------------------------------------------------------------
    def write_chunk(self, runs: pd.DataFrame, summaries: pd.DataFrame | None,
                    timeseries: pd.DataFrame | None) -> str:
        """Write one chunk of finished runs atomically (runs last); return its name."""
        name = f"chunk-{self._seq:06d}-{secrets.token_hex(4)}"
        self._seq += 1
        if timeseries is not None and len(timeseries):
            self._write_parquet(self.path / "timeseries" / f"{name}.parquet", timeseries)
        if summaries is not None and len(summaries):
            self._write_parquet(self.path / "summaries" / f"{name}.parquet", summaries)
        self._write_parquet(self.path / "runs" / f"{name}.parquet", runs)
        return name

    def drop_runs(self, run_ids: set[str]) -> None:
        """Remove runs (e.g. failed ones before a retry) by rewriting their chunks."""
        for p in sorted((self.path / "runs").glob("chunk-*.parquet")):
            df = pd.read_parquet(p)
            keep = ~df["run_id"].isin(run_ids)
            if keep.all():
                continue
            if keep.any():
                self._write_parquet(p, df[keep].reset_index(drop=True))
            else:
                for t in ("summaries", "timeseries"):
                    (self.path / t / p.name).unlink(missing_ok=True)
                p.unlink()
                continue
            for t in ("summaries", "timeseries"):
                q = self.path / t / p.name
                if q.exists():
                    d2 = pd.read_parquet(q)
                    self._write_parquet(q, d2[~d2["run_id"].isin(run_ids)].reset_index(drop=True))

    @staticmethod
    def _write_parquet(path: Path, df: pd.DataFrame) -> None:
        tmp = path.with_name(f".tmp-{path.name}")
        df.to_parquet(tmp, index=False)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @staticmethod
    def _write_json(path: Path, data: dict[str, Any]) -> None:
        tmp = path.with_name(f".tmp-{path.name}")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)

    # -- reading ----------------------------------------------------------------------
    def _read(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        files = sorted((self.path / table).glob("chunk-*.parquet"))
        if not files:
            return pd.DataFrame(columns=columns or ["run_id"])
        df = pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)
        return df.sort_values([c for c in ("run_id", "date", "variable") if c in df.columns],
                              kind="stable").reset_index(drop=True)

    def runs(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The runs table, sorted by run id."""
        return self._read("runs", columns)

    def summaries(self) -> pd.DataFrame:
        """One row per successful run, sorted by run id."""
        return self._read("summaries")

    def timeseries(self, variables: list[str] | None = None) -> pd.DataFrame:
        """Long-format time series (run_id, date, variable, value), optionally filtered."""
        df = self._read("timeseries")
        if variables is not None and len(df):
            df = df[df["variable"].isin(variables)].reset_index(drop=True)
        return df

    def finished(self) -> dict[str, str]:
        """run_id -> status of every run with a committed record."""
        df = self.runs(columns=["run_id", "status"])
        return dict(zip(df["run_id"], df["status"], strict=True)) if len(df) else {}
