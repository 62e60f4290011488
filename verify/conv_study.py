"""Convolutional strong tickets held against their bound: one run, and error against width.

A run draws a random CNN target (:func:`theory.conv.random_conv_target`: one input channel,
``channels`` channels in every later layer), prunes a random CNN source with a
construction of the ``conv`` family (:mod:`theory.constructions.conv_subset_sum`) and measures
the sup error on the unit ball of the flattened input (or the cube) like the fully connected
case: exactly where the error is linear on orthants (one layer, at most ``ORTHANT_MAX_D0`` input
entries: the 1-D targets), else by sampling plus ascent (a lower estimate). As for the fully
connected rows (:func:`verify.construction_study.claim`), the verdict rests on the exact error
where it was computed, else on the construction's certified upper bound (its operator-norm
bound on the unit ball, times ``sqrt(d0)`` on the cube), so such a row's ``evidence`` is
``certified``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from empirical.errors import InputError
from theory.constructions import constructions, get_method
from theory.conv import conv_forward, random_conv_target
from theory.sup_error import ORTHANT_MAX_D0, orthant_sup_error, sup_error
from verify.construction_study import claim, domain_certificate


def _flat(network: Callable[[np.ndarray], np.ndarray], shape: Sequence[int],
          x: np.ndarray) -> np.ndarray:
    """``network`` on flattened inputs ``(batch, prod(shape))``, flattened outputs."""
    return network(x.reshape(len(x), *shape)).reshape(len(x), -1)


def run_conv_construction(
    method: str, channels: int, depth: int, eps: float, delta: float = 0.1, seed: int = 0,
    block_size: int | None = None, rescale: bool = False, target_scale: float = 1.0,
    n_samples: int | None = None, domain: str = "ball",
) -> dict[str, Any]:
    """Build a CNN target, construct its ticket and measure it (one row, as
    :func:`verify.construction_study.run_construction`).

    Parameters
    ----------
    method : str
        A registered construction of the ``conv`` family; its ``options`` give the kernel size
        and the spatial input size of the target.
    channels, depth : int
        Channels of every target layer after the input (one channel) and number of layers.
    eps, delta, seed, block_size, rescale, target_scale, n_samples, domain
        As for :func:`verify.construction_study.run_construction`.

    Returns
    -------
    dict
        theorem, construction, target_size, domain, eps, delta, seed, block_size, source_width
        (channels), source_depth, kept_fraction, bound_width, sup_error, sup_method, target_sup,
        predicted_error, certified_error (the construction's operator-norm bound, an upper bound
        on the domain: :func:`verify.construction_study.domain_certificate`), error_bound and
        evidence (``exact`` for a one-layer target of at most ``ORTHANT_MAX_D0`` input entries,
        else ``certified``: :func:`verify.construction_study.claim`), success, pass
        (``error_bound <= eps``), seconds.
    """
    construction = get_method(method)
    if construction.family != "conv":
        raise ValueError(f"{method!r} is not a convolutional construction; choose one of "
                         f"{', '.join(c.name for c in constructions('conv'))}")
    kernel, spatial = construction.options["kernel"], construction.options["input_shape"]
    if channels < 1 or depth < 1:
        raise ValueError(f"width and depth must be >= 1, got {channels}, {depth}")
    if spatial[0] - depth * (kernel[0] - 1) < 1:
        raise InputError("{depth} {got} is too deep for {method_name} inputs of size {spatial}",
                         got=depth, method_name=method, spatial=spatial)
    rng = np.random.default_rng(seed)
    widths = [1] + [channels] * depth
    target = [target_scale * k for k in random_conv_target(widths, kernel, spatial, rng)]
    start = time.perf_counter()
    result = construction(target, eps, delta, rng, spatial, block_size=block_size,
                          rescale=rescale)
    seconds = time.perf_counter() - start
    result.subnetwork.check_genuine()
    shape = (1, *spatial)
    d0 = int(np.prod(shape))
    f = partial(_flat, partial(conv_forward, target), shape)
    g = partial(_flat, result.subnetwork, shape)
    if depth == 1 and d0 <= ORTHANT_MAX_D0:
        measured = orthant_sup_error(f, g, d0, rng, domain=domain)
    else:
        measured = sup_error(f, g, d0, rng, n_samples=n_samples, domain=domain)
    target_sup = sup_error(f, lambda x: 0.0 * f(x), d0, rng, n_samples=n_samples, domain=domain)
    certified = domain_certificate(result.certified_error, d0, domain)
    bound, evidence = claim(measured, certified)
    return {
        "theorem": construction.theorem,
        "construction": method,
        "target_size": f"{'x'.join(map(str, spatial))}/{'-'.join(map(str, widths))}ch",
        "domain": domain,
        "eps": float(eps),
        "delta": float(delta),
        "seed": int(seed),
        "block_size": block_size,
        "source_width": result.source_width,
        "source_depth": result.source_depth,
        "kept_fraction": result.kept_fraction,
        "bound_width": result.bound_width,
        "sup_error": measured.value,
        "sup_method": "exact" if measured.exact else "sampled",
        "target_sup": target_sup.value,
        "predicted_error": float(result.predicted_error),
        "certified_error": certified,
        "error_bound": bound,
        "evidence": evidence,
        "success": bool(result.success),
        "pass": bool(bound <= eps),
        "seconds": seconds,
    }


def sweep_conv_error_vs_width(method: str, block_sizes: Sequence[int], channels: int = 2,
                              depth: int = 1, eps: float = 0.1, delta: float = 0.1,
                              seeds: int = 3) -> list[dict[str, Any]]:
    """:func:`run_conv_construction` rows for every block size and seed (``param="width"``)."""
    return [{"param": "width", "value": int(b),
             **run_conv_construction(method, channels, depth, eps, delta, s, block_size=int(b))}
            for b in block_sizes for s in range(seeds)]
