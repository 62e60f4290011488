"""Packed kernels equal the float simulation of biprop tickets (random and adversarial cases)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from empirical.config.hparams import ModelHparams
from empirical.export.bits import pack_rows
from empirical.export.frozen import freeze_, plain_model
from empirical.export.kernels import PopcountLayer, SignedSumLayer, pack_layers
from empirical.export.popcount import and_counts, numba_available, xnor_counts, xnor_outputs
from empirical.layers import LayerConfig, layer_masks, make_conv, make_linear
from empirical.models import build_model


def _frozen_layer(layer: nn.Module, mask: torch.Tensor) -> nn.Module:
    holder = nn.Sequential(layer)
    freeze_(holder, {"0": mask})
    return holder[0]


def _biprop_linear(fan_in: int, out: int, mask: torch.Tensor, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return _frozen_layer(make_linear(fan_in, out, LayerConfig(mode="biprop")), mask)


def _random_mask(shape: tuple[int, ...], keep: float, seed: int) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < keep


def _signs(shape: tuple[int, ...], seed: int, zeros: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.where(torch.rand(shape, generator=g) < 0.5, 1.0, -1.0)
    if zeros:
        x = x * (torch.rand(shape, generator=g) < 0.7)
    return x


def _exact(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Float64 simulation divided by alpha: the exact integer signed counts."""
    weight = layer.effective_weight().detach().double()
    alpha = weight.abs().max()
    if alpha == 0:
        alpha = torch.tensor(1.0, dtype=torch.float64)
    if weight.dim() == 2:
        return (x.double() @ weight.t()) / alpha
    conv = nn.functional.conv2d if weight.dim() == 4 else nn.functional.conv1d
    return conv(x.double(), weight, stride=layer.stride, padding=layer.padding) / alpha


BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not numba_available(), reason="numba not installed"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_popcount_products_exact(backend: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**64, size=(7, 3), dtype=np.uint64)
    s = rng.integers(0, 2**64, size=(5, 3), dtype=np.uint64)
    m = rng.integers(0, 2**64, size=(5, 3), dtype=np.uint64)
    ones = (1 << 64) - 1
    expected_and = [[sum(bin(int(a[r, w]) & int(m[o, w])).count("1") for w in range(3))
                     for o in range(5)] for r in range(7)]
    expected_xnor = [[sum(bin(int(m[o, w]) & (ones ^ (int(s[o, w]) ^ int(a[r, w])))).count("1")
                          for w in range(3)) for o in range(5)] for r in range(7)]
    assert and_counts(a, m, backend).tolist() == expected_and
    assert xnor_counts(a, s, m, backend).tolist() == expected_xnor
    offsets = rng.integers(-50, 50, size=(7, 5))
    expected = np.float32(0.75) * (2 * np.array(expected_xnor) - offsets).astype(np.float32)
    assert np.array_equal(xnor_outputs(a, s, m, offsets, 0.75, backend), expected)
    with pytest.raises(ValueError, match="whole samples"):
        xnor_outputs(a, s, m, offsets[:2], 0.75, backend)


@pytest.mark.parametrize("case", ["random", "all-zero-rows", "keep-all", "single-weight",
                                  "nothing-kept"])
@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_popcount_linear_exact(case: str, zeros: bool, backend: str) -> None:
    fan_in, out = 13, 7  # neither divisible by 8
    masks = {"random": _random_mask((out, fan_in), 0.3, 1),
             "keep-all": torch.ones(out, fan_in, dtype=torch.bool),
             "nothing-kept": torch.zeros(out, fan_in, dtype=torch.bool)}
    mask = masks.get(case, _random_mask((out, fan_in), 0.5, 2))
    if case == "all-zero-rows":
        mask[[0, 3, 6]] = False
    if case == "single-weight":
        mask = torch.zeros(out, fan_in, dtype=torch.bool)
        mask[4, 12] = True
    layer = _biprop_linear(fan_in, out, mask)
    x = _signs((9, fan_in), 3, zeros)
    packed = PopcountLayer(layer, backend)
    y = packed(x)
    alpha = packed.alpha if packed.alpha else 1.0
    assert torch.equal((y.double() / alpha).round(), _exact(layer, x).round())
    assert torch.allclose(y, layer(x), atol=1e-5)
    if case in ("all-zero-rows", "nothing-kept"):
        assert torch.all(y[:, ~mask.any(1)] == 0)


@settings(max_examples=15)
@given(st.integers(1, 70), st.integers(1, 11), st.integers(1, 3), st.integers(0, 2),
       st.integers(1, 2), st.floats(0.05, 1.0), st.integers(0, 1000), st.booleans())
def test_popcount_conv2d_matches_float(channels: int, outs: int, kernel: int, padding: int,
                                       stride: int, keep: float, seed: int,
                                       zeros: bool) -> None:
    torch.manual_seed(seed)
    conv = make_conv(channels, outs, kernel, LayerConfig(mode="biprop"), stride=stride,
                     padding=padding)
    layer = _frozen_layer(conv, _random_mask(tuple(conv.weight.shape), keep, seed))
    x = _signs((2, channels, 7, 6), seed, zeros)
    y = PopcountLayer(layer)(x)
    alpha = float(layer.effective_weight().abs().max()) or 1.0
    assert torch.equal((y.double() / alpha).round(), _exact(layer, x).round())
    assert torch.allclose(y, layer(x), atol=1e-5)


def test_popcount_conv_with_zero_inputs_and_1d() -> None:
    torch.manual_seed(0)
    conv = _frozen_layer(make_conv(5, 6, 3, LayerConfig(mode="biprop"), padding=1),
                         _random_mask((6, 5, 3, 3), 0.4, 0))
    x = _signs((3, 5, 5, 9), 1, zeros=True)
    assert torch.allclose(PopcountLayer(conv)(x), conv(x), atol=1e-5)
    conv1 = _frozen_layer(make_conv(3, 4, 5, LayerConfig(mode="biprop"), padding=2, dim=1),
                          _random_mask((4, 3, 5), 0.5, 1))
    x1 = _signs((2, 3, 11), 2)
    assert torch.equal((PopcountLayer(conv1)(x1).double()
                        / conv1.effective_weight().abs().max()).round(),
                       _exact(conv1, x1).round())


@pytest.mark.parametrize("keep", [0.05, 0.3, 1.0])
def test_signed_sum_layers_match_float(keep: float) -> None:
    torch.manual_seed(0)
    linear = _biprop_linear(21, 9, _random_mask((9, 21), keep, 4))
    x = torch.randn(6, 21)
    kernel = SignedSumLayer(linear)
    assert kernel.sparse == (keep <= 0.1)
    assert torch.allclose(kernel(x), linear(x), atol=1e-5, rtol=1e-5)
    conv = _frozen_layer(make_conv(3, 5, 3, LayerConfig(mode="biprop"), stride=2, padding=1),
                         _random_mask((5, 3, 3, 3), keep, 5))
    xc = torch.randn(2, 3, 9, 8)
    assert torch.allclose(SignedSumLayer(conv)(xc), conv(xc), atol=1e-5, rtol=1e-5)


def test_single_kept_weight_signed_sum_is_exact() -> None:
    mask = torch.zeros(3, 10, dtype=torch.bool)
    mask[1, 7] = True
    layer = _biprop_linear(10, 3, mask)
    x = torch.randn(4, 10)
    y = SignedSumLayer(layer)(x)
    assert torch.equal(y[:, [0, 2]], torch.zeros(4, 2))
    assert torch.equal(y[:, 1], layer(x)[:, 1])


@pytest.mark.parametrize("name,shape,binary,options", [
    ("fc", (64,), True, {"widths": [37, 19]}),
    ("fc", (64,), False, {"widths": [37]}),
    ("conv4", (3, 16, 16), True, {"width_mult": 0.1}),
    ("conv4", (3, 16, 16), False, {"width_mult": 0.1}),
    ("resnet18", (3, 16, 16), True, {"width_mult": 0.07}),
    ("conv2", (1, 40), True, {"width_mult": 0.2}),
])
def test_packed_model_predicts_like_float(name: str, shape: tuple[int, ...], binary: bool,
                                          options: dict) -> None:
    torch.manual_seed(0)
    model = build_model(ModelHparams(name, binary_act=binary, **options), 10, shape,
                        LayerConfig(mode="biprop", keep=0.3)).eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.3)
            module.running_var.uniform_(0.5, 2.0)
    freeze_(model, {k: v.bool() for k, v in layer_masks(model).items()})
    packed = pack_layers(model, shape)
    kinds = [type(m).__name__ for m in packed.modules()
             if isinstance(m, PopcountLayer | SignedSumLayer)]
    assert kinds[0] == "SignedSumLayer"
    assert ("PopcountLayer" in kinds) == binary
    x = torch.randn(32, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got, plain = model(x), packed(x), plain_model(model)(x)
    assert torch.equal(plain, expected)
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
    assert_same_predictions(got, expected)


def assert_same_predictions(got: torch.Tensor, expected: torch.Tensor, tol: float = 1e-4) -> None:
    """Equal argmax wherever the top two logits are not tied within ``tol`` (binary logits are
    multiples of alpha, so exact ties occur; float rounding breaks them either way)."""
    top2 = expected.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > tol * expected.abs().max()
    assert clear.float().mean() > 0.5
    assert torch.equal(got.argmax(1)[clear], expected.argmax(1)[clear])


def test_pack_rows_matches_kernel_layout() -> None:
    bits = np.eye(3, 65, 64, dtype=bool)
    assert pack_rows(bits)[0].tolist() == [0, 1]


def test_bench_export_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from verify.cli.main import main

    assert main(["bench", "export", "--model", "fc", "--batch-size", "40", "--repeats", "1",
                 "--rounds", "1", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    sizes = [r for r in rows if "layout" in r]
    speeds = [r for r in rows if "speedup" in r]
    assert [r["layout"] for r in sizes] == ["self-contained", "seed-only"]
    assert sizes[0]["mask_bits_per_weight"] == pytest.approx(1.2, abs=0.01)
    assert 0 <= sizes[1]["excess_over_floor"] < 0.05 and sizes[1]["fp32_ratio"] > 32
    assert [r["activations"] for r in speeds] == ["real (MPT-1/32)", "binary (MPT-1/1)"]
    # batch 40 runs the batch-sliced engine; its numba threads must not change torch's count
    assert all(r["speedup"] > 0 and r["threads"] == 1 for r in speeds)
    assert speeds[1]["paper_speedup"] == 58
    nodes = [r for r in rows if "share_of_packed" in r]
    assert [r["node"] for r in nodes][-1] == "output"
    assert sum(r["share_of_packed"] for r in nodes) == pytest.approx(1.0)


def test_relu_twin_replaces_every_sign_and_keeps_the_weights() -> None:
    from empirical.export.bench import relu_twin
    from empirical.export.frozen import Sign

    torch.manual_seed(0)
    model = build_model(ModelHparams("fc", binary_act=True, widths=[8, 6]),
                        10, (12,), LayerConfig(mode="biprop", keep=0.5)).eval()
    dense = plain_model(freeze_(model, {n: m.bool() for n, m in layer_masks(model).items()}))
    twin = relu_twin(dense)
    signs = [n for n, m in dense.named_modules() if isinstance(m, Sign)]
    assert signs and [n for n, m in twin.named_modules() if isinstance(m, nn.ReLU)] == signs
    assert not any(isinstance(m, Sign) for m in twin.modules())
    for (key, a), (_, b) in zip(dense.state_dict().items(), twin.state_dict().items(),
                                strict=True):
        assert torch.equal(a, b), key
    assert any(isinstance(m, Sign) for m in dense.modules())  # the original is untouched


class _FakeClock:
    """``time.perf_counter`` for the bench: every reading advances 1 ms, and a :class:`_Timed`
    network adds its own seconds, so the measured times are fixed whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1e-3
        return self.now


class _Timed(nn.Module):
    def __init__(self, clock: _FakeClock, seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.clock.now += self.seconds
        return x


@pytest.mark.parametrize(("twin_seconds", "baseline"), [(0.2, "fp32 sign"), (-5e-4, "fp32 ReLU")])
def test_speed_row_measures_against_the_faster_dense_network(
        monkeypatch: pytest.MonkeyPatch, twin_seconds: float, baseline: str) -> None:
    """Every network measures 1 ms per call on the fake clock, the ReLU twin 1 ms plus
    ``twin_seconds``: the row names and uses the faster dense network."""
    from empirical.export import bench

    clock = _FakeClock()
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    monkeypatch.setattr(bench, "relu_twin", lambda dense: _Timed(clock, twin_seconds))
    row = bench.speed_row("fc", 0.2, binary=True, batch=20, repeats=1, rounds=1)
    assert row.dense_baseline == baseline
    assert row.speedup == pytest.approx(row.packed_samples_per_s / row.dense_samples_per_s)
    fastest = 1e-3 + min(twin_seconds, 0.0)
    assert row.dense_samples_per_s == pytest.approx(20 / fastest)
    real = bench.speed_row("fc", 0.2, binary=False, batch=20, repeats=1, rounds=1)
    assert real.dense_baseline == "fp32 ReLU"
