"""Tests for theory.sup_error: exact sups of simple networks, reproducibility, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from theory.networks import forward
from theory.sup_error import sup_error


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
