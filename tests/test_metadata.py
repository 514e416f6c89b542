"""Packaging metadata: CITATION.cff against the CFF 1.2.0 schema, one version source,
``channel-sim --version`` and bare ``channel-sim``, project URLs, extras, and the shipped
scenarios as package data.

The schema in ``tests/data/cff-1.2.0.schema.json`` is the one ``cffconvert --validate``
uses (copied from cffconvert 2.0.0, ``cffconvert/schemas/1.2.0/schema.json``; the
Citation File Format schema, CC-BY-4.0). cffconvert itself is not a dev dependency: it
pins ``jsonschema<4``, which JupyterLab (the ``notebooks`` extra) cannot live with.
"""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import metadata, version
from pathlib import Path

import pytest
import yaml

import sim
from sim.cli import build_parser, main
from sim.config import CONFIG_DIR, resolve_config_path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SCHEMA = json.loads((Path(__file__).parent / "data" / "cff-1.2.0.schema.json").read_text())


def _stringify_dates(x):
    """YAML reads ``2026-01-01`` as a date; the CFF schema wants the string (as cffconvert does)."""
    if isinstance(x, dict):
        return {k: _stringify_dates(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_stringify_dates(v) for v in x]
    if isinstance(x, dt.date):
        return x.isoformat()
    return x


def _cff_errors(data: dict) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:160]}"
            for e in validator.iter_errors(_stringify_dates(data))]


def _citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


# ------------------------------------------------------------------- CITATION.cff
def test_citation_cff_is_valid_cff_1_2_0():
    cff = _citation()
    assert cff["cff-version"] == "1.2.0"
    assert _cff_errors(cff) == []


def test_citation_schema_check_rejects_what_cffconvert_rejected():
    """The check has teeth: the old reference type, a missing title, a bad URL are errors."""
    cff = _citation()
    bad_type = copy.deepcopy(cff)
    bad_type["references"][0]["type"] = "dataset"
    assert any(e.startswith("references.0.type") for e in _cff_errors(bad_type))
    no_title = copy.deepcopy(cff)
    del no_title["title"]
    assert any("'title' is a required property" in e for e in _cff_errors(no_title))
    bad_url = {**cff, "repository-code": "github.com/no-scheme"}
    assert any(e.startswith("repository-code") for e in _cff_errors(bad_url))


def test_citation_has_the_licence_and_keywords_of_pyproject():
    cff = _citation()
    # no public address of the repository exists yet: neither file may invent one
    assert ("repository-code" in cff) == ("urls" in PROJECT)
    if "urls" in PROJECT:
        assert cff["repository-code"] == PROJECT["urls"]["Repository"]
    assert cff["license"] == PROJECT["license"]
    assert set(cff["keywords"]) <= set(PROJECT["keywords"])


# ------------------------------------------------------------------------ version
def test_version_has_one_source_pyproject():
    assert "version" not in PROJECT.get("dynamic", [])
    assert sim.__version__ == version("channel-sim") == PROJECT["version"], (
        "the installed metadata is stale: reinstall (pip install -e .)")
    assert "version" not in _citation(), "CITATION.cff must not repeat the version (pyproject.toml has it)"
    written = [str(p.relative_to(ROOT)) for p in (ROOT / "sim").rglob("*.py")
               if re.search(r"""__version__\s*=\s*["']\d+\.\d+""", p.read_text())]
    assert written == [], f"a version literal in {written}; read it from importlib.metadata"


def test_cli_version_prints_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"channel-sim {version('channel-sim')}\n"


def _script() -> str:
    exe = shutil.which("channel-sim", path=str(Path(sys.executable).parent)) or shutil.which("channel-sim")
    if exe is None:
        pytest.skip("the channel-sim script is not installed")
    return exe


def test_installed_script_version_and_bare_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps the help to the terminal width
    env = {**os.environ, "MPLBACKEND": "Agg"}
    res = subprocess.run([_script(), "--version"], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"channel-sim {version('channel-sim')}"
    res = subprocess.run([_script()], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == build_parser().format_help()
    assert res.stderr == ""


def test_bare_channel_sim_prints_the_help_and_exits_0(capsys, monkeypatch):
    assert main([]) == 0
    out = capsys.readouterr()
    assert out.out == build_parser().format_help()
    assert out.err == ""
    for command in ("run", "compare", "sweep", "calibrate", "validate", "check"):
        assert command in out.out
    monkeypatch.setattr(sys, "argv", ["channel-sim"])  # main() with no argv reads sys.argv
    assert main() == 0
    assert capsys.readouterr().out == build_parser().format_help()


def test_a_command_missing_its_arguments_is_still_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run"])  # a command without its scenarios: argparse's usage error, exit 2
    assert exc.value.code == 2
    assert "the following arguments are required: configs" in capsys.readouterr().err


# ----------------------------------------------------------------------- pyproject
def test_project_classifiers_keywords_and_any_urls():
    assert "Programming Language :: Python :: 3.11" in PROJECT["classifiers"]
    assert any(c.startswith("Topic :: Scientific/Engineering") for c in PROJECT["classifiers"])
    assert {"agent-based model", "Mesa"} <= set(PROJECT["keywords"])
    md = metadata("channel-sim")
    assert md["Keywords"] or md.get_all("Keywords"), "stale metadata: reinstall"
    for key, url in PROJECT.get("urls", {}).items():
        assert url.startswith("https://"), key
        assert f"{key}, {url}" in md.get_all("Project-URL"), "stale metadata: reinstall"


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_extras_match_the_jobs():
    extras = PROJECT["optional-dependencies"]
    assert set(extras) >= {"viz", "notebooks", "cluster", "ema", "dev"}
    core = _names(PROJECT["dependencies"])
    # the core runs `make run` (compare) and every command but the dashboard and Dask
    assert not core & {"solara", "playwright", "dask", "jupyterlab", "pytest", "ipykernel"}
    assert {"solara"} <= _names(extras["viz"])
    assert {"jupyterlab", "ipykernel", "jupytext", "nbconvert"} <= _names(extras["notebooks"])
    # the EMA workbench (scikit-learn, statsmodels, ...) only on request, never with dev
    assert _names(extras["ema"]) == {"ema_workbench"}
    assert not {"ema_workbench", "channel-sim[ema]"} & {r.lower().split(";")[0].strip() for r in extras["dev"]}
    assert {"dask"} <= _names(extras["cluster"])
    dev = " ".join(extras["dev"])
    assert "channel-sim[viz]" in dev and "channel-sim[cluster]" in dev
    assert {"pytest", "pytest-xdist", "nbclient", "jupytext", "jsonschema", "ruff"} <= _names(extras["dev"])


def test_makefile_run_installs_the_core_and_test_the_dev_extra():
    text = (ROOT / "Makefile").read_text()
    stamp = {m.group(1): m.group(2) for m in re.finditer(r"^(\w+): \$\((\w+)\)\s*$", text, re.M)}
    assert stamp["run"] == "CORE" and stamp["test"] == "DEV" and stamp["app"] == "VIZ"
    recipe = {m.group(1): m.group(2) for m in
              re.finditer(r"^\$\((CORE|VIZ|DEV)\):.*\n\t\$\(BIN\)/python -m pip install -q -e (\S+)", text, re.M)}
    assert recipe == {"CORE": ".", "VIZ": '".[viz]"', "DEV": '".[dev]"'}


# ------------------------------------------------------------ scenarios as data
def test_shipped_scenarios_are_package_data():
    assert CONFIG_DIR == Path(sim.__file__).resolve().parent / "configs"
    assert not (ROOT / "configs").exists(), "the scenarios live in sim/configs/ only"
    assert {p.stem for p in CONFIG_DIR.glob("*.yaml")} >= {
        "baseline", "pilot_50", "quota_200", "quota_all", "interception_plus", "legal_route_only"}
    assert resolve_config_path("sweeps/sobol") == CONFIG_DIR / "sweeps" / "sobol.yaml"
    assert resolve_config_path("calibration/baseline") == CONFIG_DIR / "calibration" / "baseline.yaml"


def test_package_data_globs_cover_every_shipped_file():
    """A new file under sim/configs/ or sim/data/ that the wheel would leave out fails here."""
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["sim"]
    pkg = ROOT / "sim"
    for folder in ("configs", "data"):
        for f in (pkg / folder).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                rel = f.relative_to(pkg).as_posix()
                assert any(fnmatch.fnmatchcase(rel, g) and rel.count("/") == g.count("/") for g in globs), \
                    f"sim/{rel} is not in [tool.setuptools.package-data]"


def test_no_reference_to_the_old_top_level_configs_folder():
    """Docs, notebooks, scripts and code name sim/configs/, not the removed configs/."""
    stale = []
    files = [ROOT / "README.md", ROOT / "Makefile", ROOT / "notebooks" / "README.md",
             ROOT / "docs" / "ODD.md", ROOT / "scripts" / "make_notebooks.py",
             *(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "notebooks").glob("*.py"),
             *(ROOT / "sim").rglob("*.py"),
             *(ROOT / "sim" / "configs").rglob("*.yaml"), *(ROOT / "benchmarks").glob("*.py")]
    for f in files:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r"(?<![\w/])configs/", line):
                stale.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert stale == []


# ------------------------------------------------------------ the lock file
def test_dev_lock_file_pins_the_dev_extra():
    """requirements/dev-3.11.lock (make lock): exact pins covering the dev extra, as the README says."""
    lock = ROOT / "requirements" / "dev-3.11.lock"
    lines = lock.read_text().splitlines()
    header = [x for x in lines if x.startswith("#")]
    assert "Python 3.11" in " ".join(header) and "make lock" in " ".join(header)
    pins = {}
    for line in lines:
        if line.startswith("#") or not line.strip():
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s=;@]+)", line.strip())
        assert m, f"not an exact pin: {line!r}"
        pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    assert "channel-sim" not in pins  # the project itself is installed from the clone (--no-deps)
    wanted = {n.replace("_", "-") for n in _names(PROJECT["dependencies"])}
    for extra in ("dev", "viz", "cluster"):
        wanted |= {n.replace("_", "-") for n in _names(PROJECT["optional-dependencies"][extra])
                   if n != "channel-sim"}
    missing = sorted(n for n in wanted if n not in pins)
    assert not missing, f"the lock misses {missing}: run make lock"
    readme = (ROOT / "README.md").read_text()
    assert "pip install -r requirements/dev-3.11.lock" in readme and "pip install -e . --no-deps" in readme
    assert re.search(r"^lock:", (ROOT / "Makefile").read_text(), re.M)
