"""Strong tickets in Erdos-Renyi sparse sources (Gadhikar, Mukherjee & Burkholz, ICML 2023).

Gadhikar, Mukherjee and Burkholz ("Why random pruning is all we need to start sparse", ICML
2023, arXiv:2210.02412) show that random sources whose edges exist independently with
probability ``p`` (Erdos-Renyi masks) still contain strong tickets if they are wider by a factor
logarithmic in the inverse sparsity.  What was checked: the abstract ("wider by a logarithmic
factor in the inverse sparsity 1/log(1/sparsity)"; "random source networks also contain strong
lottery tickets"); the theorem's statement and constants were not at hand, so the bound below is
ours, for this construction.

Construction.  Pensia's two-layer gadget (:mod:`theory.constructions.pensia`) over a source whose
every edge exists with probability ``p`` (:func:`theory.networks.random_source` with
``density=p``; absent edges are 0 in the source and never kept).  For every target weight
``W_kj`` and sign ``s`` the eligible units of block ``j`` are those whose input edge exists with
sign ``s`` and whose output edge to ``k`` exists; the exact subset sum (Pensia's, calibrated
constant ``C_P``) runs over the first ``s_i = min(m_i, MAX_SUMMANDS)`` of them
(``plan["summands_capped"]`` when ``s_i < m_i``: the success rate then rests on the exact solver
over ``s_i`` summands and is measured, not promised).

Width bound (ours).  The products of eligible units are Pensia's (``a ~ U(0,1]`` in magnitude,
``b ~ U[-1,1]``), so Pensia's pool ``m_i = ceil(C_P log2(2 / min(tau_i, delta / (2 E_s))))``
keeps its calibrated failure rate, with ``delta / 2`` over the ``E_s = 2 sum_i d_i d_{i-1}``
instances.  A unit is eligible for one instance with probability ``q = p^2 / 2`` (input edge
present with the right sign, ``p / 2``; output edge present, ``p``), independently over units,
so by the multiplicative Chernoff bound (Hoeffding's would grow like ``1/q^2``) and a union bound
with ``delta / 2`` over the same ``E_s`` instances, ``Binomial(n_i, q) >= m_i`` for all of them
when ``n_i = ceil((m_i + L + sqrt(L^2 + 2 L m_i)) / q)``, ``L = ln(2 E_s / delta)``
(:func:`~theory.constructions.blocks.chernoff_block_size`).  The width ``max_i d_{i-1} n_i``
grows like ``1 / p^2`` as the density falls (measured with :func:`block_sizes_bound`
at ``d = 2``, ``l = 2``, ``eps = delta = 0.1``: width 262 at ``p = 1``, 1,048 at ``p = 0.5``,
4,192 at ``p = 0.25``, 16,766 at ``p = 0.125``: x4.0 per halving of ``p``; Pensia's dense bound
is 220): a POLYNOMIAL price in ``1/p``, larger than the factor the paper's abstract states
(its construction was not checked); ours keeps Pensia's gadget and pays for the missing edges
by waiting for eligible units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

from theory import bounds
from theory.constructions.blocks import (
    block_view,
    chernoff_block_size,
    gadget_ticket,
    union_log_term,
    unit_inputs,
    validate_inputs,
)
from theory.constructions.pensia import CALIBRATED_C, solve_layer, summand_counts
from theory.constructions.registry import Construction, register
from theory.constructions.result import ConstructionResult
from theory.networks import layer_widths
from theory.subset_sum import MAX_SUMMANDS

METHOD = "sparse-source"
ASSUMPTION = "both"
DENSITY = 0.5
"""Default edge probability ``p`` of the source (``tickets verify`` runs at it)."""
p = sp.Symbol("p", positive=True)
"""The source density in the sympy bound."""


def eligible_probability(density: float) -> float:
    """``q = p^2 / 2``: a unit serves one (weight, sign) instance (module docstring)."""
    return density**2 / 2


def block_sizes_bound(target_widths: Sequence[int], eps: float, delta: float,
                      density: float = DENSITY) -> list[int]:
    """Our block size ``n_i`` per target layer: ``Binomial(n_i, p^2/2) >= m_i`` for every
    (weight, sign) instance (module docstring).

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps, delta : float
        Accuracy and failure probability.
    density : float
        Edge probability ``p`` of the source, in ``(0, 1]``.

    Returns
    -------
    list of int
    """
    if not 0 < density <= 1:
        raise ValueError(f"density must lie in (0, 1], got {density!r}")
    d = np.asarray(target_widths)
    log_count = union_log_term(2 * 2 * float(np.sum(d[1:] * d[:-1])), delta)
    return [chernoff_block_size(m, eligible_probability(density), log_count)
            for m in summand_counts(target_widths, eps, delta)]


def eligible_units(first: np.ndarray, second: np.ndarray, w: np.ndarray,
                   block: int) -> np.ndarray:
    """Boolean ``(d_out, d_in, block)``: unit ``u`` of block ``j`` has an input edge and an
    output edge to ``k`` in the sparse source."""
    return (unit_inputs(first, block) != 0)[None] & (block_view(second, block) != 0)


def select_layer(first: np.ndarray, second: np.ndarray, w: np.ndarray, block: int,
                 max_summands: int) -> np.ndarray:
    """Pensia's exact subset sums over the eligible units of every instance."""
    return solve_layer(first, second, w, block, max_summands,
                       eligible=eligible_units(first, second, w, block))


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | Sequence[int] | None = None,
    density: float = DENSITY,
    rescale: bool = False,
) -> ConstructionResult:
    """Prune an Erdos-Renyi sparse depth-``2l`` uniform source to ``eps``-approximate ``target``.

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
        Draws the sparse source network.
    block_size : int or sequence of int, optional
        Units per input coordinate (per layer); default our bound for ``density``.
    density : float
        Edge probability ``p`` of the source.
    rescale : bool
        Rescale a target violating the assumption instead of raising ``ValueError``.

    Returns
    -------
    ConstructionResult
        ``subnetwork.provenance.density`` is ``p``; ``plan["source_density"]`` the measured
        fraction of source edges that exist.
    """
    weights = validate_inputs(target, eps, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    counts = summand_counts(widths, eps, delta)
    pools = [min(MAX_SUMMANDS, m) for m in counts]
    bound = block_sizes_bound(widths, eps, delta, density)
    plan = {"density": float(density), "summands_per_sign": counts, "max_summands": pools,
            "summands_capped": any(m > s for m, s in zip(counts, pools, strict=True)),
            "calibrated_c": CALIBRATED_C, "assumption": ASSUMPTION}
    result = gadget_ticket(METHOD, weights, eps, delta, rng, block_size, bound, select_layer,
                           plan, layer_options=[{"max_summands": s} for s in pools],
                           density=density)
    source = result.subnetwork.source
    present = sum(int(np.count_nonzero(s)) for s in source) / sum(s.size for s in source)
    result.plan["source_density"] = present
    return result


def width_bound() -> sp.Expr:
    """:func:`block_sizes_bound`'s hidden width ``d n`` for ``d x d`` layers and density ``p``,
    as sympy."""
    d, l, delta = bounds.d, bounds.l, bounds.delta  # noqa: E741
    instances = 2 * l * d**2
    tau = sp.Min(bounds.weight_tolerance(), delta / (2 * instances))
    pool = sp.ceiling(sp.nsimplify(CALIBRATED_C) * sp.log(2 / tau, 2))
    big_l = sp.log(2 * instances / delta)
    return d * sp.ceiling((pool + big_l + sp.sqrt(big_l**2 + 2 * big_l * pool)) / (p**2 / 2))


register(Construction(
    name=METHOD, construct=construct, family="gadget",
    theorem="Gadhikar et al. 2023",
    bound=bounds.Bound("ours-sparse-source", width_bound(),
                       "Ours: hidden width of theory.constructions.sparse_source for d x d layers "
                       "and source density p (Pensia's pools with the calibrated C_P, units "
                       "eligible w.p. p^2/2, Chernoff, union bound).", False, "ours",
                       calibrated=True),
    theorem_bound=bounds.Bound(
        "gadhikar-width-factor", bounds.C / sp.log(1 / (1 - p)),
        "Gadhikar et al. (2023), abstract: an Erdos-Renyi source must be wider than a dense one "
        "by a factor logarithmic in the inverse sparsity, 1/log(1/sparsity), here with the "
        "sparsity read as 1 - p (the fraction of absent edges; about 1/p for small p); the "
        "theorem's full statement and constant were not checked.", True, "upper"),
    slow=True, block_sizes_bound=block_sizes_bound))
