"""The one layer factory: every conv and linear layer of every model, in every mode.

A layer's *effective weight* ``W_eff`` is what the forward pass uses. The mode decides it:

- ``dense``: ``W_eff = W``, ``W`` trained (dense baselines).
- ``masked``: ``W_eff = W * m`` with a fixed 0/1 buffer ``mask`` that pruning code writes (LTH,
  Frankle & Carbin, ICLR 2019); ``W`` trained, :func:`enforce_masks_` re-zeroes pruned weights after
  every optimiser step so momentum and weight decay cannot revive them.
- ``edge-popup``: ``W_eff = W * m``, ``W`` frozen, ``m`` the mask of trained scores ``s`` (top-k
  by default; Ramanujan et al., CVPR 2020).
- ``biprop``: ``W_eff = alpha * sign(W) * m`` with one gain per layer,
  ``alpha = sum(|W| * m) / sum(m)``, the mean magnitude of the kept weights (Diffenderfer &
  Kailkhura, ICLR 2021, multi-prize tickets MPT-1/32).

Masks of score layers come from their scores by the layer's mask rule (``LayerConfig.mask_rule``,
an object registered in :data:`empirical.mask_rules.MASK_RULES`: ``topk`` with a ``layerwise`` or
``global`` scope, ``bernoulli``, ``hard-concrete``), which also gives the score gradient: ``W``
gets none, ``alpha`` is a constant for the backward pass, and the rule maps ``dL/dW_eff * W`` to
``dL/ds`` (:class:`empirical.mask_rules.MaskRule`). :func:`annealed_keep` gives biprop's cubic
schedule of the global kept fraction for ``k <= 0.5``.

Bias scores (``LayerConfig.bias_scores``, off by default; Fischer & Burkholz, ICLR 2022, "Plant 'n'
Seek", whose edge-popup prunes biases too): a score layer with a bias gets a second score vector
``s_b`` of the bias's shape, and the forward pass uses ``b * m_b`` with ``m_b`` the top-k of
``|s_b|`` at the layer's kept fraction, always per layer (``K = n - floor((1 - k) n)`` of the ``n``
biases, :func:`empirical.topk.top_mask`), with the straight-through gradient
``dL/ds_b = dL/db_eff * b * sign(s_b)`` of :class:`empirical.mask_rules.TopK`. Without it biases are
never pruned.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from empirical.activations import BinaryActivation
from empirical.choices import check_choice
from empirical.init import init_bias_, init_scores_, init_weight_
from empirical.mask_rules import MASK_RULES, GlobalScope, MaskRule, TopK, check_rule
from empirical.topk import check_keep, kept_count, top_mask
from empirical.vocabulary import (
    FAN_RULES,
    INITS,
    LAYER_MODES,
    NORMS,
    REDRAW_EVERY,
    REDRAW_FRACTION,
    SCOPES,
    SCORE_MODES,
)

SCORE_PARAMETERS = ("scores", "bias_scores")
"""Names of the trained parameters of a score layer (weight scores, bias scores)."""


@dataclass(frozen=True)
class LayerConfig:
    """How the factory builds a layer (one config serves a whole model).

    Attributes
    ----------
    mode
        ``dense``, ``masked`` (LTH), ``edge-popup`` or ``biprop``.
    keep
        Fraction ``k`` of weights kept by score modes, in ``(0, 1]`` (unused by other modes).
    scope
        ``layerwise`` top-k per layer or one ``global`` threshold.
    mask_rule
        Name of a registered mask rule (:data:`empirical.mask_rules.MASK_RULES`): ``topk``,
        ``bernoulli`` (supermask), ...
    init
        Weight initialisation (see :mod:`empirical.init`).
    fan_rule
        How the kept fraction scales ``fan_in`` in the scaled inits of score layers: ``paper``
        (``k fan_in``) or ``released`` (``(1 - k) fan_in``), see :func:`empirical.init.fan_factor`.
    penalty
        Strength ``lambda >= 0`` of the mask rule's sparsity penalty (rules that have one:
        ``hard-concrete``'s expected L0 norm, ``gem-miner``'s ``||s||^2``), see
        :func:`empirical.mask_rules.check_rule`.
    redraw_every, redraw_fraction
        IteRand's period ``K_per`` (iterations) and re-drawn fraction ``r`` of the pruned
        weights (:class:`empirical.mask_rules.IteRand`).
    bias_scores
        Score modes: prune the biases by scores of their own (module docstring); layers
        without a bias are unaffected.
    prune_bias
        ``masked`` mode: a layer with a bias also masks it (a 0/1 buffer ``bias_mask``,
        ``b_eff = b * m_b``), so pruning can remove biases together with the weights.
    """

    mode: str = "dense"
    keep: float = 1.0
    scope: str = "layerwise"
    mask_rule: str = "topk"
    init: str = "kn"
    fan_rule: str = "paper"
    penalty: float = 0.0
    redraw_every: int = REDRAW_EVERY
    redraw_fraction: float = REDRAW_FRACTION
    bias_scores: bool = False
    prune_bias: bool = False

    def __post_init__(self) -> None:
        check_choice(self.mode, LAYER_MODES, "layer mode")
        check_choice(self.scope, SCOPES, "scope")
        check_rule(self.mask_rule, self.penalty, self.redraw_every, self.redraw_fraction)
        check_choice(self.init, INITS, "init")
        check_choice(self.fan_rule, FAN_RULES, "fan rule")
        check_keep(self.keep)


class _ScoreWeight(torch.autograd.Function):
    """``W_eff`` from a precomputed mask; backward asks the mask rule for the score gradient."""

    @staticmethod
    def forward(ctx: Any, scores: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor,
                effective: torch.Tensor, rule: MaskRule) -> torch.Tensor:
        ctx.save_for_backward(scores, weight, mask)
        ctx.rule = rule
        return effective

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        scores, weight, mask = ctx.saved_tensors
        return ctx.rule.score_grad(scores, mask, grad * weight), None, None, None, None


_BIAS_RULE = TopK()
"""The bias scores' rule: per-layer top-k, straight-through gradient ``g sign(s_b)``."""


class FactoryLayer(nn.Module):
    """Mixin for the factory's linear and conv layers: the mode logic lives here, once.

    Attributes
    ----------
    weight
        The weights (frozen in score modes).
    scores
        Trained scores, same shape as ``weight`` (score modes only).
    mask
        Float 0/1 buffer (``masked`` mode only; state-dict key ``<layer>.mask``).
    source
        Float 0/1 buffer of a sparse random source (score modes; None for a dense source, the
        default): the weights the source has, see :mod:`empirical.sparse_source`.
    bias_mask
        Float 0/1 buffer of the bias (``masked`` mode with ``LayerConfig.prune_bias`` and a
        bias; else None, and no state-dict key).
    mask_folded
        ``masked`` mode inside :func:`folded_masks`: the forward uses ``W`` itself, whose pruned
        entries the caller keeps at zero.
    bias_scores
        Scores of the bias (score modes with ``LayerConfig.bias_scores`` and a bias; else None).
    keep
        Current kept fraction (annealed by :func:`set_keep`).
    rule
        The layer's :class:`~empirical.mask_rules.MaskRule` instance (score modes; else None).
    """

    weight: nn.Parameter
    bias: nn.Parameter | None

    def _setup(self, cfg: LayerConfig) -> None:
        self.mode = cfg.mode
        self.scope = cfg.scope
        self.keep = cfg.keep
        self.global_scope: GlobalScope | None = None
        self.rule: MaskRule | None = None
        self.register_buffer("source", None)
        init_weight_(self.weight, cfg.init, cfg.keep if cfg.mode in SCORE_MODES else None,
                     cfg.fan_rule)
        if self.bias is not None:
            init_bias_(self.bias, self.weight[0].numel())
        if cfg.mode in SCORE_MODES:
            self.scores = nn.Parameter(init_scores_(torch.empty_like(self.weight)))
            self.weight.requires_grad_(False)
            if self.bias is not None:
                self.bias.requires_grad_(False)
            self.rule = MASK_RULES[cfg.mask_rule]()
            self.rule.setup(self, cfg)
        else:
            self.register_parameter("scores", None)
        if cfg.mode in SCORE_MODES and cfg.bias_scores and self.bias is not None:
            bound = 1.0 / math.sqrt(self.weight[0].numel())  # as the weight scores
            self.bias_scores = nn.Parameter(torch.empty_like(self.bias).uniform_(-bound, bound))
        else:
            self.register_parameter("bias_scores", None)
        if cfg.mode == "masked":
            self.register_buffer("mask", torch.ones_like(self.weight))
        else:
            self.register_buffer("mask", None)
        masks_bias = cfg.mode == "masked" and cfg.prune_bias and self.bias is not None
        self.register_buffer("bias_mask", torch.ones_like(self.bias) if masks_bias else None)
        self.mask_folded = False
        self.holding = False
        self.held: torch.Tensor | None = None

    def current_mask(self) -> torch.Tensor:
        """The mask the forward pass applies now (ones for ``dense``), without gradient."""
        if self.mode == "dense":
            return torch.ones_like(self.weight)
        if self.mode == "masked":
            return self.mask
        with torch.no_grad():
            mask = self.rule.mask(self)
            return mask if self.source is None else mask * self.source

    def alpha(self, mask: torch.Tensor | None = None) -> torch.Tensor:
        """biprop gain ``alpha = sum(|W| m) / max(sum(m), 1)``: 0 if nothing is kept, never NaN."""
        mask = self.current_mask() if mask is None else mask
        return (self.weight.detach().abs().mul_(mask).sum() / mask.sum().clamp_min(1.0)).detach()

    def effective_weight(self) -> torch.Tensor:
        """``W_eff`` of the layer's mode (module docstring); inside :func:`held_weights` the one
        computed by the block's first pass."""
        if self.held is not None:
            return self.held
        if self.mode == "dense" or (self.mode == "masked" and self.mask_folded):
            return self.weight
        mask = self.current_mask()
        if self.mode == "masked":
            effective = self.weight * mask
        else:
            weight = self.weight.detach()
            if self.mode == "biprop":
                effective = weight.sgn().mul_(mask).mul_(self.alpha(mask))
            else:
                effective = weight * mask
            effective = _ScoreWeight.apply(self.scores, weight, mask, effective, self.rule)
        if self.holding:
            self.held = effective
        return effective

    def bias_score_mask(self) -> torch.Tensor | None:
        """The 0/1 mask of the bias in a score mode: top-k of ``|s_b|`` at the layer's kept
        fraction, or None when the layer has no bias scores (module docstring)."""
        if self.bias_scores is None:
            return None
        with torch.no_grad():
            return top_mask(self.bias_scores.abs(), kept_count(self.bias_scores.numel(), self.keep))

    def effective_bias(self) -> torch.Tensor | None:
        """``b_eff = b * m_b``: with bias scores (score modes) the mask is
        :meth:`bias_score_mask` and the scores get the straight-through gradient; with a
        ``bias_mask`` buffer (``masked`` mode, outside :func:`folded_masks`) the buffer; else
        ``b``."""
        mask = self.bias_score_mask()
        if mask is not None:
            bias = self.bias.detach()
            return _ScoreWeight.apply(self.bias_scores, bias, mask, bias * mask, _BIAS_RULE)
        if self.bias_mask is None or self.mask_folded:
            return self.bias
        return self.bias * self.bias_mask

    def extra_repr(self) -> str:
        """Mode and kept fraction after the usual shape description."""
        extra = f", mode={self.mode}"
        if self.mode in SCORE_MODES:
            extra += f", keep={self.keep}, scope={self.scope}, rule={self.rule.name}"
        return super().extra_repr() + extra


class FactoryLinear(FactoryLayer, nn.Linear):
    """Linear layer of the factory (``y = x W_eff^T + b``)."""

    def __init__(self, in_features: int, out_features: int, cfg: LayerConfig,
                 bias: bool = False) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias=bias)
        self._setup(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Linear map with the effective weight."""
        return F.linear(x, self.effective_weight(), self.effective_bias())


class FactoryConv1d(FactoryLayer, nn.Conv1d):
    """1-D convolution of the factory (MNIST-1D models)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, cfg: LayerConfig,
                 stride: int = 1, padding: int = 0, bias: bool = False) -> None:
        nn.Conv1d.__init__(self, in_channels, out_channels, kernel_size, stride=stride,
                           padding=padding, bias=bias)
        self._setup(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution with the effective weight."""
        return self._conv_forward(x, self.effective_weight(), self.effective_bias())


class FactoryConv2d(FactoryLayer, nn.Conv2d):
    """2-D convolution of the factory."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, cfg: LayerConfig,
                 stride: int = 1, padding: int = 0, bias: bool = False) -> None:
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, stride=stride,
                           padding=padding, bias=bias)
        self._setup(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution with the effective weight."""
        return self._conv_forward(x, self.effective_weight(), self.effective_bias())


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def make_linear(in_features: int, out_features: int, cfg: LayerConfig,
                bias: bool = False) -> FactoryLinear:
    """A linear layer in the mode of ``cfg``.

    Parameters
    ----------
    in_features, out_features
        Sizes (>= 1).
    cfg
        The layer configuration.
    bias
        Whether the layer has a bias (frozen in score modes; never pruned).

    Returns
    -------
    FactoryLinear
        The layer.
    """
    _check_sizes(in_features=in_features, out_features=out_features)
    return FactoryLinear(in_features, out_features, cfg, bias=bias)


def make_conv(in_channels: int, out_channels: int, kernel_size: int, cfg: LayerConfig,
              stride: int = 1, padding: int = 0, dim: int = 2,
              bias: bool = False) -> FactoryConv1d | FactoryConv2d:
    """A 1-D or 2-D convolution in the mode of ``cfg``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size
        Sizes (>= 1).
    cfg
        The layer configuration.
    stride, padding
        As in :class:`torch.nn.Conv2d`.
    dim
        1 (sequences, ``(B, C, L)``) or 2 (images, ``(B, C, H, W)``).
    bias
        Whether the layer has a bias.

    Returns
    -------
    FactoryConv1d or FactoryConv2d
        The layer.
    """
    _check_sizes(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)
    if dim not in (1, 2):
        raise ValueError(f"convolutions are 1-D or 2-D, got dim={dim}")
    cls = FactoryConv1d if dim == 1 else FactoryConv2d
    return cls(in_channels, out_channels, kernel_size, cfg, stride=stride, padding=padding,
               bias=bias)


def make_norm(num_features: int, kind: str, dim: int = 2) -> nn.Module:
    """BatchNorm of a kind: ``none`` (identity), ``nonaffine`` (no gamma/beta), ``affine`` (+BN).

    Running statistics are tracked in both BatchNorm kinds (non-affine BN of edge-popup/biprop).

    Parameters
    ----------
    num_features
        Channels.
    kind
        One of ``none``, ``nonaffine``, ``affine``.
    dim
        1 for ``(B, C)`` / ``(B, C, L)`` inputs, 2 for images.

    Returns
    -------
    nn.Module
        ``nn.Identity`` or a BatchNorm module.
    """
    check_choice(kind, NORMS, "batch-norm kind")
    if kind == "none":
        return nn.Identity()
    cls = nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d
    return cls(num_features, affine=kind == "affine")


def make_activation(binary: bool) -> nn.Module:
    """``nn.ReLU`` or the binary sign with the Bi-Real gradient (MPT-1/1)."""
    return BinaryActivation() if binary else nn.ReLU()


def prunable_layers(model: nn.Module) -> list[tuple[str, FactoryLayer]]:
    """``(name, layer)`` of every factory layer of ``model``, in module order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, FactoryLayer)]


def _score_layers(model: nn.Module) -> Iterator[tuple[str, FactoryLayer]]:
    return ((n, m) for n, m in prunable_layers(model) if m.mode in SCORE_MODES)


def bind_global_scope(model: nn.Module) -> nn.Module:
    """Give every global-scope top-k score layer of ``model`` one shared :class:`GlobalScope`.

    The scope holds its masks for each forward pass of ``model`` (hooks on ``model``); binding
    again replaces the previous scope and its hooks.

    Parameters
    ----------
    model
        A model built from factory layers.

    Returns
    -------
    nn.Module
        ``model`` (layers changed in place).
    """
    members = [m for _, m in _score_layers(model)
               if m.scope == "global" and isinstance(m.rule, TopK)]
    for layer in members:
        if layer.global_scope is not None:
            layer.global_scope.detach()
    if members:
        scope = GlobalScope(members)
        scope.attach(model)
        for layer in members:
            layer.global_scope = scope
    return model


def set_keep(model: nn.Module, keep: float) -> None:
    """Set the kept fraction ``k`` of every score layer (global annealing, sweeps)."""
    check_keep(keep)
    for _, layer in _score_layers(model):
        layer.keep = float(keep)


def annealed_keep(keep: float, epoch: int, anneal_epochs: int) -> float:
    """biprop's cubic annealing of the global kept fraction for ``k <= 0.5``.

    ``k(e) = k + (0.5 - k) (1 - e / E)^3`` for ``e < E``, then ``k``: training starts keeping half
    of the weights and sparsifies smoothly (Diffenderfer & Kailkhura 2021, global pruning).

    Parameters
    ----------
    keep
        Final kept fraction ``k``.
    epoch
        Epoch ``e >= 0``.
    anneal_epochs
        ``E``; 0 disables annealing.

    Returns
    -------
    float
        ``k(e)``; ``k`` itself when ``k > 0.5``, ``e >= E`` or ``E = 0``.
    """
    check_keep(keep)
    if keep > 0.5 or anneal_epochs <= 0 or epoch >= anneal_epochs:
        return keep
    return keep + (0.5 - keep) * (1.0 - epoch / anneal_epochs) ** 3


@contextlib.contextmanager
def _layers_set(layers: list[FactoryLayer], **values: Any) -> Iterator[None]:
    """Hold the masks of every global scope of ``layers`` (:meth:`GlobalScope.held`) and give
    every layer the attribute ``values``; the previous values come back after the block."""
    saved = [{name: getattr(layer, name) for name in values} for layer in layers]
    scopes = {id(m.global_scope): m.global_scope for m in layers if m.global_scope is not None}
    with contextlib.ExitStack() as stack:
        for scope in scopes.values():
            stack.enter_context(scope.held())
        for layer in layers:
            for name, value in values.items():
                setattr(layer, name, value)
        try:
            yield
        finally:
            for layer, old in zip(layers, saved, strict=True):
                for name, value in old.items():
                    setattr(layer, name, value)


def held_weights(model: nn.Module) -> contextlib.AbstractContextManager[None]:
    """Compute each factory layer's effective weight (mask, gain) once for a block of forward
    passes that cannot change it: an evaluation, in eval mode and without gradient.

    Inside the block each layer keeps the ``W_eff`` of its first forward pass and returns it to
    the later ones; the global scopes hold their masks for the whole block. The scores, weights
    and kept fraction must not change inside it, and the layers must be in eval mode (the
    stochastic rules sample while training). An evaluation of ``b`` batches then makes one top-k
    selection per layer instead of ``b``, with the same ``W_eff`` (the masks are a deterministic
    function of the scores in eval mode).

    Parameters
    ----------
    model
        A model built from factory layers (a DDP wrapper is fine; not a compiled model, whose
        graph computes the masks itself).
    """
    layers = [layer for _, layer in prunable_layers(model) if layer.mode != "dense"]
    return _layers_set(layers, holding=True, held=None)


def _ticket_view(model: nn.Module) -> contextlib.AbstractContextManager[None]:
    """Global masks held, and every factory layer in eval mode (restored after): the masks seen
    are the ticket's, deterministic also for the stochastic rules (bernoulli, hard-concrete)."""
    return _layers_set([layer for _, layer in prunable_layers(model)], training=False)


def layer_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """``name -> 0/1 mask`` of every prunable layer (ones for dense layers): the current mask in
    eval mode, whatever the model's mode (the deterministic mask of a stochastic rule)."""
    with _ticket_view(model):
        return {name: layer.current_mask() for name, layer in prunable_layers(model)}


def layer_alphas(model: nn.Module) -> dict[str, float]:
    """``name -> alpha`` of every biprop layer (the per-layer gain of MPT-1/32) for the masks of
    :func:`layer_masks`."""
    with _ticket_view(model):
        return {name: float(layer.alpha()) for name, layer in prunable_layers(model)
                if layer.mode == "biprop"}


def kept_fractions(model: nn.Module) -> dict[str, float]:
    """``name -> fraction of the layer's weights kept`` by its current mask."""
    return {name: float(mask.float().mean()) for name, mask in layer_masks(model).items()}


def masked_layers(model: nn.Module) -> list[FactoryLayer]:
    """The factory layers of ``model`` in ``masked`` mode (LTH), in module order."""
    return [layer for _, layer in prunable_layers(model) if layer.mode == "masked"]


@torch.no_grad()
def _zero_pruned_(layers: Sequence[FactoryLayer]) -> None:
    """``W <- W m`` (and ``b <- b m_b`` where a bias is masked) for each of ``layers``
    (``masked`` mode), one foreach product for all."""
    pairs = [pair for layer in layers
             for pair in ((layer.weight, layer.mask), (layer.bias, layer.bias_mask))
             if pair[1] is not None]
    if pairs:
        weights, masks = zip(*pairs, strict=True)
        torch._foreach_mul_(list(weights), list(masks))


def enforce_masks_(model: nn.Module) -> None:
    """Zero the pruned weights (and masked biases) of every ``masked`` layer in place (after
    each optimiser step)."""
    _zero_pruned_(masked_layers(model))


@contextlib.contextmanager
def folded_masks(model: nn.Module) -> Iterator[Callable[[], None]]:
    """Fold the LTH masks into the weights for a training loop: ``W_eff = W`` instead of ``W m``.

    On entry the pruned weights are zeroed, and the caller promises to call the function the
    block receives after every optimiser step (it zeroes them again: :func:`enforce_masks_` of the
    layers found on entry, without walking the modules; nothing at all for a model without masked
    layers), so ``W = W m`` holds at every forward pass inside the block and the forward and
    backward skip the two products with ``m`` (one pass each). The kept weights
    follow exactly the trajectory of the unfolded layer under any elementwise optimiser (SGD,
    momentum, weight decay, Adam): their gradients are the same, and a pruned weight that the
    step moves (its gradient is no longer masked) is zeroed again before it is used. Optimiser
    state at pruned entries differs, and so would a non-elementwise step (global gradient-norm
    clipping, LARS): mask the gradients first there. Outside the block, layers multiply by ``m``.

    Parameters
    ----------
    model
        A model built from factory layers (wrappers: pass the inner module).

    Yields
    ------
    Callable[[], None]
        Re-zeroes the pruned weights of the folded layers.
    """
    layers = masked_layers(model)
    _zero_pruned_(layers)
    for layer in layers:
        layer.mask_folded = True
    try:
        yield lambda: _zero_pruned_(layers)
    finally:
        for layer in layers:
            layer.mask_folded = False


@torch.no_grad()
def set_layer_weights_(model: nn.Module, weights: list[torch.Tensor],
                       biases: list[torch.Tensor] | None = None) -> nn.Module:
    """Overwrite the weights (and biases) of the model's factory layers with given tensors.

    The hook that loads a source network drawn elsewhere (a theory construction's random source,
    a planted network) into a model of the layer factory, replacing its own initialisation:
    layer ``i`` of :func:`prunable_layers` (module order) gets ``weights[i]``
    (shape ``(out, in)`` as the layer's ``weight``) and, if given, ``biases[i]``. Scores, masks
    and freezing are left as they are (a score layer's weights stay frozen).

    Parameters
    ----------
    model
        A model built from factory layers.
    weights
        One tensor (or array) per factory layer, in module order, of the layer's weight shape.
    biases
        One vector per factory layer, or None to leave the biases alone; every layer must then
        have a bias.

    Returns
    -------
    nn.Module
        ``model`` (changed in place).

    Raises
    ------
    ValueError
        When the counts or shapes differ, or a bias is given for a layer without one.
    """
    layers = prunable_layers(model)
    if len(weights) != len(layers):
        raise ValueError(f"got {len(weights)} weight tensors for {len(layers)} factory layers")
    if biases is not None and len(biases) != len(layers):
        raise ValueError(f"got {len(biases)} bias vectors for {len(layers)} factory layers")
    for i, (name, layer) in enumerate(layers):
        weight = torch.as_tensor(weights[i])
        if tuple(weight.shape) != tuple(layer.weight.shape):
            raise ValueError(f"layer {name}: weight of shape {tuple(weight.shape)}, the layer "
                             f"has {tuple(layer.weight.shape)}")
        if biases is not None:
            bias = torch.as_tensor(biases[i])
            if layer.bias is None or tuple(bias.shape) != tuple(layer.bias.shape):
                have = None if layer.bias is None else tuple(layer.bias.shape)
                raise ValueError(f"layer {name}: bias of shape {tuple(bias.shape)}, the layer "
                                 f"has {have}")
    for i, (_, layer) in enumerate(layers):
        layer.weight.copy_(torch.as_tensor(weights[i]).to(layer.weight))
        if biases is not None:
            layer.bias.copy_(torch.as_tensor(biases[i]).to(layer.bias))
    return model
