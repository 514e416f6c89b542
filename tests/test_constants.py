"""Every named constant of the rules is used where the ODD's table says it is (ODD 7.14)."""

from __future__ import annotations

import inspect
import re

import pytest

import sim.agents.gang
import sim.agents.gang_book
import sim.agents.migrant
import sim.agents.patrol
import sim.agents.returns
import sim.environment
import sim.model
from sim.constants import CONSTANTS

MODULES = (sim.agents.gang, sim.agents.gang_book, sim.agents.migrant, sim.agents.patrol, sim.agents.returns, sim.model, sim.environment)


def _resolve(dotted: str):
    """The function a dotted name in the table names: ``Class.method`` or ``function`` in one of
    the modules, or ``module.function`` (``gang_book.reprice``)."""
    head, *rest = dotted.split(".")
    for module in MODULES:
        if module.__name__.rsplit(".", 1)[-1] == head:
            obj = module
            break
        if hasattr(module, head):
            obj = getattr(module, head)
            break
    else:
        raise AssertionError(f"{dotted!r} names nothing in {[m.__name__ for m in MODULES]}")
    for part in rest:
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("const", CONSTANTS, ids=lambda c: c.name)
def test_constant_is_used_in_the_function_the_table_names(const):
    source = inspect.getsource(_resolve(const.used_in))
    assert re.search(rf"\b{const.name}\b", source), f"{const.name} is not used in {const.used_in}"


def test_no_rule_module_repeats_a_constants_value_as_a_bare_number():
    """The values the ODD lists are named: the rule modules do not write them out again."""
    literal = re.compile(r"(?<![\w.])(0\.6|0\.05|0\.02|0\.25|1 ?/ ?52)(?![\w.])")
    for module in MODULES:
        code = "\n".join(line.split("#", 1)[0] for line in inspect.getsource(module).splitlines())
        code = re.sub(r'""".*?"""', "", code, flags=re.S)
        found = literal.findall(code)
        assert not found, f"{module.__name__} writes {found} as bare numbers"
