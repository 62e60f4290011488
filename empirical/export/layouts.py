"""The three layouts of a packed ticket (``self-contained``, ``seed-only``, ``lth``): what is
stored per layer, and how it is rebuilt.

The tensors of each layout, their names, bit order and sign convention are documented in
``docs/export.md`` ("Tensors"). In short: masks and biprop signs as bits (1 = kept, 1 = ``+alpha``),
one ``alpha`` per biprop layer, the kept values of edge-popup and LTH layers (``values_dtype``),
LTH's rewind values, rANS-coded masks without weights in ``seed-only`` (the weights are
regenerated from the run's seed), and ``state.<key>`` for BatchNorm state and biases.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from empirical.export.bits import pack_bits, unpack_bits
from empirical.export.frozen import freeze_
from empirical.export.header import VALUE_DTYPE_NAMES
from empirical.export.rans import CodedMask, decode_mask, encode_mask
from empirical.layers import prunable_layers

VALUE_DTYPES = {name: getattr(torch, name) for name in VALUE_DTYPE_NAMES}
SKIPPED_STATE = ("num_batches_tracked",)


def layouts_for(kind: str) -> tuple[str, ...]:
    """The layouts a run kind can be written in (the first is the default)."""
    return ("lth",) if kind == "lth" else ("self-contained", "seed-only")


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of every prunable layer's name, float32 weight bytes and bias bytes, in order."""
    digest = hashlib.sha256()
    for name, layer in prunable_layers(model):
        digest.update(name.encode())
        digest.update(layer.weight.detach().float().contiguous().numpy().tobytes())
        if layer.bias is not None:
            digest.update(layer.bias.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _state_tensors(model: nn.Module, skip_layer_bias: bool) -> dict[str, torch.Tensor]:
    layers = {name for name, _ in prunable_layers(model)}
    out = {}
    for key, value in model.state_dict().items():
        owner, _, leaf = key.rpartition(".")
        if leaf in SKIPPED_STATE:
            continue
        if owner in layers and (leaf in ("weight", "mask", "scores")
                                or (leaf == "bias" and skip_layer_bias)):
            continue
        out[f"state.{key}"] = value.detach().float().clone()
    return out


def _biprop_signs(name: str, values: torch.Tensor, mask: torch.Tensor
                  ) -> tuple[np.ndarray, float]:
    kept = values[mask]
    if kept.numel() == 0:
        return pack_bits(np.zeros(0, bool)), 0.0
    alpha = float(kept.abs().max())
    if not torch.all(kept.abs() == alpha):
        raise ValueError(f"layer {name}: kept weights are not +-alpha (a zero weight was kept?)")
    return pack_bits((kept > 0).numpy()), alpha


def encode_layers(frozen: nn.Module, kind: str, layout: str, values_dtype: str = "float32",
                  rewind: Mapping[str, torch.Tensor] | None = None
                  ) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """The tensors of a frozen ticket (:func:`empirical.export.frozen.freeze_`) in ``layout``.

    Parameters
    ----------
    frozen
        The ticket with every factory layer in ``masked`` mode (weight ``V``, mask ``m``).
    kind
        ``biprop``, ``edge-popup`` or ``lth``.
    layout
        One of :func:`layouts_for` ``(kind)``.
    values_dtype
        Storage dtype of real kept weights (edge-popup, LTH).
    rewind
        LTH: ``theta_k * m`` per layer.

    Returns
    -------
    (dict, list)
        The tensors, and per layer ``{"name", "shape", "kept"}`` for the metadata.
    """
    if layout not in layouts_for(kind):
        raise ValueError(f"a {kind} ticket can be written as {' or '.join(layouts_for(kind))}, "
                         f"not {layout!r}")
    dtype = VALUE_DTYPES[values_dtype]
    tensors: dict[str, torch.Tensor] = {}
    layers = []
    for name, layer in prunable_layers(frozen):
        mask = layer.mask.detach().bool().reshape(-1)
        values = layer.weight.detach().reshape(-1)
        n, kept = mask.numel(), int(mask.sum())
        layers.append({"name": name, "shape": list(layer.weight.shape), "kept": kept})
        if layout == "seed-only":
            if 0 < kept < n:
                coded = encode_mask(mask.numpy())
                tensors[f"{name}.mask_words"] = torch.from_numpy(coded.words.astype(np.int16))
                tensors[f"{name}.mask_counts"] = torch.from_numpy(coded.counts.view(np.int16))
            continue
        tensors[f"{name}.mask"] = torch.from_numpy(pack_bits(mask.numpy()))
        if kind == "biprop":
            signs, alpha = _biprop_signs(name, values, mask)
            tensors[f"{name}.signs"] = torch.from_numpy(signs)
            tensors[f"{name}.alpha"] = torch.tensor([alpha], dtype=torch.float32)
        else:
            tensors[f"{name}.values"] = values[mask].to(dtype).clone()
        if kind == "lth":
            if rewind is None:
                raise ValueError("an LTH ticket needs its rewind weights")
            tensors[f"{name}.rewind"] = rewind[name].reshape(-1)[mask].to(dtype).clone()
    tensors.update(_state_tensors(frozen, skip_layer_bias=layout == "seed-only"))
    return tensors, layers


def _need(tensors: Mapping[str, torch.Tensor], key: str, where: str) -> torch.Tensor:
    if key not in tensors:
        raise ValueError(f"{where} is damaged: tensor {key} is missing")
    return tensors[key]


def _layer_parts(tensors: Mapping[str, torch.Tensor], name: str, n: int, kept: int,
                 layout: str, kind: str, weight: torch.Tensor, where: str
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(mask, V or None)`` of one layer (None: keep the regenerated weights)."""
    if layout == "seed-only":
        if 0 < kept < n:
            coded = CodedMask(_need(tensors, f"{name}.mask_words", where).numpy().view(np.uint16),
                              _need(tensors, f"{name}.mask_counts", where).numpy()
                              .view(np.uint16))
            try:
                bits = decode_mask(coded, n, kept)
            except ValueError as err:
                raise ValueError(f"{where}: layer {name}: {err}") from None
        else:
            bits = np.full(n, kept == n)
        return torch.from_numpy(bits), None
    packed = _need(tensors, f"{name}.mask", where).numpy()
    if packed.size != -(-n // 8):
        raise ValueError(f"{where} does not fit its architecture: layer {name} mask has "
                         f"{packed.size} bytes for {n} weights")
    mask = torch.from_numpy(unpack_bits(packed, n))
    if int(mask.sum()) != kept:
        raise ValueError(f"{where} is damaged: layer {name} keeps {int(mask.sum())} weights, "
                         f"the metadata says {kept}")
    values = torch.zeros(n, dtype=weight.dtype)
    if kind == "biprop":
        signs = unpack_bits(_need(tensors, f"{name}.signs", where).numpy(), kept)
        alpha = _need(tensors, f"{name}.alpha", where).to(weight.dtype).reshape(())
        values[mask] = torch.where(torch.from_numpy(signs), alpha, -alpha)
    else:
        kept_values = _need(tensors, f"{name}.values", where)
        if kept_values.numel() != kept:
            raise ValueError(f"{where} is damaged: layer {name} stores {kept_values.numel()} "
                             f"values for {kept} kept weights")
        values[mask] = kept_values.to(weight.dtype)
    return mask, values.reshape(weight.shape)


@torch.no_grad()
def decode_layers(model: nn.Module, tensors: Mapping[str, torch.Tensor],
                  layers: list[dict[str, Any]], kind: str, layout: str, where: str) -> nn.Module:
    """Rebuild a frozen ticket in ``model`` (the run's architecture, built from its seed).

    Parameters
    ----------
    model
        The architecture of the run, initialised from the run's seed (seed-only relies on it).
    tensors, layers
        The file's tensors and per-layer metadata.
    kind, layout
        From the metadata.
    where
        The file, for error messages.

    Returns
    -------
    nn.Module
        ``model``, frozen (:func:`empirical.export.frozen.freeze_`), with the stored state, in
        eval mode.
    """
    model_layers = dict(prunable_layers(model))
    if [entry["name"] for entry in layers] != list(model_layers):
        raise ValueError(f"{where} does not fit its architecture: it names layers "
                         f"{[e['name'] for e in layers]}, the model has {list(model_layers)}")
    masks, values = {}, {}
    for entry in layers:
        name, layer = entry["name"], model_layers[entry["name"]]
        if list(layer.weight.shape) != list(entry["shape"]):
            raise ValueError(f"{where} does not fit its architecture: layer {name} has shape "
                             f"{entry['shape']}, the model {list(layer.weight.shape)}")
        mask, value = _layer_parts(tensors, name, layer.weight.numel(), int(entry["kept"]),
                                   layout, kind, layer.weight, where)
        masks[name] = mask.reshape(layer.weight.shape)
        if value is not None:
            values[name] = value
    freeze_(model, masks, values)
    expected = _state_tensors(model, skip_layer_bias=layout == "seed-only")
    state = model.state_dict()
    for key in expected:
        stored = _need(tensors, key, where)
        target = state[key.removeprefix("state.")]
        if stored.shape != target.shape:
            raise ValueError(f"{where} does not fit its architecture: {key} has shape "
                             f"{list(stored.shape)}, the model {list(target.shape)}")
        target.copy_(stored.to(target.dtype))
    return model.eval()


def rewind_weights(tensors: Mapping[str, torch.Tensor], model: nn.Module
                   ) -> dict[str, torch.Tensor]:
    """LTH files: ``theta_k * m`` of every layer of a decoded ticket (float32, zeros pruned)."""
    out = {}
    for name, layer in prunable_layers(model):
        mask = layer.mask.bool()
        full = torch.zeros(layer.weight.shape)
        full[mask] = tensors[f"{name}.rewind"].float()
        out[name] = full
    return out
