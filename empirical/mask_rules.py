"""Mask rules of score layers: how a mask is computed from the scores, and the score gradient.

A score layer (edge-popup, biprop; :mod:`empirical.layers`) has frozen weights ``W`` and trained
scores ``s`` of the same shape; its mask ``m`` comes from ``s`` by the layer's *mask rule*, an
object of a :class:`MaskRule` subclass registered in :data:`MASK_RULES` under its ``name``. The
layer factory makes one instance per layer, so a rule may own per-layer state: its
:meth:`MaskRule.setup` may register parameters, buffers or module hooks on the layer (a hook on
the layer's forward pass is a per-step callback while training). Adding a rule is one class and
its :func:`register_mask_rule` decorator; the hyperparameters (``MaskHparams.mask_rule``), the
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
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from empirical.topk import kept_count, top_mask

SCOPES = ("layerwise", "global")


class ScoreLayer(Protocol):
    """What a mask rule reads from its layer (a factory layer in a score mode)."""

    scores: nn.Parameter
    weight: nn.Parameter
    keep: float
    scope: str
    training: bool
    global_scope: GlobalScope | None


class MaskRule:
    """A mask rule: the mask of a score layer and the gradient its scores get (module docstring).

    Subclasses set :attr:`name`, implement :meth:`mask` and :meth:`score_grad`, may override
    :meth:`setup`, and are registered with :func:`register_mask_rule`. The factory calls
    ``rule = cls()`` and ``rule.setup(layer)`` once per score layer, after the layer's weights and
    scores are initialised.
    """

    name: ClassVar[str] = ""

    def setup(self, layer: nn.Module) -> None:
        """Add the rule's own parameters, buffers or hooks to ``layer`` (default: nothing).

        Parameters
        ----------
        layer
            The factory layer the rule serves.
        """

    def mask(self, layer: ScoreLayer) -> torch.Tensor:
        """The mask the layer's forward pass applies now, of the weight's shape (no gradient).

        Parameters
        ----------
        layer
            The factory layer (reads ``scores``, ``keep``, ``scope``, ``training``).

        Returns
        -------
        torch.Tensor
            Float mask, 0/1 for the hard rules.
        """
        raise NotImplementedError

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
        raise NotImplementedError


MASK_RULES: dict[str, type[MaskRule]] = {}


def register_mask_rule(cls: type[MaskRule]) -> type[MaskRule]:
    """Class decorator: enter ``cls`` into :data:`MASK_RULES` under ``cls.name``.

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
        flat = torch.cat([layer.scores.detach().abs().reshape(-1).float() for layer in layers])
        mask = top_mask(flat, kept_count(flat.numel(), layers[0].keep))  # k is shared (set_keep)
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

    def mask(self, layer: ScoreLayer) -> torch.Tensor:
        """Exactly ``K`` entries of largest ``|s|`` (layerwise), or the global scope's slice."""
        if layer.scope == "global":
            if layer.global_scope is None:
                raise ValueError("a global-scope layer needs its model's shared threshold: "
                                 "call bind_global_scope(model) after building it")
            return layer.global_scope.mask_of(layer)
        return top_mask(layer.scores.abs(), kept_count(layer.scores.numel(), layer.keep))

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
