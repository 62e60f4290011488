"""Tests of the construction study rows (verify/construction_study.py)."""

from __future__ import annotations

import numpy as np
import pytest

from theory.networks import random_target
from verify.construction_study import (
    run_construction,
    smallest_block,
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
    # a one-layer binary-depth ticket is linear on the orthants: its sup is exact
    assert row["sup_method"] == row["evidence"] == "exact"
    assert row["pass"] == (row["sup_error"] <= 0.1)
    assert row["sup_error"] <= row["certified_error"] + 1e-12
    assert row["certified_error"] <= row["predicted_error"] + 1e-9
    assert 0 < row["kept_fraction"] < 1


def test_deep_rows_pass_on_the_certificate_not_the_sample() -> None:
    """Depth 2: the sup is only searched, so the pass rests on the certified upper bound; at
    block 6 the sampled error meets eps = 0.5 while the certificate does not, and the row fails."""
    row = run_construction("pensia", 2, 2, 0.5, 0.1, seed=1, block_size=6)
    assert row["sup_method"] == "sampled" and row["evidence"] == "certified"
    assert row["error_bound"] == row["certified_error"] >= row["sup_error"]
    assert row["sup_error"] <= 0.5 < row["certified_error"]
    assert not row["pass"]


def test_cube_domain_rows() -> None:
    ball = run_construction("pensia", 3, 1, 0.3, seed=2, block_size=6)
    cube = run_construction("pensia", 3, 1, 0.3, seed=2, block_size=6, domain="cube")
    assert cube["domain"] == "cube" and cube["evidence"] == "exact"
    assert ball["sup_error"] <= cube["sup_error"] <= np.sqrt(3) * ball["sup_error"] + 1e-12
    assert cube["certified_error"] == pytest.approx(np.sqrt(3) * ball["certified_error"])


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
    assert all(r["found"] and 1 <= r["block_size"] <= 32 for r in found)


def test_smallest_block_is_bisected_to_the_boundary() -> None:
    found = smallest_block("pensia", [2, 64], 2, 1, 0.05, 0.1, seeds=2, fraction=1.0)
    block = found["block_size"]
    assert found["found"] and 2 < block < 64

    def passes(b: int) -> bool:
        return all(run_construction("pensia", 2, 1, 0.05, 0.1, s, block_size=b)["pass"]
                   for s in range(2))

    assert passes(block) and not passes(block - 1)
    assert not found["trivial"] and found["target_sup"] > 0.05
    assert found["evidence"] == "exact"
    # eps above every target's sup norm: the one-unit ticket passes, flagged trivial
    loose = smallest_block("pensia", [1, 2], 2, 1, 10.0, 0.1, seeds=2, fraction=1.0)
    assert loose["block_size"] == 1 and loose["trivial"]
    missing = smallest_block("pensia", [1, 2], 2, 1, 1e-6, 0.1, seeds=1, fraction=1.0)
    assert missing["block_size"] is None and not missing["found"]


def test_target_sup_is_the_empty_tickets_error() -> None:
    row = run_construction("pensia", 2, 1, 0.1, seed=3)
    target = random_target([2, 2], np.random.default_rng(3), constraint="both")[0]
    # one layer: the sup of ||relu(W x)|| over the unit ball, exact by the orthant method
    x = np.random.default_rng(0).normal(size=(20000, 2))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sampled = np.linalg.norm(np.maximum(x @ target.T, 0), axis=1).max()
    assert sampled <= row["target_sup"] + 1e-12
    assert row["target_sup"] == pytest.approx(sampled, rel=1e-3)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        run_construction("nope", 2, 1, 0.1)
    with pytest.raises(ValueError):
        run_construction("binary-depth", 0, 1, 0.1)
    with pytest.raises(ValueError):
        sweep_width_vs_eps("binary-depth", "bits", [1], [8])
    with pytest.raises(ValueError, match="block sizes"):
        smallest_block("pensia", [], 2, 1, 0.1, 0.1, seeds=1, fraction=0.5)


def test_subset_sum_row() -> None:
    """Passes on the success probability reaching 1 - delta, not on the median radius."""
    table = [
        {"n": 4, "eps": 0.01, "success_prob": 0.1, "quantile_radius": 0.05},
        {"n": 12, "eps": 0.01, "success_prob": 0.9, "quantile_radius": 0.008},
    ]
    row = subset_sum_row(table, 0.1)
    assert row["pass"] and row["width_used"] == 12
    assert row["bound_kind"] == "lower" and row["bound_width"] == 7
    assert row["evidence"] == "sampled" and row["sup_error"] == 0.008
    assert not subset_sum_row(table, 0.05)["pass"]  # 0.9 < 1 - 0.05
    assert not subset_sum_row([{**table[0], "n": 12}, {**table[1], "n": 4}], 0.1)["pass"]
