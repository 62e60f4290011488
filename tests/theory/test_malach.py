"""Malach et al. single-product construction: exact small cases, window probability, bound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from theory.constructions import malach


def test_select_layer_hand_made_block() -> None:
    """w = 0.3: a>0 units give products 0.5, 0.3 (keep the second), a<0 give -0.2, 0.3."""
    first = np.array([[0.5], [-1.0], [1.0], [-0.5]])
    second = np.array([[1.0, 0.2, 0.3, -0.6]])
    keep = malach.select_layer(first, second, np.array([[0.3]]), block=4)
    assert keep.tolist() == [[[False, False, True, True]]]


def test_block_without_one_sign_keeps_nothing_for_it() -> None:
    keep = malach.select_layer(np.array([[0.5], [0.7]]), np.array([[0.1, 0.2]]), np.eye(1), 2)
    assert keep.sum() == 1


@pytest.mark.parametrize(
    ("w", "tau"), [(0.0, 0.1), (0.3, 0.05), (0.7, 0.2), (1.0, 0.1), (0.05, 0.2)]
)
def test_window_probability_is_the_product_density_integral(w: float, tau: float) -> None:
    lo, hi = max(w - tau, -1.0), min(w + tau, 1.0)
    points = [0.0] if lo < 0 < hi else None
    exact, _ = quad(lambda z: -0.5 * np.log(abs(z)), lo, hi, points=points)
    assert malach.window_probability(w, tau) == pytest.approx(exact, rel=1e-8)


def test_window_probability_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, 400_000) * rng.uniform(-1, 1, 400_000)
    assert np.mean(np.abs(z - 0.4) <= 0.05) == pytest.approx(
        malach.window_probability(0.4, 0.05), abs=3e-3
    )


def test_one_product_per_sign_and_error_like_one_over_width() -> None:
    """Each weight is one product per sign; the closest of n/2 products is ~1/n away."""
    target = [np.array([[0.3, -0.5]])]
    sizes = np.array([20, 60, 180, 540])
    medians = []
    for n in sizes:
        results = [
            malach.construct(target, 0.1, 0.1, np.random.default_rng(s), block_size=int(n))
            for s in range(15)
        ]
        assert all(r.subnetwork.masks[1].sum() == 4 for r in results)
        medians.append(np.median([r.max_weight_error for r in results]))
    slope = np.polyfit(np.log(sizes), np.log(medians), 1)[0]
    assert -1.5 < slope < -0.5
