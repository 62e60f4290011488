"""Fixed-size subset sum (Natale et al. 2024): the exact solver against brute force, and the
sparsity-guaranteed construction built on it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import fixed_size, get_method
from theory.constructions.blocks import block_view, layer_tolerances
from theory.fixed_size_subset_sum import INVALID, solve_fixed_size_subset_sum
from theory.networks import random_target


def brute_force(x: np.ndarray, t: float, k: int, valid: np.ndarray) -> float:
    """Smallest ``|sum - t|`` over the ``k``-subsets of the valid summands (inf if none)."""
    usable = np.flatnonzero(valid)
    return min((abs(sum(x[list(c)]) - t) for c in itertools.combinations(usable, k)),
               default=math.inf)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 10), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_solver_is_exact_and_keeps_exactly_k(n: int, data: st.DataObject, seed: int) -> None:
    k = data.draw(st.integers(0, n))
    rng = np.random.default_rng(seed)
    x, t = rng.uniform(-1, 1, (6, n)), rng.uniform(-1.5, 1.5, 6)
    valid = rng.random((6, n)) < 0.8
    result = solve_fixed_size_subset_sum(x, t, k, valid=valid)
    assert (result.mask.sum(axis=1) == k).all()
    for i in range(6):
        best = brute_force(x[i], t[i], k, valid[i])
        if math.isinf(best):  # fewer than k valid summands: the error says so
            assert result.errors[i] >= INVALID / 2
        else:
            assert result.errors[i] == pytest.approx(best, abs=1e-12)
            assert not (result.mask[i] & ~valid[i]).any()


def test_solver_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="k must be an integer"):
        solve_fixed_size_subset_sum(np.zeros(3), 0.0, 4)
    with pytest.raises(ValueError, match="summands must be smaller"):
        solve_fixed_size_subset_sum(np.array([1e5, 0.0]), 0.0, 1)


@settings(max_examples=6, deadline=None)
@given(widths=st.lists(st.integers(1, 3), min_size=2, max_size=3), seed=st.integers(0, 10**6))
def test_ticket_keeps_exactly_2k_products_per_weight(widths: list[int], seed: int) -> None:
    """The sparsity guarantee: every target weight keeps exactly ``k`` output edges per sign of
    the input edge, so each second layer has density ``2 k / n``; the total is within
    ``kept_bound``; and at the bound's width the certified error is within eps."""
    rng = np.random.default_rng(seed)
    target = random_target(widths, rng, constraint="both")
    result = fixed_size.construct(target, 0.3, 0.2, rng)
    masks, source = result.subnetwork.masks, result.subnetwork.source
    for i, (k, n) in enumerate(zip(result.plan["subset_sizes"], result.plan["block_sizes"],
                                   strict=True)):
        a = source[2 * i][np.arange(masks[2 * i].shape[0]), np.repeat(
            np.arange(widths[i]), n)].reshape(widths[i], n)
        kept = block_view(masks[2 * i + 1], n)
        assert (np.sum(kept & (a > 0)[None], axis=2) == k).all()
        assert (np.sum(kept & (a < 0)[None], axis=2) == k).all()
        assert masks[2 * i + 1].mean() == pytest.approx(result.plan["second_layer_density"][i])
    assert result.subnetwork.n_kept <= result.plan["kept_bound"]
    assert result.success and result.certified_error <= 0.3
    assert result.max_weight_error <= max(layer_tolerances(widths, 0.3))


def test_bound_matches_the_construction_and_is_calibrated() -> None:
    bound = get_method("fixed-size").bound
    assert bound.calibrated and bound.name == "ours-fixed-size"
    for d, depth, eps, delta in ((1, 1, 0.1, 0.1), (3, 2, 0.05, 0.01), (4, 3, 0.2, 0.3)):
        blocks = fixed_size.block_sizes_bound([d] * (depth + 1), eps, delta)
        assert bound.evaluate(d=d, l=depth, epsilon=eps, delta=delta) == d * max(blocks)


@pytest.mark.parametrize(("m", "w"), [(12, 1.0), (16, 0.71)])
def test_calibrated_constant_keeps_its_promise(m: int, w: float) -> None:
    """The worst points of the calibration (module docstring), re-measured on fresh seeds."""
    measured, promised = fixed_size.calibration_failure(m, w, np.random.default_rng(5), 2000)
    assert measured <= promised


def test_subset_sizes_override_is_checked() -> None:
    target = [np.array([[0.3]])]
    result = fixed_size.construct(target, 0.3, 0.2, np.random.default_rng(0), subset_sizes=1)
    assert result.plan["subset_sizes"] == [1]
    with pytest.raises(ValueError, match="subset_sizes"):
        fixed_size.construct(target, 0.3, 0.2, np.random.default_rng(0), subset_sizes=99)
