"""Tests for theory.subnetwork: effective weights, provenance and the genuineness check."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from theory.constructions import FULLY_CONNECTED, Names, get_method, in_families
from theory.networks import forward, random_target
from theory.subnetwork import MAX_FACTOR, SourceDraw, Subnetwork

DRAW = SourceDraw((2, 2, 1), "uniform", 11)
MASKS = (np.array([[True, False], [True, True]]), np.array([[True, False]]))


def _sub(**changes) -> Subnetwork:
    return dataclasses.replace(Subnetwork.of_draw(DRAW, DRAW.layers(), MASKS), **changes)


def test_weights_call_and_counts() -> None:
    sub = _sub()
    sub.check_genuine()
    s = DRAW.layers()
    np.testing.assert_array_equal(sub.weights()[0], [[s[0][0, 0], 0.0], s[0][1]])
    x = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(sub(x), forward(sub.weights(), x))
    assert (sub.n_kept, sub.n_source, sub.depth, sub.widths) == (4, 6, 2, [2, 2, 1])
    assert sub.kept_fraction == pytest.approx(4 / 6)


def test_draw_is_reproducible_and_seeded_by_the_generator() -> None:
    a = SourceDraw.from_rng([3, 4, 2], "rademacher", np.random.default_rng(5))
    b = SourceDraw.from_rng([3, 4, 2], "rademacher", np.random.default_rng(5))
    assert a == b
    assert all(np.array_equal(x, y) for x, y in zip(a.layers(), b.layers(), strict=True))
    assert set(np.unique(a.layers()[0])) <= {-1.0, 1.0}
    with pytest.raises(ValueError, match="dist"):
        SourceDraw.from_rng([2, 2], "cauchy", np.random.default_rng(0))


def test_gains_and_output_scale() -> None:
    sub = _sub(gains=(1.0, 0.5), output_scale=0.25)
    sub.check_genuine()
    np.testing.assert_array_equal(sub.weights()[1], [[0.5 * np.sign(DRAW.layers()[1][0, 0]), 0.0]])
    x = np.array([[0.3, -0.2]])
    np.testing.assert_allclose(sub(x), 0.25 * forward(sub.weights(), x))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"masks": (np.array([[1, 0], [1, 1]]), MASKS[1])}, "boolean"),
        ({"masks": (np.ones((2, 3), dtype=bool), MASKS[1])}, "shape"),
        ({"gains": (1.0, float("nan"))}, "gains"),
        ({"gains": (1.0, 0.0)}, "gains"),
        ({"gains": (1.0, -0.5)}, "gains"),
        ({"gains": (1.0, 10 * MAX_FACTOR)}, "gains"),
        ({"output_scale": float("inf")}, "output_scale"),
        ({"output_scale": 0.0}, "output_scale"),
        ({"output_scale": -1.0}, "output_scale"),
        ({"output_scale": 10 * MAX_FACTOR}, "output_scale"),
        ({"provenance": None}, "provenance"),
        ({"provenance": dataclasses.replace(DRAW, seed=12)}, "regenerated draw"),
        ({"provenance": dataclasses.replace(DRAW, dist="gaussian")}, "regenerated draw"),
        ({"provenance": dataclasses.replace(DRAW, widths=(2, 3, 1))}, "widths"),
    ],
)
def test_check_genuine_rejects_tampering(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _sub(**changes).check_genuine()


def test_mask_count_mismatch_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="masks"):
        _sub(masks=(*MASKS, np.ones(1, bool)))
    with pytest.raises(ValueError, match="gains"):
        _sub(gains=(1.0,))


def test_target_as_source_is_rejected() -> None:
    """A 'ticket' that keeps every weight of the target itself is not a subnetwork of a draw."""
    target = random_target([2, 2, 1], np.random.default_rng(0))
    sub = Subnetwork.of_draw(DRAW, target, [np.ones(w.shape, dtype=bool) for w in target])
    with pytest.raises(ValueError, match="source layer 1 differs"):
        sub.check_genuine()


def test_source_edited_in_place_is_rejected() -> None:
    sub = _sub()
    sub.source[1][0, 0] += 0.1
    with pytest.raises(ValueError, match="source layer 2 differs"):
        sub.check_genuine()


def test_overridden_evaluation_is_rejected() -> None:
    class Shifted(Subnetwork):
        def __call__(self, x: np.ndarray) -> np.ndarray:
            return super().__call__(x) + 1.0

    class Tampered(Subnetwork):
        def weights(self) -> list[np.ndarray]:
            w = super().weights()
            w[0][0, 0] += 0.1
            return w

    sub = _sub()
    for cls in (Shifted, Tampered):
        with pytest.raises(ValueError, match="overrides"):
            cls(sub.source, sub.masks, provenance=sub.provenance).check_genuine()


@pytest.mark.parametrize("method", sorted(Names(in_families(*FULLY_CONNECTED))))
def test_every_construction_records_its_draw(method: str) -> None:
    rng = np.random.default_rng(3)
    target = random_target([2, 2], rng)
    sub = get_method(method)(target, 0.3, 0.3, rng).subnetwork
    sub.check_genuine()
    assert sub.provenance is not None and sub.provenance.widths == tuple(sub.widths)
