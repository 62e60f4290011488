"""Weight and score initialisations of the factory layers (edge-popup / biprop conventions).

Weights (Ramanujan et al., "What's Hidden in a Randomly Weighted Neural Network?", CVPR 2020,
section 4.1; Diffenderfer & Kailkhura, ICLR 2021):

- ``kn``: Kaiming normal, scaled: ``N(0, 2 / (k fan_in))``.
- ``sc``: signed Kaiming constant, scaled: ``+-sqrt(2 / (k fan_in))`` with independent fair signs.
- ``ukn`` / ``usc``: the unscaled versions, i.e. the same with ``k = 1``: ``N(0, 2 / fan_in)`` and
  ``+-sqrt(2 / fan_in)``.
- ``kaiming_uniform``: ``U(-sqrt(6 / fan_in), +sqrt(6 / fan_in))`` (variance ``2 / fan_in``,
  unscaled).

``k`` is the kept fraction of the layer: the edge-popup paper's scaled variants multiply ``fan_in``
by ``k`` so that a subnetwork keeping a fraction ``k`` of the inputs has the Kaiming variance. (The
reference code multiplies by ``1 - k`` and divides by zero at ``k = 1``; we follow the paper and
``k`` in ``(0, 1]`` is validated, so no division by zero can happen.) Callers pass ``k = 1`` for
dense training and LTH, where nothing is pruned at initialisation.

Scores: ``U(-1/sqrt(fan_in), +1/sqrt(fan_in))`` (PyTorch's Kaiming-uniform with ``a = sqrt(5)``, the
edge-popup default); only ``|s|`` matters for the top-k rule.

All draws use torch's global generator: the caller seeds it (``torch.manual_seed(seed)``) before
building a model, so the same seed gives the same weights and scores.
"""

from __future__ import annotations

import math

import torch

INITS = ("kn", "ukn", "sc", "usc", "kaiming_uniform")


def fan_in(shape: torch.Size | tuple[int, ...]) -> int:
    """Number of inputs of one output unit: ``shape[1] * prod(shape[2:])`` (linear or conv weight).

    Parameters
    ----------
    shape
        Weight shape ``(out, in)`` or ``(out, in, *kernel)``.

    Returns
    -------
    int
        ``fan_in >= 1``.
    """
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 dimensions, got shape {tuple(shape)}")
    return int(math.prod(shape[1:]))


def _check_keep(keep: float) -> None:
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"kept fraction k must be in (0, 1], got {keep}")


def kaiming_std(shape: torch.Size | tuple[int, ...], keep: float = 1.0) -> float:
    """Kaiming standard deviation ``sqrt(2 / (k fan_in))`` (He et al. 2015, scaled by edge-popup).

    Parameters
    ----------
    shape
        Weight shape.
    keep
        Kept fraction ``k`` in ``(0, 1]``; ``1`` gives the plain Kaiming value.

    Returns
    -------
    float
        The standard deviation.
    """
    _check_keep(keep)
    return math.sqrt(2.0 / (keep * fan_in(shape)))


@torch.no_grad()
def init_weight_(weight: torch.Tensor, init: str, keep: float = 1.0) -> torch.Tensor:
    """Fill ``weight`` in place with the initialisation ``init`` (see the module docstring).

    Parameters
    ----------
    weight
        Linear or conv weight tensor.
    init
        One of :data:`INITS`.
    keep
        Kept fraction ``k`` used by the scaled variants ``kn`` and ``sc``.

    Returns
    -------
    torch.Tensor
        ``weight``.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    scaled_keep = keep if init in ("kn", "sc") else 1.0
    std = kaiming_std(weight.shape, scaled_keep)
    if init in ("kn", "ukn"):
        return weight.normal_(0.0, std)
    if init in ("sc", "usc"):
        return weight.bernoulli_(0.5).mul_(2.0).sub_(1.0).mul_(std)
    bound = math.sqrt(3.0) * std
    return weight.uniform_(-bound, bound)


@torch.no_grad()
def init_scores_(scores: torch.Tensor) -> torch.Tensor:
    """Fill ``scores`` in place with ``U(-1/sqrt(fan_in), +1/sqrt(fan_in))`` (edge-popup default).

    Parameters
    ----------
    scores
        Score tensor of a layer's weight shape.

    Returns
    -------
    torch.Tensor
        ``scores``.
    """
    bound = 1.0 / math.sqrt(fan_in(scores.shape))
    return scores.uniform_(-bound, bound)


@torch.no_grad()
def init_bias_(bias: torch.Tensor, fan_in_: int) -> torch.Tensor:
    """Fill ``bias`` in place with ``U(-1/sqrt(fan_in), +1/sqrt(fan_in))`` (PyTorch's default).

    Parameters
    ----------
    bias
        Bias vector of a dense or LTH layer.
    fan_in_
        Fan-in of the layer's weight.

    Returns
    -------
    torch.Tensor
        ``bias``.
    """
    bound = 1.0 / math.sqrt(fan_in_)
    return bias.uniform_(-bound, bound)
