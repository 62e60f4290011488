"""Magnitude at initialisation: ``S(w) = |w|`` (the one-shot baseline of Frankle et al., ICLR 2021,
"Pruning neural networks at initialization: why are we missing the mark?")."""

from __future__ import annotations

from torch import nn

from empirical.algorithms.criteria import (
    Criterion,
    Scores,
    ScoringInputs,
    register_criterion,
    weights,
)


@register_criterion
class Magnitude(Criterion):
    """Keep the weights of largest ``|w|``."""

    name = "magnitude"

    def scores(self, model: nn.Module, inputs: ScoringInputs) -> Scores:
        """``|w|`` of every prunable weight."""
        return {name: w.abs() for name, w in weights(model).items()}
