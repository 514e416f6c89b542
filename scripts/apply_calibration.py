"""Write a calibration's chosen point into the shipped baseline and the embedded defaults.

::

    python scripts/apply_calibration.py                    # from docs/calibration/summary.json
    python scripts/apply_calibration.py --from outputs/calibration-emulated
    python scripts/apply_calibration.py --check            # exit 1 if they differ from the summary

``sim/configs/baseline.yaml`` and the defaults in ``sim/params.py`` carry the calibrated
values with no adjustment by hand (``tests/test_calibration.py`` checks that the three
agree). This script rewrites exactly those values: each ``environment``/``gangs``/
``patrols``/``migrants`` field in both files, the ``inflow_year_multiplier`` mapping, and the
Albanian group's ``valuation_multiplier`` in the default groups (and the baseline's comment
that names it). Anything it cannot find is an error naming the field; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "sim" / "configs" / "baseline.yaml"
PARAMS = ROOT / "sim" / "params.py"
YEARS = "environment.inflow_year_multiplier."
ALBANIAN = "groups.0.valuation_multiplier"


def _fmt(value: float) -> str:
    """A value as the files write it: whole numbers of an int field without a point."""
    return repr(float(value)) if not float(value).is_integer() else f"{float(value):.1f}"


def _sub_once(pattern: str, repl: str, text: str, what: str, flags: int = 0) -> str:
    new, n = re.subn(pattern, repl, text, count=1, flags=flags)
    if n != 1:
        raise SystemExit(f"apply_calibration: cannot find {what}")
    return new


def whole_number_fields(paths: list[str]) -> set[str]:
    """The fields among ``paths`` (``section.field``) that ``sim.params`` declares as whole numbers:
    written without a decimal point."""
    sys.path.insert(0, str(ROOT))
    from sim.params import Config, field_model

    fields = set()
    for path in paths:
        section, _, field = path.partition(".")
        model = field_model(Config, section) if section in Config.model_fields else None
        if isinstance(model, type) and field in model.model_fields and model.model_fields[field].annotation is int:
            fields.add(field)
    return fields


def apply(chosen: dict[str, float], baseline: str, params: str, int_fields: set[str]) -> tuple[str, str]:
    """The two files' texts with ``chosen`` written in."""
    years = {int(k[len(YEARS):]): v for k, v in chosen.items() if k.startswith(YEARS)}
    for path, value in chosen.items():
        if path.startswith(YEARS):
            continue
        if path == ALBANIAN:
            params = _sub_once(r'(GroupParams\(name="albanian",[^)]*?valuation_multiplier=)[0-9.]+',
                               rf"\g<1>{_fmt(value)}", params, f"{path} in the default groups")
            baseline = _sub_once(r"(groups\.0\.valuation_multiplier = )[0-9.]+", rf"\g<1>{_fmt(value)}", baseline,
                                 f"the comment naming {path} in baseline.yaml")
            continue
        field = path.split(".")[-1]
        text = str(int(value)) if field in int_fields else _fmt(value)
        baseline = _sub_once(rf"(?m)^(  {field}: )\S+$", rf"\g<1>{text}", baseline, f"{path} in baseline.yaml")
        params = _sub_once(rf"(    {field}: \w+ = P\(\s*)[0-9.e+-]+", rf"\g<1>{text}", params,
                           f"the default of {path} in sim/params.py")
    if years:
        mapping = "{" + ", ".join(f"{y}: {v:g}" for y, v in sorted(years.items())) + "}"
        baseline = _sub_once(r"(?m)^(  inflow_year_multiplier: )\{[^}]*\}$", rf"\g<1>{mapping}", baseline,
                             "inflow_year_multiplier in baseline.yaml")
        params = _sub_once(r"(inflow_year_multiplier: dict\[int, float\] = P\(\s*)\{[^}]*\}", rf"\g<1>{mapping}",
                           params, "the default of inflow_year_multiplier in sim/params.py")
    return baseline, params


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", default=str(ROOT / "docs" / "calibration"),
                    help="the calibration folder with summary.json (default docs/calibration)")
    ap.add_argument("--check", action="store_true", help="report whether the files already agree; write nothing")
    args = ap.parse_args(argv)
    chosen = json.loads((Path(args.source) / "summary.json").read_text())["chosen"]
    old_b, old_p = BASELINE.read_text(), PARAMS.read_text()
    new_b, new_p = apply(chosen, old_b, old_p, whole_number_fields(list(chosen)))
    if args.check:
        same = (new_b, new_p) == (old_b, old_p)
        print("baseline.yaml and sim/params.py " + ("agree with" if same else "differ from") + f" {args.source}")
        return 0 if same else 1
    BASELINE.write_text(new_b)
    PARAMS.write_text(new_p)
    print(f"wrote {len(chosen)} calibrated values from {args.source} into {BASELINE.name} and sim/params.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
