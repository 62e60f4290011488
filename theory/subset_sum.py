"""Random subset sum: exact closest subset sums and the covering radius of ``[-1, 1]``.

Lueker (1998): for ``X_1..X_n`` i.i.d. ``U[-1, 1]`` there is a constant ``C`` such that, when
``n >= C log(2 / min(eps, delta))``, with probability ``>= 1 - delta`` every ``z in [-1, 1]`` is
within ``eps`` of some subset sum.  Counting gives the matching lower bound
``n >= log2(1/eps)`` (:func:`counting_lower_bound`).  Pensia et al. (2020) prune ReLU gadgets with
one subset sum per target weight; :func:`solve_subset_sum` solves many such instances exactly with
the meet-in-the-middle algorithm of Horowitz and Sahni (1974): a compiled kernel
(:mod:`theory.subset_sum_kernel`, numba) where numba is installed, and a pure-numpy path vectorised
over instances that reaches the same optimal errors everywhere.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

MAX_SUMMANDS = 30
"""Largest ``n`` the exact solver accepts: ``2^(n/2)`` sums per half and instance."""

CHUNK_ELEMENTS = 1 << 18
"""Sums per half held at once (``instances x 2^half``): 2 MiB, so a chunk's sorted sums stay in
the CPU cache during the binary searches (4x faster than 32 MiB chunks) and memory stays small."""

BACKENDS = ("auto", "numba", "numpy")
"""Solvers of :func:`solve_subset_sum` (``auto``: see :func:`choose_backend`)."""

COMPILED_MIN_SUMS = 1 << 24
"""``auto`` uses the compiled kernel from this many ``B``-half sums (``m 2^(n - n//2)``) on: at
this size the numpy path (measured 1.0 CPU seconds, 8,192 instances of 21 summands) costs about
what importing numba and loading its cached kernel costs once per process (measured 0.6 CPU
seconds, 1.2 s wall, on a loaded 2-core machine), so smaller batches stay on numpy."""

RADIUS_WINDOW = 3.0
"""Sums outside ``[-3, 3]`` never change the covering radius of ``[-1, 1]`` (see
:func:`covering_radius`), so enumeration drops them as soon as no remaining summand can bring
them back."""


def _workers() -> int:
    """Threads for the solver: the CPUs this process may use (numpy sorts and searches release
    the GIL, so chunks run in parallel)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class SubsetSumResult:
    """Closest subset sums of ``m`` instances.

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean ``(m, n)``: the chosen subset of each instance.
    sums : numpy.ndarray
        ``(m,)`` subset sums ``sum_j mask[i, j] x[i, j]``.
    errors : numpy.ndarray
        ``(m,)`` distances ``|sums - targets|``.
    """

    mask: np.ndarray
    sums: np.ndarray
    errors: np.ndarray


def subset_sums(summands: np.ndarray) -> np.ndarray:
    """All ``2^h`` subset sums of each row, column ``k`` holding the subset with bits ``k``.

    Built by doubling, ``L_{j+1} = [L_j, L_j + x_j]``, so every sum is accumulated in the order
    ``((0 + x_{j_1}) + x_{j_2}) + ...`` of increasing index: recomputing it gives the same float.

    Parameters
    ----------
    summands : numpy.ndarray
        ``(m, h)`` float64.

    Returns
    -------
    numpy.ndarray
        ``(m, 2^h)``; bit ``j`` of the column index says whether summand ``j`` is in the subset.
    """
    m, h = summands.shape
    values = np.empty((m, 1 << h))
    values[:, 0] = 0.0
    for j in range(h):
        np.add(values[:, : 1 << j], summands[:, j : j + 1], out=values[:, 1 << j : 2 << j])
    return values


def nearest_in_rows(sorted_rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Value of each sorted row nearest to each query of that row (exact).

    One global ``searchsorted`` over the flattened rows: row ``r`` is shifted by ``r * span``
    with ``span`` larger than any row's value range, so rows cannot interleave.  Rounding of the
    shifted values can only misplace a query among values within one ulp of it; a correction
    step on the unshifted values restores the exact insertion point before the neighbours
    ``idx - 1`` and ``idx`` are compared.

    Parameters
    ----------
    sorted_rows : numpy.ndarray
        ``(c, k)`` ascending per row.
    queries : numpy.ndarray
        ``(c, q)`` ascending per row (sorted queries make the search nearly linear).

    Returns
    -------
    numpy.ndarray
        ``(c, q)`` nearest values.
    """
    c, k = sorted_rows.shape
    lo = min(sorted_rows.min(), queries.min())
    hi = max(sorted_rows.max(), queries.max())
    offsets = np.arange(c, dtype=np.float64)[:, None] * (2.0 * (hi - lo) + 1.0)
    flat = sorted_rows.ravel()
    first = np.arange(c)[:, None] * k
    pos = np.searchsorted((sorted_rows + offsets).ravel(), (queries + offsets).ravel())
    pos = np.clip(pos.reshape(queries.shape), first, first + k)
    while True:
        below = flat[np.maximum(pos - 1, first)]
        above = flat[np.minimum(pos, first + k - 1)]
        right = (pos < first + k) & (above < queries)
        left = (pos > first) & (below >= queries)
        if not (right.any() or left.any()):
            return np.where(np.abs(above - queries) < np.abs(queries - below), above, below)
        pos = pos + right - left


def _solve_chunk_numpy(summands: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Meet-in-the-middle for one chunk of instances; returns the optimal subsets as bit codes."""
    n_a = summands.shape[1] // 2
    rows = np.arange(summands.shape[0])
    a_sums, b_sums = subset_sums(summands[:, :n_a]), subset_sums(summands[:, n_a:])
    a_sorted, b_sorted = np.sort(a_sums, axis=1), np.sort(b_sums, axis=1)
    queries = targets[:, None] - a_sorted[:, ::-1]
    partner = nearest_in_rows(b_sorted, queries)
    best = np.argmin(np.abs(queries - partner), axis=1)
    a_best = a_sorted[rows, a_sorted.shape[1] - 1 - best]
    b_best = partner[rows, best]
    a_code = np.argmax(a_sums == a_best[:, None], axis=1)
    b_code = np.argmax(b_sums == b_best[:, None], axis=1)
    return a_code | (b_code << n_a)


def _solve_chunk_numba(summands: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The compiled kernel on one chunk (it releases the GIL, so chunks run in parallel)."""
    from theory.subset_sum_kernel import solve_codes

    codes = np.empty(summands.shape[0], dtype=np.int64)
    solve_codes(np.ascontiguousarray(summands), np.ascontiguousarray(targets),
                summands.shape[1] // 2, codes)
    return codes


def numba_available() -> bool:
    """Whether the compiled kernel can be used (numba importable)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def choose_backend(backend: str, m: int, n: int) -> str:
    """The backend that solves ``m`` instances of ``n`` summands: ``numba`` or ``numpy``.

    ``auto`` gives ``numba`` when it is installed and ``m 2^(n - n//2) >= COMPILED_MIN_SUMS``,
    else ``numpy``; ``numba`` and ``numpy`` are returned as asked (``numba`` must be installed).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown subset-sum backend {backend!r}; choose one of "
                         f"{', '.join(BACKENDS)}")
    if backend == "numba" and not numba_available():
        raise ValueError("subset-sum backend numba requested but numba is not installed")
    if backend == "auto":
        big = m * (1 << (n - n // 2)) >= COMPILED_MIN_SUMS
        return "numba" if big and numba_available() else "numpy"
    return backend


def as_instances(
    summands: np.ndarray, targets: np.ndarray | float, valid: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(summands, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"summands must have shape (m, n) or (n,), got {np.shape(summands)}")
    m, n = x.shape
    if n > MAX_SUMMANDS:
        raise ValueError(f"at most {MAX_SUMMANDS} summands per instance are supported, got {n}")
    t = np.asarray(targets, dtype=np.float64)
    t = np.full(m, float(t)) if t.ndim == 0 else t
    if t.shape != (m,):
        raise ValueError(f"targets must have shape ({m},) or be a scalar, got {t.shape}")
    ok = np.ones((m, n), dtype=bool) if valid is None else np.asarray(valid)
    if ok.shape != (m, n) or ok.dtype != np.bool_:
        raise ValueError(f"valid must be a boolean array of shape ({m}, {n})")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
        raise ValueError("summands and targets must be finite")
    return x, t, ok


def solve_subset_sum(
    summands: np.ndarray,
    targets: np.ndarray | float,
    valid: np.ndarray | None = None,
    backend: str = "auto",
) -> SubsetSumResult:
    """Exact closest subset sum of every instance by meet-in-the-middle (Horowitz & Sahni 1974).

    Split the ``n`` summands into halves ``A`` (``n // 2``) and ``B``; list the subset sums of
    both (:func:`subset_sums`); for every ``a`` in ``A`` the best partner is the ``B``-sum nearest
    to ``q = t - a``; the best pair over ``A``, by ``|q - b|``, is the optimum
    ``min_S |t - sum(S)|``. ``numpy`` sorts both halves and finds all partners of a chunk of
    instances by one global ``searchsorted`` (``O(2^(n/2) n)`` per instance, no Python loop over
    instances); ``numba`` buckets ``B`` by a counting sort instead of sorting it and looks each
    query up in its bucket (``O(2^(n/2))``, :mod:`theory.subset_sum_kernel`). Chunks of instances
    run on parallel threads (``CHUNK_ELEMENTS`` sums per half at once on the numpy path).

    Both backends reach the same optimal ``|q - b|`` on every instance. Ties, several subsets
    with that same value (repeated or zero summands, padding), may be resolved differently; the
    returned mask is always one of the optimal subsets.

    Parameters
    ----------
    summands : numpy.ndarray
        ``(m, n)`` or ``(n,)`` float64, ``n <= MAX_SUMMANDS``.
    targets : numpy.ndarray or float
        ``(m,)`` targets or one scalar for all instances.
    valid : numpy.ndarray, optional
        Boolean ``(m, n)``; summands marked ``False`` (padding) are never chosen.
    backend : str
        ``auto`` (:func:`choose_backend`: ``numba`` for large batches when installed),
        ``numba`` or ``numpy``.

    Returns
    -------
    SubsetSumResult
        Optimal masks, their sums and absolute errors.
    """
    x, t, ok = as_instances(summands, targets, valid)
    m, n = x.shape
    usable = np.where(ok, x, 0.0)
    compiled = choose_backend(backend, m, n) == "numba"
    solve_chunk = _solve_chunk_numba if compiled else _solve_chunk_numpy
    workers = _workers()
    chunk = (max(1, -(-m // (8 * workers))) if compiled
             else max(1, CHUNK_ELEMENTS >> (n - n // 2)))
    starts = range(0, m, chunk)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda i: solve_chunk(usable[i : i + chunk], t[i : i + chunk]), starts)
        codes = np.concatenate([np.zeros(0, dtype=np.int64), *parts])
    mask = ((codes[:, None] >> np.arange(n)) & 1).astype(bool) & ok
    sums = np.where(mask, x, 0.0).sum(axis=1)
    return SubsetSumResult(mask=mask, sums=sums, errors=np.abs(sums - t))


def _window_sums(summands: np.ndarray) -> np.ndarray:
    """Sorted subset sums that can matter for the covering radius of ``[-1, 1]``.

    Doubling as in :func:`subset_sums` with a stable merge per step, summands by decreasing
    magnitude; after each step a partial sum ``s`` is dropped when ``s + [-N_rest, P_rest]`` misses
    ``[-RADIUS_WINDOW, RADIUS_WINDOW]`` (``P_rest``/``N_rest``: total positive/negative mass of
    the summands still to add), since no completion of it can then lie in that window.
    """
    x = summands[np.argsort(-np.abs(summands), kind="stable")]
    pos_rest = np.concatenate([np.cumsum(np.maximum(x, 0)[::-1])[::-1], [0.0]])
    neg_rest = np.concatenate([np.cumsum(np.maximum(-x, 0)[::-1])[::-1], [0.0]])
    sums = np.zeros(1)
    for j, xj in enumerate(x):
        shifted = sums + xj
        sums = np.concatenate([sums, shifted])
        sums.sort(kind="stable")
        keep = (sums + pos_rest[j + 1] >= -RADIUS_WINDOW) & (
            sums - neg_rest[j + 1] <= RADIUS_WINDOW
        )
        sums = sums[keep]
    return sums


def covering_radius(summands: np.ndarray) -> float:
    """Exact covering radius ``sup_{z in [-1, 1]} min_S |z - sum(S)|`` of the subset sums.

    With the sorted subset sums ``s_1 < ... < s_K`` (plus ``-inf`` and ``+inf`` sentinels), the
    supremum over each gap ``[u, v]`` is attained at ``z* = clip((u + v)/2, -1, 1)`` and equals
    ``min(z* - u, v - z*)``; the radius is the largest of these.  Sums outside ``[-3, 3]`` can
    be ignored: a gap ``[u, v]`` with ``u <= -3`` and ``v <= 1`` (or symmetric) gives
    ``v + 1``, the same as no sum below ``-1``.  The number of sums kept is ``O(2^n)``
    (exact enumeration), so this is practical up to ``n ~ 24``.

    Parameters
    ----------
    summands : numpy.ndarray
        ``(n,)`` finite float64, ``n <= MAX_SUMMANDS``.

    Returns
    -------
    float
        The covering radius of ``[-1, 1]`` (1 for ``n = 0``: only the empty sum 0).
    """
    x = np.asarray(summands, dtype=np.float64)
    if x.ndim != 1 or x.size > MAX_SUMMANDS or not np.all(np.isfinite(x)):
        raise ValueError(
            f"summands must be a finite 1-D array of at most {MAX_SUMMANDS} values"
        )
    points = np.concatenate([[-np.inf], _window_sums(x), [np.inf]])
    u, v = points[:-1], points[1:]
    with np.errstate(invalid="ignore"):
        mid = np.clip((u + v) / 2.0, -1.0, 1.0)
    mid = np.where(np.isinf(u), -1.0, np.where(np.isinf(v), 1.0, mid))
    reach = np.minimum(mid - u, v - mid)
    return float(np.max(reach[(u < 1.0) & (v > -1.0)]))


def is_eps_cover(summands: np.ndarray, eps: float) -> bool:
    """Decide Lueker's event: every ``z in [-1, 1]`` is within ``eps`` of a subset sum.

    Exact for any ``n`` as long as ``2/eps`` intervals fit in memory: the covered set
    ``U_j = U_{j-1} ∪ (U_{j-1} + x_j)``, ``U_0 = [-eps, eps]``, is kept as a sorted union of
    disjoint intervals (each of length ``>= 2 eps``), summands by decreasing magnitude, and
    intervals that no completion can bring to meet ``[-1, 1]`` are dropped.  The event holds iff
    one final interval contains ``[-1, 1]``, i.e. iff :func:`covering_radius` ``<= eps``.

    Parameters
    ----------
    summands : numpy.ndarray
        ``(n,)`` finite float64.
    eps : float
        Accuracy ``> 0``.

    Returns
    -------
    bool
        Whether the subset sums ``eps``-cover ``[-1, 1]``.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    x = np.asarray(summands, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError("summands must be a finite 1-D array")
    x = x[np.argsort(-np.abs(x), kind="stable")]
    pos_rest = np.concatenate([np.cumsum(np.maximum(x, 0)[::-1])[::-1], [0.0]])
    neg_rest = np.concatenate([np.cumsum(np.maximum(-x, 0)[::-1])[::-1], [0.0]])
    lo, hi = np.array([-eps]), np.array([eps])
    for j, xj in enumerate(x):
        lo = np.concatenate([lo, lo + xj])
        hi = np.concatenate([hi, hi + xj])
        order = np.argsort(lo, kind="stable")
        lo, hi = lo[order], hi[order]
        reach = np.maximum.accumulate(hi)
        starts = np.concatenate([[True], lo[1:] > reach[:-1]])
        first = np.flatnonzero(starts)
        ends = np.concatenate([first[1:] - 1, [lo.size - 1]])
        lo, hi = lo[first], reach[ends]
        keep = (hi >= -1.0 - pos_rest[j + 1]) & (lo <= 1.0 + neg_rest[j + 1])
        lo, hi = lo[keep], hi[keep]
    return bool(np.any((lo <= -1.0) & (hi >= 1.0)))


def counting_lower_bound(eps: float) -> float:
    """Counting lower bound ``n >= log2(1/eps)`` on the summands needed to ``eps``-cover.

    ``2^n`` subset sums with balls of radius ``eps`` (length ``2 eps``) must cover ``[-1, 1]``
    (length 2), so ``2^n * 2 eps >= 2``, i.e. ``n >= log2(1/eps)``.

    Parameters
    ----------
    eps : float
        Accuracy ``> 0`` (the bound is negative for ``eps > 1``).

    Returns
    -------
    float
        ``log2(1/eps)``.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    return math.log2(1.0 / eps)
