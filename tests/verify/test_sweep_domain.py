"""``tickets verify sweep --domain``: the sweeps measure and certify on the cube as well."""

from __future__ import annotations

import json
import math

import pytest

from verify.cli.main import main
from verify.construction_study import smallest_block, sweep_width_vs_eps


def _rows(capsys, *extra: str) -> list[dict]:
    assert main(["verify", "sweep", "--method", "pensia", "--block-sizes", "4", "--seeds", "1",
                 "--width", "2", "--depth", "1", "--json", *extra]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_width_sweep_on_the_cube_scales_the_certificate(capsys) -> None:
    ball = _rows(capsys, "--vary", "width")[0]
    cube = _rows(capsys, "--vary", "width", "--domain", "cube")[0]
    assert ball["domain"] == "ball" and cube["domain"] == "cube"
    assert cube["certified_error"] == pytest.approx(math.sqrt(2) * ball["certified_error"])
    assert cube["sup_error"] >= ball["sup_error"]  # the cube contains the ball


def test_smallest_block_search_passes_the_domain_on() -> None:
    # a 3-wide target at eps 0.2 (seed 0): 14 units per input suffice on the ball, the cube
    # (which holds points of norm up to sqrt(3)) needs 15
    ball = smallest_block("pensia", [2, 64], 3, 1, 0.2, 0.1, 1, 1.0)
    cube = smallest_block("pensia", [2, 64], 3, 1, 0.2, 0.1, 1, 1.0, domain="cube")
    assert (ball["block_size"], cube["block_size"]) == (14, 15)
    row = sweep_width_vs_eps("pensia", "target-width", [3], [2, 64], depth=1, eps=0.2, seeds=1,
                             fraction=1.0, domain="cube")[0]
    assert row["domain"] == "cube" and row["block_size"] == 15


def test_bad_domain_is_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "sweep", "--method", "pensia", "--vary", "width", "--domain", "sphere"])
    assert exit_.value.code == 2 and "--domain" in capsys.readouterr().err
