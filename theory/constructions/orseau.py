"""Orseau, Hutter & Rivasplata (NeurIPS 2020): hyperbolic sources, greedy geometric decomposition.

Same two-layer gadget as :mod:`theory.constructions.pensia` (blocks docstring), over a source with
i.i.d. *hyperbolic* entries (density ``∝ 1/|w|`` on ``[-1, -a] ∪ [a, 1]``, ``a =``
:data:`theory.networks.HYPERBOLIC_LOW`: log-uniform magnitude, random sign).  Every target weight
``W_kj`` is written, for each sign of the input edge ``a_u``, as a short sum of products
``b_{k,u} a_u`` chosen greedily: with residual ``r_0 = W_kj``, step ``t = 1 ... K`` keeps the
unit of the pool ``Pool_t`` (see below) with the LARGEST product ``p`` of the residual's sign
and ``|p| <= |r_{t-1}|``, and sets ``r_t = r_{t-1} - p``.  If the pool holds a product in the
window ``[|r|/2, |r|]`` of the right sign, the largest one is at least that big, so
``|r_t| <= |r_{t-1}|/2``: a geometric ("binary") decomposition with at most ``K`` kept units per
weight and sign.

What was checked in the paper.  The abstract of arXiv:2006.12156 states that the source "only
needs a logarithmic factor (in all variables but depth) number of neurons per weight of the
target subnetwork", and Figure 1's caption that a target weight is simulated "by 2 log 1/eps
intermediate neurons due to a 'binary' decomposition", "requiring only O(log 1/eps) sampled
neurons", with hyperbolically distributed weights.  The theorem's constants and its exact
assumptions were not at hand; :mod:`theory.bounds` keeps the caption's counts (``orseau-*``) and
our bound below (``ours-orseau``) is derived for THIS construction only.

Why hyperbolic weights.  For ``|a|, |b|`` log-uniform on ``[a_0, 1]`` the variables
``U = ln(1/|a|)``, ``V = ln(1/|b|)`` are U[0, Λ] with ``Λ = ln(1/a_0)``, so ``T = U + V =
ln(1/|ab|)`` has the triangular density ``t/Λ^2`` on ``[0, Λ]`` and ``(2Λ - t)/Λ^2`` on
``[Λ, 2Λ]``, CDF ``G``.  The product falls in the ratio-2 window ``[r/2, r]`` with probability

    h(r) = G(ln(1/r) + ln 2) - G(ln(1/r)),

which is positive on the whole range ``(a_0^2, 1]`` of scales the halving visits and varies
there only with ``ln(1/r)``, unlike a uniform source (where ``P(|ab| in [r/2, r])`` is of order
``r ln(1/r)`` and vanishes as ``r -> 0``).  ``h`` integrates a unimodal density over a sliding
interval, so it is unimodal
in ``ln(1/r)`` and its minimum over ``r in [tau_i, w_max]`` is at an endpoint:
``q_i = min(h(w_max), h(tau_i))`` with ``w_max = 1/sqrt(d_{i-1})`` (entrywise assumption) and
``tau_i`` the blocks-docstring tolerance; ``q_i > 0`` needs ``tau_i > a_0^2``
(``ln(1/tau_i) < 2Λ``).

Width bound (ours).  Take ``K_i = max(1, ceil(log2(w_max / tau_i)))`` steps.  The units of one
sign of ``a`` in block ``j`` (``c`` of them, in block order) are split into ``K_i`` consecutive
groups; ``Pool_t`` is groups ``1 ... t`` minus the units already kept for this weight.  Group
``t`` is untouched before step ``t`` and independent of ``r_{t-1}`` (a function of groups
``< t``), and each of its units has the residual's product sign and a window product with
probability ``h/2 >= q_i/2`` (the sign of ``b`` is independent of magnitudes).  So step ``t``
fails to halve a residual above ``tau_i`` with probability ``<= (1 - q_i/2)^g`` when the group
holds ``g`` units, and one (weight, sign) instance ends above ``tau_i`` with probability
``<= K_i (1 - q_i/2)^g``: once ``|r| <= tau_i`` it never grows (no step overshoots), and ``K_i``
halvings bring ``w_max`` below ``tau_i``.  A union bound with ``delta/2`` over the
``E_s = 2 sum_i d_i d_{i-1}`` instances gives the group size

    g_i = ceil(ln(2 E_s K_i / delta) / -ln(1 - q_i/2)),

and ``Binomial(n_i, 1/2) >= K_i g_i`` for both signs of all ``E_c = 2 sum_i d_{i-1}`` blocks
with probability ``>= 1 - delta/2`` (Hoeffding,
:func:`~theory.constructions.blocks.hoeffding_block_size`, ``L = ln(2 E_c / delta)``).  The
width bound is ``max_i d_{i-1} n_i``: ``K_i = O(log(1/eps))`` groups of
``g_i = O(log(d l log(1/eps) / delta))`` units, each ``1/q_i`` times wider than a
uniform-window argument would need; ``q_i`` is small near ``|w| = w_max`` (few hyperbolic
products are large), which is the construction's constant, not its order.
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
from theory.networks import HYPERBOLIC_LOW, layer_widths

METHOD = "orseau"
ASSUMPTION = "both"
LOG_RANGE = math.log(1.0 / HYPERBOLIC_LOW)
"""``Λ = ln(1/a_0)``: the range of ``ln(1/|w|)`` of a hyperbolic source entry."""


def log_product_cdf(t: float, log_range: float = LOG_RANGE) -> float:
    """CDF ``G(t)`` of ``T = ln(1/|ab|)`` for independent log-uniform ``|a|, |b|`` (docstring).

    Parameters
    ----------
    t : float
        Point at which to evaluate.
    log_range : float
        ``Λ = ln(1/a_0)``.

    Returns
    -------
    float
        ``t^2 / (2Λ^2)`` on ``[0, Λ]``, ``1 - (2Λ - t)^2 / (2Λ^2)`` on ``[Λ, 2Λ]``, clamped to
        ``[0, 1]`` outside.
    """
    t = min(max(t, 0.0), 2.0 * log_range)
    if t <= log_range:
        return t * t / (2.0 * log_range**2)
    return 1.0 - (2.0 * log_range - t) ** 2 / (2.0 * log_range**2)


def window_probability(r: float, log_range: float = LOG_RANGE) -> float:
    """``h(r) = P(|ab| in [r/2, r])`` for independent hyperbolic ``a, b`` (module docstring)."""
    s = math.log(1.0 / r)
    return log_product_cdf(s + math.log(2.0), log_range) - log_product_cdf(s, log_range)


def steps_needed(target_widths: Sequence[int], eps: float) -> list[int]:
    """Halving steps ``K_i = max(1, ceil(log2(w_max / tau_i)))`` per target layer."""
    d_in = np.asarray(target_widths[:-1], dtype=np.float64)
    ratio = 1.0 / np.sqrt(d_in) / layer_tolerances(target_widths, eps)
    return [max(1, math.ceil(math.log2(x))) for x in ratio]


def min_window_probabilities(target_widths: Sequence[int], eps: float) -> list[float]:
    """``q_i = min(h(w_max), h(tau_i))`` per target layer; ``ValueError`` if it is 0.

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps : float
        Requested accuracy.

    Returns
    -------
    list of float
    """
    out = []
    for d_in, tau in zip(target_widths[:-1], layer_tolerances(target_widths, eps), strict=True):
        q = min(window_probability(1.0 / math.sqrt(d_in)), window_probability(tau))
        if not q > 0:
            raise ValueError(
                f"eps={eps:g} needs per-weight tolerance {tau:.3g}, below the smallest product "
                f"{HYPERBOLIC_LOW**2:g} of two hyperbolic weights; use a larger eps"
            )
        out.append(q)
    return out


def group_sizes(target_widths: Sequence[int], eps: float, delta: float) -> list[int]:
    """Units per greedy group ``g_i = ceil(ln(2 E_s K_i / delta) / -ln(1 - q_i/2))``."""
    d = np.asarray(target_widths)
    n_subset = 2 * float(np.sum(d[1:] * d[:-1]))
    return [
        math.ceil(union_log_term(2 * n_subset * k, delta) / -math.log1p(-q / 2))
        for k, q in zip(steps_needed(target_widths, eps),
                        min_window_probabilities(target_widths, eps), strict=True)
    ]


def block_sizes_bound(target_widths: Sequence[int], eps: float, delta: float) -> list[int]:
    """Our block size ``n_i`` per target layer: ``Binomial(n_i, 1/2) >= K_i g_i`` for both signs.

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps, delta : float
        Accuracy and failure probability.

    Returns
    -------
    list of int
        ``n_i`` for ``i = 1 ... l`` (module docstring).
    """
    log_count = union_log_term(4 * float(np.sum(target_widths[:-1])), delta)
    return [
        hoeffding_block_size(k * g, 0.5, log_count)
        for k, g in zip(steps_needed(target_widths, eps), group_sizes(target_widths, eps, delta),
                        strict=True)
    ]


def decompose_layer(
    first: np.ndarray, second: np.ndarray, w: np.ndarray, block: int, steps: int
) -> np.ndarray:
    """Greedy geometric decomposition of every weight of one layer (module docstring).

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
    steps : int
        ``K``: greedy steps (and groups) per weight and sign of ``a``.

    Returns
    -------
    numpy.ndarray
        Boolean ``(d_out, d_in, block)``: output ``k`` keeps unit ``u`` of block ``j``; at most
        ``steps`` units per ``(k, j)`` and sign of ``a_u``.
    """
    a = unit_inputs(first, block)
    products = a[None] * block_view(second, block)
    magnitude = np.abs(products)
    keep = np.zeros(products.shape, dtype=bool)
    for side in (a > 0, a < 0):
        rank = np.cumsum(side, axis=1) - 1
        count = side.sum(axis=1)
        residual = np.array(w, dtype=np.float64)
        for t in range(1, steps + 1):
            limit = (t * count) // steps
            pool = (side & (rank < limit[:, None]))[None] & ~keep
            fits = pool & (products * residual[..., None] > 0) & (
                magnitude <= np.abs(residual)[..., None])
            score = np.where(fits, magnitude, -1.0)
            best = np.argmax(score, axis=2)[..., None]
            found = np.take_along_axis(score, best, axis=2)[..., 0] > 0
            chosen = np.zeros(keep.shape, dtype=bool)
            np.put_along_axis(chosen, best, found[..., None], axis=2)
            keep |= chosen
            residual = residual - np.where(found, np.take_along_axis(products, best, 2)[..., 0],
                                           0.0)
    return keep


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | Sequence[int] | None = None,
    rescale: bool = False,
) -> ConstructionResult:
    """Prune a depth-``2l`` hyperbolic source by greedy geometric decomposition (Orseau 2020).

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
        Draws the hyperbolic source network.
    block_size : int or sequence of int, optional
        Units per input coordinate (per layer); default our bound (module docstring).
    rescale : bool
        Rescale a target violating the assumption instead of raising ``ValueError``.

    Returns
    -------
    ConstructionResult
        ``theorem_width`` is ``None`` (the paper's constants were not checked, see
        :mod:`theory.bounds`); ``plan["steps"]`` holds ``K_i``.
    """
    weights = validate_inputs(target, eps, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    steps = steps_needed(widths, eps)
    plan = {
        "steps": steps,
        "group_sizes": group_sizes(widths, eps, delta),
        "window_probabilities": min_window_probabilities(widths, eps),
        "assumption": ASSUMPTION,
    }
    return gadget_ticket(METHOD, weights, eps, delta, rng, block_size,
                         block_sizes_bound(widths, eps, delta), decompose_layer, plan,
                         layer_options=[{"steps": k} for k in steps], dist="hyperbolic")


def _log_product_cdf(t: sp.Expr) -> sp.Expr:
    """:func:`log_product_cdf` as sympy (triangular on ``[0, 2Λ]``)."""
    span = sp.log(sp.nsimplify(1 / HYPERBOLIC_LOW))
    return sp.Piecewise(
        (0, t <= 0),
        (t**2 / (2 * span**2), t <= span),
        (1 - (2 * span - t) ** 2 / (2 * span**2), t <= 2 * span),
        (1, True),
    )


def _hyperbolic_window(r: sp.Expr) -> sp.Expr:
    """:func:`window_probability` ``h(r)`` as sympy."""
    return _log_product_cdf(sp.log(1 / r) + sp.log(2)) - _log_product_cdf(sp.log(1 / r))


def width_bound() -> sp.Expr:
    """:func:`block_sizes_bound`'s hidden width ``d n`` for ``d x d`` layers, as sympy."""
    d, l, delta = bounds.d, bounds.l, bounds.delta  # noqa: E741
    tau, w_max = bounds.weight_tolerance(), 1 / sp.sqrt(d)
    steps = sp.Max(1, sp.ceiling(sp.log(w_max / tau, 2)))
    q = sp.Min(_hyperbolic_window(w_max), _hyperbolic_window(tau))
    group = sp.ceiling(sp.log(2 * 2 * l * d**2 * steps / delta) / -sp.log(1 - q / 2))
    return d * bounds.hoeffding_block(steps * group, sp.Rational(1, 2),
                                      sp.log(2 * 2 * l * d / delta))


register(Construction(
    name=METHOD, construct=construct, family="gadget", theorem="Orseau et al. 2020",
    bound=bounds.Bound("ours-orseau", width_bound(),
                       "Ours: hidden width of theory.constructions.orseau for d x d layers "
                       "(greedy halving in K = ceil(log2(w_max/tau)) groups, hyperbolic window "
                       "probability, Hoeffding, union bound).", False, "ours"),
    theorem_bound=bounds.get_bound("orseau-sampled-per-weight"), slow=True,
    success_blocks=(64, 512), block_sizes_bound=block_sizes_bound))
