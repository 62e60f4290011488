"""Pruning at initialisation (PaI): a registered criterion's mask, its densities and its collapse.

:func:`prune_at_init` scores the prunable weights of a factory model in ``masked`` mode with a
criterion of :mod:`empirical.algorithms.criteria` and keeps the highest scores
(:func:`empirical.algorithms.pruning.prune_scores_to_density`), in ``rounds`` rounds whose
densities follow the exponential schedule ``d_k = d^(k/n)`` (Tanaka et al., NeurIPS 2020,
Algorithm 1; one round is single-shot pruning). The pool of each round is one layer (``layerwise``:
every layer at ``d_k``; ``erk``: each layer at its ERK density for ``d_k``) or all layers
(``global``: one threshold). ``invert`` keeps the LOWEST scores instead, the "inverted scores"
sanity check of Frankle et al., ICLR 2021.

:func:`collapse_report` says whether a mask disconnects the network (Tanaka et al. 2020, "layer
collapse"): the layers with no kept weight, and how many outputs still have a path from the input.
Paths are found by propagating 0/1 reachability through the model itself: every prunable layer's
weight is replaced by its mask and its output by ``output > 0``, BatchNorm by the identity and
activations by the identity, so an output is positive exactly when some path of kept weights
reaches it (residual additions and pooling keep positivity).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from empirical.activations import BinaryActivation
from empirical.algorithms import pruning
from empirical.algorithms.criteria import Batch, ScoringInputs, get_criterion
from empirical.algorithms.layer_densities import erk_densities, uniform_densities
from empirical.algorithms.model_masks import model_masks, set_masks_, split_mask
from empirical.layers import prunable_layers

PAI_SCOPES = ("layerwise", "global", "erk")


@dataclass(frozen=True)
class CollapseReport:
    """Whether a mask disconnects the network.

    Attributes
    ----------
    densities : dict
        ``layer name -> kept fraction``.
    empty_layers : tuple of str
        Layers with no kept weight.
    outputs_reachable : int
        Outputs (logits) with at least one path of kept weights from the input.
    outputs : int
        Number of outputs.
    """

    densities: dict[str, float]
    empty_layers: tuple[str, ...]
    outputs_reachable: int
    outputs: int

    @property
    def collapsed(self) -> bool:
        """True if a layer is empty or some output is unreachable from the input."""
        return bool(self.empty_layers) or self.outputs_reachable < self.outputs


def warn_collapsed(where: object, report: CollapseReport) -> None:
    """Print one line to stderr saying how the mask of the run at ``where`` disconnects it."""
    empty = f"empty layers {', '.join(report.empty_layers)}; " if report.empty_layers else ""
    print(f"warning: layer collapse in {where}: {empty}{report.outputs_reachable} of "
          f"{report.outputs} outputs reachable from the input", file=sys.stderr)


@dataclass(frozen=True)
class PaIResult:
    """The outcome of :func:`prune_at_init`.

    Attributes
    ----------
    masks : dict
        ``layer name -> bool mask`` in model order.
    criterion : str
        The registered criterion used.
    rounds : int
        Pruning rounds taken.
    collapse : CollapseReport
        Per-layer densities and connectivity of ``masks``.
    """

    masks: dict[str, torch.Tensor]
    criterion: str
    rounds: int
    collapse: CollapseReport

    @property
    def density(self) -> float:
        """Overall kept fraction of the prunable weights."""
        return pruning.density(self.masks).overall


def _round_densities(shapes: Mapping[str, torch.Size], density: float, scope: str,
                     exclude: Collection[str]) -> float | dict[str, float]:
    if scope == "global":
        return density
    if scope == "erk":
        return erk_densities(shapes, density, exclude)
    return uniform_densities(shapes, density, exclude)


def prune_at_init(model: nn.Module, criterion: str, density: float, *,
                  scope: str = "global", batch: Batch | None = None, rounds: int | None = None,
                  input_shape: tuple[int, ...] | None = None, exclude: Collection[str] = (),
                  invert: bool = False, seed: int = 0) -> PaIResult:
    """Compute a criterion's mask at ``density`` on ``model`` and write it into the model.

    Parameters
    ----------
    model : nn.Module
        A factory model in ``masked`` mode (e.g. :func:`empirical.algorithms.lth.build_lth_model`);
        its masks are set to the result (pruned weights zeroed), its weights otherwise unchanged.
    criterion : str
        A registered criterion (:func:`empirical.algorithms.criteria.criterion_names`).
    density : float
        Target overall kept fraction in (0, 1] of the non-excluded layers.
    scope : {"global", "layerwise", "erk"}
        One pool over all layers, each layer at ``density``, or each layer at its ERK density.
    batch : (inputs, labels), optional
        Training data on the model's device; required by data-dependent criteria (SNIP, GraSP)
        and, for its input shape only, by SynFlow.
    input_shape : tuple of int, optional
        Input shape without the batch axis, for the collapse check; default the batch's.
    rounds : int, optional
        Pruning rounds on the exponential schedule; default the criterion's (SynFlow 100, else 1).
    exclude : collection of str
        Layers (or ``"output"``) never pruned.
    invert : bool
        Keep the lowest scores (the inverted-scores ablation).
    seed : int
        Seed of the criterion's randomness (``random``).

    Returns
    -------
    PaIResult
        The masks, the criterion, the rounds and the collapse report.
    """
    if scope not in PAI_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(PAI_SCOPES)}, got {scope!r}")
    if not 0 < density <= 1:
        raise ValueError(f"density must lie in (0, 1], got {density!r}")
    rule = get_criterion(criterion)
    rounds = rule.rounds if rounds is None else int(rounds)
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if rule.needs_data and batch is None:
        raise ValueError(f"criterion {criterion!r} needs a batch of training data")
    shape = tuple(batch[0].shape[1:]) if batch is not None else input_shape
    if shape is None:
        raise ValueError("pass a batch or input_shape (the collapse check needs the input shape)")
    inputs = ScoringInputs(input_shape=tuple(shape), batch=batch,
                           generator=torch.Generator().manual_seed(int(seed)))
    masks = model_masks(model)
    names = list(masks)
    exclude = pruning.resolve_names(names, exclude)
    shapes = {n: m.shape for n, m in masks.items()}
    for k in range(1, rounds + 1):
        scores = rule.scores(model, inputs)
        if invert:
            scores = {n: -s for n, s in scores.items()}
        target = _round_densities(shapes, density ** (k / rounds), scope, exclude)
        masks = pruning.prune_scores_to_density(
            {n: s.cpu() for n, s in scores.items()}, masks, target,
            "global" if scope == "global" else "layerwise", exclude, allow_empty=True)
        set_masks_(model, masks)
    return PaIResult(masks=masks, criterion=criterion, rounds=rounds,
                     collapse=collapse_report(model, masks, shape))


class _Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _is_activation(module: nn.Module) -> bool:
    return isinstance(module, nn.ReLU | nn.LeakyReLU | nn.Tanh | nn.Sigmoid | BinaryActivation)


def collapse_report(model: nn.Module, masks: Mapping[str, torch.Tensor],
                    input_shape: tuple[int, ...]) -> CollapseReport:
    """Empty layers and the outputs reachable from the input under ``masks``.

    Parameters
    ----------
    model : nn.Module
        A factory model (left unchanged).
    masks : mapping
        ``layer name -> mask`` for its prunable layers, in model order.
    input_shape : tuple of int
        Input shape without the batch axis.

    Returns
    -------
    CollapseReport
    """
    densities = {n: int(m.sum()) / m.numel() for n, m in masks.items()}
    empty = tuple(n for n, m in masks.items() if not m.any())
    twin = copy.deepcopy(model).double().eval()
    layers = dict(prunable_layers(twin))
    handles = []
    with torch.no_grad():
        for name, layer in layers.items():
            layer.weight.copy_(split_mask(layer, masks[name])[0].to(layer.weight))
            if getattr(layer, "mask", None) is not None:
                layer.mask.fill_(1.0)
            if layer.bias is not None:
                layer.bias.zero_()
            handles.append(layer.register_forward_hook(
                lambda _m, _i, out: (out > 0).to(out.dtype)))
        for parent in twin.modules():
            for child_name, child in parent.named_children():
                if isinstance(child, nn.modules.batchnorm._BatchNorm) or _is_activation(child):
                    setattr(parent, child_name, _Identity())
        device = next(twin.parameters()).device
        out = twin(torch.ones((1, *input_shape), dtype=torch.float64, device=device))
    for handle in handles:
        handle.remove()
    reach = out.reshape(-1) > 0
    return CollapseReport(densities=densities, empty_layers=empty,
                          outputs_reachable=int(reach.sum()), outputs=reach.numel())
