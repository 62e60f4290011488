"""Weight, bias, score and BatchNorm initialisations of the factory layers.

Weights (Ramanujan et al., "What's Hidden in a Randomly Weighted Neural Network?", CVPR 2020,
section 4.1; Diffenderfer & Kailkhura, ICLR 2021; Frankle & Carbin, ICLR 2019):

- ``kn``: Kaiming normal, scaled: ``N(0, 2 / (c fan_in))``.
- ``sc``: signed Kaiming constant, scaled: ``+-sqrt(2 / (c fan_in))`` with independent fair signs.
- ``ukn`` / ``usc``: the unscaled versions (``c = 1``): ``N(0, 2 / fan_in)`` and
  ``+-sqrt(2 / fan_in)``.
- ``kaiming_uniform``: ``U(-sqrt(6 / fan_in), +sqrt(6 / fan_in))`` (variance ``2 / fan_in``,
  unscaled).
- ``xavier_normal``: Gaussian Glorot, ``N(0, 2 / (fan_in + fan_out))`` (Glorot & Bengio, AISTATS
  2010), the initialisation of LeNet-300-100 and Conv-2/4/6 in the LTH paper (Frankle & Carbin,
  ICLR 2019, figure 2 / appendix); unscaled. ``fan_out = shape[0] * prod(shape[2:])``.
- ``torch_default``: PyTorch's default ``nn.Linear`` / ``nn.ConvNd`` weight,
  ``U(-1/sqrt(fan_in), +1/sqrt(fan_in))`` (Kaiming uniform with ``a = sqrt(5)``, variance
  ``1 / (3 fan_in)``): the init of the MNIST-1D authors' recipe (Greydanus & Kobak); unscaled.

The fan scaling ``c`` of ``kn`` and ``sc`` (:data:`SCALED_INITS`) applies only to layers whose
weights are pruned at initialisation by a score mask keeping a fraction ``k`` (edge-popup,
biprop); dense and LTH layers pass no ``k`` and are unscaled under every rule. Two rules
(:data:`FAN_RULES`):

- ``"paper"`` (the default): ``c = k``, as the edge-popup paper states, so that a subnetwork keeping
  a fraction ``k`` of each unit's inputs has the Kaiming variance ``2 / fan_in`` of its kept inputs.
- ``"released"``: ``c = 1 - k``, what the released edge-popup and biprop code computes
  (``fan * (1 - prune_rate)`` with ``prune_rate`` the kept fraction). It is undefined at ``k = 1``
  (zero fan), which is a :class:`ValueError` here, never a division by zero. The two rules differ
  in variance by exactly the factor ``k / (1 - k)`` (released / paper) and agree at ``k = 1/2``.

Biases of dense and LTH layers: PyTorch's default ``U(-1/sqrt(fan_in), +1/sqrt(fan_in))`` for every
weight init. The LTH paper specifies only the weights' Gaussian Glorot init, and open_lth's
initialisers likewise touch only conv/linear weights, leaving PyTorch's default bias.

Scores: ``U(-1/sqrt(fan_in), +1/sqrt(fan_in))`` (PyTorch's Kaiming-uniform with ``a = sqrt(5)``, the
edge-popup default); only ``|s|`` matters for the top-k rule.

BatchNorm (:data:`BN_INITS`): ``"ones"`` keeps PyTorch's ``gamma = 1``, ``beta = 0``; ``"uniform"``
draws ``gamma ~ U(0, 1)`` with ``beta = 0``, open_lth's ``batchnorm_init='uniform'`` (the default of
its CIFAR VGG / ResNet and LeNet models).

All draws use torch's global generator: the caller seeds it (``torch.manual_seed(seed)``) before
building a model, so the same seed gives the same weights, scores and BatchNorm scales.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from empirical.choices import check_choice
from empirical.vocabulary import BN_INITS, FAN_RULES, INITS, SCALED_INITS


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


def fan_out(shape: torch.Size | tuple[int, ...]) -> int:
    """Number of outputs one input unit feeds: ``shape[0] * prod(shape[2:])`` (Glorot's fan-out).

    Parameters
    ----------
    shape
        Weight shape ``(out, in)`` or ``(out, in, *kernel)``.

    Returns
    -------
    int
        ``fan_out >= 1``.
    """
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 dimensions, got shape {tuple(shape)}")
    return int(shape[0] * math.prod(shape[2:]))


def fan_factor(keep: float | None, fan_rule: str = "paper") -> float:
    """Factor ``c`` multiplying ``fan_in`` in the scaled inits ``kn`` / ``sc``.

    Parameters
    ----------
    keep
        Kept fraction ``k`` in ``(0, 1]`` of a layer pruned at initialisation, or None for a layer
        with nothing pruned at initialisation (dense, LTH), which is never scaled.
    fan_rule
        ``"paper"`` (``c = k``, Ramanujan et al. 2020) or ``"released"`` (``c = 1 - k``, the
        released edge-popup / biprop code), see :data:`FAN_RULES`.

    Returns
    -------
    float
        ``c``: 1 for ``keep=None``, ``k`` (paper) or ``1 - k`` (released).

    Raises
    ------
    ValueError
        For an unknown rule, ``k`` outside ``(0, 1]``, or the released rule at ``k = 1``, where its
        fan ``fan_in * (1 - k)`` is zero.
    """
    check_choice(fan_rule, FAN_RULES, "fan rule")
    if keep is None:
        return 1.0
    if not (math.isfinite(keep) and 0.0 < keep <= 1.0):
        raise ValueError(f"kept fraction k must be in (0, 1], got {keep}")
    if fan_rule == "paper":
        return float(keep)
    if keep == 1.0:
        raise ValueError("fan_rule='released' scales fan_in by 1 - k, which is 0 at k = 1 "
                         "(nothing pruned): use fan_rule='paper' or an unscaled init (ukn, usc)")
    return 1.0 - float(keep)


def kaiming_std(shape: torch.Size | tuple[int, ...], keep: float | None = None,
                fan_rule: str = "paper") -> float:
    """Kaiming standard deviation ``sqrt(2 / (c fan_in))`` (He et al. 2015; ``c``: fan_factor).

    Parameters
    ----------
    shape
        Weight shape.
    keep
        Kept fraction ``k`` in ``(0, 1]`` of a score-masked layer, or None (unscaled).
    fan_rule
        One of :data:`FAN_RULES`.

    Returns
    -------
    float
        The standard deviation.
    """
    return math.sqrt(2.0 / (fan_factor(keep, fan_rule) * fan_in(shape)))


@torch.no_grad()
def init_weight_(weight: torch.Tensor, init: str, keep: float | None = None,
                 fan_rule: str = "paper") -> torch.Tensor:
    """Fill ``weight`` in place with the initialisation ``init`` (see the module docstring).

    Parameters
    ----------
    weight
        Linear or conv weight tensor.
    init
        One of :data:`INITS`.
    keep
        Kept fraction ``k`` of a layer pruned at initialisation (score modes), used by the scaled
        variants ``kn`` and ``sc``; None for dense and LTH layers (no scaling).
    fan_rule
        How ``k`` scales ``fan_in`` in ``kn`` / ``sc``: one of :data:`FAN_RULES`.

    Returns
    -------
    torch.Tensor
        ``weight``.
    """
    check_choice(init, INITS, "init")
    std = kaiming_std(weight.shape, keep if init in SCALED_INITS else None, fan_rule)
    if init in ("kn", "ukn"):
        return weight.normal_(0.0, std)
    if init in ("sc", "usc"):
        return weight.bernoulli_(0.5).mul_(2.0).sub_(1.0).mul_(std)
    if init == "xavier_normal":
        return weight.normal_(0.0, math.sqrt(2.0 / (fan_in(weight.shape) + fan_out(weight.shape))))
    if init == "torch_default":
        bound = 1.0 / math.sqrt(fan_in(weight.shape))
        return weight.uniform_(-bound, bound)
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


@torch.no_grad()
def init_batchnorm_(model: nn.Module, bn_init: str) -> nn.Module:
    """Initialise the scale ``gamma`` and shift ``beta`` of every affine BatchNorm of ``model``.

    ``"ones"``: ``gamma = 1``, ``beta = 0`` (PyTorch's default; nothing is drawn, so the random
    stream is untouched). ``"uniform"``: ``gamma ~ U(0, 1)`` per channel, ``beta = 0``, in module
    order, as open_lth's ``batchnorm_init='uniform'`` (which applies to its ``BatchNorm2d``; here
    every affine ``BatchNorm1d`` / ``BatchNorm2d``).

    Parameters
    ----------
    model
        A built model.
    bn_init
        One of :data:`BN_INITS`.

    Returns
    -------
    nn.Module
        ``model`` (changed in place).

    Raises
    ------
    ValueError
        For an unknown ``bn_init``, or ``"uniform"`` on a model without an affine BatchNorm (there
        is no ``gamma`` to draw: the option would silently do nothing).
    """
    check_choice(bn_init, BN_INITS, "BatchNorm init")
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine]
    if bn_init == "uniform" and not norms:
        raise ValueError("bn_init='uniform' draws the BatchNorm scale gamma, but the model has no "
                         "affine BatchNorm: use bn='affine' or bn_init='ones'")
    for norm in norms:
        if bn_init == "uniform":
            norm.weight.uniform_(0.0, 1.0)
        else:
            norm.weight.fill_(1.0)
        norm.bias.zero_()
    return model
