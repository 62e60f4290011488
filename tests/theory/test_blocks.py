"""Error propagation and the per-weight tolerances of the gadget constructions (blocks.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions.blocks import (
    gadget_weights,
    hoeffding_block_size,
    hoeffding_capacity,
    layer_tolerances,
    propagated_error,
    single_edge_mask,
)
from theory.networks import forward, random_target
from theory.sup_error import sup_error


def test_activation_growth_compounds_at_depth_three() -> None:
    """``W_i = I``, ticket ``(1 + e) I``: on the positive orthant the error is exactly
    ``(1 + e)^3 - 1`` (brute force), the bound's closed form for ``s_i = 1``; a bound that ignored
    the growth of the ticket's activations would give ``3 e``."""
    e, eye = 0.5, np.eye(2)
    target, ticket = [eye] * 3, [(1 + e) * eye] * 3
    x = np.array([[0.6, 0.8]])
    brute = float(np.linalg.norm(forward(ticket, x) - forward(target, x)))
    assert brute == pytest.approx((1 + e) ** 3 - 1)
    assert propagated_error([1.0] * 3, [e] * 3) == pytest.approx((1 + e) ** 3 - 1)
    assert propagated_error([1.0] * 3, [e] * 3) > 3 * e


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), depth=st.integers(3, 4), size=st.floats(0.05, 0.8))
def test_propagated_error_bounds_the_searched_error(seed: int, depth: int, size: float) -> None:
    """Perturb every layer of a random depth-3/4 target by ``E_i`` (``||E_i||_2 = e_i``): the
    searched sup error of the perturbed network never exceeds ``propagated_error``."""
    rng = np.random.default_rng(seed)
    target = random_target([3] * (depth + 1), rng)
    ticket = []
    errors = []
    for w in target:
        e = rng.standard_normal(w.shape)
        e *= size * rng.uniform(0.2, 1.0) / np.linalg.norm(e, ord=2)
        ticket.append(w + e)
        errors.append(float(np.linalg.norm(e, ord=2)))
    searched = sup_error(lambda x: forward(ticket, x), lambda x: forward(target, x), 3, rng)
    norms = [float(np.linalg.norm(w, ord=2)) for w in target]
    assert searched.value <= propagated_error(norms, errors) * (1 + 1e-9)


@pytest.mark.parametrize("widths", [[1, 1], [3, 2, 4], [8, 8, 8, 8]])
@pytest.mark.parametrize("eps", [0.01, 0.3])
def test_tolerances_follow_from_the_propagation_bound(widths: list[int], eps: float) -> None:
    """At ``|E| = tau_i`` entrywise the Frobenius layer error is ``sqrt(2 d_i d_{i-1}) tau_i =
    ln(1 + eps) / l``; with ``s_i = 1`` the propagated error is ``(1 + ln(1 + eps) / l)^l - 1``,
    at most ``exp(ln(1 + eps)) - 1 = eps`` (blocks docstring)."""
    tau = layer_tolerances(widths, eps)
    layer = [math.sqrt(2 * a * b) * t for (a, b), t in
             zip(itertools.pairwise(widths), tau, strict=True)]
    depth = len(layer)
    bound = propagated_error([1.0] * depth, layer)
    assert bound == pytest.approx((1 + math.log1p(eps) / depth) ** depth - 1, rel=1e-12)
    assert bound <= eps * (1 + 1e-12)


@pytest.mark.parametrize(("count", "p", "log_fail"), [(1, 0.5, 0.0), (7, 0.5, 3.0),
                                                      (40, 0.25, 9.2), (3, 0.25, 20.0)])
def test_hoeffding_block_is_the_smallest_meeting_its_inequality(count: int, p: float,
                                                                 log_fail: float) -> None:
    """``n p - sqrt(n L / 2) >= count`` holds at the returned ``n`` and fails at ``n - 1`` (or
    holds there only with equality, where ``ceil`` of a rounded square root lands one above)."""
    n = hoeffding_block_size(count, p, log_fail)
    assert hoeffding_capacity(n, p, log_fail) >= count - 1e-9
    assert n == 1 or hoeffding_capacity(n - 1, p, log_fail) <= count + 1e-9


def test_gadget_weights_block_sums_equal_the_dense_products() -> None:
    rng = np.random.default_rng(0)
    d_in, block, d_out = 3, 4, 2
    first = np.where(single_edge_mask(d_in, block), rng.uniform(-1, 1, (d_in * block, d_in)), 0)
    second = rng.uniform(-1, 1, (d_out, d_in * block))
    pos, neg = gadget_weights(first, second)
    np.testing.assert_allclose(pos, second @ np.maximum(first, 0), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(neg, second @ np.minimum(first, 0), rtol=1e-13, atol=1e-15)
    first[0, 1] = 0.5  # an extra edge: the dense products are used
    np.testing.assert_allclose(gadget_weights(first, second)[0], second @ np.maximum(first, 0))
