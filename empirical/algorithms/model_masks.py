"""The masks of a factory model's prunable layers as ``name -> tensor`` mappings, read and written.

The bridge between a model (layers in ``masked`` mode) and the pure mask logic of
:mod:`empirical.algorithms.pruning`.

A layer whose bias is masked too (``LayerConfig.prune_bias``: a ``bias_mask`` buffer) is one
pruning pool of ``W.numel() + b.numel()`` entries: its "weights" here are the flat vector
``cat(W.flatten(), b)`` and its mask ``cat(m_W.flatten(), m_b)``, the per-layer parameter vector
that the MNIST-1D lottery-ticket notebook (Greydanus & Kobak 2020, ``SparseLinear.param2vec``)
ranks by magnitude and masks as a whole. Layers without a bias mask keep weight-shaped tensors.
"""

from __future__ import annotations

import torch
from torch import nn

from empirical.algorithms import pruning
from empirical.layers import enforce_masks_, layer_masks, prunable_layers


def _joined(weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``weight``, or ``cat(weight.flatten(), bias)`` when the layer's bias is masked."""
    return weight if bias is None else torch.cat([weight.reshape(-1), bias.reshape(-1)])


def prunable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """``name -> weight`` of the model's prunable layers, in model order (joined with the bias
    where the bias is masked, see the module docstring)."""
    return {name: _joined(layer.weight.detach(), None if layer.bias_mask is None
                          else layer.bias.detach())
            for name, layer in prunable_layers(model)}


def model_masks(model: nn.Module) -> pruning.Masks:
    """``name -> bool mask`` of the model's prunable layers, in model order (joined with the bias
    mask where there is one)."""
    layers = dict(prunable_layers(model))
    return {name: _joined(mask.detach(), layers[name].bias_mask).bool().cpu()
            for name, mask in layer_masks(model).items()}


def split_mask(layer: nn.Module, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A layer's mask as ``(weight mask, bias mask)``; the bias part is None unless the layer
    masks its bias (then ``mask`` is the joined ``cat(m_W.flatten(), m_b)``)."""
    if layer.bias_mask is None:
        return mask, None
    n = layer.weight.numel()
    if mask.numel() != n + layer.bias.numel():
        raise ValueError(f"a joined mask has {mask.numel()} entries; the layer's weights and bias "
                         f"have {n + layer.bias.numel()}")
    flat = mask.reshape(-1)
    return flat[:n].reshape(layer.weight.shape), flat[n:]


@torch.no_grad()
def set_masks_(model: nn.Module, masks: pruning.Masks) -> None:
    """Write ``masks`` into the layers' ``mask`` (and ``bias_mask``) buffers and zero the pruned
    weights and biases."""
    layers = dict(prunable_layers(model))
    if list(layers) != list(masks):
        raise ValueError(f"masks name layers {list(masks)}, the model has {list(layers)}")
    for name, layer in layers.items():
        weight_mask, bias_mask = split_mask(layer, masks[name])
        layer.mask.copy_(weight_mask.to(layer.mask))
        if bias_mask is not None:
            layer.bias_mask.copy_(bias_mask.to(layer.bias_mask))
    enforce_masks_(model)
