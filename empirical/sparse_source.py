"""Sparse random sources: strong tickets searched inside an Erdos-Renyi sparse network.

Gadhikar, Mukherjee & Burkholz (ICML 2023, "Why Random Pruning Is All We Need to Start Sparse")
show that random sparse networks with Erdos-Renyi per-layer densities contain strong lottery
tickets and search them there. Here the source of every score layer is made sparse after the
model is built: layer ``l`` with ``n_l`` weights gets a density ``d_l`` from a layout of
:data:`LAYOUT_DENSITIES` (``erk``: Erdos-Renyi(-Kernel) densities of
:func:`empirical.algorithms.layer_densities.erk_densities`, which for linear layers is the
Erdos-Renyi rule ``d_l ~ (n_in + n_out) / (n_in n_out)``; ``uniform``: ``d_l = d``) whose
weighted mean is the overall density ``d``, and exactly ``round(d_l n_l)`` of its weights,
uniformly at random (the Erdos-Renyi graph with a fixed edge count), exist. The others are set to
0 and recorded in the layer's 0/1 buffer ``source``; the mask rules never keep them (every mask is
multiplied by ``source``, and the top-k rules select among the existing weights only, keeping the
fraction ``k`` of them: :func:`empirical.mask_rules.ranked_top_mask`). A ticket of a source of
density ``d`` with kept fraction ``k`` therefore keeps ``k d`` of the layer's weights overall.

The existing weights keep the values (and the scale) of the dense initialisation; the paper's
own initialisation of the sparse source was not checked here. The positions are drawn from a
generator seeded by the run's seed alone, so the source is a function of the seed and is rebuilt
identically whenever the run's model is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from empirical.algorithms.layer_densities import erk_densities, uniform_densities
from empirical.choices import check_choice
from empirical.layers import SCORE_MODES, prunable_layers

LAYOUT_DENSITIES: dict[str, Callable[..., dict[str, float]]] = {
    "erk": erk_densities,
    "uniform": uniform_densities,
}
"""``layout -> densities(shapes, density)`` of the sparse source's layers, one per name of
:data:`empirical.vocabulary.SOURCE_LAYOUTS` (the torch-free list ``--source-layout`` offers)."""

_SOURCE_STREAM = 0x5A2CE  # keeps the source's generator apart from other uses of the seed


def source_densities(shapes: Mapping[str, torch.Size], density: float,
                     layout: str) -> dict[str, float]:
    """Per-layer densities ``d_l`` of a source of overall density ``d`` in ``layout``.

    Parameters
    ----------
    shapes
        ``name -> weight shape`` of the score layers.
    density
        The overall density ``d`` in ``(0, 1]``.
    layout
        A key of :data:`LAYOUT_DENSITIES`.

    Returns
    -------
    dict
        ``name -> d_l``.
    """
    check_layout(layout)
    return LAYOUT_DENSITIES[layout](shapes, density)


def check_layout(layout: str) -> None:
    """Raise ValueError unless ``layout`` is a key of :data:`LAYOUT_DENSITIES`."""
    check_choice(layout, LAYOUT_DENSITIES, "source layout")


@torch.no_grad()
def apply_sparse_source_(model: nn.Module, density: float, layout: str,
                         seed: int) -> dict[str, float]:
    """Make the source of every score layer of ``model`` an Erdos-Renyi sparse network.

    Parameters
    ----------
    model
        A model built from factory layers; its score layers get a ``source`` buffer and their
        missing weights are zeroed (other layers are left alone).
    density
        The overall density ``d`` in ``(0, 1]``; 1 leaves the model untouched.
    layout
        A key of :data:`LAYOUT_DENSITIES`.
    seed
        The run's seed (with a fixed stream number, it seeds the positions).

    Returns
    -------
    dict
        ``name -> realised density`` ``round(d_l n_l) / n_l`` of each score layer (empty when
        ``density`` is 1).
    """
    check_layout(layout)
    layers = {name: layer for name, layer in prunable_layers(model) if layer.mode in SCORE_MODES}
    if density == 1 or not layers:
        return {}
    densities = source_densities({n: layer.weight.shape for n, layer in layers.items()},
                                 density, layout)
    state = np.random.SeedSequence([int(seed), _SOURCE_STREAM]).generate_state(1)
    gen = torch.Generator().manual_seed(int(state[0]))
    realised = {}
    for name, layer in layers.items():
        n = layer.weight.numel()
        count = int(np.floor(densities[name] * n + 0.5))
        exists = torch.zeros(n, dtype=layer.weight.dtype)
        exists[torch.randperm(n, generator=gen)[:count]] = 1
        layer.source = exists.view(layer.weight.shape).to(layer.weight.device)
        layer.weight.mul_(layer.source)
        realised[name] = count / n
    return realised
