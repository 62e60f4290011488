"""Tests for theory.sup_error: exact sups of simple networks, reproducibility, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import METHODS
from theory.networks import forward, random_target
from theory.sup_error import orthant_sup_error, sup_error


def test_linear_difference_reaches_spectral_norm() -> None:
    a = np.array([[2.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    result = sup_error(lambda x: forward([a], x), lambda x: np.zeros((len(x), 2)), 3,
                       np.random.default_rng(0), n_samples=256)
    assert 1.99 <= result.value <= 2.0 + 1e-12
    assert np.linalg.norm(result.argmax) <= 1 + 1e-12
    assert result.n_evaluated > 256


def test_relu_one_sided() -> None:
    f = [np.array([[1.0, 1.0]]), np.array([[1.0]])]
    result = sup_error(lambda x: forward(f, x), lambda x: np.zeros((len(x), 1)), 2,
                       np.random.default_rng(3), n_samples=64, ascent_steps=60)
    assert result.value == pytest.approx(np.sqrt(2), abs=1e-3)


def test_same_rng_same_value_and_identical_nets_zero() -> None:
    w = [np.array([[0.3, -0.7], [0.2, 0.1]]), np.array([[1.0, -1.0]])]
    g = [np.array([[0.3, -0.6], [0.2, 0.1]]), np.array([[1.0, -1.0]])]
    runs = [sup_error(lambda x: forward(w, x), lambda x: forward(g, x), 2,
                      np.random.default_rng(5), n_samples=128).value for _ in range(2)]
    assert runs[0] == runs[1] > 0
    zero = sup_error(lambda x: forward(w, x), lambda x: forward(w, x), 2,
                     np.random.default_rng(5), n_samples=32)
    assert zero.value == 0.0


@pytest.mark.parametrize("kwargs", [{"d0": 0}, {"n_samples": 0}, {"ascent_steps": -1}])
def test_bad_input(kwargs: dict) -> None:
    args = {"d0": 2, "n_samples": 8, "ascent_steps": 1, **kwargs}
    with pytest.raises(ValueError):
        sup_error(lambda x: x, lambda x: x, args["d0"], np.random.default_rng(0),
                  n_samples=args["n_samples"], ascent_steps=args["ascent_steps"])


def test_orthant_exact_on_hand_made_cases() -> None:
    rng = np.random.default_rng(0)
    w = np.array([[3.0, -4.0], [1.0, 2.0]])
    linear = orthant_sup_error(lambda x: x @ w.T, lambda x: np.zeros((len(x), 2)), 2, rng)
    assert linear.value == pytest.approx(np.linalg.norm(w, 2), rel=1e-12)
    assert linear.method.startswith("exact")

    def kinked(x: np.ndarray) -> np.ndarray:
        return (np.maximum(x[:, :1], 0) + 2 * np.maximum(-x[:, 1:], 0))

    result = orthant_sup_error(kinked, lambda x: np.zeros((len(x), 1)), 2, rng)
    assert result.value == pytest.approx(np.sqrt(5.0), rel=1e-12)
    assert result.argmax[0] > 0 > result.argmax[1]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), d_in=st.integers(1, 4), d_out=st.integers(1, 3),
       method=st.sampled_from(["pensia", "malach", "mpt-binary"]))
def test_orthant_exact_bounds_sampling_for_one_layer_tickets(seed: int, d_in: int, d_out: int,
                                                             method: str) -> None:
    rng = np.random.default_rng(seed)
    target = random_target([d_in, d_out], rng)
    ticket = METHODS[method](target, 0.3, 0.2, rng, block_size=4).subnetwork
    exact = orthant_sup_error(lambda x: forward(target, x), ticket, d_in, rng)
    sampled = sup_error(lambda x: forward(target, x), ticket, d_in, rng, n_samples=512)
    assert exact.value >= sampled.value - 1e-12
    gap = np.linalg.norm(forward(target, exact.argmax[None]) - ticket(exact.argmax[None]))
    assert gap == pytest.approx(exact.value, rel=1e-9, abs=1e-12)


def test_orthant_exact_rejects_deeper_targets_and_big_inputs() -> None:
    rng = np.random.default_rng(1)
    target = random_target([2, 3, 2], rng)
    ticket = METHODS["pensia"](target, 0.3, 0.2, rng, block_size=4).subnetwork
    with pytest.raises(ValueError, match="not linear on the orthants"):
        orthant_sup_error(lambda x: forward(target, x), ticket, 2, rng)
    with pytest.raises(ValueError, match="d0"):
        orthant_sup_error(lambda x: x, lambda x: x, 11, rng)
