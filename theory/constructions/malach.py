"""Malach, Yehudai, Shalev-Shwartz, Shamir (ICML 2020): one unit per sign for every weight.

Same two-layer gadget as :mod:`theory.constructions.pensia`, but for each target weight ``W_kj``
and each sign ``s`` of the input edge the construction keeps the SINGLE unit ``u`` of block ``j``
with ``sign(a_u) = s`` whose product ``a_u b_{k,u}`` is closest to ``W_kj`` (a vectorised argmin
over the block), so every weight is approximated by one product per sign.

Width bound (ours).  For ``a ~ U[-1,1]`` and ``b ~ U[-1,1]`` independent, a unit has
``sign(a) = s`` with probability 1/2 and then ``z = a b`` has density ``-ln|z| / 2`` on
``[-1, 1]`` (symmetric, decreasing in ``|z|``).  With ``F(z) = (z - z ln z) / 2`` (``F(0) = 0``)
the probability that ``z`` falls within ``tau`` of ``w`` is

    q(w, tau) = F(min(w + tau, 1)) - F(max(w - tau, 0)) + F(max(tau - w, 0)),

non-increasing in ``|w|``, so for ``|w| <= w_max = 1/sqrt(d_{i-1})`` (entrywise assumption) it is
at least ``q_i = q(w_max, tau_i)``.  Units are independent, so one instance fails with probability
``(1 - q_i / 2)^n <= exp(-n q_i / 2)``; a union bound over the ``E = 2 sum_i d_i d_{i-1}``
instances gives failure ``<= delta`` for

    n_i = ceil((2 / q_i) ln(E / delta)),

with ``tau_i = ln(1+eps) / (l sqrt(2 d_i d_{i-1}))`` (blocks docstring).  For ``d_{i-1} >= 2``,
``q_i ~ tau_i ln(1/w_max)`` and the width ``d_{i-1} n_i`` grows like ``1/eps``
(polynomial, as in the paper; measured: x9.6-10 per decade of eps at ``d_{i-1} = 2, 4``).  At
input width 1 the assumption allows ``|w| = w_max = 1``, where the product density ``-ln|z|/2``
vanishes: ``q_i = F(1) - F(1 - tau_i) ~ tau_i^2 / 4`` and the width grows like ``1/eps^2``
(measured: x93-99 per decade of eps at ``d_0 = 1``).
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
    layer_tolerances,
    union_log_term,
    unit_inputs,
    validate_inputs,
)
from theory.constructions.registry import Construction, register
from theory.constructions.result import ConstructionResult
from theory.networks import layer_widths

METHOD = "malach"
ASSUMPTION = "both"


def _product_cdf_part(z: float) -> float:
    """``F(z) = (z - z ln z) / 2``, the integral of ``-ln(t)/2`` over ``[0, z]`` (``F(0) = 0``)."""
    return 0.0 if z <= 0 else 0.5 * (z - z * math.log(z))


def window_probability(w: float, tau: float) -> float:
    """``P(|a b - w| <= tau)`` for independent ``a, b ~ U[-1,1]`` (module docstring ``q``).

    Parameters
    ----------
    w : float
        Target value in ``[-1, 1]``.
    tau : float
        Half-width of the window.

    Returns
    -------
    float
        The integral of the product density ``-ln|z|/2`` over ``[w - tau, w + tau]``.
    """
    w = abs(w)
    return (
        _product_cdf_part(min(w + tau, 1.0))
        - _product_cdf_part(max(w - tau, 0.0))
        + _product_cdf_part(min(max(tau - w, 0.0), 1.0))
    )


def block_sizes_bound(target_widths: Sequence[int], eps: float, delta: float) -> list[int]:
    """Our block size ``n_i = ceil((2/q_i) ln(E/delta))`` per target layer (module docstring).

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
        math.ceil(2.0 / window_probability(1.0 / math.sqrt(d_in), tau) * log_term)
        for d_in, tau in zip(d[:-1], layer_tolerances(target_widths, eps), strict=True)
    ]


def select_layer(first: np.ndarray, second: np.ndarray, w: np.ndarray, block: int) -> np.ndarray:
    """Keep, per target weight and sign of ``a_u``, the unit whose product is closest (Malach).

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
    numpy.ndarray
        Boolean ``(d_out, d_in, block)`` with at most one kept unit per ``(k, j)`` and sign.
    """
    a = unit_inputs(first, block)
    products = a[None] * block_view(second, block)
    distance = np.abs(products - w[:, :, None])
    keep = np.zeros(products.shape, dtype=bool)
    for positive in (a > 0, a < 0):
        masked = np.where(positive[None], distance, np.inf)
        best = np.argmin(masked, axis=2)[..., None]
        found = np.isfinite(np.take_along_axis(masked, best, axis=2))
        np.put_along_axis(keep, best, found | np.take_along_axis(keep, best, axis=2), axis=2)
    return keep


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | Sequence[int] | None = None,
    rescale: bool = False,
) -> ConstructionResult:
    """Prune a depth-``2l`` uniform source keeping one product per sign per weight (Malach 2020).

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
        ``theorem_width`` is ``None``: the paper's width is only quoted as a polynomial.
    """
    weights = validate_inputs(target, eps, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    return gadget_ticket(METHOD, weights, eps, delta, rng, block_size,
                         block_sizes_bound(widths, eps, delta), select_layer,
                         {"assumption": ASSUMPTION})


def _product_mass(z: sp.Expr) -> sp.Expr:
    """``F(z)`` of the module docstring as sympy (0 for ``z <= 0``)."""
    return sp.Piecewise((0, z <= 0), ((z - z * sp.log(z)) / 2, True))


def width_bound() -> sp.Expr:
    """:func:`block_sizes_bound`'s hidden width ``d n`` for ``d x d`` layers, as sympy."""
    d, l, delta = bounds.d, bounds.l, bounds.delta  # noqa: E741
    tau, w_max = bounds.weight_tolerance(), 1 / sp.sqrt(d)
    window = (
        _product_mass(sp.Min(w_max + tau, 1))
        - _product_mass(sp.Max(w_max - tau, 0))
        + _product_mass(sp.Min(sp.Max(tau - w_max, 0), 1))
    )
    return d * sp.ceiling(2 / window * sp.log(2 * l * d**2 / delta))


register(Construction(
    name=METHOD, construct=construct, family="gadget", theorem="Malach et al. 2020",
    bound=bounds.Bound("ours-malach", width_bound(),
                       "Ours: hidden width of theory.constructions.malach for d x d layers "
                       "(product density -ln|z|/2, one unit per weight and sign, union bound).",
                       False, "ours"),
    theorem_bound=bounds.get_bound("malach-width"), slow=True, block_sizes_bound=block_sizes_bound))
