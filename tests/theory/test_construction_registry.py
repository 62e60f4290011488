"""The construction registry: a construction registered once appears in the command line's
``--method`` choices, the scales, the bounds table, the default checks, the memory estimate and
the trained-ticket methods, with no other file touched."""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys

import pytest

from theory import bounds
from theory.constructions import (
    FAMILIES,
    Construction,
    Names,
    constructions,
    get_method,
    our_bounds,
    register,
    registry,
)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Construction:
    """Import ``tests/theory/toy_construction.py`` (which registers ``toy``) into copies of the
    registry and the bounds table, restored afterwards."""
    constructions()  # every module registered before the copy
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(bounds, "BOUNDS", dict(bounds.BOUNDS))
    monkeypatch.delitem(sys.modules, "toy_construction", raising=False)
    importlib.import_module("toy_construction")
    yield get_method("toy")
    monkeypatch.delitem(sys.modules, "toy_construction", raising=False)


def test_a_registered_construction_appears_everywhere(toy: Construction, capsys) -> None:
    from verify import footprints
    from verify.cli.main import build_parser, main
    from verify.construction_study import bounds_table, default_checks
    from verify.scales import get_scale
    from verify.trained_ticket import METHODS

    assert constructions()[-1] is toy and toy.module == "toy_construction"
    # the command line's --method choices
    args = build_parser().parse_args(["verify", "construct", "--method", "toy"])
    assert args.method == "toy"
    assert main(["verify", "construct", "--method", "toy", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["construction"] == "toy" and row["theorem"] == "Toy et al. 2026"
    # the scales: swept at every scale, with the block sizes of its cost class
    for scale in ("smoke", "cpu", "paper"):
        assert "toy" in get_scale("constructions", scale).methods
    assert get_scale("constructions", "cpu").block_sizes["toy"] == (
        get_scale("constructions", "cpu").block_sizes["malach"])
    assert get_scale("probabilities", "smoke").block_sizes["toy"] == (8,)
    # the bounds table and the bounds registry
    assert [r["bound"] for r in bounds_table(["toy"])] == ["ours-toy", "toy-width"]
    assert our_bounds()["toy"].evaluate(d=3) == 21 and bounds.get_bound("toy-width").kind == "upper"
    # the default checks of `tickets verify`
    assert [r["construction"] for r in default_checks()][-2:] == ["toy", "subset-sum"]
    # the memory estimate and the trained-ticket methods (gadget family)
    assert footprints.construction_bytes("toy", 2, 1, 0.1, 0.1, 4) > (
        footprints.construction_bytes("sign", 2, 1, 0.1, 0.1, 4))
    assert "toy" in METHODS


def test_registration_is_checked() -> None:
    pensia = get_method("pensia")
    with pytest.raises(ValueError, match="family must be one of"):
        register(Construction("x", pensia.construct, "nope", "x"))
    with pytest.raises(ValueError, match="needs block_sizes_bound"):
        register(Construction("x", pensia.construct, "gadget", "x"))
    with pytest.raises(ValueError, match=r"already registered by theory\.constructions\.pensia"):
        register(Construction("pensia", get_method("malach").construct, "gadget", "x",
                              block_sizes_bound=pensia.block_sizes_bound))
    with pytest.raises(ValueError, match="unknown construction 'nope'"):
        get_method("nope")
    assert {c.family for c in constructions()} == set(FAMILIES)


def test_building_the_command_line_loads_no_construction() -> None:
    """``--method`` choices are read from the registry only when used (``Names``)."""
    import subprocess

    code = ("import sys; from verify.cli.main import build_parser; build_parser(); "
            "from theory.constructions.registry import MODULES; "
            "print([m for m in MODULES if 'theory.constructions.' + m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_declared_names_are_the_registered_ones() -> None:
    """``Names()`` lists the names :data:`MODULES` declares without importing a module; they are
    exactly the registered constructions, in table order; an undeclared name is refused."""
    declared = tuple(Names())
    assert declared == tuple(c.name for c in constructions())
    with pytest.raises(ValueError, match=r"not declared in theory\.constructions\.registry"):
        register(dataclasses.replace(get_method("pensia"), name="pensia-2"))
