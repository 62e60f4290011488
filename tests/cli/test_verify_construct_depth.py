"""``tickets verify construct`` end to end for the Orseau and depth-plus-one constructions."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from theory.constructions import get_method
from theory.constructions import sign_activations as sign
from theory.networks import random_target
from verify.cli.main import main
from verify.construction_study import bound_kind, default_checks
from verify.conv_study import run_conv_construction
from verify.sign_study import run_sign_construction


@pytest.mark.parametrize(("method", "depth", "source_depth"),
                         [("orseau", 1, 2), ("depth-plus-one", 2, 3)])
def test_construct_json(method: str, depth: int, source_depth: int,
                        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "construct", "--method", method, "--width", "2", "--depth", str(depth),
            "--eps", "0.1", "--seed", "0", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["construction"] == method and row["source_depth"] == source_depth
    assert row["tolerances_met"] and row["within_eps"] and row["sup_error"] <= 0.1
    assert row["source_width"] == row["bound_width"]


def test_orseau_eps_below_hyperbolic_range_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "construct", "--method", "orseau", "--width", "2", "--depth", "1",
            "--eps", "1e-7"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "eps" in err


@pytest.mark.parametrize("method", ["orseau", "depth-plus-one", "sign"])
def test_new_tickets_carry_their_draw(method: str) -> None:
    """The new constructions record their source draw, so only an honest source passes."""
    rng = np.random.default_rng(3)
    target = random_target([2, 2, 2], rng, constraint="both")
    construct = sign.construct if method == "sign" else get_method(method)
    ticket = construct(target, 0.1, 0.1, rng).subnetwork
    ticket.check_genuine()
    edited = [s.copy() for s in ticket.source]
    edited[-1][0, 0] += 0.5
    with pytest.raises(ValueError, match="regenerated draw"):
        dataclasses.replace(ticket, source=tuple(edited)).check_genuine()


def test_conv_and_sign_rows_say_what_they_rest_on() -> None:
    one = run_conv_construction("conv-1d", 1, 1, 0.1, block_size=4)
    assert one["evidence"] == "exact" and one["error_bound"] == one["sup_error"]
    assert one["pass"] == (one["sup_error"] <= 0.1)
    deep = run_conv_construction("conv-2d", 1, 1, 0.1, block_size=4)
    assert deep["sup_method"] == "sampled" and deep["evidence"] == "certified"
    assert deep["error_bound"] == deep["certified_error"] >= deep["sup_error"]
    assert deep["pass"] == (deep["certified_error"] <= 0.1)
    cube = run_conv_construction("conv-2d", 1, 1, 0.1, block_size=4, domain="cube")
    d0 = math.prod(get_method("conv-2d").options["input_shape"])
    assert cube["certified_error"] == pytest.approx(deep["certified_error"] * math.sqrt(d0))
    assert run_sign_construction(2, 2, 0.1, n_samples=256)["evidence"] == "certified"


def test_capped_summands_make_the_bound_width_sampled() -> None:
    assert bound_kind(True, False) == "upper, calibrated"
    assert bound_kind(False, False) == "upper"
    assert bound_kind(True, True).startswith("sampled")
    rows = {r["construction"]: r for r in default_checks()}
    assert rows["depth-plus-one"]["evidence"] == "certified"
    assert rows["pensia"]["bound_kind"] == "upper, calibrated"
