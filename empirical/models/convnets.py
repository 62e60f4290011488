"""Plain convolutional networks built from stages of 3x3 convolutions: Conv-2/4/6/8, VGG.

- Conv-2/4/6/8 (Frankle & Carbin, "The Lottery Ticket Hypothesis", ICLR 2019; the MPT-1/32 and
  edge-popup experiments of Diffenderfer & Kailkhura, ICLR 2021, and Ramanujan et al., CVPR 2020):
  stages of two 3x3 convolutions and a 2x2 max-pool with 64 / 64,128 / 64,128,256 / 64..512
  channels, then a 256-256-classes fully connected head.
- VGG-Small (Zhang et al., "LQ-Nets", ECCV 2018; MPT-1/1 of Diffenderfer & Kailkhura): convs
  128-128-256-256-512-512, max-pool after each pair, one linear layer to the classes; BatchNorm and
  the activation after every convolution.
- ``vgg-small-mpt``: VGG-Small as the biprop authors released it (``VGG_Small``, their config
  ``vgg_small_kn_unsigned``: MPT-1/32; with binary activations ``VGG_Small_BinAct``, config
  ``vgg_small_BinAct_kn_unsigned``; both in ``models/frankle.py``). Real-valued: conv 3->128,
  ReLU, conv 128->128, max-pool, BN, conv 128->256, conv 256->256, max-pool, BN, conv 256->512,
  conv 512->512, max-pool, BN, ReLU, linear 8192->classes (three BN, two ReLU). Binary
  activations: a sign after every convolution, directly after the first conv of each pair and
  after pool -> BN for the second, BN only after the three pools, and pool -> BN -> ReLU (not
  sign) before the classifier.
- ``wide-vgg-small``: the released ``Wide_VGG_Small`` of MPT-1/1 (config
  ``wide10_vgg_small_BinAct_kn_unsigned``, the published VGG-Small x1.25 MPT-1/1 number): convs
  16-16-32-32-64-64 times the width multiplier (``width_mult = 10`` is the published "1.25x
  VGG-Small" wide10 network), BN then the activation after every convolution (six BN), and
  BN -> ReLU before the classifier even with binary activations. Real-valued it is VGG-Small at
  base widths 16/32/64 (the released ``Wide_VGG_Small_132``).
- VGG-11/13/16/19 for CIFAR (Simonyan & Zisserman, ICLR 2015, in the open_lth form of Frankle et
  al.): 3x3 convs with bias, BatchNorm and ReLU, max-pool after each stage but the last, a final
  2x2 average pool and one linear layer 512 -> classes with bias.

One class, :class:`ConvNet`, builds all of them from a :class:`ConvSpec`. Inputs ``(C, H, W)`` give
2-D convolutions, inputs ``(C, L)`` (MNIST-1D) 1-D convolutions.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from empirical.layers import make_activation, make_conv, make_linear, make_norm
from empirical.models.common import BuildOptions, avg_pool, conv_dim, max_pool
from empirical.models.conv_specs import CONV_SPECS, ConvSpec


def _activation(spec: ConvSpec, binary: bool, index: int, n_convs: int) -> list[nn.Module]:
    """The activation (none, ReLU or sign) after convolution ``index`` of ``n_convs``."""
    final = index == n_convs - 1
    if final and spec.relu_last:
        return [nn.ReLU()]
    if binary or spec.relu_at is None or index in spec.relu_at:
        return [make_activation(binary)]
    return []


class ConvNet(nn.Module):
    """Stages of 3x3 convolutions (padding 1) each closed by a 2x2 pool, then a linear head.

    With binary activations the input stays real (the first conv sees the image) and the logits
    stay real (no activation after the last linear layer).

    Parameters
    ----------
    spec
        The architecture.
    input_shape
        ``(C, H, W)`` or ``(C, L)``; the flattened feature size follows from it.
    num_classes
        Number of logits.
    opts
        Resolved build options.
    name
        Model name, for error messages.
    """

    def __init__(self, spec: ConvSpec, input_shape: tuple[int, ...], num_classes: int,
                 opts: BuildOptions, name: str) -> None:
        super().__init__()
        dim = conv_dim(name, input_shape)
        spatial = [s // 2 ** len(spec.stages) for s in input_shape[1:]]
        if min(spatial) < 1:
            raise ValueError(f"input {tuple(input_shape)} is too small for model {name!r}, "
                             f"which halves each spatial size {len(spec.stages)} times")
        bias = opts.layer_bias(spec.own_bias)
        features: list[nn.Module] = []
        channels = input_shape[0]
        n_convs = sum(len(stage) for stage in spec.stages)
        index = 0
        for i, stage in enumerate(spec.stages):
            last = i == len(spec.stages) - 1
            pool = avg_pool(dim, 2) if last and spec.last_pool == "avg" else max_pool(dim, 2, 2)
            for j, out in enumerate(opts.width(c) for c in stage):
                features.append(make_conv(channels, out, 3, opts.cfg, padding=1, dim=dim,
                                          bias=bias))
                closes_stage = j == len(stage) - 1
                if closes_stage and spec.pool_before_norm:
                    features.append(pool)
                if spec.norm_at == "every" or closes_stage:
                    features.append(make_norm(out, opts.norm, dim=dim))
                features += _activation(spec, opts.binary_act, index, n_convs)
                if closes_stage and not spec.pool_before_norm:
                    features.append(pool)
                channels = out
                index += 1
        self.features = nn.Sequential(*features)
        head: list[nn.Module] = [nn.Flatten()]
        width = channels * math.prod(spatial)
        for h in spec.head:
            out = opts.width(h)
            head += [make_linear(width, out, opts.cfg, bias=bias), make_norm(out, opts.norm, dim=1),
                     make_activation(opts.binary_act)]
            width = out
        head.append(make_linear(width, num_classes, opts.cfg, bias=bias))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)``."""
        return self.classifier(self.features(x))


def build_convnet(name: str, num_classes: int, input_shape: tuple[int, ...],
                  opts: BuildOptions) -> ConvNet:
    """The :class:`ConvNet` of :data:`CONV_SPECS` ``[name]``.

    Parameters
    ----------
    name
        A key of :data:`CONV_SPECS`.
    num_classes, input_shape, opts
        See :func:`empirical.models.build_model`.

    Returns
    -------
    ConvNet
        The network.
    """
    return ConvNet(CONV_SPECS[name], input_shape, num_classes, opts, name)
