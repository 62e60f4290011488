"""Tests of the Sreenivasan et al. (2022) binary-depth construction over a random +-1 source."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import get_method
from theory.constructions.binary_depth import candidates_bound, construct, fractional_bits
from theory.networks import forward, random_target


def _unit_ball(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True) * rng.uniform(0, 1, (n, 1))


def _measured(result, target, rng: np.random.Generator) -> float:
    x = _unit_ball(rng, 1000, target[0].shape[1])
    return float(np.max(np.linalg.norm(forward(list(target), x) - result.subnetwork(x), axis=1)))


@pytest.fixture(scope="module")
def default_run():
    rng = np.random.default_rng(0)
    target = random_target([2, 2, 2], rng, constraint="both")
    return target, construct(target, 0.1, 0.1, rng), rng


def test_registered() -> None:
    assert get_method("binary-depth").construct is construct


def test_genuine_rademacher_subnetwork(default_run) -> None:
    target, result, _ = default_run
    sub = result.subnetwork
    sub.check_genuine()
    assert all(set(np.unique(s)) <= {-1.0, 1.0} for s in sub.source)
    for w, m, s in zip(sub.weights(), sub.masks, sub.source, strict=True):
        assert m.dtype == bool
        np.testing.assert_array_equal(w, np.where(m, s, 0.0))
    bits = result.plan["bits"]
    assert sub.output_scale == pytest.approx(2.0 ** (-bits * len(target)))
    assert result.source_depth == len(target) * (bits + 3)


def test_success_means_error_below_eps(default_run) -> None:
    target, result, rng = default_run
    assert result.success
    measured = _measured(result, target, rng)
    assert measured <= result.predicted_error + 1e-12
    assert measured <= result.eps
    assert result.source_width <= result.bound_width


def test_per_weight_error_is_quantisation(default_run) -> None:
    _, result, _ = default_run
    assert result.max_weight_error <= 2.0 ** -(result.plan["bits"] + 1) + 1e-12


def test_error_falls_with_bits() -> None:
    errors = []
    for bits in (1, 3, 6):
        rng = np.random.default_rng(1)
        target = random_target([2, 2, 2], rng, constraint="both")
        result = construct(target, 0.1, 0.1, rng, bits=bits, block_size=48)
        assert result.plan["slots_found"]
        errors.append(result.max_weight_error)
    assert errors[0] >= errors[1] >= errors[2]
    assert errors[0] > errors[2]


def test_output_scale_is_global_factor() -> None:
    rng = np.random.default_rng(2)
    target = random_target([3, 2], rng, constraint="both")
    result = construct(target, 0.05, 0.1, rng)
    x = _unit_ball(rng, 50, 3)
    unscaled = forward(result.subnetwork.weights(), x)
    np.testing.assert_allclose(unscaled * result.subnetwork.output_scale, result.subnetwork(x))
    integers = np.rint(target[0] * 2.0 ** result.plan["bits"])
    np.testing.assert_allclose(unscaled, x @ integers.T, atol=1e-9)


def test_tiny_source_reports_failure() -> None:
    rng = np.random.default_rng(3)
    target = random_target([2, 2, 2], rng, constraint="both")
    result = construct(target, 0.1, 0.1, rng, block_size=1)
    assert not result.success


def test_bound_formulas() -> None:
    assert fractional_bits([2, 2, 2], 0.1) == 5
    q, fan = candidates_bound([2, 2, 2], 5, 0.1)
    assert q == 30 and fan == 27
    assert candidates_bound([2, 2, 2], 5, 0.01)[0] > q


def test_oversized_source_is_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="weights"):
        construct(random_target([64, 64, 64], rng, constraint="both"), 1e-3, 0.1, rng)


@pytest.mark.parametrize("eps,delta", [(0.0, 0.1), (-1.0, 0.1), (0.1, 1.5)])
def test_bad_input(eps: float, delta: float) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        construct(random_target([2, 2], rng, constraint="both"), eps, delta, rng)


@settings(max_examples=15, deadline=None)
@given(
    d_in=st.integers(1, 3),
    d_out=st.integers(1, 3),
    bits=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_realises_quantised_target_exactly(d_in: int, d_out: int, bits: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    target = random_target([d_in, d_out], rng, constraint="both")
    result = construct(target, 0.5, 0.1, rng, bits=bits, block_size=40)
    x = _unit_ball(rng, 20, d_in)
    expected = x @ np.rint(target[0] * 2.0**bits).T * 2.0**-bits
    if result.plan["slots_found"]:
        np.testing.assert_allclose(result.subnetwork(x), expected, atol=1e-12)
