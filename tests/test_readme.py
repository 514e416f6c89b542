"""The README tells the truth: its pasted `make run` output is what the code prints today."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _makefile_run_args() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    line = re.search(r"^run: .*\n\t\$\(BIN\)/channel-sim (.+)$", text, re.M)
    assert line, "Makefile has no 'run' target calling channel-sim"
    return shlex.split(line.group(1))


def test_readme_make_run_output_is_current(tmp_path, capsys, monkeypatch):
    args = _makefile_run_args()
    assert args[:1] == ["compare"]
    monkeypatch.chdir(tmp_path)  # --out outputs is relative: write into the temp dir
    assert main(args) == 0
    printed = capsys.readouterr().out.strip()
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- BEGIN MAKE RUN OUTPUT -->\n```\n(.*?)\n```\n<!-- END MAKE RUN OUTPUT -->", readme, re.S)
    assert block, "README lacks the make run output block"
    assert printed == block.group(1).strip(), (
        "README's pasted `make run` output is stale: run `make readme` and paste its output")
    for fig in ("comparison_timeseries.png", "comparison_differences.png"):
        assert (tmp_path / "outputs" / fig).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_error_example_is_what_the_cli_prints(capsys):
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"\$ channel-sim (.+)\n(channel-sim: error: .+)\n", readme)
    assert m
    assert main(shlex.split(m.group(1))) == 2
    assert capsys.readouterr().err.strip() == m.group(2).strip()


def test_readme_ablation_block_is_the_committed_table():
    """The README's ablation output is what `format_ablation` prints for the committed table
    (docs/figures/ablation.csv, written by `make ablation`)."""
    import pandas as pd

    from sim.experiments.ablation import format_ablation

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- BEGIN ABLATION OUTPUT -->\n```\n(.*?)\n```\n<!-- END ABLATION OUTPUT -->", readme, re.S)
    assert block, "README lacks the ablation block"
    table = pd.read_csv(ROOT / "docs" / "figures" / "ablation.csv")
    assert format_ablation(table) == block.group(1).strip()


def _excerpts(name: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(rf"<!-- BEGIN {name} EXCERPT -->\n```\n(.*?)\n```\n<!-- END {name} EXCERPT -->", readme, re.S)


def test_readme_study_excerpts_are_from_the_committed_printouts():
    """Every line of the README's excerpts of the posterior study, the critical quota over the
    posterior and the verdict profile is a line of the printout `make study` wrote to docs/study/."""
    sources = {"STUDY": "study-printed.txt", "THRESHOLD": "threshold-printed.txt",
               "SENSITIVITY": "study-sensitivity-printed.txt"}
    found = 0
    for name, file in sources.items():
        for block in _excerpts(name):
            printed = set((ROOT / "docs" / "study" / file).read_text().splitlines())
            for line in block.splitlines():
                assert line in printed, f"README {name.lower()} excerpt line not in docs/study/{file}: {line!r}"
            found += 1
    assert found >= 1, "README has no excerpt of the posterior study"
