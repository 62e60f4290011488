"""Random subset sum study (Lueker 1998): how many U[-1, 1] summands ``eps``-cover ``[-1, 1]``.

For every ``n`` and seed ``s`` one instance ``X_1..X_n`` i.i.d. ``U[-1, 1]`` is drawn (generator
seeded by ``(seed, n, s)``, shared by all ``eps``).  Success is Lueker's event: EVERY target
``z in [-1, 1]`` is within ``eps`` of a subset sum, i.e. the covering radius
``sup_z min_S |z - sum(S)|`` is ``<= eps``.  The radius is computed exactly
(:func:`theory.subset_sum.covering_radius`) up to ``RADIUS_MAX_N`` summands; beyond, enumerating
the ``~2^n`` relevant sums is out of reach, the event is decided exactly by the interval
recursion of :func:`theory.subset_sum.is_eps_cover` and ``median_radius`` is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from theory.subset_sum import counting_lower_bound, covering_radius, is_eps_cover

RADIUS_MAX_N = 24
"""Largest ``n`` whose covering radius is computed exactly (``2^24`` sums per instance)."""


def subset_sum_table(
    n_values: Sequence[int], eps_values: Sequence[float], seeds: int, seed: int = 0,
    delta: float = 0.1, progress: Callable[[int], Any] | None = None,
) -> list[dict[str, Any]]:
    """Success probability of Lueker's event and median covering radius per ``(n, eps)``.

    Parameters
    ----------
    n_values : sequence of int
        Numbers of summands, each ``>= 1``.
    eps_values : sequence of float
        Accuracies, each ``> 0``.
    seeds : int
        Instances per ``n``, ``>= 1``.
    seed : int
        Base seed.
    delta : float
        Failure probability in (0, 1) whose ``(1 - delta)``-quantile of the radius is reported.
    progress : callable, optional
        Called with 1 after each ``n``.

    Returns
    -------
    list of dict
        One row per ``(n, eps)``: ``n``, ``eps``, ``success_prob`` (fraction of instances whose
        covering radius is ``<= eps``), ``median_radius`` and ``quantile_radius`` (the
        ``(1 - delta)``-quantile, the smallest radius at least that fraction of instances meet;
        both NaN above ``RADIUS_MAX_N``),
        ``lower_bound_n`` (counting bound ``ceil(log2(1/eps))``) and ``seeds``.
    """
    if not n_values or any(int(n) != n or n < 1 for n in n_values):
        raise ValueError(f"n values must be integers >= 1, got {list(n_values)}")
    if not eps_values or any(not e > 0 for e in eps_values):
        raise ValueError(f"eps values must be > 0, got {list(eps_values)}")
    if int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    rows = []
    for n in n_values:
        instances = [
            np.random.default_rng([seed, int(n), s]).uniform(-1.0, 1.0, int(n))
            for s in range(int(seeds))
        ]
        if n <= RADIUS_MAX_N:
            radii = np.array([covering_radius(x) for x in instances])
            median = float(np.median(radii))
            quantile = float(np.quantile(radii, 1.0 - delta, method="inverted_cdf"))
            success = {e: float(np.mean(radii <= e)) for e in eps_values}
        else:
            median = quantile = math.nan
            success = {e: float(np.mean([is_eps_cover(x, e) for x in instances]))
                       for e in eps_values}
        for e in eps_values:
            rows.append({
                "n": int(n),
                "eps": float(e),
                "success_prob": success[e],
                "median_radius": median,
                "quantile_radius": quantile,
                "lower_bound_n": math.ceil(counting_lower_bound(e)),
                "seeds": int(seeds),
            })
        if progress is not None:
            progress(1)
    return rows
