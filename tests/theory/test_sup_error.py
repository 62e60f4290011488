"""Tests for theory.sup_error: exact sups of simple networks, reproducibility, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import get_method
from theory.networks import forward, random_target
from theory.sup_error import default_samples, default_starts, orthant_sup_error, sup_error


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
    ticket = get_method(method)(target, 0.3, 0.2, rng, block_size=4).subnetwork
    exact = orthant_sup_error(lambda x: forward(target, x), ticket, d_in, rng)
    sampled = sup_error(lambda x: forward(target, x), ticket, d_in, rng, n_samples=512)
    assert exact.value >= sampled.value - 1e-12
    gap = np.linalg.norm(forward(target, exact.argmax[None]) - ticket(exact.argmax[None]))
    assert gap == pytest.approx(exact.value, rel=1e-9, abs=1e-12)


def test_orthant_exact_rejects_deeper_targets_and_big_inputs() -> None:
    rng = np.random.default_rng(1)
    target = random_target([2, 3, 2], rng)
    ticket = get_method("pensia")(target, 0.3, 0.2, rng, block_size=4).subnetwork
    with pytest.raises(ValueError, match="not linear on the orthants"):
        orthant_sup_error(lambda x: forward(target, x), ticket, 2, rng)
    with pytest.raises(ValueError, match="d0"):
        orthant_sup_error(lambda x: x, lambda x: x, 11, rng)


def _planted_cone(d0: int, c: float) -> list[np.ndarray]:
    """Depth-3 ReLU net ``0.5 relu(x_2) + relu(x_1 - c ||P x||_1)``, ``P`` = projection off
    ``e_1``: error 1 at ``e_1``, at most 1 everywhere, and above 0.5 only in a cone around
    ``e_1`` holding about 0.15% of the sphere at ``d0 = 5``, ``c = 1`` (a planted worst case)."""
    eye = np.eye(d0)
    off = eye - np.outer(eye[0], eye[0])
    first = np.vstack([eye[1], eye[0], -eye[0], off, -off])
    second = np.zeros((2, len(first)))
    second[0, 0], second[1, 1], second[1, 2], second[1, 3:] = 1.0, 1.0, -1.0, -c
    return [first, second, np.array([[0.5, 1.0]])]


@pytest.mark.parametrize("seed", range(4))
def test_default_search_finds_a_planted_narrow_worst_case(seed: int) -> None:
    net = _planted_cone(5, 1.0)
    result = sup_error(lambda x: forward(net, x), lambda x: np.zeros((len(x), 1)), 5,
                       np.random.default_rng(seed))
    assert 0.999 <= result.value <= 1.0 + 1e-9
    assert np.linalg.norm(result.argmax - np.eye(5)[0]) < 0.05


def test_search_budget_grows_with_dimension() -> None:
    assert default_starts(8) > default_starts(2) >= 8
    assert default_samples(8) > default_samples(2)
    small = sup_error(lambda x: x, lambda x: 0 * x, 2, np.random.default_rng(0), ascent_steps=0)
    large = sup_error(lambda x: x, lambda x: 0 * x, 8, np.random.default_rng(0), ascent_steps=0)
    assert (small.n_evaluated, large.n_evaluated) == (default_samples(2), default_samples(8))


def test_cube_domain_exact_and_sampled() -> None:
    """``x_1 + x_2``: sup 2 on the cube (vertex (1, 1)), sqrt(2) on the ball."""
    rng = np.random.default_rng(0)
    f = lambda x: x[:, :1] + x[:, 1:2]  # noqa: E731
    zero = lambda x: np.zeros((len(x), 1))  # noqa: E731
    assert orthant_sup_error(f, zero, 3, rng, domain="cube").value == pytest.approx(2.0)
    assert orthant_sup_error(f, zero, 3, rng).value == pytest.approx(np.sqrt(2))
    sampled = sup_error(f, zero, 3, rng, domain="cube")
    assert sampled.value == pytest.approx(2.0, abs=1e-9)
    assert np.all(np.abs(sampled.argmax) <= 1.0) and not sampled.exact
    with pytest.raises(ValueError, match="domain"):
        sup_error(f, zero, 3, rng, domain="sphere")


def test_cube_exact_needs_the_zero_vertices() -> None:
    """``relu(x_1) - |x_2| / 2`` on the cube peaks at ``(1, 0)``, not at a vertex ``(+-1, +-1)``
    (values 1/2 there), so the exact cube method must include the zero coordinates."""
    rng = np.random.default_rng(1)

    def kinked(x: np.ndarray) -> np.ndarray:
        return np.maximum(x[:, :1], 0.0) - 0.5 * np.abs(x[:, 1:2])

    result = orthant_sup_error(kinked, lambda x: np.zeros((len(x), 1)), 2, rng, domain="cube")
    assert result.value == pytest.approx(1.0) and result.argmax.tolist() == [1.0, 0.0]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), d_in=st.integers(1, 4), d_out=st.integers(1, 3))
def test_orthant_exact_cube_bounds_sampling(seed: int, d_in: int, d_out: int) -> None:
    rng = np.random.default_rng(seed)
    target = random_target([d_in, d_out], rng)
    ticket = get_method("pensia")(target, 0.3, 0.2, rng, block_size=4).subnetwork
    exact = orthant_sup_error(lambda x: forward(target, x), ticket, d_in, rng, domain="cube")
    sampled = sup_error(lambda x: forward(target, x), ticket, d_in, rng, domain="cube")
    assert exact.value >= sampled.value - 1e-12
    assert sampled.value >= 0.98 * exact.value
