"""Fully connected networks: the generic MLP ``fc`` and LeNet-300-100.

LeNet-300-100 is the 784-300-100-10 network of LeCun et al. (1998) used by Frankle & Carbin
("The Lottery Ticket Hypothesis", ICLR 2019); ``fc`` is the bias-free ReLU MLP of the strong
lottery ticket theory (Malach et al., ICML 2020; Pensia et al., NeurIPS 2020) with free hidden
widths; its ``residual`` option adds the input of every hidden-to-hidden block of equal widths
(``h <- h + relu(W h + b)``, the MNIST-1D authors' MLP, Greydanus & Kobak 2020, notebooks
``models.py`` and ``lottery-tickets.ipynb``: ``h = h + relu(linear2(h))``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from empirical.layers import make_activation, make_linear, make_norm
from empirical.models.common import BuildOptions

DEFAULT_FC_WIDTHS = (300, 100)
LENET_WIDTHS = (300, 100)


class Residual(nn.Sequential):
    """A block with a skip connection: ``x + block(x)`` (input and output shapes agree)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + block(x)``."""
        return x + super().forward(x)


class FullyConnected(nn.Module):
    """MLP ``d0 - w1 - ... - wL - classes``: linear -> BatchNorm1d -> activation per hidden layer.

    The input is flattened, so any input shape works; the logits are real (no activation after the
    last linear layer). With ``opts.residual`` every hidden block after the first whose input and
    output widths agree is a :class:`Residual` ``h + act(norm(W h + b))``.

    Parameters
    ----------
    input_shape
        Input shape without the batch axis; ``d0`` is its product.
    num_classes
        Number of logits.
    hidden
        Hidden widths at ``width_mult = 1`` (may be empty: a linear classifier).
    opts
        Resolved build options.
    own_bias
        Whether the architecture has biases of its own (LeNet-300-100 does).
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, hidden: Sequence[int],
                 opts: BuildOptions, own_bias: bool = False) -> None:
        super().__init__()
        bias = opts.layer_bias(own_bias)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for h in hidden:
            out = opts.width(h)
            block = [make_linear(width, out, opts.cfg, bias=bias),
                     make_norm(out, opts.norm, dim=1), make_activation(opts.binary_act)]
            layers += [Residual(*block)] if opts.residual and out == width else block
            width = out
        layers.append(make_linear(width, num_classes, opts.cfg, bias=bias))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)``."""
        return self.layers(x)


def build_fc(name: str, num_classes: int, input_shape: tuple[int, ...],
             opts: BuildOptions) -> FullyConnected:
    """``fc``: the bias-free MLP with hidden widths ``opts.widths`` (default
    :data:`DEFAULT_FC_WIDTHS`; may be empty for a linear classifier).

    Parameters
    ----------
    name
        ``"fc"``.
    num_classes, input_shape, opts
        See :func:`empirical.models.build_model`.

    Returns
    -------
    FullyConnected
        The network.
    """
    hidden = DEFAULT_FC_WIDTHS if opts.widths is None else opts.widths
    return FullyConnected(input_shape, num_classes, hidden, opts)


def build_lenet(name: str, num_classes: int, input_shape: tuple[int, ...],
                opts: BuildOptions) -> FullyConnected:
    """``lenet-300-100``: hidden widths :data:`LENET_WIDTHS` with the architecture's biases.

    Parameters
    ----------
    name
        ``"lenet-300-100"``.
    num_classes, input_shape, opts
        See :func:`empirical.models.build_model`.

    Returns
    -------
    FullyConnected
        The network (266,610 parameters on 28x28 MNIST with trained weights).
    """
    return FullyConnected(input_shape, num_classes, LENET_WIDTHS, opts, own_bias=True)
