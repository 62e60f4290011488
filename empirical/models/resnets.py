"""Residual networks (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

- ResNet-20/32/44/56/110 for CIFAR (He et al., section 4.2, in the open_lth form used by Frankle
  et al. for LTH): a 3x3 stem, three stages of ``(depth - 2) / 6`` basic blocks with 16/32/64
  channels.
- ResNet-18/34 (basic blocks) and ResNet-50/101 (bottleneck blocks, expansion 4), stages of
  64/128/256/512 channels; Wide ResNet-50-2 (Zagoruyko & Komodakis, BMVC 2016, as in torchvision):
  ResNet-50 with the bottleneck's inner width doubled.

Every block ends with BatchNorm, adds the shortcut (identity, or a 1x1 convolution + BatchNorm
projection when the stride or the width changes) and applies the activation. The head is a global
average pool and one linear layer, so the output is ``(batch, num_classes)`` for any input size (the
MPT reference's small ResNets output 40 logits through a pooling bug; not here). The stem is the
CIFAR one (3x3 conv, stride 1, no max-pool) for inputs of at most 32x32 and for the CIFAR ResNets,
else the ImageNet one (7x7 conv stride 2 + 3x3 max-pool stride 2). ``(C, L)`` inputs give 1-D
convolutions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from empirical.layers import make_activation, make_conv, make_linear, make_norm
from empirical.models.common import BuildOptions, conv_dim, global_avg_pool, max_pool
from empirical.models.resnet_specs import RESNET_SPECS, ResNetSpec

CIFAR_STEM_MAX_SIZE = 32


class ResidualBlock(nn.Module):
    """``act(main(x) + shortcut(x))``; ``main`` = (conv -> BN -> act) ... conv -> BN.

    A basic block is the plan ``kernels = (3, 3)``, a bottleneck block ``kernels = (1, 3, 1)``
    (the stride sits on the 3x3 convolution, as in torchvision's ResNet v1.5).

    Parameters
    ----------
    in_channels
        Input channels.
    widths
        Output channels of each convolution of the main path.
    kernels
        Kernel size of each convolution (padding ``kernel // 2``).
    stride
        Stride of the (first) 3x3 convolution and of the projection shortcut.
    opts
        Resolved build options.
    dim
        1 or 2 spatial dimensions.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], kernels: Sequence[int],
                 stride: int, opts: BuildOptions, dim: int) -> None:
        super().__init__()
        bias = opts.layer_bias(False)
        main: list[nn.Module] = []
        channels = in_channels
        strided = kernels.index(3)
        for i, (out, k) in enumerate(zip(widths, kernels, strict=True)):
            main += [make_conv(channels, out, k, opts.cfg, stride=stride if i == strided else 1,
                               padding=k // 2, dim=dim, bias=bias),
                     make_norm(out, opts.norm, dim=dim)]
            if i < len(widths) - 1:
                main.append(make_activation(opts.binary_act))
            channels = out
        self.main = nn.Sequential(*main)
        if stride != 1 or in_channels != channels:
            self.shortcut: nn.Module = nn.Sequential(
                make_conv(in_channels, channels, 1, opts.cfg, stride=stride, dim=dim, bias=bias),
                make_norm(channels, opts.norm, dim=dim))
        else:
            self.shortcut = nn.Identity()
        self.act = make_activation(opts.binary_act)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual output."""
        return self.act(self.main(x) + self.shortcut(x))


class ResNet(nn.Module):
    """Stem, stages of :class:`ResidualBlock` (stride 2 at the start of every stage but the first),
    global average pool, linear classifier (with bias when weights are trained).

    Parameters
    ----------
    spec
        The architecture.
    input_shape
        ``(C, H, W)`` or ``(C, L)``.
    num_classes
        Number of logits.
    opts
        Resolved build options.
    name
        Model name, for error messages.
    """

    def __init__(self, spec: ResNetSpec, input_shape: tuple[int, ...], num_classes: int,
                 opts: BuildOptions, name: str) -> None:
        super().__init__()
        dim = conv_dim(name, input_shape)
        bias = opts.layer_bias(False)
        stem_width = opts.width(spec.widths[0])
        if spec.cifar or max(input_shape[1:]) <= CIFAR_STEM_MAX_SIZE:
            stem: list[nn.Module] = [
                make_conv(input_shape[0], stem_width, 3, opts.cfg, padding=1, dim=dim, bias=bias),
                make_norm(stem_width, opts.norm, dim=dim), make_activation(opts.binary_act)]
        else:
            stem = [make_conv(input_shape[0], stem_width, 7, opts.cfg, stride=2, padding=3,
                              dim=dim, bias=bias),
                    make_norm(stem_width, opts.norm, dim=dim), make_activation(opts.binary_act),
                    max_pool(dim, 3, 2, 1)]
        self.stem = nn.Sequential(*stem)
        blocks: list[nn.Module] = []
        channels = stem_width
        for i, (base, count) in enumerate(zip(spec.widths, spec.blocks, strict=True)):
            widths, kernels = spec.plan(base, opts)
            for j in range(count):
                block = ResidualBlock(channels, widths, kernels, 2 if i > 0 and j == 0 else 1,
                                      opts, dim)
                blocks.append(block)
                channels = block.out_channels
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.Sequential(global_avg_pool(dim), nn.Flatten())
        self.fc = make_linear(channels, num_classes, opts.cfg, bias=opts.layer_bias(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)``."""
        return self.fc(self.pool(self.blocks(self.stem(x))))


def build_resnet(name: str, num_classes: int, input_shape: tuple[int, ...],
                 opts: BuildOptions) -> ResNet:
    """The :class:`ResNet` of :data:`RESNET_SPECS` ``[name]``.

    Parameters
    ----------
    name
        A key of :data:`RESNET_SPECS`.
    num_classes, input_shape, opts
        See :func:`empirical.models.build_model`.

    Returns
    -------
    ResNet
        The network.
    """
    return ResNet(RESNET_SPECS[name], input_shape, num_classes, opts, name)
