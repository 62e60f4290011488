"""Mask rules of score layers: how a mask is computed from the scores, and the score gradient.

A score layer (edge-popup, biprop; :mod:`empirical.layers`) has frozen weights ``W`` and trained
scores ``s`` of the same shape; its mask ``m`` comes from ``s`` by the layer's *mask rule*, an
object of a :class:`MaskRule` subclass registered in :data:`MASK_RULES` under its ``name``. The
layer factory makes one instance per layer, so a rule may own per-layer state: its
:meth:`MaskRule.setup` may register parameters, buffers or module hooks on the layer (a hook on
the layer's forward pass is a per-step callback while training). Adding a rule is one class and
its :func:`register_mask_rule` decorator, its name declared in
:data:`empirical.vocabulary.MASK_RULE_NAMES`; the hyperparameters (``MaskHparams.mask_rule``), the
``--mask-rule`` flag and the factory read the registry.

Score gradient. ``W`` gets no gradient; the backward pass gives the rule the elementwise upstream
``g = dL/dW_eff * W`` (biprop: ``alpha`` and ``sign(W)`` are constants, so ``W`` stands in for
``W_eff / m``) and the rule returns ``dL/ds`` (:meth:`MaskRule.score_grad`). Pruned entries
receive gradient too.

The rules (``k`` the kept fraction in ``(0, 1]``):

- ``topk`` (:class:`TopK`, edge-popup, Ramanujan et al., CVPR 2020; biprop, Diffenderfer &
  Kailkhura, ICLR 2021): ``layerwise`` scope keeps the ``K = n - floor((1 - k) n)`` entries of
  largest ``|s|`` (:func:`empirical.topk.top_mask`); ``global`` scope one threshold over ``|s|``
  of all global-scope top-k layers of the model (:class:`GlobalScope`), so per-layer fractions
  differ. Straight-through gradient ``dL/ds = g sign(s)``.
- ``bernoulli`` (supermask, Zhou et al., NeurIPS 2019): ``m ~ Bernoulli(sigmoid(s))`` while
  training, ``m = 1[sigmoid(s) >= 1/2]`` in eval mode; ``k`` and the scope are unused. Gradient
  ``dL/ds = g sigmoid'(s)``.
- ``hard-concrete`` (:class:`HardConcrete`, L0 gates, Louizos, Welling & Kingma, ICLR 2018): the
  scores are ``log alpha``; while training ``m = z``, a hard-concrete sample
  ``z = min(1, max(0, sigmoid((log u - log(1 - u) + log alpha) / beta) (zeta - gamma) + gamma))``
  with ``u ~ U(0, 1)``, ``beta = 2/3``, ``(gamma, zeta) = (-0.1, 1.1)``; in eval mode the 0/1
  mask ``1[z_hat >= 1/2] = 1[log alpha >= 0]`` of the paper's test-time gate
  ``z_hat = min(1, max(0, sigmoid(log alpha) (zeta - gamma) + gamma))``. The gradient is exact
  (reparametrised): ``dL/ds = g dz/d(log alpha)`` plus ``lambda`` (``LayerConfig.penalty``) times
  the derivative of the expected L0 norm ``sigmoid(log alpha - beta log(-gamma / zeta))``.
  ``k`` and the scope are unused.
- ``iterand`` (:class:`IteRand`, Chijiwa et al., NeurIPS 2021): ``topk`` whose pruned weights are
  re-drawn from the initialiser every ``K_per`` training iterations, a fraction ``r`` of them
  (partial randomisation).
- ``gem-miner`` (:class:`GemMiner`, Sreenivasan et al., NeurIPS 2022, "Rare Gems"): scores
  projected onto ``[0, 1]``, the rounded mask ``1[s >= 1/2]`` with a straight-through gradient and
  an L2 penalty ``lambda ||s||^2`` while training, the top-``k`` of ``s`` as the ticket.

Sparse sources. A layer may carry a 0/1 buffer ``source`` (:mod:`empirical.sparse_source`): its
random source is itself sparse, the weights it lacks are 0, and every rule's mask is multiplied by
it; the top-k rules rank only the ``A`` entries the source has and keep ``kept_count(A, k)`` of
them (:func:`ranked_top_mask`), so ``k`` is the fraction of the source's weights kept.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import nn

from empirical.choices import check_choice
from empirical.init import init_weight_
from empirical.topk import kept_count, top_mask
from empirical.vocabulary import REDRAW_EVERY, REDRAW_FRACTION


class ScoreLayer(Protocol):
    """What a mask rule reads from its layer (a factory layer in a score mode)."""

    scores: nn.Parameter
    weight: nn.Parameter
    keep: float
    scope: str
    training: bool
    global_scope: GlobalScope | None
    source: torch.Tensor | None
    rule: MaskRule


class RuleOptions(Protocol):
    """The options of :class:`empirical.layers.LayerConfig` a mask rule may read."""

    penalty: float
    redraw_every: int
    redraw_fraction: float
    init: str
    fan_rule: str
    keep: float




class MaskRule(abc.ABC):
    """A mask rule: the mask of a score layer and the gradient its scores get (module docstring).

    Subclasses set :attr:`name`, implement :meth:`mask` and :meth:`score_grad`, may override
    :meth:`setup`, and are registered with :func:`register_mask_rule`. The factory calls
    ``rule = cls()`` and ``rule.setup(layer, cfg)`` once per score layer, after the layer's
    weights and scores are initialised.

    Attributes
    ----------
    name
        The rule's name (``--mask-rule``).
    penalised
        Whether the rule has a sparsity penalty whose strength is ``LayerConfig.penalty``; a
        penalty given to a rule without one is an error.
    redraws
        Whether the rule re-draws weights (reads ``LayerConfig.redraw_every`` and
        ``redraw_fraction``); other values than the defaults given to another rule are an error.
    """

    name: ClassVar[str] = ""
    penalised: ClassVar[bool] = False
    redraws: ClassVar[bool] = False

    def setup(self, layer: nn.Module, cfg: RuleOptions) -> None:  # noqa: B027 (optional hook)
        """Read options and add the rule's own parameters, buffers or hooks to ``layer``
        (default: nothing).

        Parameters
        ----------
        layer
            The factory layer the rule serves.
        cfg
            The layer's configuration.
        """

    @abc.abstractmethod
    def mask(self, layer: ScoreLayer) -> torch.Tensor:
        """The mask the layer's forward pass applies now, of the weight's shape (no gradient).

        Parameters
        ----------
        layer
            The factory layer (reads ``scores``, ``keep``, ``scope``, ``training``).

        Returns
        -------
        torch.Tensor
            Float mask. In eval mode (``layer.training`` False) it is the 0/1 mask of the
            ticket (:func:`empirical.layers.layer_masks`); while training it may be sampled or
            continuous.
        """

    @abc.abstractmethod
    def score_grad(self, scores: torch.Tensor, mask: torch.Tensor,
                   grad: torch.Tensor) -> torch.Tensor:
        """``dL/ds`` from the upstream ``grad = dL/dW_eff * W``.

        Parameters
        ----------
        scores
            The scores ``s`` of the forward pass.
        mask
            The mask :meth:`mask` returned in that pass.
        grad
            ``dL/dW_eff * W``, a fresh tensor the rule may overwrite.

        Returns
        -------
        torch.Tensor
            The gradient of the scores.
        """


MASK_RULES: dict[str, type[MaskRule]] = {}


def register_mask_rule(cls: type[MaskRule]) -> type[MaskRule]:
    """Class decorator: enter ``cls`` into :data:`MASK_RULES` under ``cls.name`` (``--mask-rule``
    offers the names of :data:`empirical.vocabulary.MASK_RULE_NAMES`: declare it there too).

    Raises
    ------
    ValueError
        When ``cls`` is not a :class:`MaskRule` with a name, or the name is taken.
    """
    if not (isinstance(cls, type) and issubclass(cls, MaskRule) and cls.name):
        raise ValueError(f"{cls!r} is not a MaskRule subclass with a name")
    if cls.name in MASK_RULES:
        raise ValueError(f"mask rule {cls.name!r} is registered already")
    MASK_RULES[cls.name] = cls
    return cls


def check_rule(name: str, penalty: float = 0.0, redraw_every: int = REDRAW_EVERY,
               redraw_fraction: float = REDRAW_FRACTION) -> None:
    """Raise ValueError unless ``name`` is a registered rule and its options fit it.

    Parameters
    ----------
    name
        A mask rule name (:data:`MASK_RULES`).
    penalty
        The strength ``lambda >= 0`` of the rule's sparsity penalty; nonzero only for a rule
        with a penalty (:attr:`MaskRule.penalised`).
    redraw_every, redraw_fraction
        IteRand's period ``K_per >= 1`` (iterations) and re-drawn fraction ``r`` in ``[0, 1]``;
        other than the defaults only for a rule that re-draws (:attr:`MaskRule.redraws`).
    """
    check_choice(name, MASK_RULES, "mask rule")
    if not (math.isfinite(penalty) and penalty >= 0):
        raise ValueError(f"penalty must be >= 0, got {penalty!r}")
    if penalty and not MASK_RULES[name].penalised:
        raise ValueError(f"mask rule {name!r} has no penalty; a penalty applies to "
                         f"{', '.join(n for n, rule in MASK_RULES.items() if rule.penalised)}")
    if int(redraw_every) != redraw_every or redraw_every < 1:
        raise ValueError(f"redraw_every must be an integer >= 1, got {redraw_every!r}")
    if not (math.isfinite(redraw_fraction) and 0 <= redraw_fraction <= 1):
        raise ValueError(f"redraw_fraction must lie in [0, 1], got {redraw_fraction!r}")
    given = (redraw_every, redraw_fraction) != (REDRAW_EVERY, REDRAW_FRACTION)
    if given and not MASK_RULES[name].redraws:
        raise ValueError(f"mask rule {name!r} re-draws no weights; redraw_every and "
                         "redraw_fraction apply to "
                         f"{', '.join(n for n, rule in MASK_RULES.items() if rule.redraws)}")


@torch.no_grad()
def ranked_top_mask(ranking: torch.Tensor, source: torch.Tensor | None,
                    keep: float) -> torch.Tensor:
    """0/1 mask of the ``kept_count(A, keep)`` largest ``ranking`` entries among the ``A``
    entries the sparse ``source`` has (all entries when ``source`` is None).

    Parameters
    ----------
    ranking
        Non-negative values to rank (``|s|``, or a rule's own ranking).
    source
        0/1 tensor of ``ranking``'s shape, or None (a dense source).
    keep
        The kept fraction ``k`` of the source's entries.

    Returns
    -------
    torch.Tensor
        Float mask of ``ranking``'s shape, zero wherever ``source`` is (on the meta device of the
        memory estimates, where no values exist, an empty tensor of that shape).
    """
    if source is not None and ranking.device.type == "meta":
        return torch.empty_like(ranking)
    if source is None:
        return top_mask(ranking, kept_count(ranking.numel(), keep))
    exists = source.bool()
    values = ranking[exists]
    mask = torch.zeros_like(ranking)
    mask[exists] = top_mask(values, kept_count(values.numel(), keep))
    return mask


class GlobalScope:
    """One top-k threshold over the scores of several layers (global pruning).

    The masks are never cached across a possible change of the scores: the scope computes them
    (one :func:`~empirical.topk.top_mask` over all members' ``|s|``) when a forward pass of the
    model it is bound to begins, holds them while that pass runs, and drops them when it ends.
    Whatever changed the scores between two passes (any optimiser, fused or foreach kernels that
    leave ``Tensor._version`` alone, ``.data`` assignment, ``load_state_dict``) is therefore seen,
    and a pass through ``L`` layers still costs one selection, not ``L``. Outside a pass each
    :meth:`mask_of` computes from the current scores; :meth:`held` holds one computation for a
    block of calls.
    """

    def __init__(self, layers: list[ScoreLayer]) -> None:
        self.members = list(layers)
        self._held: list[torch.Tensor] | None = None
        self._depth = 0
        self._hooks: list[Any] = []

    @torch.no_grad()
    def masks(self) -> list[torch.Tensor]:
        """Every member's slice of the global top-k mask of the current ``|s|``, in order."""
        layers = self.members
        flat = torch.cat([layer.rule.ranking(layer).reshape(-1).float() for layer in layers])
        sources = None
        if any(layer.source is not None for layer in layers):
            sources = torch.cat([(torch.ones_like(layer.scores) if layer.source is None
                                  else layer.source).reshape(-1).float() for layer in layers])
        mask = ranked_top_mask(flat, sources, layers[0].keep)  # k is shared (set_keep)
        sizes = [layer.scores.numel() for layer in layers]
        return [m.view_as(layer.scores).to(layer.scores.dtype)
                for m, layer in zip(mask.split(sizes), layers, strict=True)]

    def mask_of(self, member: ScoreLayer) -> torch.Tensor:
        """The member's slice of the global top-k mask of ``|s|``."""
        masks = self._held if self._held is not None else self.masks()
        return masks[next(i for i, layer in enumerate(self.members) if layer is member)]

    def _enter(self, *_: Any) -> None:
        if self._depth == 0:
            self._held = self.masks()
        self._depth += 1

    def _exit(self, *_: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._held = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Compute the masks once and serve them to every :meth:`mask_of` inside the block."""
        self._enter()
        try:
            yield
        finally:
            self._exit()

    def attach(self, model: nn.Module) -> None:
        """Hold the masks for each forward pass of ``model`` (pre-hook and an always-run hook)."""
        self.detach()
        self._hooks = [model.register_forward_pre_hook(self._enter),
                       model.register_forward_hook(self._exit, always_call=True)]

    def detach(self) -> None:
        """Remove the hooks of :meth:`attach`."""
        for handle in self._hooks:
            handle.remove()
        self._hooks = []


@register_mask_rule
class TopK(MaskRule):
    """Top-k of ``|s|`` per layer or over the model's global scope; ``dL/ds = g sign(s)``."""

    name = "topk"

    def ranking(self, layer: ScoreLayer) -> torch.Tensor:
        """What the top-k ranks: ``|s|``."""
        return layer.scores.detach().abs()

    def mask(self, layer: ScoreLayer) -> torch.Tensor:
        """Exactly ``K`` entries of largest :meth:`ranking` (layerwise; among the sparse
        source's entries, :func:`ranked_top_mask`), or the global scope's slice."""
        if layer.scope == "global":
            if layer.global_scope is None:
                raise ValueError("a global-scope layer needs its model's shared threshold: "
                                 "call bind_global_scope(model) after building it")
            return layer.global_scope.mask_of(layer)
        return ranked_top_mask(self.ranking(layer), layer.source, layer.keep)

    def score_grad(self, scores: torch.Tensor, mask: torch.Tensor,
                   grad: torch.Tensor) -> torch.Tensor:
        """Straight-through: ``g sign(s)``."""
        return grad.mul_(scores.sgn())


@register_mask_rule
class Bernoulli(MaskRule):
    """Supermask: ``m ~ Bernoulli(sigmoid(s))`` (training), ``1[sigmoid(s) >= 1/2]`` (eval)."""

    name = "bernoulli"

    def mask(self, layer: ScoreLayer) -> torch.Tensor:
        """A sampled mask in training mode, the deterministic one in eval mode."""
        p = torch.sigmoid(layer.scores)
        return torch.bernoulli(p) if layer.training else (p >= 0.5).to(p.dtype)

    def score_grad(self, scores: torch.Tensor, mask: torch.Tensor,
                   grad: torch.Tensor) -> torch.Tensor:
        """``g sigmoid'(s) = g p (1 - p)`` with ``p = sigmoid(s)``."""
        p = torch.sigmoid(scores)
        return grad.mul_(p).mul_(1 - p)


@register_mask_rule
class HardConcrete(MaskRule):
    """L0 gates of Louizos et al. (ICLR 2018) on ``log alpha = s`` (module docstring).

    Attributes
    ----------
    penalty
        ``lambda``, the strength of the expected-L0 penalty ``lambda sum_j expected_l0(s_j)``,
        whose gradient the backward pass adds to every score (once per backward pass through
        the layer, as a loss term would be).
    """

    name = "hard-concrete"
    penalised = True
    BETA: ClassVar[float] = 2.0 / 3.0
    GAMMA: ClassVar[float] = -0.1
    ZETA: ClassVar[float] = 1.1

    def setup(self, layer: nn.Module, cfg: RuleOptions) -> None:
        """Take ``lambda`` from ``cfg.penalty``."""
        self.penalty = float(cfg.penalty)

    @classmethod
    def gate(cls, log_alpha: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The hard-concrete sample ``z`` of ``log alpha`` at the uniform noise ``u``."""
        s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / cls.BETA)
        return (s * (cls.ZETA - cls.GAMMA) + cls.GAMMA).clamp_(0.0, 1.0)

    @classmethod
    def expected_l0(cls, log_alpha: torch.Tensor) -> torch.Tensor:
        """``P(z != 0) = sigmoid(log alpha - beta log(-gamma / zeta))`` per gate."""
        return torch.sigmoid(log_alpha - cls.BETA * math.log(-cls.GAMMA / cls.ZETA))

    def mask(self, layer: ScoreLayer) -> torch.Tensor:
        """A sample ``z`` in training mode, ``1[log alpha >= 0]`` in eval mode."""
        log_alpha = layer.scores
        if layer.training:
            return self.gate(log_alpha, torch.rand_like(log_alpha))
        return (log_alpha >= 0).to(log_alpha.dtype)

    def score_grad(self, scores: torch.Tensor, mask: torch.Tensor,
                   grad: torch.Tensor) -> torch.Tensor:
        """``g dz/d(log alpha) + lambda d expected_l0 / d(log alpha)``.

        With ``sbar = (z - gamma) / (zeta - gamma)`` the unclamped sigmoid,
        ``dz/d(log alpha) = (zeta - gamma) sbar (1 - sbar) / beta`` where ``0 < z < 1`` and 0
        where the gate is clamped (and in eval mode, where the mask is 0/1).
        """
        sbar = (mask - self.GAMMA) / (self.ZETA - self.GAMMA)
        inside = (mask > 0) & (mask < 1)
        grad.mul_(sbar * (1 - sbar) * ((self.ZETA - self.GAMMA) / self.BETA) * inside)
        if self.penalty:
            q = self.expected_l0(scores)
            grad.add_(q * (1 - q), alpha=self.penalty)
        return grad


@register_mask_rule
class IteRand(TopK):
    """IteRand (Chijiwa, Yamaguchi, Ida, Umakoshi & Inoue, NeurIPS 2021): top-k with re-draws.

    Score training as :class:`TopK` (edge-popup or biprop), and every ``K_per`` training
    iterations (``LayerConfig.redraw_every``) the weights the current mask prunes are partially
    re-randomised: each pruned weight (of those the sparse source has) is replaced,
    independently with probability ``r = LayerConfig.redraw_fraction``, by a fresh draw of the
    layer's initialiser (:func:`empirical.init.init_weight_`, same init, kept
    fraction and fan rule as the layer's own weights); the kept weights and the other pruned ones
    are left alone. This is the paper's partial randomisation (its ``Randomize(theta, m)``,
    which it finds more stable than re-drawing every pruned weight) as the authors' released code
    does it (dchiji-ntt/iterand, ``rerandomize_`` in mode ``bernoulli``, read 2026-12-07):
    each pruned weight is replaced independently with probability ``r`` (their
    ``rerand_lambda``; their README's example runs ``rerand_freq=300``, ``rerand_lambda=0.1``).

    Iterations are counted by a forward pre-hook on the layer (forward passes in training mode,
    one per optimiser step): before the forward of iteration ``t`` with ``t > 0`` and
    ``t % K_per == 0`` the re-draw runs, i.e. after every ``K_per``-th optimiser step. The
    counter ``redraw_step`` and the seed ``redraw_seed`` (drawn from torch's generator when the
    layer is built, so set by the run's seed) are buffers of the layer: they are in every
    checkpoint with the weights, and the re-draw at iteration ``t`` uses a generator seeded from
    ``(redraw_seed, t)`` only, so a resumed run repeats an uninterrupted one bit for bit.
    """

    name = "iterand"
    redraws = True

    def setup(self, layer: nn.Module, cfg: RuleOptions) -> None:
        """Read ``K_per``, ``r`` and the initialiser; add the counter, the seed and the hook."""
        self.every = int(cfg.redraw_every)
        self.fraction = float(cfg.redraw_fraction)
        self.init, self.fan_rule, self.init_keep = cfg.init, cfg.fan_rule, cfg.keep
        layer.register_buffer("redraw_step", torch.zeros((), dtype=torch.int64))
        layer.register_buffer("redraw_seed", torch.randint(0, 2**62, (), dtype=torch.int64))
        layer.register_forward_pre_hook(self._before_forward)

    def _before_forward(self, layer: nn.Module, _inputs: Any) -> None:
        if not layer.training:
            return
        step = int(layer.redraw_step)
        if step and step % self.every == 0:
            self.redraw_(layer, step)
        layer.redraw_step.add_(1)

    @torch.no_grad()
    def redraw_(self, layer: nn.Module, step: int) -> torch.Tensor:
        """Re-draw each currently pruned weight of ``layer`` with probability ``r``, in place.

        Parameters
        ----------
        layer
            The factory layer.
        step
            The iteration ``t`` (with ``redraw_seed``, it seeds the draw).

        Returns
        -------
        torch.Tensor
            Boolean tensor of the weight's shape: the entries re-drawn.
        """
        pruned = layer.current_mask() == 0
        if layer.source is not None:
            pruned &= layer.source.bool()
        state = np.random.SeedSequence([int(layer.redraw_seed), step]).generate_state(2)
        gen = torch.Generator().manual_seed(int(state[0]))
        coins = torch.rand(pruned.shape, generator=gen) < self.fraction
        chosen = pruned & coins.to(pruned.device)
        fresh = torch.empty(layer.weight.shape, dtype=layer.weight.dtype)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(state[1]))
            init_weight_(fresh, self.init, self.init_keep, self.fan_rule)
        layer.weight.copy_(torch.where(chosen, fresh.to(layer.weight.device), layer.weight))
        return chosen


@register_mask_rule
class GemMiner(TopK):
    """Gem-Miner (Sreenivasan, Sohn, Yang, Grinde, Nagle, Wang, Xing, Lee & Papailiopoulos,
    NeurIPS 2022, "Rare Gems: Finding Lottery Tickets at Initialization").

    The scores ``s`` start uniform in ``[0, 1]`` and are projected back onto ``[0, 1]`` before
    every forward pass (a forward pre-hook clamps them in place: the projection after each
    optimiser step). While training the mask is the rounded relaxed mask ``m = 1[s >= 1/2]``
    with the straight-through (identity) gradient, and the loss carries the L2 penalty
    ``lambda ||s||^2`` (``lambda = LayerConfig.penalty``) that pulls the scores toward the
    pruned boundary 0: ``dL/ds = g + 2 lambda s``. The ticket (eval mode, :func:`layer_masks`)
    rounds to the target kept fraction: the top-``k`` of ``s`` (layerwise or global scope, as
    :class:`TopK`). ``lambda`` is constant here; the paper's schedule of ``lambda`` and its
    iterative freezing were not checked and are not implemented.
    """

    name = "gem-miner"
    penalised = True

    def setup(self, layer: nn.Module, cfg: RuleOptions) -> None:
        """Take ``lambda``; scores ``U(0, 1)``; the projection hook."""
        self.penalty = float(cfg.penalty)
        with torch.no_grad():
            layer.scores.uniform_(0.0, 1.0)
        layer.register_forward_pre_hook(self._project)

    @staticmethod
    def _project(layer: nn.Module, _inputs: Any) -> None:
        with torch.no_grad():
            layer.scores.clamp_(0.0, 1.0)

    def ranking(self, layer: ScoreLayer) -> torch.Tensor:
        """The projected scores ``clip(s, 0, 1)``."""
        return layer.scores.detach().clamp(0.0, 1.0)

    def mask(self, layer: ScoreLayer) -> torch.Tensor:
        """``1[s >= 1/2]`` in training mode, the top-``k`` of ``s`` in eval mode."""
        if layer.training:
            return (layer.scores >= 0.5).to(layer.scores.dtype)
        return super().mask(layer)

    def score_grad(self, scores: torch.Tensor, mask: torch.Tensor,
                   grad: torch.Tensor) -> torch.Tensor:
        """Straight-through ``g`` plus the L2 penalty's ``2 lambda s``."""
        return grad.add_(scores, alpha=2.0 * self.penalty)
