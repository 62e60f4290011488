"""The masks of a factory model's prunable layers as ``name -> tensor`` mappings, read and written.

The bridge between a model (layers in ``masked`` mode) and the pure mask logic of
:mod:`empirical.algorithms.pruning`.
"""

from __future__ import annotations

import torch
from torch import nn

from empirical.algorithms import pruning
from empirical.layers import enforce_masks_, layer_masks, prunable_layers


def prunable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """``name -> weight`` of the model's prunable layers, in model order."""
    return {name: layer.weight.detach() for name, layer in prunable_layers(model)}


def model_masks(model: nn.Module) -> pruning.Masks:
    """``name -> bool mask`` of the model's prunable layers, in model order."""
    return {name: mask.detach().bool().cpu() for name, mask in layer_masks(model).items()}


@torch.no_grad()
def set_masks_(model: nn.Module, masks: pruning.Masks) -> None:
    """Write ``masks`` into the layers' ``mask`` buffers and zero the pruned weights."""
    layers = dict(prunable_layers(model))
    if list(layers) != list(masks):
        raise ValueError(f"masks name layers {list(masks)}, the model has {list(layers)}")
    for name, layer in layers.items():
        layer.mask.copy_(masks[name].to(layer.mask))
    enforce_masks_(model)
