"""A found ticket as a fixed network: every factory layer in ``masked`` mode, ``W_eff = V * m``.

:func:`freeze_` turns the layers of a trained model (biprop, edge-popup or LTH) into fixed masked
layers whose forward pass computes the same numbers: biprop's ``W_eff = (alpha sign(W)) m``
becomes ``V = alpha sign(W)`` (the same product, so bit for bit the same tensor) times ``m``,
edge-popup's ``W m`` becomes ``V = W`` times ``m``; LTH layers are masked already. The scores
are dropped. :func:`plain_model` replaces the factory layers by ``nn.Linear`` / ``nn.Conv*`` with
``W_eff`` and the Bi-Real sign by a plain ``where(x >= 0, 1, -1)``: the float simulation of the
ticket in standard modules (what the ONNX export and the packed kernels are checked against).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn

from empirical.activations import BinaryActivation
from empirical.layers import FactoryConv1d, FactoryConv2d, FactoryLayer, prunable_layers


class Sign(nn.Module):
    """``+1`` where ``x >= 0``, ``-1`` elsewhere: the forward pass of the binary activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Binary output of the same dtype as ``x``."""
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


def kept_values(layer: FactoryLayer, mask: torch.Tensor) -> torch.Tensor:
    """The weight values ``V`` of a layer under ``mask``: ``alpha sign(W)`` (biprop), else ``W``.

    Parameters
    ----------
    layer
        A factory layer.
    mask
        Its float 0/1 mask.

    Returns
    -------
    torch.Tensor
        ``V`` such that ``V * mask`` is the layer's effective weight.
    """
    weight = layer.weight.detach()
    if layer.mode == "biprop":
        return layer.alpha(mask) * torch.sign(weight)
    return weight.clone()


@torch.no_grad()
def freeze_(model: nn.Module, masks: Mapping[str, torch.Tensor],
            values: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    """Put every factory layer of ``model`` in ``masked`` mode with weight ``V`` and mask ``m``.

    Parameters
    ----------
    model
        A model of the layer factory (any mode).
    masks
        ``name -> 0/1 mask`` of every prunable layer.
    values
        ``name -> V``; default :func:`kept_values` of the layer (computed before its mode changes).

    Returns
    -------
    nn.Module
        ``model``, changed in place, in eval mode.
    """
    layers = dict(prunable_layers(model))
    if set(layers) != set(masks):
        raise ValueError(f"masks name layers {sorted(masks)}, the model has {sorted(layers)}")
    scopes = {id(s): s for s in (getattr(layer, "global_scope", None) for layer in layers.values())
              if s is not None}
    for scope in scopes.values():
        scope.detach()  # a frozen model has no scores left to select from
    for name, layer in layers.items():
        mask = masks[name].to(layer.weight.dtype).reshape(layer.weight.shape)
        value = kept_values(layer, mask) if values is None or name not in values else values[name]
        layer.weight.data = value.to(layer.weight.dtype).reshape(layer.weight.shape).contiguous()
        layer.weight.requires_grad_(False)
        layer.mode = "masked"
        layer.scores = None
        layer.global_scope = None
        layer.mask = mask.clone()
    return model.eval()


def _plain_layer(layer: FactoryLayer) -> nn.Module:
    weight = layer.effective_weight().detach()
    bias = layer.bias is not None
    if isinstance(layer, FactoryConv2d | FactoryConv1d):
        cls = nn.Conv2d if isinstance(layer, FactoryConv2d) else nn.Conv1d
        plain: nn.Module = cls(layer.in_channels, layer.out_channels, layer.kernel_size,
                               stride=layer.stride, padding=layer.padding, bias=bias)
    else:
        plain = nn.Linear(layer.in_features, layer.out_features, bias=bias)
    plain.weight.data = weight.clone()
    if bias:
        plain.bias.data = layer.bias.detach().clone()
    return plain


def plain_model(model: nn.Module) -> nn.Module:
    """A copy of a frozen ticket in standard modules (``nn.Linear``/``nn.Conv*``, :class:`Sign`).

    Parameters
    ----------
    model
        A model of the layer factory.

    Returns
    -------
    nn.Module
        A deep copy in eval mode whose forward pass computes the same logits with standard
        operators only (exportable to ONNX).
    """
    plain = copy.deepcopy(model).eval()
    replacements = {name: _plain_layer(m) for name, m in plain.named_modules()
                    if isinstance(m, FactoryLayer)}
    replacements.update({name: Sign() for name, m in plain.named_modules()
                         if isinstance(m, BinaryActivation)})
    for name, module in replacements.items():
        parent_name, _, child = name.rpartition(".")
        parent = plain.get_submodule(parent_name) if parent_name else plain
        setattr(parent, child, module)
    return plain
