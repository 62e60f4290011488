"""Per-layer densities of a sparse network: uniform, and Erdos-Renyi-Kernel (ERK).

ERK (Evci, Gale, Menick, Castro & Elsen, ICML 2020, "Rigging the lottery", Section 3; the
Erdos-Renyi rule of Mocanu et al., Nature Communications 2018, extended to kernels) gives a layer
with ``n_out`` outputs, ``n_in`` inputs and kernel ``k_1 x ... x k_r`` the density

    d_l = min(1, eps * (n_in + n_out + k_1 + ... + k_r) / (n_in * n_out * k_1 * ... * k_r)),

with one ``eps`` chosen so that the kept weights total ``d * N`` over the ``N`` weights of the
layers: layers whose density would exceed 1 are made dense and ``eps`` is solved again on the rest
(the RigL release's loop). Linear layers have no kernel terms (Erdos-Renyi).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import torch


def erk_densities(shapes: Mapping[str, torch.Size | tuple[int, ...]], density: float,
                  exclude: Collection[str] = ()) -> dict[str, float]:
    """ERK densities of the layers ``shapes`` (``name -> weight shape``), overall ``density``.

    Parameters
    ----------
    shapes : mapping
        Weight shapes ``(n_out, n_in, *kernel)`` in model order.
    density : float
        Overall kept fraction of the non-excluded layers, in (0, 1].
    exclude : collection of str
        Layers left dense and outside the budget.

    Returns
    -------
    dict
        ``name -> density`` in (0, 1] for every non-excluded layer; the weighted mean (weights the
        layer sizes) equals ``density`` up to rounding.
    """
    if not (math.isfinite(density) and 0 < density <= 1):
        raise ValueError(f"density must lie in (0, 1], got {density!r}")
    pool = {n: tuple(int(s) for s in shape) for n, shape in shapes.items() if n not in exclude}
    if not pool:
        raise ValueError("every layer is excluded; nothing to prune")
    sizes = {n: math.prod(shape) for n, shape in pool.items()}
    raw = {n: sum(shape) / sizes[n] for n, shape in pool.items()}
    budget = density * sum(sizes.values())
    dense: set[str] = set()
    while True:
        sparse = [n for n in pool if n not in dense]
        if not sparse:
            break
        rest = budget - sum(sizes[n] for n in dense)
        eps = rest / sum(raw[n] * sizes[n] for n in sparse)
        over = [n for n in sparse if eps * raw[n] > 1]
        if not over:
            break
        dense.add(max(over, key=lambda n: raw[n]))
    return {n: 1.0 if n in dense else min(1.0, eps * raw[n]) for n in pool}


def uniform_densities(shapes: Mapping[str, object], density: float,
                      exclude: Collection[str] = ()) -> dict[str, float]:
    """The same ``density`` for every non-excluded layer (uniform layerwise pruning)."""
    if not (math.isfinite(density) and 0 < density <= 1):
        raise ValueError(f"density must lie in (0, 1], got {density!r}")
    return {n: density for n in shapes if n not in exclude}
