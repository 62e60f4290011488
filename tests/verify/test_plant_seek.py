"""Plant 'n' Seek planting and tasks (verify/plant_seek.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from empirical.config.hparams import TrainingHparams
from verify.plant_seek import (
    CIRCLE_BOUNDS,
    CIRCLE_KNOTS,
    HELIX_KNOTS,
    TASKS,
    circle_logits,
    he_source,
    helix_curve,
    plant,
    source_widths,
    target_network,
    task_data,
    with_constant,
)
from verify.planted import factory_model, model_outputs, plant_scores_


@pytest.mark.parametrize("task", TASKS)
def test_planting_reproduces_the_target_exactly(task: str) -> None:
    target = target_network(task)
    ticket = plant(target, source_widths(task), seed=3)
    x = np.random.default_rng(0).uniform(-1, 1, (500, target.widths[0]))
    np.testing.assert_allclose(ticket(with_constant(x)), target(x), rtol=1e-10, atol=1e-10)
    parameters = sum(int(np.count_nonzero(w)) + int(np.count_nonzero(b))
                     for w, b in zip(target.weights, target.biases, strict=True))
    carriers = len(target.weights) - 1
    assert ticket.kept == parameters + carriers and ticket.biases is None
    # the same in torch, through the layer factory, with the planted masks as scores
    model = factory_model(ticket, "edge-popup", seed=0)
    plant_scores_(model, ticket.masks)
    np.testing.assert_allclose(model_outputs(model, with_constant(x)) * ticket.output_scale,
                               target(x), atol=1e-4, rtol=1e-4)
    if target.task == "classification":  # one output scale: planted weights of He size
        assert ticket.output_scale > 1
        assert np.abs(ticket.weights[-1][ticket.masks[-1]]).max() < 1.0
    else:
        assert ticket.output_scale == 1.0


def test_planted_units_are_hidden_and_scaled_like_the_init() -> None:
    target = target_network("circle")
    widths = source_widths("circle")
    ticket = plant(target, widths, seed=1)
    for layer, mask in enumerate(ticket.masks[:-1]):
        rows = np.flatnonzero(mask.any(axis=1))
        assert len(rows) == target.weights[layer].shape[0] + 1  # one unit per neuron, a carrier
        planted = ticket.weights[layer][mask]
        assert math.sqrt(np.mean(planted**2)) == pytest.approx(math.sqrt(2 / widths[layer]),
                                                               rel=1e-9)
    assert list(np.flatnonzero(ticket.masks[-1].any(axis=1))) == [0, 1, 2, 3]
    other = plant(target, widths, seed=2)
    assert not all(np.array_equal(a, b) for a, b in zip(ticket.masks, other.masks, strict=True))


def test_he_source_and_constant_input() -> None:
    weights = he_source([3, 400, 400, 4], np.random.default_rng(0))
    assert [w.shape for w in weights] == [(400, 3), (400, 400), (4, 400)]
    assert np.std(weights[1]) == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    np.testing.assert_array_equal(with_constant(np.zeros((2, 1))), [[0.0, 1.0], [0.0, 1.0]])


def test_relu_target_is_relu_and_helix_within_the_interpolation_bound() -> None:
    x = np.linspace(-1, 1, 2001)[:, None]
    np.testing.assert_array_equal(target_network("relu")(x), np.maximum(x, 0))
    # |f - interpolant| <= h^2 / 8 max|f''|, f''(u) = (3 pi)^2 (-2 sin t - t cos t) / (8 pi)
    h = 2.0 / HELIX_KNOTS
    bound = h**2 / 8 * (3 * np.pi) ** 2 * (2 + 8 * np.pi) / (8 * np.pi)
    error = np.abs(target_network("helix")(x) - helix_curve(x[:, 0])).max()
    assert 0 < error <= bound
    knots = np.arange(HELIX_KNOTS)[:, None] * h - 1
    np.testing.assert_allclose(target_network("helix")(knots), helix_curve(knots[:, 0]),
                               atol=1e-12)


def test_circle_rings_and_target() -> None:
    for c, bound in enumerate(CIRCLE_BOUNDS, start=1):
        logits = circle_logits(np.array([bound]))[0]
        assert logits[c - 1] == pytest.approx(logits[c]) and logits.argmax() in (c - 1, c)
    s = np.array([0.1, 0.3, 0.6, 1.5])
    assert list(circle_logits(s).argmax(1)) == [0, 1, 2, 3]
    data = task_data("circle", 0, n=4000, noise=0.0)
    x, y = data.x_train, data.y_train
    predicted = target_network("circle")(x).argmax(1)
    s = np.sum(x**2, axis=1)
    far = np.min(np.abs(s[:, None] - np.array(CIRCLE_BOUNDS)[None]), axis=1) > 2 / (
        4 * CIRCLE_KNOTS**2)
    assert np.array_equal(predicted[far], y[far])  # exact away from the interpolation error


def test_task_data_definitions() -> None:
    data = task_data("helix", 5, n=1000)
    assert data.x_train.shape == (900, 1) and data.y_test.shape == (100, 3)
    assert (data.y_train - helix_curve(data.x_train[:, 0])).std() == pytest.approx(0.01,
                                                                                         rel=0.1)
    relu = task_data("relu", 5, n=1000, noise=0.0)
    np.testing.assert_array_equal(relu.y_train, np.maximum(relu.x_train, 0))
    noisy = task_data("circle", 1, n=20_000, noise=0.2)
    clean = circle_logits(np.sum(noisy.x_train**2, axis=1)).argmax(1)
    assert np.mean(noisy.y_train != clean) == pytest.approx(0.2, abs=0.02)
    assert np.array_equal(task_data("circle", 1, n=50).x_test, task_data("circle", 1, n=50).x_test)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        task_data("spiral", 0)
    with pytest.raises(ValueError, match="narrower"):
        plant(target_network("helix"), [2, 100, 30, 100, 3], 0)  # 30 knots and no carrier
    with pytest.raises(ValueError, match="do not fit"):
        plant(target_network("relu"), [1, 100, 100, 100, 1], 0)  # no constant input
    with pytest.raises(ValueError, match="depth"):
        source_widths("circle", depth=4)


def test_a_plant_seek_sweep_is_stored_rows(tmp_path) -> None:
    from verify.planted_runs import PlantedRun, recoveries, sweep

    base = PlantedRun(planted="relu", width=8, examples=100, batch_size=30,
                      training=TrainingHparams(optimizer="adam", lr=0.01, epochs=1))
    rows = recoveries(sweep(base, ["edge-popup"], [None, 0.5], [0]), tmp_path)
    assert [r["keep"] for r in rows] == [rows[0]["planted_keep"], 0.5]
    assert all(r["task"] == "relu" and r["test_mse"] >= 0 and r["target_score"] < 1e-3
               for r in rows)


@pytest.mark.parametrize("task", TASKS)
def test_planting_biases_as_biases_reproduces_the_target(task: str) -> None:
    target = target_network(task)
    widths = source_widths(task, 40, biases="biases")
    assert widths[0] == target.widths[0]
    ticket = plant(target, widths, 3, biases="biases")
    data = task_data(task, 3, 200)
    np.testing.assert_allclose(ticket(data.x_test), target(data.x_test), atol=1e-9)
    assert [int(m.sum()) for m in ticket.bias_masks] == [int(np.count_nonzero(b))
                                                       for b in target.biases]
    kept = [b[m] for b, m in zip(ticket.effective_biases(), ticket.bias_masks, strict=True)]
    assert all(np.all(k != 0) for k in kept)
    assert sum(np.count_nonzero(b) for b in ticket.effective_biases()) == sum(
        int(m.sum()) for m in ticket.bias_masks)


def test_geometric_keep_is_their_schedule() -> None:
    from verify.plant_seek import geometric_keep

    assert [geometric_keep(0.01, e, 2) for e in range(3)] == [0.1, 0.01, 0.01]
    values = [geometric_keep(0.2, e, 5) for e in range(5)]
    assert values == pytest.approx([0.2 ** (e / 5) for e in range(1, 6)], rel=1e-15)
    assert all(a > b for a, b in itertools.pairwise(values)) and values[-1] == 0.2
    with pytest.raises(ValueError, match="keep"):
        geometric_keep(0.0, 0, 5)
