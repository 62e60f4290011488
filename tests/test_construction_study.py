"""Tests of the construction study rows (verify/construction_study.py)."""

from __future__ import annotations

import pytest

from verify.construction_study import (
    run_construction,
    subset_sum_row,
    sweep_error_vs_width,
    sweep_width_vs_eps,
    target_size,
)


def test_target_size() -> None:
    assert target_size([8, 8, 8]) == "8x8x8"


def test_run_construction_row() -> None:
    row = run_construction("binary-depth", 2, 1, 0.1, 0.1, seed=0, input_dim=3)
    assert row["target_size"] == "3x2"
    assert row["theorem"] == "Sreenivasan et al. 2022"
    assert row["pass"] == (row["success"] and row["sup_error"] <= 0.1)
    assert row["sup_error"] <= row["predicted_error"] + 1e-9
    assert 0 < row["kept_fraction"] < 1


def test_same_seed_same_row() -> None:
    a = run_construction("binary-depth", 2, 1, 0.2, seed=4, block_size=12)
    b = run_construction("binary-depth", 2, 1, 0.2, seed=4, block_size=12)
    assert {k: v for k, v in a.items() if k != "seconds"} == {
        k: v for k, v in b.items() if k != "seconds"
    }


def test_sweeps_are_tidy() -> None:
    ticks: list[int] = []
    rows = sweep_error_vs_width("binary-depth", [4, 32], 2, 1, 0.2, seeds=2, progress=ticks.append)
    assert len(rows) == 4 and len(ticks) == 4
    assert {(r["value"], r["seed"]) for r in rows} == {(4, 0), (4, 1), (32, 0), (32, 1)}
    found = sweep_width_vs_eps("binary-depth", "depth", [1, 2], [8, 32], width=2, eps=0.2,
                               seeds=1)
    assert [r["value"] for r in found] == [1, 2]
    assert all(r["block_size"] in (8, 32) for r in found)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        run_construction("nope", 2, 1, 0.1)
    with pytest.raises(ValueError):
        run_construction("binary-depth", 0, 1, 0.1)
    with pytest.raises(ValueError):
        sweep_width_vs_eps("binary-depth", "bits", [1], [8])


def test_subset_sum_row() -> None:
    table = [
        {"n": 4, "eps": 0.01, "success_prob": 0.1, "median_radius": 0.05},
        {"n": 12, "eps": 0.01, "success_prob": 0.9, "median_radius": 0.001},
    ]
    row = subset_sum_row(table)
    assert row["pass"] and row["width_used"] == 12
    assert not subset_sum_row([{**table[0], "n": 12}, {**table[1], "n": 4}])["pass"]
