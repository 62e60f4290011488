"""Shared pieces of the model zoo: resolved build options, width scaling, pooling.

Every architecture of :mod:`empirical.models` takes one :class:`BuildOptions`, which carries the
layer configuration (dense, edge-popup, biprop or LTH-masked layers, see :mod:`empirical.layers`),
the width multiplier, the BatchNorm kind, the activation, the bias rule and free hidden widths,
so that a single definition of each architecture serves every training mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from empirical.layers import LayerConfig
from empirical.vocabulary import SCORE_MODES


def scale_width(width: int, width_mult: float) -> int:
    """Hidden width times the width multiplier, rounded half up, at least 1.

    Parameters
    ----------
    width
        Width of the architecture at ``width_mult = 1``.
    width_mult
        Positive multiplier.

    Returns
    -------
    int
        ``max(1, floor(width * width_mult + 1/2))``.
    """
    return max(1, math.floor(width * width_mult + 0.5))


@dataclass(frozen=True)
class BuildOptions:
    """Resolved options shared by every architecture.

    Attributes
    ----------
    cfg
        Layer configuration handed to every ``make_conv`` / ``make_linear``.
    width_mult
        Multiplier of every hidden width (never of input channels or classes).
    norm
        BatchNorm kind, one of :data:`empirical.layers.NORMS`.
    binary_act
        Binary sign activations (MPT-1/1) instead of ReLU.
    bias
        Give every conv/linear layer a bias.
    widths
        Hidden widths of a model that takes free widths (``fc``), or None for its default.
    residual
        Hidden-to-hidden blocks of equal widths add their input (models that take it: ``fc``).
    """

    cfg: LayerConfig
    width_mult: float
    norm: str
    binary_act: bool
    bias: bool
    widths: tuple[int, ...] | None = None
    residual: bool = False

    def width(self, width: int) -> int:
        """Hidden ``width`` scaled by :attr:`width_mult` (see :func:`scale_width`)."""
        return scale_width(width, self.width_mult)

    def layer_bias(self, own_bias: bool) -> bool:
        """Whether a layer has a bias: always if :attr:`bias`, else the architecture's own bias.

        The architecture's own biases (LeNet-300-100, open_lth VGG, the ResNet classifier) exist
        only when weights are trained (dense / masked modes); score modes are bias-free, as in the
        MPT and edge-popup reference networks.
        """
        return self.bias or (own_bias and self.cfg.mode not in SCORE_MODES)


def max_pool(dim: int, kernel_size: int, stride: int, padding: int = 0) -> nn.Module:
    """``nn.MaxPool1d`` (``dim = 1``) or ``nn.MaxPool2d`` (``dim = 2``)."""
    return (nn.MaxPool1d if dim == 1 else nn.MaxPool2d)(kernel_size, stride, padding)


def avg_pool(dim: int, kernel_size: int) -> nn.Module:
    """``nn.AvgPool1d`` (``dim = 1``) or ``nn.AvgPool2d`` (``dim = 2``), stride = kernel size."""
    return (nn.AvgPool1d if dim == 1 else nn.AvgPool2d)(kernel_size)


def global_avg_pool(dim: int) -> nn.Module:
    """Average over all spatial positions: ``nn.AdaptiveAvgPool{1,2}d(1)``."""
    return (nn.AdaptiveAvgPool1d if dim == 1 else nn.AdaptiveAvgPool2d)(1)


def conv_dim(name: str, input_shape: tuple[int, ...]) -> int:
    """Spatial dimension of a convolutional model's input: 1 for ``(C, L)``, 2 for ``(C, H, W)``.

    Parameters
    ----------
    name
        Model name (for the error message).
    input_shape
        Input shape without the batch axis.

    Returns
    -------
    int
        ``len(input_shape) - 1``.
    """
    if len(input_shape) not in (2, 3):
        raise ValueError(
            f"model {name!r} needs input shape (C, L) or (C, H, W), got {tuple(input_shape)}"
        )
    return len(input_shape) - 1
