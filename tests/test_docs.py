"""The ODD document (docs/ODD.md) must not drift from the code.

* the generated parameter tables (section 8) and the table of constants (7.14) equal
  what ``docs/make_param_tables.py`` renders now;
* every numeric constant of ``sim/constants.py`` has exactly one row in its ``CONSTANTS``;
* every parameter, every migrant state and every random stream is named in the ODD;
* every time-series column the model produces is documented, with meaning and unit, in
  the "Outputs" table of section 7.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

import sim.constants
from sim.agents.migrant import MigrantState
from sim.metrics import model_reporters
from sim.model import RNG_STREAMS
from sim.params import Config, parameter_table

ROOT = Path(__file__).resolve().parent.parent
ODD = ROOT / "docs" / "ODD.md"
SCRIPT = ROOT / "docs" / "make_param_tables.py"
FIX = "run `python docs/make_param_tables.py` to regenerate the tables in docs/ODD.md"
CONSTANTS_FIX = "add it to CONSTANTS in sim/constants.py, then run `python docs/make_param_tables.py`"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_param_tables", SCRIPT)
    assert spec is not None and spec.loader is not None, f"cannot load {SCRIPT}"
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_param_tables", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tables():
    return _load_script()


@pytest.fixture(scope="module")
def odd_text() -> str:
    assert ODD.is_file(), f"{ODD} is missing"
    return ODD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def prose(odd_text: str, tables) -> str:
    """The hand-written part of the ODD (everything outside the generated blocks)."""
    text = odd_text
    for _, begin, end, _, _ in tables.BLOCKS:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + tail
    return text


# ---------------------------------------------------------------- generated tables
def test_generated_tables_are_current(odd_text: str, tables) -> None:
    try:
        block = tables.extract_block(odd_text)
    except ValueError as exc:
        pytest.fail(f"docs/ODD.md: {exc}; {FIX}")
    expected = tables.render_tables()
    if block.strip("\n") != expected.strip("\n"):
        old = set(block.splitlines())
        new = set(expected.splitlines())
        stale = sorted(old - new)[:5]
        missing = sorted(new - old)[:5]
        pytest.fail(
            f"the parameter tables in docs/ODD.md are out of date; {FIX}.\n"
            f"lines in the ODD but no longer generated: {stale}\n"
            f"lines generated but not in the ODD: {missing}"
        )


def test_check_mode_agrees(tables, odd_text: str, tmp_path: Path) -> None:
    """``--check`` passes on the shipped ODD and fails on a stale copy."""
    assert tables.main(["--check"]) == 0, FIX
    stale = tmp_path / "ODD.md"
    stale.write_text(tables.replace_block(odd_text, "| stale |\n"), encoding="utf-8")
    assert tables.main(["--check", "--odd", str(stale)]) == 1
    assert tables.main(["--odd", str(stale)]) == 0          # rewrites it
    assert tables.main(["--check", "--odd", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == odd_text


def test_constants_table_is_current(odd_text: str, tables) -> None:
    try:
        block = tables.extract_block(odd_text, tables.CONSTANTS_BEGIN, tables.CONSTANTS_END)
    except ValueError as exc:
        pytest.fail(f"docs/ODD.md: {exc}; {FIX}")
    expected = tables.render_constants()
    if block.strip("\n") != expected.strip("\n"):
        pytest.fail(
            f"the table of constants (ODD 7.14) is out of date; {FIX}.\n"
            f"constants that differ: {tables._changed_constants(block, expected)}"
        )


def test_constants_table_sits_in_section_7_14(odd_text: str, tables) -> None:
    start = odd_text.index("### 7.14 ")
    stop = odd_text.index("\n## 8 ", start)
    section = odd_text[start:stop]
    assert tables.CONSTANTS_BEGIN in section and tables.CONSTANTS_END in section
    intro = section[: section.index(tables.CONSTANTS_BEGIN)]
    assert "are not parameters" in intro, "section 7.14 lost its introduction before the table"


def test_check_mode_covers_the_constants_table(tables, odd_text: str, tmp_path: Path) -> None:
    stale = tmp_path / "ODD.md"
    stale.write_text(tables.replace_block(odd_text, "| stale |\n", tables.CONSTANTS_BEGIN, tables.CONSTANTS_END),
                     encoding="utf-8")
    assert tables.main(["--check", "--odd", str(stale)]) == 1
    assert tables.main(["--odd", str(stale)]) == 0          # rewrites it
    assert tables.main(["--check", "--odd", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == odd_text


def test_check_mode_reports_both_stale_blocks(tables, odd_text: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text = tables.replace_block(odd_text, "| stale |\n")
    text = tables.replace_block(text, "| stale |\n", tables.CONSTANTS_BEGIN, tables.CONSTANTS_END)
    stale = tmp_path / "ODD.md"
    stale.write_text(text, encoding="utf-8")
    assert tables.main(["--check", "--odd", str(stale)]) == 1
    err = capsys.readouterr().err
    assert "parameter tables out of date" in err and "constants table out of date" in err
    assert stale.read_text(encoding="utf-8") == text    # --check never writes
    assert tables.main(["--odd", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == odd_text


def test_missing_constants_markers_fail_the_check(tables, odd_text: str, tmp_path: Path) -> None:
    broken = tmp_path / "ODD.md"
    broken.write_text(odd_text.replace(tables.CONSTANTS_END, ""), encoding="utf-8")
    assert tables.main(["--check", "--odd", str(broken)]) == 1
    assert tables.main(["--odd", str(broken)]) == 1


def _constant_names() -> list[str]:
    """UPPER_CASE numeric module-level names of ``sim/constants.py``."""
    return [name for name, value in vars(sim.constants).items()
            if re.fullmatch(r"[A-Z][A-Z0-9_]*", name)
            and isinstance(value, (int, float)) and not isinstance(value, bool)]


def test_every_constant_has_exactly_one_row() -> None:
    names = _constant_names()
    assert names, "sim/constants.py defines no numeric constants"
    rows = Counter(c.name for c in sim.constants.CONSTANTS)
    missing = [n for n in names if n not in rows]
    assert not missing, f"constants without a row in CONSTANTS (ODD 7.14): {missing}; {CONSTANTS_FIX}"
    twice = [n for n, k in rows.items() if k > 1]
    assert not twice, f"constants with more than one row in CONSTANTS: {twice}"
    unknown = [n for n in rows if n not in names]
    assert not unknown, f"CONSTANTS rows that name no numeric constant of sim/constants.py: {unknown}"


def test_constant_rows_are_filled_in_and_name_odd_sections(odd_text: str) -> None:
    headings = set(re.findall(r"^#{2,4} (\d+(?:\.\d+)*) ", odd_text, flags=re.MULTILINE))
    for c in sim.constants.CONSTANTS:
        assert c.unit and c.role and c.used_in and c.odd, f"{c.name}: unit, role, used_in and odd are required"
        sections = [s.strip() for s in c.odd.split(",")]
        unknown = [s for s in sections if s not in headings]
        assert not unknown, f"{c.name}: ODD sections {unknown} are not headings of docs/ODD.md"


@pytest.mark.parametrize(("value", "text"), [(0.05, "0.05"), (4, "4"), (1.0, "1"), (-0.5, "-0.5"),
                                             (1e-3, "0.001"), (1 / 52, "1/52"), (2 / 3, "2/3")])
def test_format_value(tables, value: float, text: str) -> None:
    assert tables.format_value(value) == text


def test_constants_table_shows_each_value_exactly(tables) -> None:
    rows = {}
    for line in tables.render_constants().splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            assert len(cells) == len(tables.CONSTANT_COLUMNS), line
            rows[cells[0].strip("`")] = cells[1].strip("`")
    assert list(rows) == [c.name for c in sim.constants.CONSTANTS]
    for c in sim.constants.CONSTANTS:
        assert float(Fraction(rows[c.name])) == c.value, f"{c.name}: the table shows {rows[c.name]}, the code {c.value}"


def test_cells_are_escaped(tables, monkeypatch: pytest.MonkeyPatch) -> None:
    row = {"path": "x.y", "meaning": "a | b and a*d*L", "unit": "1", "default": "p|q",
           "range": "[0, 1]", "source": "s"}
    monkeypatch.setattr(tables, "parameter_table", lambda: [row])
    line = next(x for x in tables.render_tables().splitlines() if x.startswith("| `x.y`"))
    assert "a \\| b" in line and "a\\*d\\*L" in line and "`p\\|q`" in line
    # the row still has exactly six cells
    assert len(re.split(r"(?<!\\)\|", line.strip().strip("|"))) == 6


# ---------------------------------------------------------------- names in the ODD
def test_every_parameter_is_in_the_odd(odd_text: str) -> None:
    missing = [r["path"] for r in parameter_table() if r["path"] not in odd_text]
    assert not missing, f"parameters not in docs/ODD.md: {missing}; {FIX}"


def _generic(path: str) -> str:
    """``groups.3.share`` -> ``groups.<i>.share`` (how the prose names list items)."""
    return re.sub(r"\.\d+\.", ".<i>.", path)


def test_every_parameter_is_described_in_the_prose(prose: str) -> None:
    """Each parameter is named outside the generated tables (in its submodel's list)."""
    missing = sorted({_generic(r["path"]) for r in parameter_table()} - _backticked(prose))
    assert not missing, (
        f"parameters not described in the text of docs/ODD.md: {missing}; name each in the "
        "'Parameters' line of its submodel (section 7) or in section 5"
    )


def _backticked(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


def test_every_state_is_named(prose: str) -> None:
    named = _backticked(prose)
    missing = [s.name for s in MigrantState if s.name not in named]
    assert not missing, f"migrant states not named in docs/ODD.md: {missing}"


def test_every_rng_stream_is_named(prose: str) -> None:
    named = _backticked(prose)
    missing = [s for s in RNG_STREAMS if s not in named]
    assert not missing, f"random streams (sim.model.RNG_STREAMS) not named in docs/ODD.md: {missing}"


# ---------------------------------------------------------------- outputs table
def _outputs_table(prose: str) -> dict[str, tuple[str, str]]:
    """Rows of the table that follows a heading containing 'Outputs' in section 7."""
    rows: dict[str, tuple[str, str]] = {}
    heading = ""
    in_table = False
    for line in prose.splitlines():
        if line.startswith("#"):
            heading = line
            in_table = False
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]] if line.startswith("|") else []
        if not cells:
            in_table = False
            continue
        if "Outputs" in heading and [c.lower() for c in cells[:3]] == ["column", "meaning", "unit"]:
            in_table = True
            continue
        if in_table and not set(cells[0]) <= set("-: "):
            name = cells[0].strip("`")
            rows[name] = (cells[1] if len(cells) > 1 else "", cells[2] if len(cells) > 2 else "")
    return rows


def _documented(column: str, rows: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    if column in rows:
        return rows[column]
    for name, value in rows.items():  # a template row such as arrivals_<group>
        if "<" in name:
            parts = re.split(r"<[^>]+>", name)
            if re.fullmatch(".+".join(re.escape(p) for p in parts), column):
                return value
    return None


def test_outputs_table_documents_every_column(prose: str) -> None:
    rows = _outputs_table(prose)
    assert rows, "docs/ODD.md has no 'Outputs' table (| column | meaning | unit |) in section 7"
    columns = list(model_reporters())
    try:  # columns added per nationality group, where the reporters take the group names
        columns += [c for c in model_reporters([g.name for g in Config().groups]) if c not in columns]
    except TypeError:
        pass
    undocumented = [c for c in columns if _documented(c, rows) is None]
    assert not undocumented, f"time-series columns missing from the Outputs table of docs/ODD.md: {undocumented}"
    empty = [c for c in columns if not all(_documented(c, rows))]  # (meaning, unit) both non-empty
    assert not empty, f"Outputs table rows without a meaning or a unit: {empty}"


def test_outputs_table_has_no_stale_rows(prose: str) -> None:
    rows = _outputs_table(prose)
    columns = set(model_reporters())
    try:
        columns |= set(model_reporters([g.name for g in Config().groups]))
    except TypeError:
        pass
    stale = [name for name in rows if "<" not in name and name not in columns]
    assert not stale, f"the Outputs table of docs/ODD.md documents columns the model no longer produces: {stale}"
