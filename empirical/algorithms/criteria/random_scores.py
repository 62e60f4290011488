"""Random pruning: i.i.d. uniform scores, so the kept set of each pool is uniformly random.

With layerwise pools of one density this is uniform random pruning; with the ERK per-layer
densities (:func:`empirical.algorithms.layer_densities.erk_densities`) it is the random ERK
baseline (Evci et al., ICML 2020; Liu et al., ICLR 2022).
"""

from __future__ import annotations

import torch
from torch import nn

from empirical.algorithms.criteria import (
    Criterion,
    Scores,
    ScoringInputs,
    register_criterion,
    weights,
)


@register_criterion
class RandomScores(Criterion):
    """Scores drawn from ``U[0, 1)`` by the run's generator, layer after layer in model order."""

    name = "random"

    def scores(self, model: nn.Module, inputs: ScoringInputs) -> Scores:
        """Uniform scores of each layer's shape, drawn in model order on the CPU."""
        gen = inputs.generator
        return {name: torch.rand(w.shape, generator=gen, dtype=torch.float64).to(w.device)
                for name, w in weights(model).items()}
