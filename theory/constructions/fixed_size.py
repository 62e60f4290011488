"""Sparsity-guaranteed strong tickets by random FIXED-SIZE subset sum (Natale et al., NeurIPS 2024).

Natale, Ferré, Giambartolomei, Giroire and Mallmann-Trenn ("On the sparsity of the strong lottery
ticket hypothesis", arXiv:2410.14754) prove strong tickets whose SIZE is guaranteed, through an
essentially tight bound on the random fixed-size subset-sum problem (RFSS: approximate a target
by a sum of exactly ``k`` of ``n`` random samples).  What was checked: the abstract only (the
result and its motivation); the theorem's statement and constants were not at hand, so the bound
below is ours, for this construction, with a CALIBRATED constant.

Construction.  Pensia's two-layer gadget (:mod:`theory.constructions.pensia`) with every subset
sum replaced by a fixed-size one: for every target weight ``W_kj`` and sign of ``a_u``, the
ticket keeps EXACTLY ``k_i`` of the first ``s_i`` units of that sign in block ``j``, the
``k_i``-subset of products ``a_u b_{k,u}`` whose sum is closest to ``W_kj``
(:func:`theory.fixed_size_subset_sum.solve_fixed_size_subset_sum`, exact).  So the second
layer of gadget ``i`` keeps exactly ``2 k_i`` edges per target weight: its density is
``2 k_i / n_i`` whatever the target (the sparsity guarantee), and the whole ticket keeps at most
``sum_i (2 k_i d_i d_{i-1} + min(d_{i-1} n_i, 2 k_i d_i d_{i-1}))`` weights
(:func:`kept_bound`).

Sizes (ours).  Pool ``m_i = ceil(C_F log2(2 / min(tau_i, delta / (2 E_s))))`` summands per sign
(the Lueker form of Pensia's bound, with this construction's constant), of which the exact solver
takes ``s_i = min(m_i, MAX_SUMMANDS)`` (``plan["summands_capped"]`` when fewer than ``m_i``:
the success rate then rests on the solver over ``s_i`` summands and is measured, not promised),
subset size ``k_i = ceil(s_i / SUBSET_RATIO)``, and blocks ``n_i`` with ``Binomial(n_i, 1/2) >=
m_i`` for both signs (Hoeffding, as Pensia's).  The width bound is ``max_i d_{i-1} n_i``.

Calibration (:func:`calibration_failure`, seed 1, measured).  The rule promises that ``m``
products ``a b`` (``a ~ U(0,1]``, ``b ~ U[-1,1]``) whose best ``ceil(m/4)``-subset sum misses
``w`` by more than ``r = 2^(1 - m / C_F)`` occur with probability at most ``r``.  Over
``m = 8, 12, ..., 24`` and ``|w| in {0, 0.5, 0.71, 1}`` with 4,000 exact instances each, the
measured failure at ``C_F = 5`` stayed below ``r`` by a factor 3.3 or more (worst ``|w| = 1``:
0.114 against 0.379 at ``m = 12``, 0.006 against 0.072 at ``m = 24``); at Pensia's ``C_P = 4``
the margin was only 1.4 (0.182 against 0.25 at ``m = 12``).  ``C_F`` is empirical, not proven:
the bound is called calibrated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np

from theory import bounds
from theory.constructions.blocks import gadget_ticket, resolve_block_sizes, validate_inputs
from theory.constructions.pensia import (
    block_sizes_bound as pensia_block_sizes,
)
from theory.constructions.pensia import (
    calibration_failure as pensia_calibration_failure,
)
from theory.constructions.pensia import (
    solve_layer,
    summand_counts,
    width_bound,
)
from theory.constructions.registry import Construction, register
from theory.constructions.result import ConstructionResult
from theory.fixed_size_subset_sum import solve_fixed_size_subset_sum
from theory.networks import layer_widths
from theory.subset_sum import MAX_SUMMANDS, SubsetSumResult

METHOD = "fixed-size"
ASSUMPTION = "both"
CALIBRATED_C = 5.0
"""``C_F``, the calibrated constant of the pool size (module docstring)."""
SUBSET_RATIO = 4
"""``k_i = ceil(s_i / SUBSET_RATIO)``: the ticket keeps a quarter of each pool."""


def subset_size(summands: int) -> int:
    """``k = ceil(s / SUBSET_RATIO)`` for a pool of ``s`` summands."""
    return math.ceil(summands / SUBSET_RATIO)


def calibration_failure(m: int, w: float, rng: np.random.Generator,
                        n_instances: int = 4_000) -> tuple[float, float]:
    """Measured and promised failure of a pool of ``m`` products with subsets of
    :func:`subset_size` ``(m)`` at the rule's tightest tolerance (module docstring).

    Returns
    -------
    tuple of float
        ``(measured failure fraction, promised r = 2^(1 - m / C_F))``.
    """
    solve = functools.partial(solve_fixed_size_subset_sum, k=subset_size(m))
    return pensia_calibration_failure(m, w, rng, n_instances, CALIBRATED_C, solve)


def block_sizes_bound(target_widths: Sequence[int], eps: float, delta: float) -> list[int]:
    """Our block size ``n_i`` per target layer (Pensia's rule with ``C_F``)."""
    return pensia_block_sizes(target_widths, eps, delta, CALIBRATED_C)


def fixed_size_solver(k: int) -> Callable[..., SubsetSumResult]:
    """``solve(summands, targets, valid=None)``: subsets of ``k`` summands, or of all of them
    where an instance has fewer columns (its weight then keeps fewer and the construction
    reports the miss)."""
    def solve(summands: np.ndarray, targets: np.ndarray,
              valid: np.ndarray | None = None) -> SubsetSumResult:
        return solve_fixed_size_subset_sum(summands, targets, min(k, summands.shape[-1]), valid)

    return solve


def kept_bound(target_widths: Sequence[int], blocks: Sequence[int],
               sizes: Sequence[int]) -> int:
    """Most weights the ticket keeps: ``sum_i 2 k_i d_i d_{i-1} + min(d_{i-1} n_i, 2 k_i d_i
    d_{i-1})`` (second layers exactly, first layers at most one edge per used unit)."""
    return int(sum(2 * k * d_out * d_in + min(d_in * n, 2 * k * d_out * d_in)
                   for d_in, d_out, n, k in zip(target_widths[:-1], target_widths[1:], blocks,
                                                sizes, strict=True)))


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | Sequence[int] | None = None,
    subset_sizes: int | Sequence[int] | None = None,
    rescale: bool = False,
) -> ConstructionResult:
    """Prune a depth-``2l`` uniform source keeping exactly ``2 k_i`` products per weight.

    Parameters
    ----------
    target : sequence of numpy.ndarray
        Target weights ``W_i`` of shape ``(d_i, d_{i-1})``, spectral norm ``<= 1`` and entries
        ``<= 1/sqrt(d_{i-1})``.
    eps : float
        Sup-norm accuracy on the unit ball.
    delta : float
        Failure probability the default sizes are chosen for.
    rng : numpy.random.Generator
        Draws the source network.
    block_size : int or sequence of int, optional
        Units per input coordinate (per layer); default our bound.
    subset_sizes : int or sequence of int, optional
        ``k_i`` per layer (default ``ceil(s_i / SUBSET_RATIO)``), at most the pool ``s_i``
        (``min(m_i, MAX_SUMMANDS)``; with a ``block_size`` override ``min(ceil(n_i / 2),
        MAX_SUMMANDS)``, the units of one sign a block holds on average).
    rescale : bool
        Rescale a target violating the assumption instead of raising ``ValueError``.

    Returns
    -------
    ConstructionResult
        ``plan`` holds the pools ``max_summands``, ``subset_sizes``, the second layers'
        ``second_layer_density`` ``2 k_i / n_i`` and ``kept_bound``.
    """
    weights = validate_inputs(target, eps, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    counts = summand_counts(widths, eps, delta, CALIBRATED_C)
    bound = block_sizes_bound(widths, eps, delta)
    blocks = resolve_block_sizes(block_size, bound)
    pools = ([min(MAX_SUMMANDS, m) for m in counts] if block_size is None
             else [min(MAX_SUMMANDS, math.ceil(n / 2)) for n in blocks])
    sizes = [subset_size(s) for s in pools] if subset_sizes is None else (
        [subset_sizes] * len(pools) if np.isscalar(subset_sizes) else list(subset_sizes))
    if len(sizes) != len(pools) or any(int(k) != k or not 1 <= k <= s
                                        for k, s in zip(sizes, pools, strict=True)):
        raise ValueError(f"subset_sizes must be integers in [1, pool] per layer (pools "
                         f"{pools}), got {subset_sizes!r}")
    plan = {"summands_per_sign": counts, "max_summands": pools,
            "summands_capped": any(m > s for m, s in zip(counts, pools, strict=True)),
            "subset_sizes": [int(k) for k in sizes],
            "second_layer_density": [2 * int(k) / n for k, n in zip(sizes, blocks, strict=True)],
            "kept_bound": kept_bound(widths, blocks, sizes), "calibrated_c": CALIBRATED_C,
            "assumption": ASSUMPTION}
    options = [{"max_summands": s, "solve": fixed_size_solver(int(k))}
               for s, k in zip(pools, sizes, strict=True)]
    return gadget_ticket(METHOD, weights, eps, delta, rng, block_size, bound, solve_layer, plan,
                         layer_options=options)


register(Construction(
    name=METHOD, construct=construct, family="gadget",
    theorem="Natale et al. 2024",
    bound=bounds.Bound("ours-fixed-size", width_bound(CALIBRATED_C),
                       "Ours: hidden width of theory.constructions.fixed_size for d x d layers "
                       "(pool of the Lueker form with the calibrated C_F = 5, Hoeffding sign "
                       "counts, union bound); the ticket keeps exactly 2k of every pool's "
                       "products.", False, "ours", calibrated=True),
    block_sizes_bound=block_sizes_bound))
