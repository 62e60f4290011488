"""SNIP (Lee, Ajanthan & Torr, ICLR 2019): connection sensitivity ``S(w) = |dL/dw * w|``.

The paper writes the sensitivity as ``|g_j(w; D)|`` with ``g_j = dL(c * w)/dc_j`` at ``c = 1`` for
an indicator ``c`` of the connections; since the effective weight is ``c_j w_j``, ``g_j = w_j *
dL/d(c_j w_j)``, which is the gradient of the loss with respect to the effective weight times the
weight. It is normalised by its sum in the paper, which does not change which weights are kept.
The loss is the cross-entropy of one training batch (the paper's mini-batch; its size is the run's
batch size).
"""

from __future__ import annotations

from torch import nn

from empirical.algorithms.criteria import (
    Criterion,
    Scores,
    ScoringInputs,
    layer_gradients,
    register_criterion,
    weights,
)


@register_criterion
class Snip(Criterion):
    """``|g * w|`` on one batch, ``g`` the gradient with respect to the effective weight."""

    name = "snip"
    needs_data = True

    def scores(self, model: nn.Module, inputs: ScoringInputs) -> Scores:
        """``|dL/dW_eff * W|`` for the cross-entropy of ``batch``."""
        data, labels = inputs.require_batch("snip")
        grads = layer_gradients(model, lambda: nn.functional.cross_entropy(model(data), labels))
        # dL/dW = dL/dW_eff * m; on kept weights (m = 1) this is dL/dW_eff.
        return {name: (grads[name] * w).abs() for name, w in weights(model).items()}
