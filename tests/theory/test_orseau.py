"""Orseau et al. greedy geometric decomposition over hyperbolic sources: exact cases, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import bounds
from theory.constructions import orseau
from theory.constructions.blocks import block_view, gadget_weights
from theory.networks import random_source, random_target


def test_decompose_layer_hand_made_block() -> None:
    """w = 0.75, K = 2.  a > 0 products 0.5, 0.9 (group 1), 0.625, 0.25 (group 2): step 1 keeps
    0.5 (0.9 overshoots; 0.625 is not in its pool yet), step 2 keeps 0.25 from the pool
    {0.9, 0.625, 0.25}.  a < 0 products 0.75 (group 1), 0.25: step 1 keeps 0.75, and step 2 has
    nothing left to do."""
    first = np.array([[1.0], [1.0], [1.0], [1.0], [-1.0], [-1.0]])
    second = np.array([[0.5, 0.9, 0.625, 0.25, -0.75, -0.25]])
    keep = orseau.decompose_layer(first, second, np.array([[0.75]]), block=6, steps=2)
    assert keep.tolist() == [[[True, False, False, True, True, False]]]
    pos, neg = gadget_weights(first, second * keep.reshape(1, 6))
    assert pos[0, 0] == 0.75 and neg[0, 0] == 0.75


def test_window_probability_closed_form_and_sampled() -> None:
    """h(r) = ((s + ln 2)^2 - s^2) / (2 Λ^2) while s + ln 2 <= Λ (s = ln 1/r), and it matches the
    frequency of products of two hyperbolic entries drawn by theory.networks (sampled, 4 sigma)."""
    span, r = orseau.LOG_RANGE, 0.3
    s = math.log(1 / r)
    assert orseau.window_probability(r) == pytest.approx(
        ((s + math.log(2)) ** 2 - s**2) / (2 * span**2))
    rng = np.random.default_rng(0)
    a, b = (np.abs(random_source([1, 200_000], rng, "hyperbolic")[0][:, 0]) for _ in range(2))
    for r in (0.5, 0.05, 1e-3, 1e-5):
        p = orseau.window_probability(r)
        freq = np.mean((a * b >= r / 2) & (a * b <= r))
        assert abs(freq - p) <= 4 * math.sqrt(p * (1 - p) / a.size) + 1e-12
    assert orseau.window_probability(orseau.HYPERBOLIC_LOW**2 / 4) == 0.0


def test_window_minimum_is_at_an_endpoint() -> None:
    """h is unimodal in ln(1/r), so q = min(h(w_max), h(tau)) lower-bounds it in between."""
    widths, eps = [2, 2, 2], 0.1
    q = orseau.min_window_probabilities(widths, eps)[0]
    tau = float(orseau.layer_tolerances(widths, eps)[0])
    grid = np.geomspace(tau, 1 / math.sqrt(2), 400)
    assert min(orseau.window_probability(float(r)) for r in grid) >= q * (1 - 1e-12)


@settings(max_examples=15)
@given(widths=st.lists(st.integers(1, 3), min_size=2, max_size=3),
       block=st.integers(2, 64), seed=st.integers(0, 2**31))
def test_greedy_never_overshoots_and_keeps_at_most_k_units(widths: list[int], block: int,
                                                           seed: int) -> None:
    """Every sum of kept products has the sign of W and modulus <= |W| (so |error| <= |W|), and
    each (output, input, sign of a) keeps at most K units."""
    rng = np.random.default_rng(seed)
    target = random_target(widths, rng)
    result = orseau.construct(target, 0.2, 0.2, rng, block_size=block)
    result.subnetwork.check_genuine()
    magnitudes = np.concatenate([np.abs(np.stack([w, w])).ravel() for w in target])
    assert np.all(result.per_weight_errors <= magnitudes + 1e-12)
    effective = result.subnetwork.weights()
    for i, steps in enumerate(result.plan["steps"]):
        first = effective[2 * i]
        kept = block_view(effective[2 * i + 1], block) != 0
        a = first[np.arange(first.shape[0]), np.repeat(np.arange(first.shape[1]), block)]
        a = a.reshape(first.shape[1], block)
        for side in (a > 0, a < 0):
            assert np.all((kept & side[None]).sum(axis=2) <= steps)
    assert result.certified_error <= result.predicted_error + 1e-12


def test_default_width_succeeds_with_logarithmic_steps() -> None:
    """At our bound's width every weight is within tau after K = ceil(log2(w_max/tau)) steps,
    the source is hyperbolic, and the kept units per weight are at most 2 K."""
    rng = np.random.default_rng(4)
    target = random_target([2, 2, 2], rng)
    result = orseau.construct(target, 0.1, 0.1, rng)
    assert result.success and result.certified_error <= 0.1
    assert result.source_width == result.bound_width
    tau = result.plan["tolerances"][0]
    assert result.plan["steps"][0] == math.ceil(math.log2(1 / math.sqrt(2) / tau))
    magnitudes = np.abs(np.concatenate([s.ravel() for s in result.subnetwork.source]))
    assert magnitudes.min() >= orseau.HYPERBOLIC_LOW and magnitudes.max() <= 1
    kept_per_weight = result.subnetwork.n_kept / (2 * 8)  # edges in, edges out; 8 weights
    assert kept_per_weight <= 2 * max(result.plan["steps"])


def test_success_rate_at_least_one_minus_delta() -> None:
    delta, seeds = 0.3, range(10)
    successes = 0
    for seed in seeds:
        rng = np.random.default_rng(2000 + seed)
        target = random_target([2, 2, 1], rng)
        successes += orseau.construct(target, 0.3, delta, rng).success
    assert successes >= (1 - delta) * len(seeds)


@pytest.mark.parametrize(("d", "depth", "eps", "delta"),
                         [(1, 1, 0.1, 0.1), (2, 2, 0.1, 0.1), (3, 2, 0.05, 0.01)])
def test_sympy_bound_equals_construction(d: int, depth: int, eps: float, delta: float) -> None:
    value = bounds.get_bound("ours-orseau").evaluate(d=d, l=depth, epsilon=eps, delta=delta)
    assert value == d * max(orseau.block_sizes_bound([d] * (depth + 1), eps, delta))
    kept = bounds.get_bound("orseau-kept-per-weight").evaluate(epsilon=1 / 1024)
    assert kept == pytest.approx(20.0)


def test_bound_grows_logarithmically_in_one_over_eps() -> None:
    bound = bounds.get_bound("ours-orseau")
    ratio = (bound.evaluate(d=2, l=1, epsilon=1e-4, delta=0.1)
             / bound.evaluate(d=2, l=1, epsilon=1e-2, delta=0.1))
    assert ratio < 3


def test_tolerance_below_hyperbolic_range_raises() -> None:
    with pytest.raises(ValueError, match="eps"):
        orseau.construct([np.array([[0.5]])], 1e-7, 0.1, np.random.default_rng(0))
