"""SynFlow (Tanaka, Kunin, Yamins & Ganguli, NeurIPS 2020): iterative synaptic flow, data-free.

Every parameter and buffer is replaced by its absolute value (``|theta|``), the network is fed an
all-ones input, and ``R = 1^T (prod_l |W_l|) 1`` is the sum of its outputs; the score of a weight
is ``S(w) = dR/dw * w`` (non-negative). Pruning repeats this for ``n`` rounds (100 by default), the
density of round ``k`` being ``d^(k/n)`` (the exponential schedule of Algorithm 1), so the
conservation of synaptic flow that prevents layer collapse holds round after round. The network is
evaluated in float64 (the paper's remedy for overflow) and in evaluation mode.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from empirical.algorithms.criteria import Criterion, Scores, ScoringInputs, register_criterion
from empirical.layers import prunable_layers


@register_criterion
class SynFlow(Criterion):
    """``dR/dw * w`` with ``R`` the summed output of the absolute-valued network on ones."""

    name = "synflow"
    rounds = 100

    def scores(self, model: nn.Module, inputs: ScoringInputs) -> Scores:
        """Synaptic-flow scores on a float64 copy of ``model`` (left unchanged); data-free."""
        twin = copy.deepcopy(model).double().eval()
        with torch.no_grad():
            for tensor in [*twin.parameters(), *twin.buffers()]:
                if tensor.is_floating_point():
                    tensor.abs_()
        layers = prunable_layers(twin)
        params = [layer.weight for _, layer in layers]
        for p in twin.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        ones = torch.ones((1, *inputs.input_shape), dtype=torch.float64, device=params[0].device)
        flow = twin(ones).sum()
        grads = torch.autograd.grad(flow, params)
        return {name: (g * p.detach()).to(model_weight.dtype)
                for (name, _), p, g, model_weight in zip(
                    layers, params, grads, [w.weight for _, w in prunable_layers(model)],
                    strict=True)}

