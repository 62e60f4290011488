"""Multi-Prize binary counting construction: sign bookkeeping, gains, 1/width error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constructions import mpt_binary
from theory.constructions.blocks import gadget_weights
from theory.networks import random_target


@pytest.mark.parametrize("w", [0.5, -0.5])
def test_count_layer_hand_made_block(w: float) -> None:
    """Two units of each needed pattern: gamma = |w| / 2.5 = 0.2, count 2, error gamma / 2."""
    first = np.array([[1.0], [1.0], [1.0], [-1.0], [-1.0], [-1.0]])
    second = np.sign(w) * np.array([[1.0, 1.0, -1.0, -1.0, -1.0, 1.0]])
    keep, gamma = mpt_binary.count_layer(first, second, np.array([[w]]), block=6)
    assert gamma == pytest.approx(0.2)
    assert keep.tolist() == [[[True, True, False, True, True, False]]]
    pos, neg = gadget_weights(np.sign(first), gamma * np.sign(second) * keep.reshape(1, 6))
    assert pos[0, 0] == pytest.approx(np.sign(w) * 0.4)
    assert neg[0, 0] == pytest.approx(np.sign(w) * 0.4)


def test_zero_target_keeps_nothing() -> None:
    keep, gamma = mpt_binary.count_layer(np.ones((3, 1)), np.ones((1, 3)), np.zeros((1, 1)), 3)
    assert not keep.any() and gamma == 1.0


def test_kept_weights_are_binary_per_layer() -> None:
    target = [np.array([[0.3, -0.2], [0.1, 0.4]]), np.array([[0.5, -0.6]])]
    result = mpt_binary.construct(target, 0.3, 0.2, np.random.default_rng(2))
    result.subnetwork.check_genuine()
    for w, m, g in zip(
        result.subnetwork.weights(), result.subnetwork.masks, result.subnetwork.gains, strict=True
    ):
        assert np.allclose(np.abs(w[m]), g)
    assert result.success and result.source_width <= result.bound_width


def test_error_falls_like_one_over_width() -> None:
    target = [np.array([[0.3, -0.5], [0.6, 0.2]])]
    sizes = np.array([20, 40, 80, 160, 320, 640])
    medians = [
        np.median(
            [
                mpt_binary.construct(
                    target, 0.1, 0.1, np.random.default_rng(s), block_size=int(n)
                ).max_weight_error
                for s in range(10)
            ]
        )
        for n in sizes
    ]
    slope = np.polyfit(np.log(sizes), np.log(medians), 1)[0]
    assert -1.3 <= slope <= -0.7


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), widths=st.lists(st.integers(1, 3), min_size=2, max_size=3),
       block=st.integers(2, 40))
def test_every_weight_is_rounded_to_within_half_a_gain(seed: int, widths: list[int],
                                                       block: int) -> None:
    """Counting rounds ``|W_kj| / gamma`` to the nearest integer, so every effective weight of
    both signs is within ``gamma_i / 2`` of its target (truncation would allow ``gamma_i``)."""
    rng = np.random.default_rng(seed)
    target = random_target(widths, rng)
    result = mpt_binary.construct(target, 0.2, 0.2, rng, block_size=block)
    effective = result.subnetwork.weights()
    for i, w in enumerate(target):
        gamma = result.subnetwork.gains[2 * i + 1]
        pos, neg = gadget_weights(effective[2 * i], effective[2 * i + 1])
        assert np.max(np.abs(pos - w)) <= gamma / 2 * (1 + 1e-12)
        assert np.max(np.abs(neg - w)) <= gamma / 2 * (1 + 1e-12)
