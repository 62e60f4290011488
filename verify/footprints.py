"""Memory the theory studies will allocate, estimated from their sizes before any array exists.

The command line checks these with :func:`empirical.memory.check_memory` before it starts a
study, so an impossible request fails in one line instead of allocating for minutes first.

- A construction (:func:`construction_bytes`) holds the float64 target
  ``sum_i d_{i-1} d_i`` entries and, for the gadget family (whose registration knows its source
  widths before drawing: ``d_0, d_0 n_1, d_1, d_1 n_2, ..., d_l``,
  :func:`theory.constructions.blocks.gadget_source_widths`), the source as float64 weights,
  boolean masks and the float64 masked weights the subnetwork evaluates, on ``SUP_SAMPLES``
  inputs at once. The other families size their sources while constructing (binary-depth
  refuses its own oversized source), so only their target counts here.
- The subset-sum table (:func:`subset_sum_table_bytes`) keeps every instance (``seeds x n``
  float64 with NumPy's per-array overhead) and per instance either the ``2^n`` relevant subset sums
  (``n <= RADIUS_MAX_N``) or the disjoint covered intervals of :func:`theory.subset_sum.
  is_eps_cover`: each has length ``>= 2 eps`` inside a window of length ``<= 2 + n``, so at most
  ``min(2^n, (2 + n) / (2 eps) + 1)`` of them, doubled before each merge.
- The solver benchmark (:func:`subset_sum_bench_bytes`) holds ``m x (n + 4)`` float64 values
  (summands, targets, errors, subset codes).

These are orders of magnitude, not bounds. Measured against ``tracemalloc`` peaks: Pensia at
width 16, depth 2, eps 0.1 estimates 36.5 MiB for a 71 MiB peak, MPT binary at width 4, eps 0.05
23.6 MiB for 47 MiB, the subset-sum table at n = 20 (20 seeds) 24 MiB for 40 MiB; the interval
count bound makes n = 40, eps = 1e-5 (5 seeds) 160 MiB for a 12 MiB peak. The guard is there to
refuse requests that are thousands of times too large, before they start.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from verify.subset_sum_study import RADIUS_MAX_N

FLOAT = 8
ARRAY_OVERHEAD = 112
"""Bytes of a NumPy array object besides its data."""
SUP_SAMPLES = 2048
"""Inputs of the sup-error search (``run_construction``'s default ``n_samples``)."""
SORT_COPIES = 3
"""Arrays of the size of the subset sums alive while they are doubled and sorted."""
INTERVAL_ARRAYS = 5
"""Arrays per covered interval in ``is_eps_cover``: lo, hi, order, reach, starts."""


def construction_bytes(method: str, width: int, depth: int, eps: float, delta: float,
                       block_size: int | None = None) -> int:
    """Bytes of one ``run_construction`` (target, source, masks, sup-error evaluation).

    Parameters
    ----------
    method, width, depth, eps, delta, block_size
        As :func:`verify.construction_study.run_construction` takes them (input size = width).

    Returns
    -------
    int
    """
    from theory.constructions import get_method

    widths = [int(width)] * (int(depth) + 1)
    total = FLOAT * sum(a * b for a, b in itertools.pairwise(widths))
    construction = get_method(method)
    if construction.family == "gadget":
        source = construction.source_widths(widths, eps, delta, block_size)
        total += (2 * FLOAT + 1) * sum(a * b for a, b in itertools.pairwise(source))
        total += FLOAT * SUP_SAMPLES * max(source)
    return total


def subset_sum_table_bytes(n_values: Sequence[int], eps_values: Sequence[float],
                           seeds: int) -> int:
    """Bytes of :func:`verify.subset_sum_study.subset_sum_table` at its largest ``n``."""
    eps = min(eps_values)
    peak = 0
    for n in n_values:
        instances = seeds * (FLOAT * n + ARRAY_OVERHEAD)
        if n <= RADIUS_MAX_N:
            work = SORT_COPIES * FLOAT * 2**n
        else:
            intervals = min(2**n, int((2 + n) / (2 * eps)) + 1)
            work = INTERVAL_ARRAYS * FLOAT * 2 * intervals
        peak = max(peak, instances + work)
    return peak


def subset_sum_bench_bytes(n_weights: int, summands: int) -> int:
    """Bytes of ``tickets bench subset-sum``: ``m x (n + 4)`` float64 values."""
    return FLOAT * n_weights * (summands + 4)
