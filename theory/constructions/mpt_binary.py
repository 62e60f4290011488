"""Multi-Prize tickets (Diffenderfer & Kailkhura, ICLR 2021): binary weights by counting.

Every kept weight becomes ``sign(w) * gain`` with one gain per source layer; we use gain 1 on the
first layer of each gadget and ``gamma_i`` on the second, so a kept path through unit ``u`` of
block ``j`` contributes ``sign(a_u) sign(b_{k,u}) gamma_i`` per unit of input.

Sign bookkeeping.  For ``x_j >= 0`` only units with ``a_u > 0`` fire and give ``+x_j``, so output
``k`` receives ``sign(b_{k,u}) gamma_i x_j``: the kept units must have ``sign(b_{k,u}) =
sign(W_kj)``.  For ``x_j < 0`` units with ``a_u < 0`` fire and give ``relu(-x_j) = |x_j|``, whose
edge ``-gamma_i sign(b)`` must carry ``sign(W_kj)``, i.e. ``sign(b_{k,u}) = -sign(W_kj)``.  Both
cases read ``sign(a_u) sign(b_{k,u}) = sign(W_kj)``.  Output ``k`` keeps
``c_kj = round(|W_kj| / gamma_i)`` such units of each sign of ``a``, so ``P_kj = N_kj =
sign(W_kj) c_kj gamma_i`` and the rounding error is at most ``gamma_i / 2``.

Gain.  Given the source, ``K_kj`` (the fewer of the two patterns available for ``(k, j)``) is
known; ``gamma_i = max_kj |W_kj| / (K_kj + 1/2)`` is the smallest gain for which every rounded
count fits (counts are clipped to ``K_kj``, which keeps the error ``<= gamma_i / 2``).

Width bound (ours).  Per-weight tolerance ``tau_i = ln(1+eps) / (l sqrt(2 d_i d_{i-1}))``
(blocks docstring) needs ``gamma_i <= 2 tau_i``, which holds if every pattern count is at least
``c_i = ceil(w_max / (2 tau_i))`` with ``w_max = 1/sqrt(d_{i-1})`` (entrywise assumption).  A
unit has a given pattern with probability 1/4, independently over units, so by Hoeffding and a
union bound over the ``E = 2 sum_i d_i d_{i-1}`` (weight, sign) pairs, ``Binomial(n_i, 1/4) >=
c_i`` for all of them with probability ``>= 1 - delta`` when ``n_i = ceil(s^2)``,
``s = 2 (sqrt(L/2) + sqrt(L/2 + c_i))``, ``L = ln(E / delta)``.  The width ``d_{i-1} n_i`` is of
order ``l d^{3/2} / eps + d log(l d^2 / delta)``, the order quoted for MPT-1/32, and the error
at a fixed width falls like ``1 / n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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

METHOD = "mpt-binary"
ASSUMPTION = "both"
PATTERN_PROBABILITY = 0.25


def counts_needed(target_widths: Sequence[int], eps: float) -> list[int]:
    """``c_i = ceil(w_max / (2 tau_i))`` units per (weight, sign), ``w_max = 1/sqrt(d_{i-1})``."""
    d_in = np.asarray(target_widths[:-1], dtype=np.float64)
    return [math.ceil(c) for c in 1.0 / np.sqrt(d_in) / (2 * layer_tolerances(target_widths, eps))]


def block_sizes_bound(target_widths: Sequence[int], eps: float, delta: float) -> list[int]:
    """Our block size ``n_i`` per target layer (module docstring).

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps, delta : float
        Accuracy and failure probability.

    Returns
    -------
    list of int
    """
    d = np.asarray(target_widths)
    log_term = union_log_term(2 * float(np.sum(d[1:] * d[:-1])), delta)
    return [
        hoeffding_block_size(c, PATTERN_PROBABILITY, log_term)
        for c in counts_needed(target_widths, eps)
    ]


def count_layer(
    first: np.ndarray, second: np.ndarray, w: np.ndarray, block: int
) -> tuple[np.ndarray, float]:
    """Binary counting gadget for one layer: kept output edges and the gain (module docstring).

    Parameters
    ----------
    first : numpy.ndarray
        Source layer ``M_{2i-1}``, shape ``(d_in block, d_in)``.
    second : numpy.ndarray
        Source layer ``M_{2i}``, shape ``(d_out, d_in block)``.
    w : numpy.ndarray
        Target layer ``W_i``, shape ``(d_out, d_in)``.
    block : int
        Units per input coordinate.

    Returns
    -------
    tuple
        Boolean ``(d_out, d_in, block)`` kept edges (``round(|W_kj| / gamma)`` units with
        ``sign(a) sign(b) = sign(W_kj)`` for each sign of ``a``) and ``gamma`` (1 if ``W = 0``).
    """
    a = unit_inputs(first, block)
    pattern = np.sign(a)[None] * np.sign(block_view(second, block)) == np.sign(w)[:, :, None]
    by_sign = [pattern & (a > 0)[None], pattern & (a < 0)[None]]
    available = np.minimum(by_sign[0].sum(axis=2), by_sign[1].sum(axis=2))
    magnitude = np.abs(w)
    gamma = float(np.max(magnitude / (available + 0.5)))
    gain = gamma if gamma > 0 else 1.0
    count = np.minimum(np.floor(magnitude / gain + 0.5), available)[:, :, None]
    keep = np.zeros(pattern.shape, dtype=bool)
    for eligible in by_sign:
        keep |= eligible & (np.cumsum(eligible, axis=2) <= count)
    return keep, gain


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | Sequence[int] | None = None,
    rescale: bool = False,
) -> ConstructionResult:
    """Binary-weight subnetwork (sign times per-layer gain) of a uniform source by counting.

    Parameters
    ----------
    target : sequence of numpy.ndarray
        Target weights, spectral norm ``<= 1`` and entries ``<= 1/sqrt(d_{i-1})``.
    eps : float
        Sup-norm accuracy on the unit ball.
    delta : float
        Failure probability the default block sizes are chosen for.
    rng : numpy.random.Generator
        Draws the source network.
    block_size : int or sequence of int, optional
        Units per input coordinate (per layer); default our bound.
    rescale : bool
        Rescale a target violating the assumption instead of raising ``ValueError``.

    Returns
    -------
    ConstructionResult
        ``subnetwork.gains`` holds ``(1, gamma_1, 1, gamma_2, ...)``; ``theorem_width`` is
        ``None`` (the quoted MPT-1/32 width is an O-bound, see :mod:`theory.bounds`).
    """
    weights = validate_inputs(target, eps, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    return gadget_ticket(METHOD, weights, eps, delta, rng, block_size,
                         block_sizes_bound(widths, eps, delta), count_layer,
                         {"counts_needed": counts_needed(widths, eps), "assumption": ASSUMPTION},
                         binary=True)


def width_bound() -> sp.Expr:
    """:func:`block_sizes_bound`'s hidden width ``d n`` for ``d x d`` layers, as sympy."""
    d, l, delta = bounds.d, bounds.l, bounds.delta  # noqa: E741
    count = sp.ceiling(1 / sp.sqrt(d) / (2 * bounds.weight_tolerance()))
    return d * bounds.hoeffding_block(count, sp.nsimplify(PATTERN_PROBABILITY),
                                      sp.log(2 * l * d**2 / delta))


register(Construction(
    name=METHOD, construct=construct, family="gadget", theorem="Diffenderfer & Kailkhura 2021",
    bound=bounds.Bound("ours-mpt-binary", width_bound(),
                       "Ours: hidden width of theory.constructions.mpt_binary for d x d layers "
                       "(counting with rounding error gamma/2, Hoeffding pattern counts, union "
                       "bound).", False, "ours"),
    theorem_bound=bounds.get_bound("mpt-1-32-width"), slow=True,
    block_sizes_bound=block_sizes_bound))
