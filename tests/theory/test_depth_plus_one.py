"""Depth l+1 construction (copies of every target neuron): sizes, certificates, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import bounds
from theory.constructions import depth_plus_one as dp
from theory.constructions.pensia import summands_per_sign
from theory.networks import forward, random_target
from theory.sup_error import sup_error


def test_tolerance_by_hand() -> None:
    """[2, 2, 2], s = 24: Gamma = s sqrt(4) sqrt(4) + sqrt(4) = 98, tau = eps / 98."""
    assert dp.tolerance([2, 2, 2], 0.1, 24) == pytest.approx(0.1 / 98)
    assert dp.tolerance([3, 1], 0.3, 24) == pytest.approx(0.3 / math.sqrt(3))
    value = bounds.get_bound("ours-depth-plus-one-tolerance").evaluate(d=2, l=2, epsilon=0.1,
                                                                       n=24)
    assert value == pytest.approx(0.1 / 98)


@pytest.mark.parametrize("widths", [[2, 2, 2], [3, 2, 2, 1], [1, 1]])
def test_sizes_are_the_fixed_point(widths: list[int]) -> None:
    """m is the Lueker-form count for the instances the copies create, and c = min(m, cap)."""
    sizes = dp.sizes_bound(widths, 0.1, 0.1)
    assert sizes.used == min(sizes.summands, dp.SOLVER_SUMMANDS)
    assert all(c == sizes.used for c in sizes.copies)
    copy = sizes.used
    assert sizes.summands == summands_per_sign(
        dp.tolerance(widths, 0.1, copy), 0.1 / (2 * dp._instances(widths, copy)))
    assert dp.bound_width(sizes, widths) == max(
        [widths[0] * sizes.block, *(d * c for d, c in zip(widths[1:-1], sizes.copies,
                                                           strict=True))])


def test_depth_is_l_plus_one_and_one_layer_is_the_pensia_gadget() -> None:
    rng = np.random.default_rng(0)
    deep = dp.construct(random_target([2, 2, 2, 2], rng), 0.2, 0.1, rng)
    assert deep.source_depth == 4 and deep.subnetwork.depth == 4
    shallow = dp.construct([np.array([[0.4]])], 0.2, 0.2, np.random.default_rng(3))
    out = shallow.subnetwork(np.array([[1.0], [-1.0]]))[:, 0]
    assert shallow.source_depth == 2
    assert abs(out[0] - 0.4) == pytest.approx(shallow.per_weight_errors[0], abs=1e-12)
    assert abs(out[1] + 0.4) == pytest.approx(shallow.per_weight_errors[1], abs=1e-12)


@settings(max_examples=10)
@given(widths=st.lists(st.integers(1, 3), min_size=2, max_size=4),
       eps=st.floats(0.1, 0.5), seed=st.integers(0, 2**31),
       block=st.one_of(st.none(), st.integers(2, 12)))
def test_certificate_bounds_the_measured_error(widths: list[int], eps: float, seed: int,
                                               block: int | None) -> None:
    """Genuine ticket; sampled sup error <= certified <= a-priori predicted; success => <= eps."""
    rng = np.random.default_rng(seed)
    target = random_target(widths, rng)
    result = dp.construct(target, eps, 0.2, rng, block_size=block)
    result.subnetwork.check_genuine()
    assert result.source_depth == len(widths)
    measured = sup_error(lambda x: forward(target, x), result.subnetwork, widths[0],
                         np.random.default_rng(seed), n_samples=1024).value
    assert measured <= result.certified_error * (1 + 1e-9) + 1e-12
    assert result.certified_error <= result.predicted_error * (1 + 1e-9) + 1e-12
    if result.success:
        assert measured <= eps and result.max_weight_error <= result.plan["tolerance"]
    if block is None:
        assert result.source_width <= result.bound_width


def test_success_rate_at_least_one_minus_delta() -> None:
    delta, seeds = 0.3, range(10)
    successes = 0
    for seed in seeds:
        rng = np.random.default_rng(3000 + seed)
        target = random_target([2, 2, 1], rng)
        successes += dp.construct(target, 0.3, delta, rng).success
    assert successes >= (1 - delta) * len(seeds)


def test_bad_block_size_raises() -> None:
    with pytest.raises(ValueError, match="block_size"):
        dp.construct([np.array([[0.4]])], 0.2, 0.2, np.random.default_rng(0), block_size=0)
