"""The MNIST-1D authors' convolutional network: strided convolutions, no pooling, a linear head.

Greydanus & Kobak ("Scaling down deep learning with MNIST-1D", ICML 2024; ``ConvBase`` of their
``notebooks/models.py``): three 1-D convolutions of 25 channels with biases, kernel sizes 5, 3, 3,
all with stride 2 and padding 1, each followed by a ReLU, then one linear layer from the flattened
features to the classes. On MNIST-1D inputs ``(1, 40)`` the lengths go 40 -> 19 -> 10 -> 5, so the
linear layer sees 25 * 5 = 125 features and the network has 5,210 parameters; the authors report
~94% test accuracy with Adam 1e-2, batch 100, 6,000 steps.

Built from the one layer factory like every model here, so it also runs as an edge-popup / biprop
score network or an LTH-masked network; the width multiplier scales the 25 channels. Between each
convolution and its activation sits the model's BatchNorm (none by default; non-affine with
binary activations). ``(C, H, W)`` inputs give the same plan with 2-D convolutions.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from empirical.layers import make_activation, make_conv, make_linear, make_norm
from empirical.models.common import BuildOptions, conv_dim

# (output channels, kernel size, stride, padding) of each convolution.
MNIST1D_CNN_PLAN: tuple[tuple[int, int, int, int], ...] = ((25, 5, 2, 1), (25, 3, 2, 1),
                                                          (25, 3, 2, 1))


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution: ``floor((size + 2 padding - kernel) / stride) + 1``.

    Parameters
    ----------
    size
        Input length along one spatial axis.
    kernel, stride, padding
        The convolution's kernel size, stride and zero padding.

    Returns
    -------
    int
        The output length (below 1 when the input is too short).
    """
    return (size + 2 * padding - kernel) // stride + 1


class StridedConvNet(nn.Module):
    """``conv -> BN -> act`` per entry of ``plan``, then flatten and one linear layer.

    Parameters
    ----------
    plan
        ``(channels, kernel, stride, padding)`` of each convolution at ``width_mult = 1``.
    input_shape
        ``(C, L)`` or ``(C, H, W)``.
    num_classes
        Number of logits.
    opts
        Resolved build options.
    name
        Model name, for error messages.
    """

    def __init__(self, plan: tuple[tuple[int, int, int, int], ...], input_shape: tuple[int, ...],
                 num_classes: int, opts: BuildOptions, name: str) -> None:
        super().__init__()
        dim = conv_dim(name, input_shape)
        bias = opts.layer_bias(True)
        spatial = list(input_shape[1:])
        layers: list[nn.Module] = []
        channels = input_shape[0]
        for width, kernel, stride, padding in plan:
            out = opts.width(width)
            spatial = [conv_output_size(s, kernel, stride, padding) for s in spatial]
            if min(spatial) < 1:
                raise ValueError(f"input {tuple(input_shape)} is too small for model {name!r}")
            layers += [make_conv(channels, out, kernel, opts.cfg, stride=stride, padding=padding,
                                 dim=dim, bias=bias),
                       make_norm(out, opts.norm, dim=dim), make_activation(opts.binary_act)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), make_linear(channels * math.prod(spatial), num_classes, opts.cfg,
                                      bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)``."""
        return self.classifier(self.features(x))


def build_strided(name: str, num_classes: int, input_shape: tuple[int, ...],
                  opts: BuildOptions) -> StridedConvNet:
    """``mnist1d-cnn``: the :class:`StridedConvNet` of :data:`MNIST1D_CNN_PLAN`.

    Parameters
    ----------
    name
        ``"mnist1d-cnn"``.
    num_classes, input_shape, opts
        See :func:`empirical.models.build_model`.

    Returns
    -------
    StridedConvNet
        The network; its convolutions and classifier have biases when weights are trained (dense /
        masked modes), none in score modes unless ``bias=True``.
    """
    return StridedConvNet(MNIST1D_CNN_PLAN, input_shape, num_classes, opts, name)
