"""Tests for theory.subnetwork.Subnetwork: effective weights, genuineness, counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from theory.networks import forward
from theory.subnetwork import Subnetwork


def _sub(**changes) -> Subnetwork:
    source = (np.array([[0.5, -0.25], [1.0, 2.0]]), np.array([[-3.0, 0.75]]))
    masks = (np.array([[True, False], [True, True]]), np.array([[True, False]]))
    return dataclasses.replace(Subnetwork(source=source, masks=masks), **changes)


def test_weights_call_and_counts() -> None:
    sub = _sub()
    sub.check_genuine()
    np.testing.assert_array_equal(sub.weights()[0], [[0.5, 0.0], [1.0, 2.0]])
    x = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(sub(x), forward(sub.weights(), x))
    assert (sub.n_kept, sub.n_source, sub.depth, sub.widths) == (4, 6, 2, [2, 2, 1])
    assert sub.kept_fraction == pytest.approx(4 / 6)


def test_gains_and_output_scale() -> None:
    sub = _sub(gains=(1.0, 0.5), output_scale=0.25)
    sub.check_genuine()
    np.testing.assert_array_equal(sub.weights()[1], [[-0.5, 0.0]])
    x = np.array([[0.3, -0.2]])
    np.testing.assert_allclose(sub(x), 0.25 * forward(sub.weights(), x))


@pytest.mark.parametrize(
    "changes",
    [
        {"masks": (np.array([[1, 0], [1, 1]]), np.array([[True, False]]))},
        {"masks": (np.ones((2, 3), dtype=bool), np.array([[True, False]]))},
        {"masks": (np.ones((2, 2), dtype=bool), np.array([[True, False]]), np.ones(1, bool))},
        {"gains": (1.0,)},
        {"gains": (1.0, float("nan"))},
        {"output_scale": float("inf")},
    ],
)
def test_check_genuine_rejects_tampering(changes: dict) -> None:
    with pytest.raises(ValueError):
        _sub(**changes).check_genuine()


def test_tampered_weights_are_detected() -> None:
    class Tampered(Subnetwork):
        def weights(self) -> list[np.ndarray]:
            w = super().weights()
            w[0][0, 0] += 0.1
            return w

    sub = _sub()
    with pytest.raises(ValueError, match="layer 1"):
        Tampered(source=sub.source, masks=sub.masks).check_genuine()
