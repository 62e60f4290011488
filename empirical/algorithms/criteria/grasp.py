"""GraSP (Wang, Zhang & Grosse, ICLR 2020): gradient signal preservation, ``S(-w) = -w * Hg``.

GraSP removes the weights whose removal least reduces the gradient norm: it scores
``S(-theta) = -theta * H g`` (``H`` the Hessian and ``g`` the gradient of the loss) and prunes the
HIGHEST scores, so the kept weights are those of highest ``theta * H g``; that is the score
returned here. ``H g`` is the gradient of ``g_stop . g(theta)`` with ``g_stop`` a detached copy of
``g``. As in the authors' release, the logits are divided by a temperature ``T = 200`` before the
cross-entropy, in both passes.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from empirical.algorithms.criteria import Criterion, Scores, ScoringInputs, register_criterion
from empirical.layers import prunable_layers


@register_criterion
class Grasp(Criterion):
    """``w * H g`` on one batch (kept: highest), logits at temperature :attr:`temperature`."""

    name = "grasp"
    needs_data = True
    temperature: ClassVar[float] = 200.0

    def scores(self, model: nn.Module, inputs: ScoringInputs) -> Scores:
        """``W * (H g)`` with ``H g = d(g_stop . g)/dW`` for the tempered cross-entropy."""
        data, labels = inputs.require_batch("grasp")
        layers = prunable_layers(model)
        params = [layer.weight for _, layer in layers]
        flags = [p.requires_grad for p in params]
        try:
            for p in params:
                p.requires_grad_(True)

            def loss() -> torch.Tensor:
                return nn.functional.cross_entropy(model(data) / self.temperature, labels)

            stopped = [g.detach() for g in torch.autograd.grad(loss(), params)]
            grads = torch.autograd.grad(loss(), params, create_graph=True)
            dot = sum((g * s).sum() for g, s in zip(grads, stopped, strict=True))
            hg = torch.autograd.grad(dot, params)
        finally:
            for p, flag in zip(params, flags, strict=True):
                p.requires_grad_(flag)
        return {name: (p.detach() * h).detach()
                for (name, _), p, h in zip(layers, params, hg, strict=True)}
