"""Model zoo: shapes in every mode, pinned parameter counts, BatchNorm defaults, widths, errors."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from empirical.activations import BinaryActivation
from empirical.config.hparams import ModelHparams
from empirical.layers import LayerConfig, make_linear, make_norm, prunable_layers
from empirical.models import MODEL_NAMES, build_model, registry
from empirical.models.common import BuildOptions, scale_width
from empirical.models.registry import default_norm

DENSE = LayerConfig()
BIPROP = LayerConfig(mode="biprop", keep=0.5)
CIFAR = (3, 32, 32)
BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)
MNIST1D = (1, 40)
FC_MODELS = ("fc", "lenet-300-100")
CONV_NETS = ("conv2", "conv4", "conv6", "conv8")
MNIST1D_MODELS = ("mnist1d-cnn",)
MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelHparams)}


def input_shape(name: str) -> tuple[int, ...]:
    """MNIST shape for the MLPs, MNIST-1D for its CNN, CIFAR for the other conv nets."""
    if name in FC_MODELS:
        return (1, 28, 28)
    return MNIST1D if name in MNIST1D_MODELS else CIFAR


def weight_count(model: nn.Module) -> int:
    """Prunable weights: numel of every factory conv/linear ``weight`` (no biases, no BN)."""
    return sum(layer.weight.numel() for _, layer in prunable_layers(model))


def param_count(model: nn.Module) -> int:
    """All parameters: ``sum(p.numel())`` (weights, biases, BatchNorm gamma/beta)."""
    return sum(p.numel() for p in model.parameters())


def small(name: str, cfg: LayerConfig, **kwargs: Any) -> nn.Module:
    """``name`` at a small width on its :func:`input_shape`."""
    mult = 1.0 if name in FC_MODELS + MNIST1D_MODELS else 0.125
    return build_model(ModelHparams(name, width_mult=mult, **kwargs), 10, input_shape(name), cfg)


def norm_kinds(model: nn.Module) -> set[str]:
    return {"affine" if m.affine else "nonaffine" for m in model.modules()
            if isinstance(m, BN_TYPES)}


@pytest.mark.parametrize("mode", ["dense", "biprop", "edge-popup", "masked"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_backward_every_mode(name: str, mode: str) -> None:
    torch.manual_seed(0)
    scored = mode in ("biprop", "edge-popup")
    cfg = LayerConfig(mode=mode, keep=0.5 if scored else 1.0)
    model = small(name, cfg)
    x = torch.randn(3, *input_shape(name))
    out = model(x)
    assert out.shape == (3, 10) and torch.isfinite(out).all()
    out.square().mean().backward()
    layers = prunable_layers(model)
    assert layers[-1][1].weight.shape[0] == 10  # LTH's "output" alias: the classifier is last
    trained = "scores" if scored else "weight"
    assert all(getattr(layer, trained).grad is not None for _, layer in layers)


@pytest.mark.parametrize("name", ["fc", "conv4", "vgg-small", "resnet18"])
def test_binary_activations(name: str) -> None:
    torch.manual_seed(0)
    model = small(name, BIPROP, binary_act=True)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert any(isinstance(m, BinaryActivation) for m in model.modules())
    assert norm_kinds(model) == {"nonaffine"}
    x = torch.randn(4, *input_shape(name))
    out = model(x)
    assert out.shape == (4, 10)
    # Real logits: not confined to the binary values a sign would give.
    assert out.abs().unique().numel() > 2
    out.sum().backward()
    assert all(layer.scores.grad is not None for _, layer in prunable_layers(model))


def test_conv_unit_order_is_conv_pool_norm_sign() -> None:
    model = build_model(ModelHparams("conv2", width_mult=0.125, binary_act=True), 10, CIFAR, BIPROP)
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == ["FactoryConv2d", "BatchNorm2d", "BinaryActivation",
                     "FactoryConv2d", "MaxPool2d", "BatchNorm2d", "BinaryActivation"]


@pytest.mark.parametrize(("name", "count"), [
    ("conv2", 4_300_992), ("conv4", 2_425_024), ("conv6", 2_261_184), ("conv8", 5_275_840),
    ("vgg-small", 4_656_512), ("resnet18", 11_164_352),
])
def test_pinned_weight_counts_cifar(name: str, count: int) -> None:
    """Bias-free prunable weight counts (conv + linear weights) at CIFAR shape."""
    with torch.device("meta"):
        model = build_model(ModelHparams(name), 10, CIFAR, BIPROP)
    assert weight_count(model) == count


@pytest.mark.parametrize(("name", "shape", "count"), [
    ("lenet-300-100", (1, 28, 28), 266_610), ("vgg11", CIFAR, 9_231_114),
    ("vgg13", CIFAR, 9_416_010), ("vgg16", CIFAR, 14_728_266), ("vgg19", CIFAR, 20_040_522),
    ("resnet20", CIFAR, 272_474),
])
def test_pinned_parameter_counts_dense(name: str, shape: tuple[int, ...], count: int) -> None:
    """All parameters (weights, biases, BatchNorm gamma/beta) of the dense models."""
    with torch.device("meta"):
        model = build_model(ModelHparams(name), 10, shape, DENSE)
    assert param_count(model) == count


def test_imagenet_resnet_weight_counts() -> None:
    """ImageNet ResNet-50 (25,557,032 parameters minus 1,000 fc biases and 53,120 BN
    parameters) and Wide ResNet-50-2 (68.8M weights); the ImageNet stem is a 7x7 conv."""
    with torch.device("meta"):
        r50 = build_model(ModelHparams("resnet50"), 1000, (3, 224, 224), DENSE)
        wrn = build_model(ModelHparams("wrn50-2"), 1000, (3, 224, 224), DENSE)
    assert weight_count(r50) == 25_502_912
    assert param_count(r50) == 25_557_032
    assert round(weight_count(wrn) / 1e5) == 688
    assert prunable_layers(r50)[0][1].weight.shape[-2:] == (7, 7)


def test_imagenet_stem_forward_above_32_pixels() -> None:
    torch.manual_seed(0)
    model = build_model(ModelHparams("resnet18", width_mult=0.125), 7, (3, 40, 40), DENSE)
    assert prunable_layers(model)[0][1].kernel_size == (7, 7)
    assert any(isinstance(m, nn.MaxPool2d) for m in model.stem)
    assert model(torch.randn(2, 3, 40, 40)).shape == (2, 7)
    cifar = build_model(ModelHparams("resnet20", width_mult=0.25), 7, (3, 40, 40), DENSE)
    assert prunable_layers(cifar)[0][1].kernel_size == (3, 3)


@pytest.mark.parametrize("name", [*CONV_NETS, "vgg-small", "vgg-small-mpt", "wide-vgg-small",
                                  "vgg11", "resnet20", "resnet18"])
def test_one_dimensional_models(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelHparams(name, width_mult=0.125), 10, (1, 40), DENSE)
    assert all(layer.weight.dim() in (2, 3) for _, layer in prunable_layers(model))
    assert any(layer.weight.dim() == 3 for _, layer in prunable_layers(model))
    assert model(torch.randn(2, 1, 40)).shape == (2, 10)


def test_width_mult_scales_hidden_widths_only() -> None:
    with torch.device("meta"):
        half = build_model(ModelHparams("conv2", width_mult=0.5), 10, CIFAR, DENSE)
    # convs 3->32->32, 16x16 max-pooled features, head 8192-128-128-10.
    expected = 3 * 32 * 9 + 32 * 32 * 9 + 32 * 16 * 16 * 128 + 128 * 128 + 128 * 10
    assert weight_count(half) == expected
    layers = prunable_layers(half)
    assert layers[0][1].weight.shape[1] == 3 and layers[-1][1].weight.shape[0] == 10
    fc = build_model(ModelHparams("fc", widths=[7, 4], width_mult=2.0), 3, (5,), DENSE)
    assert [layer.weight.shape for _, layer in prunable_layers(fc)] == [(14, 5), (8, 14), (3, 8)]
    tiny = build_model(ModelHparams("fc", widths=[7], width_mult=0.01), 3, (5,), DENSE)
    assert prunable_layers(tiny)[0][1].weight.shape == (1, 5)


@given(widths=st.lists(st.integers(1, 40), max_size=3), mult=st.floats(0.05, 3.0),
       d0=st.integers(1, 30), classes=st.integers(1, 6))
def test_fc_weight_count_property(widths: list[int], mult: float, d0: int, classes: int) -> None:
    """``fc`` weights = sum of d_{i-1} d_i over the scaled hidden widths; d0, classes unscaled."""
    with torch.device("meta"):
        model = build_model(ModelHparams("fc", widths=widths, width_mult=mult),
                            classes, (d0,), DENSE)
    dims = [d0, *(scale_width(w, mult) for w in widths), classes]
    assert all(d >= 1 for d in dims)
    assert weight_count(model) == sum(a * b for a, b in pairwise(dims))


def test_scale_width_rounds_half_up() -> None:
    assert [scale_width(w, 0.5) for w in (1, 3, 5, 64)] == [1, 2, 3, 32]
    assert scale_width(300, 1.25) == 375 and scale_width(10, 0.01) == 1


def test_fc_default_widths_and_flattening() -> None:
    model = build_model(ModelHparams("fc"), 10, (2, 3, 4), DENSE)
    shapes = [layer.weight.shape for _, layer in prunable_layers(model)]
    assert shapes == [(300, 24), (100, 300), (10, 100)]
    assert all(layer.bias is None for _, layer in prunable_layers(model))
    assert model(torch.randn(2, 2, 3, 4)).shape == (2, 10)
    linear = build_model(ModelHparams("fc", widths=[]), 4, (6,), DENSE)
    assert [layer.weight.shape for _, layer in prunable_layers(linear)] == [(4, 6)]


def test_biases_follow_architecture_and_flag() -> None:
    dense = build_model(ModelHparams("lenet-300-100"), 10, (1, 28, 28), DENSE)
    scored = build_model(ModelHparams("lenet-300-100"), 10, (1, 28, 28), BIPROP)
    assert all(layer.bias is not None for _, layer in prunable_layers(dense))
    assert all(layer.bias is None for _, layer in prunable_layers(scored))
    forced = build_model(ModelHparams("conv2", width_mult=0.125, bias=True), 10, CIFAR, BIPROP)
    assert all(layer.bias is not None for _, layer in prunable_layers(forced))
    resnet = build_model(ModelHparams("resnet20", width_mult=0.25), 10, CIFAR, DENSE)
    assert [n for n, layer in prunable_layers(resnet) if layer.bias is not None] == ["fc"]


@pytest.mark.parametrize(("name", "mode", "binary", "bn", "expected"), [
    ("conv4", "dense", False, "default", set()),
    ("conv4", "biprop", False, "default", set()),
    ("fc", "edge-popup", False, "default", set()),
    ("conv4", "dense", True, "default", {"nonaffine"}),
    ("resnet20", "biprop", False, "default", {"nonaffine"}),
    ("resnet20", "edge-popup", False, "default", {"nonaffine"}),
    ("resnet20", "dense", False, "default", {"affine"}),
    ("resnet20", "masked", False, "default", {"affine"}),
    ("vgg11", "masked", False, "default", {"affine"}),
    ("vgg11", "edge-popup", False, "default", {"nonaffine"}),
    ("vgg-small", "dense", False, "default", {"affine"}),
    ("vgg-small", "dense", True, "default", {"nonaffine"}),
    ("vgg-small", "biprop", False, "default", {"nonaffine"}),
    ("resnet20", "dense", False, "none", set()),
    ("fc", "biprop", False, "affine", {"affine"}),
    ("conv4", "biprop", False, "nonaffine", {"nonaffine"}),
])
def test_batchnorm_defaults(name: str, mode: str, binary: bool, bn: str,
                            expected: set[str]) -> None:
    cfg = LayerConfig(mode=mode, keep=0.5 if mode in ("biprop", "edge-popup") else 1.0)
    with torch.device("meta"):
        model = small(name, cfg, binary_act=binary, bn=bn)
    assert norm_kinds(model) == expected


def test_default_norm_rejects_unknown_family() -> None:
    with pytest.raises(ValueError, match="family"):
        default_norm("mystery", "dense", False)


def test_global_scope_is_bound() -> None:
    cfg = LayerConfig(mode="biprop", keep=0.3, scope="global")
    model = build_model(ModelHparams("conv2", width_mult=0.125), 10, CIFAR, cfg)
    scopes = {id(layer.global_scope) for _, layer in prunable_layers(model)}
    assert len(scopes) == 1 and None not in {layer.global_scope for _, layer in
                                              prunable_layers(model)}


def test_same_seed_same_model() -> None:
    def build() -> dict[str, torch.Tensor]:
        torch.manual_seed(3)
        return build_model(ModelHparams("resnet20", width_mult=0.25),
                           10, CIFAR, BIPROP).state_dict()

    first, second = build(), build()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"name": "alexnet"}, "unknown model"),
    ({"width_mult": 0.0}, "width_mult must be > 0"),
    ({"width_mult": -1.0}, "width_mult must be > 0"),
    ({"widths": [10]}, "fixed widths"),
    ({"bn": "layer"}, "unknown bn 'layer'"),
    ({"name": "vgg11", "input_shape": (3, 8, 8)}, "too small"),
    ({"input_shape": (64,)}, "input shape"),
    ({"num_classes": 0}, "num_classes"),
])
def test_bad_arguments_raise(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"name": "conv4", "num_classes": 10, "input_shape": CIFAR, **kwargs}
    with pytest.raises(ValueError, match=match):
        model = ModelHparams(**{k: v for k, v in args.items() if k in MODEL_FIELDS})
        build_model(model, args["num_classes"], args["input_shape"], DENSE)


def layer_kinds(modules: nn.Module) -> list[str]:
    """Short names of a Sequential's modules: conv, pool, bn, relu, sign (identities dropped)."""
    names = {"FactoryConv2d": "conv", "FactoryConv1d": "conv", "MaxPool2d": "pool",
             "BatchNorm2d": "bn", "BatchNorm1d": "bn", "ReLU": "relu", "BinaryActivation": "sign"}
    return [names[type(m).__name__] for m in modules if not isinstance(m, nn.Identity)]


# The released biprop layer orders (models/frankle.py of the MPT authors), conv by conv.
MPT_VGG_SMALL = ["conv", "relu", "conv", "pool", "bn",
                 "conv", "conv", "pool", "bn",
                 "conv", "conv", "pool", "bn", "relu"]
MPT_VGG_SMALL_BINARY = ["conv", "sign", "conv", "pool", "bn", "sign",
                        "conv", "sign", "conv", "pool", "bn", "sign",
                        "conv", "sign", "conv", "pool", "bn", "relu"]
WIDE_VGG_SMALL_BINARY = ["conv", "bn", "sign", "conv", "pool", "bn", "sign",
                         "conv", "bn", "sign", "conv", "pool", "bn", "sign",
                         "conv", "bn", "sign", "conv", "pool", "bn", "relu"]
WIDE_VGG_SMALL = [k.replace("sign", "relu") for k in WIDE_VGG_SMALL_BINARY]


@pytest.mark.parametrize(("name", "binary", "expected"), [
    ("vgg-small-mpt", False, MPT_VGG_SMALL),
    ("vgg-small-mpt", True, MPT_VGG_SMALL_BINARY),
    ("wide-vgg-small", True, WIDE_VGG_SMALL_BINARY),
    ("wide-vgg-small", False, WIDE_VGG_SMALL),
])
def test_released_vgg_small_layer_order(name: str, binary: bool, expected: list[str]) -> None:
    with torch.device("meta"):
        model = build_model(ModelHparams(name, binary_act=binary), 10, CIFAR, BIPROP)
    assert layer_kinds(model.features) == expected
    assert norm_kinds(model) == {"nonaffine"}
    assert [type(m).__name__ for m in model.classifier] == ["Flatten", "FactoryLinear"]


def test_standard_vgg_small_keeps_bn_and_sign_after_every_conv() -> None:
    with torch.device("meta"):
        model = build_model(ModelHparams("vgg-small", binary_act=True), 10, CIFAR, BIPROP)
    kinds = layer_kinds(model.features)
    assert kinds.count("bn") == 6 and kinds.count("sign") == 6 and kinds[-1] == "sign"


@pytest.mark.parametrize(("name", "mult", "count"), [
    ("vgg-small-mpt", 1.0, 4_656_512), ("wide-vgg-small", 10.0, 7_249_120),
    ("wide-vgg-small", 1.0, 3 * 16 * 9 + 16 * 16 * 9 + 16 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9
     + 64 * 64 * 9 + 64 * 16 * 10),
])
def test_pinned_weight_counts_released_vgg_small(name: str, mult: float, count: int) -> None:
    """Released VGG-Small: 4,656,512 weights as VGG-Small; wide10 = VGG-Small x1.25 channels
    (160-160-320-320-640-640, linear 10,240 -> 10)."""
    with torch.device("meta"):
        model = build_model(ModelHparams(name, width_mult=mult, binary_act=True), 10, CIFAR, BIPROP)
        scaled = build_model(ModelHparams("vgg-small", width_mult=1.25), 10, CIFAR, BIPROP)
    assert weight_count(model) == count
    if mult == 10.0:
        assert weight_count(model) == weight_count(scaled)
        assert prunable_layers(model)[-1][1].weight.shape == (10, 640 * 4 * 4)


def test_released_vgg_small_default_norms() -> None:
    for name in ("vgg-small-mpt", "wide-vgg-small"):
        assert norm_kinds(small(name, DENSE)) == {"affine"}
        assert norm_kinds(small(name, DENSE, binary_act=True)) == {"nonaffine"}


def test_mnist1d_cnn_matches_the_authors() -> None:
    """Greydanus & Kobak's ConvBase: convs 1->25 (k5), 25->25 (k3), 25->25 (k3), stride 2,
    padding 1, biases; lengths 40 -> 19 -> 10 -> 5; linear 125 -> 10; 5,210 parameters."""
    torch.manual_seed(0)
    model = build_model(ModelHparams("mnist1d-cnn"), 10, MNIST1D, DENSE)
    convs = [layer for _, layer in prunable_layers(model)][:-1]
    assert [c.weight.shape for c in convs] == [(25, 1, 5), (25, 25, 3), (25, 25, 3)]
    assert all(c.stride == (2,) and c.padding == (1,) and c.bias is not None for c in convs)
    assert layer_kinds(model.features) == ["conv", "relu"] * 3
    assert model.features(torch.randn(2, *MNIST1D)).shape == (2, 25, 5)
    assert prunable_layers(model)[-1][1].weight.shape == (10, 125)
    assert param_count(model) == 5_210
    assert model(torch.randn(4, *MNIST1D)).shape == (4, 10)
    scored = build_model(ModelHparams("mnist1d-cnn"), 10, MNIST1D, BIPROP)
    assert weight_count(scored) == 5_125  # bias-free in score modes
    assert all(layer.bias is None for _, layer in prunable_layers(scored))
    wide = build_model(ModelHparams("mnist1d-cnn", width_mult=2.0), 10, MNIST1D, DENSE)
    assert prunable_layers(wide)[0][1].weight.shape == (50, 1, 5)


def test_mnist1d_cnn_rejects_too_short_input() -> None:
    with pytest.raises(ValueError, match="too small"):
        build_model(ModelHparams("mnist1d-cnn"), 10, (1, 2), DENSE)


def test_fc_with_bias_is_the_mnist1d_mlp() -> None:
    """The MNIST-1D authors' MLP 40-100-100-10 with biases: 15,210 parameters."""
    model = build_model(ModelHparams("fc", widths=[100, 100], bias=True), 10, MNIST1D, DENSE)
    shapes = [(layer.weight.shape, layer.bias.shape) for _, layer in prunable_layers(model)]
    assert shapes == [((100, 40), (100,)), ((100, 100), (100,)), ((10, 100), (10,))]
    assert param_count(model) == 15_210
    assert model(torch.randn(3, *MNIST1D)).shape == (3, 10)


@pytest.mark.parametrize("mode", ["dense", "masked", "edge-popup", "biprop"])
@pytest.mark.parametrize("name", ["vgg-small-mpt", "wide-vgg-small", "mnist1d-cnn"])
def test_new_models_binary_in_every_mode(name: str, mode: str) -> None:
    torch.manual_seed(0)
    scored = mode in ("biprop", "edge-popup")
    model = small(name, LayerConfig(mode=mode, keep=0.5 if scored else 1.0), binary_act=True)
    out = model(torch.randn(3, *input_shape(name)))
    assert out.shape == (3, 10) and torch.isfinite(out).all()
    out.square().mean().backward()
    trained = "scores" if scored else "weight"
    assert all(getattr(layer, trained).grad is not None for _, layer in prunable_layers(model))
    signs = sum(isinstance(m, BinaryActivation) for m in model.modules())
    relus = sum(isinstance(m, nn.ReLU) for m in model.modules())
    assert (signs, relus) == ((3, 0) if name == "mnist1d-cnn" else (5, 1))
    assert norm_kinds(model) == {"nonaffine"}
    if name == "mnist1d-cnn":  # non-affine BatchNorm before every sign, as in the binary Conv-n
        assert layer_kinds(model.features) == ["conv", "bn", "sign"] * 3


def test_a_registered_builder_is_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """One builder and its ``register_model`` make a model that ModelHparams and build_model
    accept, with its facts (BatchNorm family, fixed widths) read from the registry."""
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))

    def build_tiny(name: str, num_classes: int, input_shape: tuple[int, ...],
                   opts: BuildOptions) -> nn.Module:
        width = opts.width(4)
        return nn.Sequential(nn.Flatten(), make_linear(input_shape[0], width, opts.cfg),
                             make_norm(width, opts.norm, dim=1), nn.ReLU(),
                             make_linear(width, num_classes, opts.cfg))

    registry.register_model("tiny", build_tiny, norm_family="batchnorm")
    model = build_model(ModelHparams("tiny", width_mult=2.0), 3, (5,), DENSE)
    assert [layer.weight.shape for _, layer in prunable_layers(model)] == [(8, 5), (3, 8)]
    assert norm_kinds(model) == {"affine"}
    assert norm_kinds(build_model(ModelHparams("tiny"), 3, (5,), BIPROP)) == {"nonaffine"}
    with pytest.raises(ValueError, match="fixed widths"):
        build_model(ModelHparams("tiny", widths=(3,)), 3, (5,), DENSE)
    with pytest.raises(ValueError, match="registered already"):
        registry.register_model("tiny", build_tiny)
    with pytest.raises(ValueError, match="model family"):
        registry.register_model("tiny2", build_tiny, norm_family="layernorm")
