"""Pruning criteria: per-weight scores from which a mask keeps the highest, and their registry.

A criterion is one module of this package holding one :class:`Criterion` subclass decorated with
:func:`register_criterion`, declared with its module and citation in
:data:`empirical.vocabulary.CRITERION_SOURCES` (the torch-free list ``--criterion`` offers).
:func:`empirical.algorithms.pruning_at_init.prune_at_init` runs any registered criterion (one
round, or several on an exponential schedule, as SynFlow does), and the scores of every criterion
are defined on the model as built by the layer factory in ``masked`` mode: the effective weight of
a prunable layer is ``W * m`` (``m`` its 0/1 mask), and a pruned weight never scores.

Registered: ``magnitude`` (``|w|``), ``snip`` (Lee et al., ICLR 2019), ``grasp`` (Wang et al.,
ICLR 2020), ``synflow`` (Tanaka et al., NeurIPS 2020), ``random`` (uniform scores; with the ERK
layer densities of :mod:`empirical.algorithms.layer_densities`, the random ERK baseline of Evci et
al., ICML 2020).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import ClassVar

import torch
from torch import nn

from empirical.vocabulary import CRITERION_SOURCES

Batch = tuple[torch.Tensor, torch.Tensor]
Scores = dict[str, torch.Tensor]



@dataclass(frozen=True)
class ScoringInputs:
    """What a criterion may read besides the model.

    Attributes
    ----------
    input_shape : tuple of int
        One input's shape (no batch axis).
    generator : torch.Generator
        The only source of randomness (CPU generator).
    batch : (inputs, labels) or None
        Training data on the model's device (given to criteria with ``needs_data``).
    """

    input_shape: tuple[int, ...]
    generator: torch.Generator
    batch: Batch | None = None

    def require_batch(self, criterion: str) -> Batch:
        """The batch, or a ``ValueError`` naming ``criterion`` if there is none."""
        if self.batch is None:
            raise ValueError(f"{criterion} needs a batch of training data")
        return self.batch


class Criterion:
    """A pruning criterion: scores for the prunable weights of a model (higher is kept).

    Attributes
    ----------
    name : str
        Registry name (the ``criterion`` field of a pruning-at-initialisation run).
    needs_data : bool
        Whether :meth:`scores` reads a batch of training data (SynFlow, magnitude and random do
        not).
    rounds : int
        Default number of pruning rounds (SynFlow: 100, exponential schedule; the others: 1).
    """

    name: ClassVar[str]
    needs_data: ClassVar[bool] = False
    rounds: ClassVar[int] = 1

    def scores(self, model: nn.Module, inputs: ScoringInputs) -> Scores:
        """Score every prunable weight of ``model`` (``name -> tensor`` in model order).

        Parameters
        ----------
        model : nn.Module
            A factory model in ``masked`` mode whose masks are the current ones; it is left as it
            was (weights, gradients, training mode).
        inputs : ScoringInputs
            Input shape, generator, and (for ``needs_data``) a training batch.

        Returns
        -------
        dict
            ``layer name -> scores``, each of the layer weight's shape; pruned entries may hold
            any value (the selection ignores them).
        """
        raise NotImplementedError


CRITERIA: dict[str, type[Criterion]] = {}


def register_criterion(cls: type[Criterion]) -> type[Criterion]:
    """Class decorator: add a :class:`Criterion` subclass to :data:`CRITERIA` under its name.

    Raises
    ------
    ValueError
        If another class is registered under the same name.
    """
    if CRITERIA.get(cls.name, cls) is not cls:
        raise ValueError(f"pruning criterion {cls.name!r} is registered twice")
    CRITERIA[cls.name] = cls
    return cls


def _load() -> None:
    for source in CRITERION_SOURCES.values():  # importing a module registers its class
        import_module(f"{__name__}.{source.module}")


def criterion_names() -> tuple[str, ...]:
    """Names of every registered criterion, in registration order."""
    _load()
    return tuple(CRITERIA)


def get_criterion(name: str) -> Criterion:
    """An instance of the criterion registered as ``name``.

    Raises
    ------
    ValueError
        If no criterion has that name.
    """
    _load()
    if name not in CRITERIA:
        raise ValueError(f"unknown pruning criterion {name!r}; choose one of "
                         f"{', '.join(CRITERIA)}")
    return CRITERIA[name]()


def layer_gradients(model: nn.Module, loss: Callable[[], torch.Tensor]) -> Scores:
    """``dL/dW`` of every prunable layer's weight for the scalar ``loss()``, model unchanged.

    Gradients are taken with :func:`torch.autograd.grad` with respect to the weights, whatever
    their ``requires_grad`` flag, so no ``.grad`` attribute is touched.
    """
    from empirical.layers import prunable_layers

    layers = prunable_layers(model)
    flags = [layer.weight.requires_grad for _, layer in layers]
    try:
        for _, layer in layers:
            layer.weight.requires_grad_(True)
        grads = torch.autograd.grad(loss(), [layer.weight for _, layer in layers])
    finally:
        for (_, layer), flag in zip(layers, flags, strict=True):
            layer.weight.requires_grad_(flag)
    return {name: g.detach() for (name, _), g in zip(layers, grads, strict=True)}


def weights(model: nn.Module) -> Scores:
    """``name -> weight`` (detached) of the model's prunable layers, in model order."""
    from empirical.layers import prunable_layers

    return {name: layer.weight.detach() for name, layer in prunable_layers(model)}


__all__ = ["CRITERIA", "Batch", "Criterion", "Scores", "ScoringInputs", "criterion_names",
           "get_criterion", "layer_gradients", "register_criterion", "weights"]
