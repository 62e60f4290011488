"""``tickets verify construct`` end to end for the Orseau and depth-plus-one constructions."""

from __future__ import annotations

import json

import pytest

from verify.cli.main import main


@pytest.mark.parametrize(("method", "depth", "source_depth"),
                         [("orseau", 1, 2), ("depth-plus-one", 2, 3)])
def test_construct_json(method: str, depth: int, source_depth: int,
                        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "construct", "--method", method, "--width", "2", "--depth", str(depth),
            "--eps", "0.1", "--seed", "0", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["construction"] == method and row["source_depth"] == source_depth
    assert row["success"] and row["pass"] and row["sup_error"] <= 0.1
    assert row["source_width"] == row["bound_width"]


def test_orseau_eps_below_hyperbolic_range_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "construct", "--method", "orseau", "--width", "2", "--depth", "1",
            "--eps", "1e-7"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "eps" in err
