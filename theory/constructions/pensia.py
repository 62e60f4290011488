"""Pensia et al. (NeurIPS 2020): logarithmic over-parameterisation by random subset sum.

Each target layer ``W_i`` becomes two source layers (:mod:`theory.constructions.blocks`).  Input
coordinate ``j`` owns a block of ``n_i`` hidden units keeping only their edge ``a_u`` from ``x_j``;
for ``x_j >= 0`` only units with ``a_u > 0`` fire, for ``x_j < 0`` only those with ``a_u < 0``.
For every output ``k`` two subset-sum problems are solved exactly (over the block's positive-``a``
units and over its negative-``a`` units, summands ``a_u b_{k,u}``, target ``W_kj``), all
``2 d_i d_{i-1}`` instances of a layer in one batched meet-in-the-middle call.

Width bound (ours).  A per-weight tolerance ``tau_i = ln(1+eps) / (l sqrt(2 d_i d_{i-1}))`` gives
sup error ``<= eps`` (blocks docstring).  The failure budget is split: ``delta/2`` over the
``E_s = 2 sum_i d_i d_{i-1}`` subset-sum instances and ``delta/2`` over the ``E_c = 2 sum_i
d_{i-1}`` events "block ``j`` has fewer than ``m_i`` units of one sign".  Lueker's theorem (random
subset sum) says ``m >= C log(2 / min(tau, delta'))`` summands of density bounded near 0 suffice;
its constant is not explicit and we do not derive one, so we use the form with a CALIBRATED
constant ``C_P``::

    m_i = ceil(C_P log2(2 / min(tau_i, delta / (2 E_s)))),     C_P = 4.

Calibration (:func:`calibration_failure`).  The rule promises that ``m`` summands ``a b``
(``a ~ U(0,1]``, ``b ~ U[-1,1]``: the products of one sign of a block) fail to come within
``tau`` of a fixed target ``w`` with probability at most ``r = 2^(1 - m / C_P)`` whenever
``tau >= r``; the worst case is ``tau = r``.  Over ``m = 6, 9, ..., 24`` and ``|w| in
{0, 0.5, 0.71, 0.85, 1}`` (the whole range the construction accepts: ``|w| = 1`` occurs whenever a
layer has input width 1) with 20,000 exact instances each, the measured failure stayed below
``r`` at ``C_P = 4`` by a factor 1.8 or more (worst: ``|w| = 1``, e.g. 0.081 vs 0.149 at
``m = 15``, 0.0081 vs 0.031 at ``m = 24``).  The constant 3 used before failed at ``|w| = 1``
(0.104 vs 0.0625 at ``m = 15``).  Failure is dominated by the event that the positive products
cannot reach ``|w|``; at ``|w| = 1`` it decays like ``0.76^m`` over the range measured, faster
than the rule's ``2^(-1/4) = 0.84^m``, which is what the extrapolation beyond ``m = 24`` rests
on.  ``C_P`` is an empirical constant, not a proven one, and every width derived from it is
called calibrated (``Bound.calibrated`` in :mod:`theory.bounds`).  The
block then needs ``Binomial(n_i, 1/2) >= m_i`` for both signs, which Hoeffding guarantees with
probability ``1 - delta / (2 E_c)`` for ``n_i = ceil(s^2)``, ``s = sqrt(L/2) + sqrt(L/2 + 2 m_i)``,
``L = ln(2 E_c / delta)`` (:func:`~theory.constructions.blocks.hoeffding_block_size` with
``p = 1/2``).  The width bound is ``max_i d_{i-1} n_i``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

from theory import bounds
from theory.constructions.blocks import (
    block_view,
    gadget_ticket,
    hoeffding_block_size,
    layer_tolerances,
    union_log_term,
    unit_inputs,
    validate_inputs,
)
from theory.constructions.registry import Construction, register
from theory.constructions.result import ConstructionResult
from theory.networks import layer_widths
from theory.subset_sum import MAX_SUMMANDS, SubsetSumResult, solve_subset_sum

METHOD = "pensia"
ASSUMPTION = "both"
CALIBRATED_C = 4.0
CALIBRATION_SUMMANDS = (6, 9, 12, 15, 18, 21, 24)
CALIBRATION_TARGETS = (0.0, 0.5, 0.71, 0.85, 1.0)


def summands_per_sign(tau: float, delta_instance: float, c: float = CALIBRATED_C) -> int:
    """Lueker-form count ``m = ceil(c log2(2 / min(tau, delta_instance)))`` (calibrated ``c``).

    Parameters
    ----------
    tau : float
        Per-weight tolerance.
    delta_instance : float
        Failure probability allowed to one subset-sum instance.
    c : float
        The calibrated constant ``C_P`` (module docstring).

    Returns
    -------
    int
        Summands of one sign each block must hold.
    """
    return math.ceil(c * math.log2(2.0 / min(tau, delta_instance)))


def calibration_failure(
    m: int, w: float, rng: np.random.Generator, n_instances: int = 20_000,
    c: float = CALIBRATED_C,
    solve: Callable[[np.ndarray, float], SubsetSumResult] = solve_subset_sum,
) -> tuple[float, float]:
    """Measured and promised failure of ``m`` summands at the rule's tightest tolerance.

    Draws ``n_instances`` sets of ``m`` products ``a b`` (``a ~ U(0,1]``, ``b ~ U[-1,1]``), solves
    each closest subset sum to ``w`` exactly and counts the instances whose error exceeds
    ``r = 2^(1 - m / c)``, the tolerance and failure probability the rule
    ``m = ceil(c log2(2 / min(tau, delta)))`` promises at ``m`` (module docstring).

    Parameters
    ----------
    m : int
        Summands per instance, ``1 <= m <= MAX_SUMMANDS``.
    w : float
        Target, ``|w| <= 1``.
    rng : numpy.random.Generator
        Draws the summands.
    n_instances : int
        Monte Carlo instances.
    c : float
        The constant under test.
    solve : callable
        The exact solver ``solve(summands, w)`` (a fixed-size one for
        :mod:`theory.constructions.fixed_size`).

    Returns
    -------
    tuple of float
        ``(measured failure fraction, promised r)``.
    """
    promised = 2.0 ** (1.0 - m / c)
    a = 1.0 - rng.uniform(0.0, 1.0, (n_instances, m))
    b = rng.uniform(-1.0, 1.0, (n_instances, m))
    errors = solve(a * b, float(w)).errors
    return float(np.mean(errors > promised)), promised


def summand_counts(target_widths: Sequence[int], eps: float, delta: float,
                   c: float = CALIBRATED_C) -> list[int]:
    """Our summands per sign ``m_i`` per target layer (module docstring).

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps, delta : float
        Accuracy and failure probability.
    c : float
        The calibrated constant (``C_P``; :mod:`theory.constructions.fixed_size` has its own).

    Returns
    -------
    list of int
        ``m_i = ceil(c log2(2 / min(tau_i, delta / (2 E_s))))`` for ``i = 1 ... l``.
    """
    d = np.asarray(target_widths)
    n_subset = 2 * float(np.sum(d[1:] * d[:-1]))
    return [
        summands_per_sign(tau, delta / (2 * n_subset), c)
        for tau in layer_tolerances(target_widths, eps)
    ]


def block_sizes_bound(target_widths: Sequence[int], eps: float, delta: float,
                      c: float = CALIBRATED_C) -> list[int]:
    """Our block size ``n_i`` per target layer: ``Binomial(n_i, 1/2) >= m_i`` for both signs.

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps, delta : float
        Accuracy and failure probability.
    c : float
        The calibrated constant of :func:`summand_counts`.

    Returns
    -------
    list of int
        ``n_i`` for ``i = 1 ... l`` (module docstring).
    """
    log_count = union_log_term(4 * float(np.sum(target_widths[:-1])), delta)
    return [hoeffding_block_size(m, 0.5, log_count)
            for m in summand_counts(target_widths, eps, delta, c)]


def _sign_indices(a: np.ndarray, limit: int | None,
                  eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eligible unit indices of every (output, block) grouped by sign of ``a``, with validity.

    Returns ``index (2, d_out, d_in, K)`` and ``valid (2, d_out, d_in, K)``: sign 0 is
    ``a > 0``, sign 1 is ``a < 0``, units in block order, ``K`` the largest group, or ``limit``
    (the first ``limit`` units of each group); positions past a group's size are not valid.
    """
    groups = np.stack([(a > 0)[None] & eligible, (a < 0)[None] & eligible])
    order = np.argsort(~groups, axis=3, kind="stable")
    size = groups.sum(axis=3)
    width = max(1, int(size.max()) if limit is None else min(int(size.max()), limit))
    return order[..., :width], np.arange(width) < size[..., None]


def solve_layer(
    first: np.ndarray,
    second: np.ndarray,
    w: np.ndarray,
    block: int,
    max_summands: int | None = None,
    eligible: np.ndarray | None = None,
    solve: Callable[..., SubsetSumResult] = solve_subset_sum,
) -> np.ndarray:
    """Choose the output edges of one gadget by exact subset sum (one batched call per layer).

    Parameters
    ----------
    first : numpy.ndarray
        Source layer ``M_{2i-1}``, shape ``(d_in block, d_in)``; unit ``u`` uses ``x_{u // block}``.
    second : numpy.ndarray
        Source layer ``M_{2i}``, shape ``(d_out, d_in block)``.
    w : numpy.ndarray
        Target layer ``W_i``, shape ``(d_out, d_in)``.
    block : int
        Units per input coordinate.
    max_summands : int, optional
        Use only the first ``max_summands`` units of each sign (all if None): the meet-in-the-
        middle cost is ``2^(max_summands / 2)`` per instance.
    eligible : numpy.ndarray, optional
        Boolean ``(d_out, d_in, block)``: the units output ``k`` may use (default all; a sparse
        source passes the units whose edges exist, :mod:`theory.constructions.sparse_source`).
    solve : callable
        ``solve(summands, targets, valid=...)``: the exact solver (default the closest subset
        sum; :mod:`theory.constructions.fixed_size` passes a fixed-size one).

    Returns
    -------
    numpy.ndarray
        Boolean ``(d_out, d_in, block)``: output ``k`` keeps unit ``u`` of block ``j``; for each
        ``(k, j)`` and sign of ``a_u`` the kept products ``a_u b_{k,u}`` are the subset whose sum
        is closest to ``W_kj``.
    """
    d_out, d_in = w.shape
    a = unit_inputs(first, block)
    b = block_view(second, block)
    if eligible is None:
        eligible = np.ones((d_out, d_in, block), dtype=bool)
    index, valid = _sign_indices(a, max_summands, eligible)
    k = np.arange(d_out)[None, :, None, None]
    j = np.arange(d_in)[None, None, :, None]
    summands = a[j, index] * b[k, j, index]
    targets = np.broadcast_to(w[None], summands.shape[:3])
    result = solve(summands.reshape(-1, summands.shape[-1]), targets.reshape(-1),
                   valid=valid.reshape(-1, summands.shape[-1]))
    chosen = np.asarray(result.mask).reshape(summands.shape) & valid
    keep = np.zeros((d_out, d_in, block), dtype=bool)
    ss, kk, jj, tt = np.nonzero(chosen)
    keep[kk, jj, index[ss, kk, jj, tt]] = True
    return keep


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | Sequence[int] | None = None,
    max_summands: int | None = None,
    rescale: bool = False,
) -> ConstructionResult:
    """Prune a depth-``2l`` uniform source to ``eps``-approximate ``target`` (Pensia et al. 2020).

    Parameters
    ----------
    target : sequence of numpy.ndarray
        Target weights ``W_i`` of shape ``(d_i, d_{i-1})``, spectral norm ``<= 1`` and entries
        ``<= 1/sqrt(d_{i-1})``.
    eps : float
        Sup-norm accuracy on the unit ball.
    delta : float
        Failure probability the default block sizes are chosen for.
    rng : numpy.random.Generator
        Draws the source network.
    block_size : int or sequence of int, optional
        Units per input coordinate (per layer); default our bound (module docstring).
    max_summands : int, optional
        Summands of each sign per subset-sum instance (the first ones of the block).  Default:
        our ``m_i`` with the default block sizes (all the bound needs), all units with a
        ``block_size`` override; never more than the exact solver's ``MAX_SUMMANDS`` (30: the
        closest of ``2^30`` subset sums is already far below any tolerance used here).
    rescale : bool
        Rescale a target violating the assumption instead of raising ``ValueError``.

    Returns
    -------
    ConstructionResult
        ``theorem_width`` is ``None``: Pensia et al.'s ``C d log(d d l / min(eps, delta))``
        has an unknown constant (see :mod:`theory.bounds`).
    """
    weights = validate_inputs(target, eps, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    if max_summands is not None and (int(max_summands) != max_summands or max_summands < 1):
        raise ValueError(f"max_summands must be a positive integer, got {max_summands!r}")
    counts = summand_counts(widths, eps, delta)
    limits = [
        min(MAX_SUMMANDS, max_summands if max_summands is not None else
            (MAX_SUMMANDS if block_size is not None else m))
        for m in counts
    ]
    plan = {"summands_per_sign": counts, "max_summands": limits, "calibrated_c": CALIBRATED_C,
            "assumption": ASSUMPTION}
    return gadget_ticket(METHOD, weights, eps, delta, rng, block_size,
                         block_sizes_bound(widths, eps, delta), solve_layer, plan,
                         layer_options=[{"max_summands": m} for m in limits])


def width_bound(c: float = CALIBRATED_C) -> sp.Expr:
    """:func:`block_sizes_bound`'s hidden width ``d n`` for ``d x d`` layers, as sympy."""
    d, l, delta = bounds.d, bounds.l, bounds.delta  # noqa: E741
    subset_events = 2 * l * d**2
    count_events = 2 * l * d
    tau = sp.Min(bounds.weight_tolerance(), delta / (2 * subset_events))
    per_sign = sp.ceiling(sp.nsimplify(c) * sp.log(2 / tau, 2))
    return d * bounds.hoeffding_block(per_sign, sp.Rational(1, 2),
                                      sp.log(2 * count_events / delta))


register(Construction(
    name=METHOD, construct=construct, family="gadget", theorem="Pensia et al. 2020",
    bound=bounds.Bound("ours-pensia", width_bound(),
                "Ours: hidden width of theory.constructions.pensia for d x d layers (calibrated "
                "subset-sum constant C_P = 4, Hoeffding sign counts, union bound).",
                False, "ours", calibrated=True),
    theorem_bound=bounds.get_bound("pensia-width"), block_sizes_bound=block_sizes_bound))
