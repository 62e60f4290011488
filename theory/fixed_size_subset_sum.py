"""Random fixed-size subset sum: the closest sum of EXACTLY ``k`` of ``n`` summands.

The random fixed-size subset-sum problem (RFSS) of Natale, Ferré, Giambartolomei, Giroire and
Mallmann-Trenn (NeurIPS 2024, arXiv:2410.14754) asks for subsets of a given size only; their
abstract states "an essentially tight bound" on it and uses it to prove strong tickets with
guaranteed sparsity (:mod:`theory.constructions.fixed_size`).  Only the abstract was checked;
the theorem's statement and constants were not at hand, so nothing here quotes them.

:func:`solve_fixed_size_subset_sum` solves many instances exactly by meet-in-the-middle with
cardinalities (Horowitz & Sahni 1974, restricted to one size): with halves ``A`` (``n // 2``
summands) and ``B``, a ``k``-subset is a ``j``-subset of ``A`` and a ``(k - j)``-subset of ``B``
for one ``j``; for every ``j`` and every ``j``-sum ``a`` the best partner is the
``(k - j)``-sum of ``B`` nearest to ``t - a`` (:func:`theory.subset_sum.nearest_in_rows`, one
global search for a chunk of instances).  The sizes of the half-subsets are their bit counts,
the same for every instance, so each ``j`` is a rectangular block of columns and no Python loop
runs over instances.  Summands marked invalid are replaced by a value too large to be part of
any optimum unless fewer than ``k`` are valid (then the error says so: it is at least
``INVALID``).
"""

from __future__ import annotations

import math

import numpy as np

from theory.subset_sum import (
    CHUNK_ELEMENTS,
    MAX_SUMMANDS,
    SubsetSumResult,
    as_instances,
    nearest_in_rows,
    subset_sums,
)

INVALID = 1e6
"""Value standing in for an invalid summand (module docstring): larger than twice any sum of
``MAX_SUMMANDS`` valid summands of magnitude ``<= 1000``."""


def _bit_counts(h: int) -> np.ndarray:
    """Number of set bits of every code ``0 ... 2^h - 1``."""
    codes = np.arange(1 << h)
    return np.array([bin(c).count("1") for c in codes]) if h else np.zeros(1, dtype=int)


def _solve_chunk(summands: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """Fixed-size meet-in-the-middle for one chunk; returns the optimal subsets as bit codes."""
    m, n = summands.shape
    n_a = n // 2
    rows = np.arange(m)
    a_sums, b_sums = subset_sums(summands[:, :n_a]), subset_sums(summands[:, n_a:])
    a_size, b_size = _bit_counts(n_a), _bit_counts(n - n_a)
    best_err = np.full(m, np.inf)
    best_code = np.zeros(m, dtype=np.int64)
    for j in range(max(0, k - (n - n_a)), min(k, n_a) + 1):
        a_codes, b_codes = np.flatnonzero(a_size == j), np.flatnonzero(b_size == k - j)
        a_part = a_sums[:, a_codes]
        order_a = np.argsort(a_part, axis=1)[:, ::-1]
        queries = targets[:, None] - np.take_along_axis(a_part, order_a, axis=1)
        order_b = np.argsort(b_sums[:, b_codes], axis=1)
        b_sorted = np.take_along_axis(b_sums[:, b_codes], order_b, axis=1)
        partner = nearest_in_rows(b_sorted, queries)
        gap = np.abs(queries - partner)
        best = np.argmin(gap, axis=1)
        err = gap[rows, best]
        better = err < best_err
        if not better.any():
            continue
        a_code = a_codes[order_a[rows, best]]
        b_value = partner[rows, best]
        b_index = np.argmax(b_sorted == b_value[:, None], axis=1)
        b_code = b_codes[order_b[rows, b_index]]
        best_err = np.where(better, err, best_err)
        best_code = np.where(better, a_code | (b_code << n_a), best_code)
    return best_code


def solve_fixed_size_subset_sum(
    summands: np.ndarray,
    targets: np.ndarray | float,
    k: int,
    valid: np.ndarray | None = None,
) -> SubsetSumResult:
    """Exact closest sum of exactly ``k`` summands of every instance (module docstring).

    Parameters
    ----------
    summands : numpy.ndarray
        ``(m, n)`` or ``(n,)`` float64, ``n <= MAX_SUMMANDS``, magnitudes below ``INVALID / (2
        MAX_SUMMANDS)``.
    targets : numpy.ndarray or float
        ``(m,)`` targets or one scalar for all instances.
    k : int
        Subset size, ``0 <= k <= n``.
    valid : numpy.ndarray, optional
        Boolean ``(m, n)``; summands marked ``False`` are chosen only if an instance has fewer
        than ``k`` valid ones (its error is then at least ``INVALID / 2``).

    Returns
    -------
    SubsetSumResult
        Masks with exactly ``k`` entries each, their sums (of the summands as given) and
        absolute errors.
    """
    x, t, ok = as_instances(summands, targets, valid)
    m, n = x.shape
    if not (isinstance(k, int | np.integer) and 0 <= k <= n):
        raise ValueError(f"k must be an integer in [0, {n}], got {k!r}")
    if np.any(np.abs(x[ok]) * 2 * MAX_SUMMANDS >= INVALID):
        raise ValueError(f"summands must be smaller than {INVALID / (2 * MAX_SUMMANDS):g}")
    usable = np.where(ok, x, INVALID)
    chunk = max(1, CHUNK_ELEMENTS >> (n - n // 2))
    codes = np.concatenate([np.zeros(0, dtype=np.int64)] + [
        _solve_chunk(usable[i : i + chunk], t[i : i + chunk], int(k)) for i in range(0, m, chunk)])
    mask = ((codes[:, None] >> np.arange(n)) & 1).astype(bool)
    sums = np.where(mask, usable, 0.0).sum(axis=1)
    return SubsetSumResult(mask=mask, sums=sums, errors=np.abs(sums - t))


def subsets_of_size(n: int, k: int) -> int:
    """``C(n, k)``: the number of sums a fixed-size instance chooses from."""
    return math.comb(n, k)
