"""Planted tickets (verify/planted.py) and the empirical hooks they use."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from empirical.algorithms.train import FitHooks, fit
from empirical.config.hparams import ModelHparams, TrainingHparams
from empirical.data import Batches
from empirical.layers import LayerConfig, layer_alphas, set_layer_weights_
from empirical.models import build_model
from empirical.topk import kept_count
from theory.constructions import get_method
from theory.networks import random_target
from verify.planted import (
    PlantedTicket,
    factory_model,
    from_construction,
    jaccard,
    keep_for_count,
    live_units,
    mask_report,
    model_masks,
    model_outputs,
    plant_scores_,
    recover,
    teacher_task,
)

TRAINING = TrainingHparams(optimizer="adam", lr=0.01, epochs=1)


@pytest.fixture(scope="module")
def target() -> list[np.ndarray]:
    return random_target([3, 4, 2], np.random.default_rng(0))


@pytest.fixture(scope="module")
def pensia(target):
    return from_construction(get_method("pensia")(target, 0.1, 0.1, np.random.default_rng(1),
                                                  block_size=8))


@pytest.fixture(scope="module")
def binary(target):
    return from_construction(get_method("mpt-binary")(target, 0.1, 0.1,
                                                      np.random.default_rng(2), block_size=8))


def test_jaccard_of_known_masks() -> None:
    a = np.array([[1, 1, 0], [0, 1, 0]], dtype=bool)
    b = np.array([[1, 0, 0], [0, 1, 1]], dtype=bool)
    assert jaccard(a, b) == 0.5  # 2 shared of 4 in the union
    assert jaccard(a, a) == 1.0 and jaccard(a, ~a) == 0.0
    assert jaccard(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
    with pytest.raises(ValueError, match="shapes"):
        jaccard(a, b.T)


def test_live_units_and_collapse_of_a_small_network() -> None:
    # 2 inputs -> 3 hidden -> 2 hidden -> 1 output
    first = np.array([[1, 0], [0, 1], [0, 0]], dtype=bool)   # hidden unit 2 has no input
    second = np.array([[1, 0, 1], [0, 0, 0]], dtype=bool)    # hidden unit 1 feeds nothing
    third = np.array([[1, 1]], dtype=bool)                   # second hidden unit 1 has no input
    assert live_units([first, second, third]) == [1, 1]
    report = mask_report([first, second, third], [first, second, third])
    assert report["jaccard"] == 1.0 and report["collapsed_layers"] == 0 and report["connected"]
    dead = mask_report([first, np.zeros_like(second), third], [first, second, third])
    assert dead["collapsed_layers"] == 1 and not dead["connected"]
    assert dead["live_hidden"] == "0,0"
    assert dead["jaccard_layers"] == "1.000,0.000,1.000"
    assert dead["recall"] == pytest.approx(4 / 6)  # the 2 planted weights of layer 2 lost


def test_chance_jaccard_is_the_first_order_random_overlap() -> None:
    planted = [np.array([[True, False, False, False]])]
    found = [np.array([[True, True, False, False]])]
    # p = 1/2, q = 1/4, n = 4: p q n / ((p + q - p q) n) = 0.5 / 2.5
    assert mask_report(found, planted)["chance_jaccard"] == pytest.approx(0.2)


@given(total=st.integers(1, 10**6), data=st.data())
def test_keep_for_count_keeps_exactly_count(total: int, data: st.DataObject) -> None:
    count = data.draw(st.integers(1, total))
    assert kept_count(total, keep_for_count(total, count)) == count


def test_planted_source_in_torch_gives_the_numpy_tickets_outputs(pensia) -> None:
    x = np.random.default_rng(3).standard_normal((50, 3)) / 2
    model = factory_model(pensia, "edge-popup", seed=0)
    plant_scores_(model, pensia.masks)
    assert all(np.array_equal(f, p) for f, p in zip(model_masks(model), pensia.masks,
                                                    strict=True))
    np.testing.assert_allclose(model_outputs(model, x) * pensia.output_scale, pensia(x),
                               atol=1e-5, rtol=1e-4)
    for layer, w in zip([m for m in model.modules() if hasattr(m, "scores")], pensia.weights,
                        strict=True):
        assert not layer.weight.requires_grad
        np.testing.assert_array_equal(layer.weight.numpy(), w.astype(np.float32))


def test_he_scaled_source_keeps_the_constructions_ticket(target) -> None:
    x = np.random.default_rng(5).standard_normal((40, 3)) / 2
    for method in ("pensia", "mpt-binary"):
        result = get_method(method)(target, 0.1, 0.1, np.random.default_rng(1), block_size=8)
        ticket = from_construction(result)
        np.testing.assert_allclose(ticket(x), result.subnetwork(x), rtol=1e-10, atol=1e-12)
        for w in ticket.weights:
            assert np.sqrt(np.mean(w**2)) == pytest.approx(np.sqrt(2 / w.shape[1]))
        raw = from_construction(result, he_scale=False)
        assert all(np.array_equal(a, b) for a, b in zip(raw.weights, result.subnetwork.source,
                                                        strict=True))
        assert raw.output_scale == result.subnetwork.output_scale


def test_biprop_reproduces_a_binary_ticket_up_to_a_positive_factor(binary) -> None:
    x = np.random.default_rng(4).standard_normal((50, 3)) / 2
    model = factory_model(binary, "biprop", seed=0)
    plant_scores_(model, binary.masks)
    alphas = list(layer_alphas(model).values())
    factor = np.prod(np.array(alphas) / np.array(binary.gains))
    np.testing.assert_allclose(model_outputs(model, x), factor * binary(x), atol=1e-5, rtol=1e-4)
    ticket = binary(x)
    assert np.array_equal(model_outputs(model, x).argmax(1)[np.ptp(ticket, axis=1) > 1e-6],
                          ticket.argmax(1)[np.ptp(ticket, axis=1) > 1e-6])


def test_set_layer_weights_copies_and_checks() -> None:
    model = build_model(ModelHparams("fc", widths=[4], bn="none", bias=True),
                        2, (3,), LayerConfig(mode="edge-popup", keep=0.5))
    weights = [torch.arange(12.0).reshape(4, 3), torch.ones(2, 4)]
    set_layer_weights_(model, weights, [torch.ones(4), torch.zeros(2)])
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert torch.equal(linears[0].weight, weights[0]) and torch.equal(linears[0].bias,
                                                                       torch.ones(4))
    assert not linears[0].weight.requires_grad
    with pytest.raises(ValueError, match="shape"):
        set_layer_weights_(model, [torch.zeros(4, 2), torch.ones(2, 4)])
    with pytest.raises(ValueError, match="weight tensors"):
        set_layer_weights_(model, [torch.zeros(4, 3)])
    bias_free = build_model(ModelHparams("fc", widths=[4], bn="none"), 2, (3,), LayerConfig())
    with pytest.raises(ValueError, match="bias"):
        set_layer_weights_(bias_free, weights, [torch.ones(4), torch.zeros(2)])


def test_fit_with_a_regression_loss_counts_no_accuracy() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    y = x.sum(1, keepdim=True)
    model = build_model(ModelHparams("fc", widths=[8], bn="none"), 1, (2,), LayerConfig())
    data = torch.utils.data.TensorDataset(x, y)
    before = nn.functional.mse_loss(model(x), y).item()
    result = fit(model, Batches(data, 16, 0), TrainingHparams(optimizer="adam", lr=0.01,
                                                              epochs=20),
                 hooks=FitHooks(loss=nn.functional.mse_loss))
    assert result.final["train_acc"] == 0.0
    assert nn.functional.mse_loss(model(x), y).item() < before / 2


@pytest.mark.parametrize("algorithm", ["edge-popup", "biprop", "imp"])
def test_recover_row_at_smoke_size(pensia, target, algorithm: str) -> None:
    data = teacher_task(target, 200, 100, 0)
    row = recover(pensia, data, algorithm, 0.3, TRAINING, batch_size=50)
    assert row["algorithm"] == algorithm and row["planted_keep"] == pensia.density
    kept = [float(k) for k in row["kept_layers"].split(",")]
    total = sum(m.size for m in pensia.masks)
    overall = sum(k * m.size for k, m in zip(kept, pensia.masks, strict=True)) / total
    assert overall == pytest.approx(0.3, abs=0.02)  # per-layer rounding of the counts
    assert 0 <= row["jaccard"] <= 1 and 0 <= row["test_acc"] <= 1
    if algorithm != "biprop":  # edge-popup and IMP evaluate the real-weight ticket itself
        planted = np.mean(pensia(data.x_test).argmax(1) == data.y_test)
        assert row["planted_test_acc"] == pytest.approx(planted, abs=0.011)


def test_bad_input_is_refused(pensia, target) -> None:
    data = teacher_task(target, 20, 10, 0)
    with pytest.raises(ValueError, match="unknown search"):
        recover(pensia, data, "magnitude", 0.5, TRAINING)
    with pytest.raises(ValueError, match="keep"):
        recover(pensia, data, "edge-popup", 0.0, TRAINING)
    with pytest.raises(ValueError, match="scope"):
        recover(pensia, data, "edge-popup", 0.5, TRAINING, scope="per-unit")
    with pytest.raises(ValueError, match="mask 1"):
        PlantedTicket("x", [np.zeros((2, 2))], [np.zeros((2, 3), dtype=bool)])
    with pytest.raises(ValueError, match="task"):
        PlantedTicket("x", [np.zeros((2, 2))], [np.zeros((2, 2), dtype=bool)], task="ranking")


def test_imp_rewinds_to_the_source_at_every_level(pensia, target, monkeypatch) -> None:
    import verify.planted as planted

    def one_step(model, *_args, **_kwargs) -> int:  # "training": every weight +1, one step
        with torch.no_grad():
            for layer in (m for m in model.modules() if hasattr(m, "mask")):
                layer.weight.add_(1.0)
        return 1

    monkeypatch.setattr(planted, "_fit", one_step)
    model, steps = planted._imp(pensia, teacher_task(target, 20, 10, 0), 0.1, TRAINING, 10, 0)
    assert steps == 5  # densities 1, 0.5, 0.25, 0.125, 0.1
    masks = model_masks(model)
    layers = [m for m in model.modules() if hasattr(m, "mask")]
    for layer, mask, source in zip(layers, masks, pensia.weights, strict=True):
        kept = layer.weight.detach().numpy()[mask]
        np.testing.assert_allclose(kept, source.astype(np.float32)[mask] + 1.0, rtol=1e-6)
