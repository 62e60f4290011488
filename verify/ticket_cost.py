"""What a ticket costs, and what its mask carries by itself: one row per stored run.

- **Cost** (:func:`cost_row`): nonzero parameters (kept prunable weights plus every other
  parameter: biases, BatchNorm affine), the forward pass's floating-point operations of the
  prunable layers, dense and masked (``2 x`` multiply-accumulates: a linear layer's kept weights
  once per sample, a convolution's once per output position; activations, normalisation and
  pooling are not counted), the per-layer density, and the bits of the run's packed ticket file
  (:func:`empirical.export.ticket_file.export_run`, the run kind's default layout).
- **Supermask** (:func:`supermask_accuracy`; Zhou, Lan, Liu & Yosinski, NeurIPS 2019,
  "Deconstructing lottery tickets"): the test accuracy of a mask on the untrained ``theta_0`` (or
  on its signed constants ``sign(theta_0) * std_l``), no training; and the paper's "large final,
  same sign" mask (:func:`large_final_same_sign`).

Works for every run kind that holds a ticket (LTH levels, controls, pai runs; biprop and
edge-popup), so one table compares all methods.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn


def forward_flops(model: nn.Module, input_shape: tuple[int, ...],
                  masks: Mapping[str, torch.Tensor]) -> dict[str, dict[str, int]]:
    """Per prunable layer: dense and masked FLOPs of one forward pass of one input.

    ``flops = 2 * weights * positions`` with ``positions`` the layer's output positions per input
    (1 for a linear layer, ``H x W`` or ``L`` for a convolution), measured by a forward hook on a
    zero input.

    Returns
    -------
    dict
        ``name -> {"dense": int, "masked": int, "positions": int}``.
    """
    from empirical.layers import prunable_layers

    positions: dict[str, int] = {}
    handles = []
    for name, layer in prunable_layers(model):
        def hook(_m: nn.Module, _i: Any, out: torch.Tensor, name: str = name) -> None:
            positions[name] = int(torch.tensor(out.shape[2:]).prod()) if out.dim() > 2 else 1
        handles.append(layer.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {name: {"dense": 2 * layer.weight.numel() * positions[name],
                   "masked": 2 * int(masks[name].sum()) * positions[name],
                   "positions": positions[name]}
            for name, layer in prunable_layers(model)}


def cost_row(run_dir: str | os.PathLike, data_dir: str | None = None) -> dict[str, Any]:
    """The cost of the finished run in ``run_dir``.

    Returns
    -------
    dict
        hash, kind, source (LTH) or mode, density, nonzero_params, prunable_weights,
        other_params, flops_dense, flops_masked, flops_ratio, layer_density, ticket_bits,
        bits_per_weight.
    """
    from empirical.algorithms.run_reader import read_run
    from empirical.data import dataset_info
    from empirical.export.ticket_file import export_run
    from empirical.layers import prunable_layers

    ticket = read_run(run_dir)
    model, masks = ticket.model, ticket.masks
    prunable = {id(layer.weight) for _, layer in prunable_layers(model)}
    scores = {id(layer.scores) for _, layer in prunable_layers(model)
              if getattr(layer, "scores", None) is not None}
    other = sum(p.numel() for p in model.parameters()
                if id(p) not in prunable and id(p) not in scores)
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    flops = forward_flops(model, dataset_info(ticket.hparams.dataset.name).input_shape, masks)
    dense, masked = (sum(f[k] for f in flops.values()) for k in ("dense", "masked"))
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_run(ticket.run_dir, Path(tmp) / "ticket.safetensors",
                              data_dir=data_dir)
    level = getattr(ticket.hparams, "level", None)
    return {"hash": ticket.run_hash, "kind": ticket.kind,
            "source": level.source if level is not None else ticket.hparams.mask.mode,
            "density": kept / total, "nonzero_params": kept + other, "prunable_weights": total,
            "other_params": other, "flops_dense": dense, "flops_masked": masked,
            "flops_ratio": masked / dense,
            "layer_density": {n: int(m.sum()) / m.numel() for n, m in masks.items()},
            "ticket_bits": 8 * exported["bytes"],
            "bits_per_weight": 8 * exported["bytes"] / total}


def large_final_same_sign(initial: Mapping[str, torch.Tensor], final: Mapping[str, torch.Tensor],
                          density: float, scope: str = "layerwise") -> dict[str, torch.Tensor]:
    """Zhou et al.'s "large final, same sign" mask: the largest ``|w_T|`` whose sign is ``w_0``'s.

    Scores ``|w_T|`` where ``sign(w_T) = sign(w_0)`` and ``-1`` elsewhere (below every kept
    candidate), then the top ``density`` of each pool
    (:func:`empirical.algorithms.pruning.prune_scores_to_density`).
    """
    from empirical.algorithms import pruning

    scores = {n: torch.where(torch.sign(final[n]) == torch.sign(initial[n]), final[n].abs(),
                             torch.full_like(final[n], -1.0)) for n in final}
    ones = {n: torch.ones_like(w, dtype=torch.bool) for n, w in final.items()}
    return pruning.prune_scores_to_density(scores, ones, density, scope, allow_empty=True)


def supermask_accuracy(hparams: Any, masks: Mapping[str, torch.Tensor],
                       runs_dir: str | os.PathLike | None = None, signed_constant: bool = False,
                       data_dir: str | None = None) -> float:
    """Test accuracy of ``masks`` on the untrained ``theta_0`` of an LTH run's lineage.

    Parameters
    ----------
    hparams : LTHHparams
        Any run of the lineage (its level 0 gives ``theta_0``: the same seed and init).
    masks : mapping
        ``name -> bool mask``.
    signed_constant : bool
        Replace each kept weight by ``sign(w_0) * std_l`` (``std_l`` the standard deviation of
        layer ``l``'s initial weights), Zhou et al.'s "signed constant" variant.
    data_dir : str, optional
        Where disk datasets live.

    Returns
    -------
    float
        Test accuracy (fraction) of the masked, untrained network.
    """
    from empirical.algorithms.callbacks import evaluate
    from empirical.algorithms.lth import build_lth_model, lineage_root
    from empirical.algorithms.model_masks import set_masks_
    from empirical.algorithms.mpt import make_batches
    from empirical.config.hparams import RuntimeConfig
    from empirical.device import Distributed
    from empirical.layers import prunable_layers

    root = lineage_root(runs_dir, hparams) if hparams.level.source != "dense" else hparams
    model = build_lth_model(root, root.training.seed)
    if signed_constant:
        with torch.no_grad():
            for _, layer in prunable_layers(model):
                layer.weight.copy_(torch.sign(layer.weight) * layer.weight.std())
    set_masks_(model, dict(masks))
    runtime = RuntimeConfig(device="cpu", data_dir=data_dir, progress=False)
    _, _, test = make_batches(hparams, runtime, torch.device("cpu"), Distributed())
    return evaluate(model, test).acc
