"""Strong tickets in Erdos-Renyi sparse sources (Gadhikar et al. 2023): the sparse draw, the
ticket inside it, and the width bound as a function of the source density."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import get_method, sparse_source
from theory.networks import random_source, random_target
from theory.subnetwork import SourceDraw


def test_density_one_is_the_dense_draw_and_lower_densities_thin_it() -> None:
    dense = random_source([30, 40, 20], np.random.default_rng(4))
    same = random_source([30, 40, 20], np.random.default_rng(4), density=1.0)
    sparse = random_source([30, 40, 20], np.random.default_rng(4), density=0.25)
    assert all(np.array_equal(a, b) for a, b in zip(dense, same, strict=True))
    for a, b in zip(dense, sparse, strict=True):
        assert np.array_equal(b[b != 0], a[b != 0])
    kept = sum(np.count_nonzero(b) for b in sparse) / sum(b.size for b in sparse)
    assert kept == pytest.approx(0.25, abs=0.03)
    with pytest.raises(ValueError, match="density"):
        SourceDraw.from_rng([2, 2], "uniform", np.random.default_rng(0), density=0.0)


@settings(max_examples=6, deadline=None)
@given(widths=st.lists(st.integers(1, 3), min_size=2, max_size=3),
       density=st.sampled_from([1.0, 0.5, 0.3]), seed=st.integers(0, 10**6))
def test_ticket_lives_in_the_sparse_source(widths: list[int], density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    target = random_target(widths, rng, constraint="both")
    result = sparse_source.construct(target, 0.3, 0.2, rng, density=density)
    sub = result.subnetwork
    sub.check_genuine()
    assert sub.provenance.density == density
    assert all(not np.any(m & (s == 0)) for m, s in zip(sub.masks, sub.source, strict=True))
    assert result.success and result.certified_error <= 0.3


def test_width_bound_grows_like_one_over_density_squared() -> None:
    """Halving the density quadruples the bound's width (units eligible w.p. p^2/2, Chernoff)
    within 1%, at every density from 1/2 down to 1/32; the sympy bound is the construction's."""
    bound = get_method("sparse-source").bound
    widths = [2 * max(sparse_source.block_sizes_bound([2, 2, 2], 0.1, 0.1, 2.0**-j))
              for j in range(1, 6)]
    ratios = [b / a for a, b in itertools.pairwise(widths)]
    assert ratios == pytest.approx([4.0] * 4, rel=0.01)
    for j, width in enumerate(widths, start=1):
        assert bound.evaluate(d=2, l=2, epsilon=0.1, delta=0.1, p=2.0**-j) == width
    with pytest.raises(ValueError, match="density"):
        sparse_source.block_sizes_bound([2, 2], 0.1, 0.1, 1.5)


def test_success_rate_at_the_bound_width() -> None:
    """At its bound's width and p = 0.3, 20 random 2x2 targets all succeed (certified)."""
    successes = [
        sparse_source.construct(random_target([2, 2], np.random.default_rng(s), "both"), 0.2,
                                0.1, np.random.default_rng(s + 100), density=0.3).success
        for s in range(20)]
    assert all(successes)
