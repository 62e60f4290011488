"""Tests for theory.networks: forward pass, widths, target assumptions, random sources."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.networks import (
    HYPERBOLIC_LOW,
    check_target,
    forward,
    layer_widths,
    random_source,
    random_target,
    rescale_target,
)


def test_forward_hand_made_two_layer_net() -> None:
    w1 = np.array([[1.0, -1.0], [2.0, 0.5]])
    w2 = np.array([[1.0, -3.0]])
    x = np.array([[1.0, 2.0], [2.0, -2.0]])
    # sample 1: W1 x = (-1, 3) -> relu (0, 3) -> -9; sample 2: (4, 3) -> 4 - 9 = -5
    np.testing.assert_allclose(forward([w1, w2], x), [[-9.0], [-5.0]])
    np.testing.assert_allclose(forward([w1, w2], x[0]), [[-9.0]])


def test_last_layer_has_no_relu() -> None:
    assert forward([np.array([[-2.0]])], np.array([[1.0]]))[0, 0] == -2.0


def test_layer_widths_and_bad_chain() -> None:
    assert layer_widths([np.zeros((3, 2)), np.zeros((4, 3))]) == [2, 3, 4]
    with pytest.raises(ValueError, match="layer 2"):
        layer_widths([np.zeros((3, 2)), np.zeros((4, 5))])
    with pytest.raises(ValueError):
        forward([np.zeros((3, 2))], np.zeros((1, 3)))


@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=4),
       constraint=st.sampled_from(["spectral", "entrywise", "both"]), seed=st.integers(0, 2**31))
def test_random_target_meets_constraint(widths: list[int], constraint: str, seed: int) -> None:
    target = random_target(widths, np.random.default_rng(seed), constraint)
    check_target(target, constraint)
    assert layer_widths(target) == widths
    again = random_target(widths, np.random.default_rng(seed), constraint)
    assert all(np.array_equal(a, b) for a, b in zip(target, again, strict=True))


def test_check_target_names_layer_and_rescale_fixes() -> None:
    weights = [np.eye(2) * 0.5, np.array([[3.0, 0.0]])]
    with pytest.raises(ValueError, match="layer 2 violates the spectral"):
        check_target(weights, "spectral")
    with pytest.raises(ValueError, match="layer 2 violates the entrywise"):
        check_target(weights, "entrywise")
    fixed = rescale_target(weights, "both")
    check_target(fixed, "both")
    np.testing.assert_array_equal(fixed[0], weights[0])
    np.testing.assert_allclose(fixed[1], [[1 / np.sqrt(2), 0.0]])


@pytest.mark.parametrize("bad", [[3], [2, 0], [2, 1.5]])
def test_bad_widths_raise(bad: list) -> None:
    with pytest.raises(ValueError):
        random_target(bad, np.random.default_rng(0))
    with pytest.raises(ValueError):
        random_source(bad, np.random.default_rng(0))


def test_bad_names_raise() -> None:
    with pytest.raises(ValueError, match="uniform, gaussian, rademacher, hyperbolic"):
        random_source([2, 2], np.random.default_rng(0), dist="cauchy")
    with pytest.raises(ValueError, match="constraint"):
        random_target([2, 2], np.random.default_rng(0), constraint="frobenius")


def test_source_distributions() -> None:
    rng = np.random.default_rng(1)
    uniform = random_source([50, 40], rng, "uniform")[0]
    assert uniform.shape == (40, 50) and np.abs(uniform).max() <= 1
    assert set(np.unique(random_source([5, 5], rng, "rademacher")[0])) <= {-1.0, 1.0}
    hyper = np.abs(random_source([100, 100], rng, "hyperbolic")[0])
    assert hyper.min() >= HYPERBOLIC_LOW and hyper.max() <= 1
    # log-uniform magnitude: the median of log|w| is the midpoint of [log a, 0]
    assert abs(np.median(np.log(hyper)) - np.log(HYPERBOLIC_LOW) / 2) < 0.2
    a = random_source([3, 4, 2], np.random.default_rng(7), "gaussian")
    b = random_source([3, 4, 2], np.random.default_rng(7), "gaussian")
    assert [w.shape for w in a] == [(4, 3), (2, 4)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
