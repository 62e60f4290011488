"""The batch-sliced engine equals the float simulation: kernels, thresholds, ties, whole models."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from empirical.config.hparams import ModelHparams
from empirical.export import sliced
from empirical.export.engine import SLICED_MIN_BATCH, PackedNetwork, pack_model
from empirical.export.frozen import freeze_, plain_model
from empirical.export.kernels import pack_layers
from empirical.layers import LayerConfig, layer_masks
from empirical.models import build_model

CHOICES = np.array([0, sliced.ALL_ONES], dtype=np.uint64)


def _bits(words: np.ndarray, batch: int) -> np.ndarray:
    """``(..., nw)`` words -> ``(..., batch)`` 0/1 (sample ``64 q + t`` is bit ``t`` of word q)."""
    shifts = np.arange(64, dtype=np.uint64)
    bits = (words[..., None] >> shifts) & np.uint64(1)
    return bits.reshape(*words.shape[:-1], -1)[..., :batch].astype(np.int64)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 130), st.integers(1, 5), st.integers(1, 40), st.integers(1, 3),
       st.floats(0.0, 1.0), st.integers(0, 10_000), st.integers(1, 7))
def test_sliced_counts_and_thresholds_exact(batch: int, outs: int, rows: int, positions: int,
                                            keep: float, seed: int, blocks: int) -> None:
    """Counts of a random kept list equal brute force; thresholds split them exactly; any
    batch size (not a multiple of 64), kept lists of any length (0, 1, not a multiple of 16),
    the outputs split into any number of parallel blocks (more blocks than outputs too)."""
    rng = np.random.default_rng(seed)
    nw = -(-batch // 64)
    span = rows + positions - 1
    x = np.zeros(span * nw + 64 + nw, dtype=np.uint64)
    x[:span * nw] = rng.integers(0, 2**64, size=span * nw, dtype=np.uint64)
    offs, flips, starts = [], [], [0]
    for _ in range(outs):
        kept = np.nonzero(rng.random(rows) < keep)[0]
        pad = (-len(kept)) % 16
        offs += [*kept, *[-1] * pad]
        flips += [*CHOICES[rng.integers(0, 2, size=len(kept))], *[0] * pad]
        starts.append(len(offs))
    offs_a, flips_a = np.array(offs, dtype=np.int64), np.array(flips, dtype=np.uint64)
    starts_a = np.array(starts, dtype=np.int64)
    bits = max(4, int(np.diff(starts_a).max()).bit_length())
    groups = np.array([[0, 0, positions, 0, 1, 0]], dtype=np.int64)
    got = np.empty((1, outs, positions, batch), dtype=np.int32)
    sliced.counts(x, groups, offs_a, flips_a, starts_a, bits, blocks, got)
    inputs = _bits(x[:span * nw].reshape(span, nw), batch)
    expected = np.zeros((outs, positions, batch), dtype=np.int64)
    for o in range(outs):
        for k in range(starts[o], starts[o + 1]):
            if offs[k] >= 0:
                for p in range(positions):
                    expected[o, p] += inputs[p + offs[k]] ^ (flips[k] != 0)
    assert np.array_equal(got[0], expected)
    thresholds = rng.integers(-2, rows + 3, size=(positions, outs))
    invert = CHOICES[rng.integers(0, 2, size=outs)]
    out = np.empty((1, outs, positions, nw), dtype=np.uint64)
    sliced.threshold_bits(x, groups, offs_a, flips_a, starts_a, bits, thresholds, invert,
                          np.zeros((0, 0, 0, 0), np.uint64), np.zeros((0, 0), np.int64), blocks,
                          out)
    decided = expected >= thresholds.T[:, :, None]
    assert np.array_equal(_bits(out[0], batch).astype(bool), decided ^ (invert != 0)[:, None, None])


@pytest.mark.parametrize(("positions", "outputs", "threads", "blocks"),
                         [(1, 300, 2, 8), (1, 3, 2, 3), (64, 64, 2, 1), (3, 100, 1, 2),
                          (0, 5, 1, 4)])
def test_output_blocks(positions: int, outputs: int, threads: int, blocks: int) -> None:
    assert sliced.output_blocks(positions, outputs, threads) == blocks


def _ticket(name: str, shape: tuple[int, ...], options: dict, norm: str = "nonaffine",
            keep: float = 0.3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(ModelHparams(name, binary_act=True, bn=norm, **options), 10, shape,
                        LayerConfig(mode="biprop", keep=keep)).eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.3)
            module.running_var.uniform_(0.5, 2.0)
            if module.affine:  # gammas of both signs: max-pools become ANDs where gamma < 0
                module.weight.data.normal_(0, 1)
                module.bias.data.normal_(0, 0.5)
    return freeze_(model, {k: v.bool() for k, v in layer_masks(model).items()})


def _assert_same(got: torch.Tensor, expected: torch.Tensor) -> None:
    """The simulation's logits bit for bit (the classifier is its own layer, so exact ties
    between classes break alike), hence the same predictions."""
    assert torch.equal(got, expected)
    assert torch.equal(got.argmax(1), expected.argmax(1))


@pytest.mark.parametrize("name,shape,options,norm,batch", [
    ("fc", (64,), {"widths": [37, 19]}, "nonaffine", 70),
    ("fc", (5, 13), {"widths": [1, 65]}, "affine", 64),
    ("conv4", (3, 16, 16), {"width_mult": 0.1}, "nonaffine", 100),
    ("conv4", (3, 16, 12), {"width_mult": 0.3}, "affine", 33),
    ("resnet18", (3, 16, 16), {"width_mult": 0.07}, "nonaffine", 40),
    ("resnet18", (3, 8, 8), {"width_mult": 0.04}, "affine", 65),
    ("conv2", (1, 40), {"width_mult": 0.2}, "nonaffine", 64),
])
def test_engine_predicts_like_float(name: str, shape: tuple[int, ...], options: dict, norm: str,
                                    batch: int) -> None:
    model = _ticket(name, shape, options, norm)
    packed = pack_model(model, shape)
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = model(x), packed(x)
    _assert_same(got, expected)
    with torch.no_grad():  # below SLICED_MIN_BATCH the layer-by-layer engine answers
        _assert_same(packed(x[:SLICED_MIN_BATCH - 1]), expected[:SLICED_MIN_BATCH - 1])


def test_single_kept_weight_and_keep_all() -> None:
    for keep in (1e-4, 1.0):
        model = _ticket("fc", (20,), {"widths": [70]}, keep=keep)
        x = torch.randn(64, 20, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            expected, got = model(x), pack_model(model)(x)
        assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("gamma_sign", [1.0, -1.0])
def test_ties_at_threshold_follow_sign_zero_is_plus_one(tie_model: Any, gamma_sign: float) -> None:
    """Inputs in {-1, +1}: every sum is a multiple of 1/4, the means sit exactly on reachable
    pre-activations of both hidden layers; the engine's +1-at-0 rule agrees with the simulation
    (exact here: alpha = 1/4, small integers)."""
    model = tie_model((gamma_sign, gamma_sign))
    x = torch.tensor([[a, b, c, d, e, f] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)
                      for d in (-1, 1) for e in (-1, 1) for f in (-1, 1)], dtype=torch.float32)
    with torch.no_grad():
        first = model.layers[2](model.layers[1](model.layers[0](x)))
        second = model.layers[5](model.layers[4](model.layers[3](first)))
        assert bool((first == 0).any()) and bool((second == 0).any())  # real ties exist
        expected = model(x)
        got = pack_model(model)(x)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("pack", [pack_model, pack_layers])
def test_both_engines_refuse_real_weights(pack: Any) -> None:
    torch.manual_seed(0)
    model = build_model(ModelHparams("fc", widths=[4]),
                        10, (8,), LayerConfig(mode="edge-popup", keep=0.5))
    freeze_(model, {k: v.bool() for k, v in layer_masks(model).items()})
    with pytest.raises(ValueError, match="biprop"):
        pack(model)


def test_plain_model_is_the_reference() -> None:
    model = _ticket("conv4", (3, 8, 8), {"width_mult": 0.05})
    x = torch.randn(40, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(plain_model(model)(x), model(x))
        assert isinstance(pack_model(model, (3, 8, 8)), PackedNetwork)
