"""Loading scenarios: YAML files, ``extends:`` inheritance, ``--set`` overrides, errors.

The parameters themselves are declared in :mod:`sim.params`; this module turns a file,
a mapping or the embedded defaults into a validated :class:`~sim.params.Config`.

A scenario is a YAML file whose keys mirror :class:`~sim.params.Config`. A scenario may
inherit from another with ``extends: other.yaml`` and override a few fields. Loading
validates everything: an unknown key, a wrong type, a value out of range or an
inconsistent combination raises :class:`ConfigError` with one message that names the
field (and suggests the right spelling for a misspelt key).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.params import Config, field_model, range_of

__all__ = [
    "CONFIG_DIR",
    "ConfigError",
    "check_names",
    "default_at",
    "format_validation_errors",
    "load_config",
    "parse_overrides",
    "read_yaml_mapping",
    "resolve_config_path",
    "set_dotted",
    "timeseries_variables",
]


def _shipped_config_dir() -> Path:
    """The package's ``sim/configs/`` (package data: installed with the wheel, not only in a clone)."""
    ref = resources.files("sim") / "configs"
    # pip installs a wheel into a directory, so the resource is a real path; the scenario
    # loader needs one (``extends:`` is resolved next to the file that names it). An import
    # from a zip archive (not something pip does) would give no shipped scenarios.
    return ref if isinstance(ref, Path) else Path(str(ref))


#: Directory of the shipped scenario files (``sim/configs/``: scenarios, ``sweeps/`` and
#: ``calibration/`` specs), found with :mod:`importlib.resources`.
CONFIG_DIR: Path = _shipped_config_dir()


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the field."""


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, checking each part against the schema.

    ``raw`` is a configuration as plain data (before validation); a list is indexed by a
    number (``groups.0.valuation_multiplier``). Used by ``--set`` overrides, timelines
    (:mod:`sim.timeline`) and attribution (:mod:`sim.experiments.attribution`).

    Raises
    ------
    ConfigError
        If a part names no field of the schema (with a spelling suggestion), an index is out
        of range, or a part goes below a field that is a value.
    """
    parts = dotted.split(".")
    node: Any = raw
    model: Any = Config
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override '{dotted}': '{part}' is not an index in [0, {len(node) - 1}]")
            idx = int(part)
            if last:
                node[idx] = value
                return
            node = node[idx]
            model = _item_model(model)
            continue
        if not isinstance(node, dict):
            where = ".".join(parts[:depth])
            raise ConfigError(f"override '{dotted}': field '{where}' is a value, not a section with fields")
        fields = model.model_fields if model is not None else {}
        if model is not None and part not in fields:
            where = ".".join(parts[:depth]) or "the top level"
            raise ConfigError(f"override '{dotted}': unknown field '{part}' in {where}{_suggest(part, fields)}")
        if last:
            node[part] = value
            return
        if part not in node or node[part] is None:
            node[part] = default_at(parts[: depth + 1])
        node = node[part]
        model = field_model(model, part)


def default_at(parts: list[str]) -> Any:
    """The embedded default at a dotted path (``["returns", "quota_per_week"]``), as plain data.

    Used to fill in the sections an override reaches into, by the experiment engine for the
    default value of a swept parameter, and by the validation report for the shipped value of a
    calibrated one (a mapping's key, e.g. ``inflow_year_multiplier.2023``, is read as a number
    when the mapping's keys are numbers).
    """
    obj: Any = Config()
    for part in parts:
        if isinstance(obj, list):
            obj = obj[int(part)]
        elif isinstance(obj, dict):
            obj = obj[int(part) if part.isdigit() and part not in obj else part]
        else:
            obj = getattr(obj, part)
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="python")
    if isinstance(obj, list):
        return [x.model_dump(mode="python") if isinstance(x, BaseModel) else x for x in obj]
    return copy.deepcopy(obj)


def _item_model(model: Any) -> Any:
    if isinstance(model, tuple) and model[0] == "list":
        return model[1]
    return None


def _suggest(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_config_path(name: str | Path) -> Path:
    """Find a scenario file by path, or by name in the shipped ``sim/configs/`` (:data:`CONFIG_DIR`).

    A name may carry a subfolder of the shipped files: ``"sweeps/sobol"`` is
    ``CONFIG_DIR / "sweeps" / "sobol.yaml"``.
    """
    if not str(name).strip():
        raise ConfigError("the scenario name is empty; give a file or a shipped scenario (e.g. baseline)")
    p = Path(name)
    candidates = [p]
    if not p.is_absolute() and p.name:
        stem = p if p.suffix in (".yaml", ".yml") else p.with_suffix(".yaml")
        candidates += [CONFIG_DIR / stem]
    for c in candidates:
        if c.is_file():
            return c
    if p.is_dir():
        raise ConfigError(f"'{name}' is a directory, not a scenario file (give a .yaml file in it)")
    shipped = sorted(x.stem for x in CONFIG_DIR.glob("*.yaml")) if CONFIG_DIR.is_dir() else []
    raise ConfigError(f"configuration file '{name}' not found{_suggest(p.stem, shipped)} "
                      f"(shipped scenarios: {', '.join(shipped) or 'none'})")


#: Most levels of nesting a YAML file may have (scenarios have three or four).
MAX_YAML_DEPTH = 64
#: Most values a YAML file may hold once its aliases (``*name``) are expanded: a few
#: lines of aliases can otherwise stand for billions of values (an "alias bomb").
MAX_YAML_VALUES = 1_000_000


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose impossible dates (``2022-02-30``) stay text, so that the
    validation that follows names the field that holds one."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _check_yaml_tree(root: yaml.Node, path: str | Path) -> None:
    """Refuse duplicate keys, nesting deeper than :data:`MAX_YAML_DEPTH` and more than
    :data:`MAX_YAML_VALUES` values once aliases are expanded; the composed tree shares
    an aliased node, so this costs one visit per node written, not per value expanded."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def where(keys: tuple[str, ...]) -> str:
        return f"'{'.'.join(keys)}'" if keys else "the top level"

    def visit(node: yaml.Node, keys: tuple[str, ...]) -> int:
        nid = id(node)
        if nid in sizes:
            return sizes[nid]
        if nid in open_:
            raise ConfigError(f"{path}: {where(keys)} (line {node.start_mark.line + 1}) refers to itself "
                              "through an alias; a configuration must be a tree")
        if len(keys) > MAX_YAML_DEPTH:
            raise ConfigError(f"{path}: nested more than {MAX_YAML_DEPTH} levels deep (at line "
                              f"{node.start_mark.line + 1}); a configuration has a few levels")
        open_.add(nid)
        size = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    key, line = str(key_node.value), key_node.start_mark.line + 1
                    if key in seen:
                        raise ConfigError(
                            f"{path}: key '{'.'.join((*keys, key))}' is given twice (lines {seen[key]} and {line}); "
                            "YAML would silently keep the last: remove one")
                    seen[key] = line
                    child = (*keys, key)
                else:
                    child = (*keys, "?")
                size += visit(key_node, child) + visit(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                size += visit(item, (*keys, str(i)))
        if size > MAX_YAML_VALUES:
            raise ConfigError(f"{path}: its aliases (*name) expand it to more than {MAX_YAML_VALUES:,} values "
                              f"(at {where(keys)}, line {node.start_mark.line + 1}); refused as a precaution "
                              "against alias bombs")
        open_.discard(nid)
        sizes[nid] = size
        return size

    visit(root, ())


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The YAML file at ``path`` as a mapping.

    Raises ``ConfigError`` naming the file if it cannot be read, is not UTF-8 text, is
    empty, is not valid YAML, gives a key twice, is nested more than
    :data:`MAX_YAML_DEPTH` levels deep or expands through aliases to more than
    :data:`MAX_YAML_VALUES` values; or, with ``what`` ("a scenario must be a mapping of
    fields", ...), if it holds anything but a mapping. Scenarios and spec files (sweeps,
    calibrations) are read through it. An impossible date (``2022-02-30``) is read as
    text, so that the validation of the field that holds it names that field.
    """
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); "
                          "save the file as UTF-8") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_yaml_tree(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read (more than {MAX_YAML_DEPTH} levels); "
                          "a configuration has a few levels") from None
    finally:
        loader.dispose()
    if data is None:
        raise ConfigError(f"{path}: the file is empty (no fields); write the fields it sets, e.g. "
                          "'extends: baseline', or '{}' for the embedded defaults")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {what}, got {type(data).__name__}")
    return data


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        chain = " -> ".join(str(s.name) for s in (*seen, path))
        raise ConfigError(f"{path}: 'extends' forms a cycle ({chain})")
    data = read_yaml_mapping(path, "a scenario must be a mapping of fields")
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: field 'extends' must be a file name, got {parent!r}")
        if not parent.strip():
            raise ConfigError(f"{path}: field 'extends' is empty; name the scenario this one extends "
                              "(e.g. extends: baseline), or remove the line")
        ppath = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
        if not ppath.is_file():
            try:
                ppath = resolve_config_path(parent)
            except ConfigError as exc:
                raise ConfigError(f"{path}: field 'extends': {exc}") from None
        data = _deep_merge(_read_yaml(ppath.resolve(), (*seen, path)), data)
    return data


def format_validation_errors(exc: ValidationError, source: str) -> str:
    """One message for every error of a :class:`~sim.params.Config` validation, headed
    ``invalid configuration (<source>)``: each error names its field (an unknown field with
    a spelling suggestion, a value out of range with the accepted range, and what was given).
    Used by :func:`load_config` and by :mod:`sim.timeline` for a timeline entry."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            field = str(err["loc"][-1])
            parent_loc = err["loc"][:-1]
            model: Any = Config
            for part in parent_loc:
                if isinstance(model, tuple):
                    model = model[1]
                    continue
                if model is None or isinstance(part, int):
                    continue
                model = field_model(model, str(part)) if part in model.model_fields else None
            if isinstance(model, tuple):
                model = model[1]
            options = model.model_fields if model is not None else {}
            lines.append(f"unknown field '{loc}'{_suggest(field, options)}")
            continue
        msg = err["msg"]
        if kind == "value_error":
            msg = msg.removeprefix("Value error, ")
            if not loc:  # a whole-config consistency check already names its field
                lines.extend(msg.split("; "))
                continue
        rng = range_of(err["loc"])
        if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than") and rng:
            msg = f"must be in {rng}"
        elif rng and (kind.endswith("_parsing") or kind.endswith("_type")):
            msg += f"; accepted range {rng}"
        got = err.get("input")
        if not isinstance(got, (dict, list)):
            msg += f" (got {got!r})"
        lines.append(f"field '{loc}': {msg}")
    head = f"invalid configuration ({source})"
    return head + ":\n  " + "\n  ".join(lines) if len(lines) > 1 else f"{head}: {lines[0]}"


def load_config(path_or_mapping: str | Path | Mapping[str, Any] | Config | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Load and validate a scenario.

    Parameters
    ----------
    path_or_mapping
        A YAML file (path, or the name of a shipped scenario such as ``"pilot_50"``),
        a mapping of fields, a :class:`Config`, or None for the embedded defaults.
    overrides
        Dotted names and values, e.g. ``{"returns.quota_per_week": 200}``; string values
        are parsed as YAML (``"200"`` -> 200, ``"true"`` -> True).

    Returns
    -------
    Config
        The validated configuration.

    Raises
    ------
    ConfigError
        If a file is missing or unreadable, a key is unknown, a value has the wrong
        type or is out of range, or fields are inconsistent. The message names the field.
    """
    if path_or_mapping is None:
        raw: dict[str, Any] = {}
        source = "embedded defaults"
    elif isinstance(path_or_mapping, Config):
        raw = path_or_mapping.model_dump(mode="python")
        source = f"config '{path_or_mapping.name}'"
    elif isinstance(path_or_mapping, Mapping):
        raw = copy.deepcopy(dict(path_or_mapping))
        # e.g. a sweep's base scenario, sent to each run as data: named by its name, not as "mapping"
        source = f"scenario '{raw['name']}'" if isinstance(raw.get("name"), str) and raw["name"] else "mapping"
        if "extends" in raw:
            parent = raw.pop("extends")
            if not isinstance(parent, str) or not parent.strip():
                raise ConfigError(f"field 'extends' must name a scenario (e.g. baseline), got {parent!r}")
            raw = _deep_merge(_read_yaml(resolve_config_path(parent).resolve()), raw)
    else:
        path = resolve_config_path(path_or_mapping)
        raw = _read_yaml(path.resolve())
        source = str(path)
    for key, value in (overrides or {}).items():
        if isinstance(value, str):
            value = _parse_override_value(value)
        set_dotted(raw, key, value)
    if overrides and "end_date" in overrides and raw.get("timeline"):
        _drop_entries_after_end(raw)
    if overrides:  # an error may come from an override, not from the file: say which fields were set
        keys = list(overrides)
        source += f" with the overrides {', '.join(keys[:5])}{f' and {len(keys) - 5} more' if len(keys) > 5 else ''}"
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_errors(exc, source)) from None
    if config.timeline:  # every dated change applied in turn must give a valid scenario
        from sim.timeline import timeline_changes

        try:
            timeline_changes(config)
        except ConfigError as exc:
            raise ConfigError(f"invalid configuration ({source}): {exc}") from None
    return config


def _drop_entries_after_end(raw: dict[str, Any]) -> None:
    """A run shortened by an override of ``end_date`` (``--years``, a test's short run) never reaches
    the timeline's later entries: drop them (in a scenario as written, a date after its end is an error)."""
    try:
        end_date = dt.date.fromisoformat(str(raw["end_date"]))
    except (KeyError, ValueError):
        return  # validation names the field
    kept = []
    for entry in raw["timeline"]:
        when = entry.get("date") if isinstance(entry, Mapping) else None
        try:
            day = when if isinstance(when, dt.date) else dt.date.fromisoformat(str(when))
        except ValueError:
            kept.append(entry)
            continue
        if day <= end_date:
            kept.append(entry)
    raw["timeline"] = kept


def _parse_override_value(text: str) -> Any:
    """Parse a command-line value as YAML, except YAML 1.1's on/off/yes/no booleans."""
    if text.strip().lower() in ("on", "off", "yes", "no", "y", "n"):
        return text.strip()
    try:
        return yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - e.g. an impossible date: keep the text, validation names the field
        return text


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``["a.b=1", ...]`` from the command line into a mapping."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects name=value (for example returns.quota_per_week=200), got '{item}'")
        out[key.strip()] = value.strip()
    return out


def check_names(field: str, names: Any, accepted: Any, what: str = "name") -> list[str]:
    """``names`` (a name or a list of names) as a list, each one of ``accepted``.

    Raises
    ------
    ConfigError
        Naming ``field``, the first unknown name with a spelling suggestion, and the
        accepted names; or if ``names`` is not a name or a list of names.
    """
    items = [names] if isinstance(names, str) else names
    if not isinstance(items, list | tuple) or not all(isinstance(n, str) for n in items):
        raise ConfigError(f"{field}: expected a {what} or a list of {what}s, got {names!r}")
    options = list(dict.fromkeys(accepted))
    for n in items:
        if n not in options:
            raise ConfigError(f"{field}: unknown {what} '{n}'{_suggest(n, options)} (accepted: {', '.join(options)})")
    return list(items)


def timeseries_variables(config: Config | Mapping[str, Any]) -> list[str]:
    """The variables of the Channel model's daily time series for ``config`` (a
    :class:`~sim.params.Config` or its plain dump): what a sweep's ``outputs.variables`` may
    name (:func:`sim.metrics.daily_columns`, with ``arrivals_<group>`` for each group)."""
    from sim.metrics import daily_columns

    groups = config.groups if isinstance(config, Config) else config.get("groups") or []
    return daily_columns([g.name if isinstance(g, BaseModel) else g["name"] for g in groups])
