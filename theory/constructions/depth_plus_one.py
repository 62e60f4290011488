"""Depth ``l + 1`` instead of ``2l`` (Burkholz 2022; da Cunha, Natale & Viennot 2022).

The source has widths ``d_0, d_0 n, d_1 c_1, ..., d_{l-1} c_{l-1}, d_l`` (depth ``l + 1``) with
i.i.d. U[-1, 1] entries.  Its first hidden layer is the input gadget of
:mod:`theory.constructions.blocks` (block ``j`` of ``n`` units keeping only their edge ``a_u``
from ``x_j``); every later hidden layer holds ``c_i`` COPIES of each neuron of target layer ``i``:

* source layer 2: copy ``(k, v)`` of target neuron ``k`` of layer 1 solves its own ``2 d_0``
  subset sums over the input blocks, exactly as an output row of Pensia's gadget
  (:func:`theory.constructions.pensia.solve_layer`), so its pre-activation is
  ``sum_j P_{kv,j} relu(x_j) - N_{kv,j} relu(-x_j) ~ (W_1 x)_k``;
* source layer ``i + 1`` (``i >= 2``): row ``r`` (a copy of neuron ``k'`` of layer ``i``, or output
  ``k'``) keeps, for every neuron ``k`` of layer ``i - 1``, a subset of its edges ``Q_{r,kv}`` from
  the copies of ``k`` with ``sum_v Q_{r,kv} ~ W_i[k', k]`` (one exact subset sum per ``(r, k)``).
  The copies' outputs are ReLU outputs, hence ``>= 0``, so no ``relu(x) - relu(-x)`` split is
  needed after layer 1: that is what saves the ``l - 1`` extra layers.

What was checked.  :file:`shared/reference/theory.md` restates "depth L+1 instead of 2L
suffices ... (several copies of each target neuron per source layer)" and "logarithmic
over-parameterisation (subset sum on kernel entries)"; the papers' own theorems and constants
were not at hand, so :mod:`theory.bounds` keeps the depth ``l + 1`` (exact) and the order
``C d log(d l / min(eps, delta))`` marked as restated; the bound below is ours.

Error propagation (ours, certified from the effective weights).  Let ``h_i`` be the target's
activations, ``delta_{i,k} >= |copy_{kv}(x) - h_{i,k}(x)| / ||x||`` for all copies ``v`` of ``k``.
Layer 1: ``delta_{1,k} = max_v ||e_{kv}||_2`` with ``e_{kv,j} = max(|P - W|, |N - W|)``.  For
``i >= 2``, with ``W_hat_{r,k} = sum_v Q_{r,kv}``, ``A_{r,k} = sum_v |Q_{r,kv}|`` (kept edges),
``E_r = W_hat_r - W_i[k', :]`` and ``G_{i-1} = prod_{j<i} ||W_j||_2 >= ||h_{i-1}|| / ||x||``::

    |pre_r(x) - (W_i h_{i-1})_{k'}| <= (sum_k A_{r,k} delta_{i-1,k} + ||E_r||_2 G_{i-1}) ||x||,

ReLU is 1-Lipschitz, so ``delta_{i,k'}`` is the max of this over the copies ``r`` of ``k'``; the
output error is at most ``|| A delta_{l-1} ||_2 + ||E||_2 G_{l-1}`` (for ``l = 1``,
``||E_max||_2`` as in the blocks docstring).  That is ``certified_error``.

Tolerance (ours).  An instance keeps at most ``s`` summands of modulus ``<= 1``, so
``A_{r,k} <= s``; with every per-weight error ``<= tau`` and ``||W_i||_2 <= 1`` (so ``G <= 1``),
``sum_k A_{r,k} delta_k <= s sqrt(d_{i-1}) ||delta||_2`` and ``||E_r|| <= sqrt(d_{i-1}) tau``.
With ``Delta_i = ||delta_i||_2 <= sqrt(d_i) max_k delta_{i,k}``::

    Delta_1 <= sqrt(d_1 d_0) tau,     Delta_i <= sqrt(d_i d_{i-1}) (s Delta_{i-1} + tau),

and the output error is ``<= Delta_l = tau Gamma``, ``Gamma = sum_{i=1}^{l} s^{l-i}
prod_{j=i}^{l} sqrt(d_j d_{j-1})``; ``tau = eps / Gamma``.  For ``d x d`` layers
``Gamma = d ((s d)^l - 1) / (s d - 1)`` (:mod:`theory.bounds`): the amplification ``s d`` per
layer costs ``C_P log2(s d)`` summands per extra layer, a logarithmic price.  (Keeping only
summands of the sign of ``W`` would make ``A = |W_hat|`` and remove it, but positive-only subset
sums cannot reach small targets: measured, 30 same-sign uniforms missed ``W = 0.196`` by 0.037.)

Width bound (ours).  Every subset-sum instance needs ``m = ceil(C_P log2(2 / min(tau, delta /
(2 E_s))))`` summands (Pensia's Lueker form and calibrated constant
:data:`theory.constructions.pensia.CALIBRATED_C`), ``E_s`` the number of instances (``2 d_0``
per copy of layer 1, ``d_{i-1}`` per row of layer ``i >= 2``).  The exact solver takes
``s = min(m, SOLVER_SUMMANDS)`` of them, so there are ``c_i = s`` copies per neuron (more could
not be used) and an input block of ``n = hoeffding_block_size(s, 1/2, ln(4 d_0 / delta))`` units
(``Binomial(n, 1/2) >= s`` for both signs of all ``d_0`` blocks with probability
``>= 1 - delta/2``).  ``E_s`` grows with the copies, so ``m`` is the least fixed point, found by
iterating from ``c = 1`` (``m`` grows only logarithmically in ``c``).  When ``m > s``
(``plan["summands_capped"]``) the Lueker-form guarantee is not what is applied: the success rate
then rests on the exactness of the solver over ``s`` summands and is measured (sampled), not
proven.  ``SOLVER_SUMMANDS = 24``: over 1000 instances of 24 U[-1, 1] summands and targets
U[-0.7, 0.7] the closest subset sum missed by 1.1e-7 (median) and 5.9e-5 (max) (measured), and
costs 1/8 of 30 summands.  ``C_P`` was calibrated for products ``a b``; the plain uniforms of
layers ``>= 2`` are Lueker's own setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from theory import bounds
from theory.constructions.blocks import (
    gadget_masks,
    gadget_weights,
    hoeffding_block_size,
    union_log_term,
    validate_inputs,
)
from theory.constructions.pensia import CALIBRATED_C, solve_layer, summands_per_sign
from theory.constructions.registry import Construction, register
from theory.constructions.result import ConstructionResult
from theory.networks import layer_widths
from theory.subnetwork import SourceDraw, Subnetwork
from theory.subset_sum import solve_subset_sum

METHOD = "depth-plus-one"
ASSUMPTION = "both"
MAX_FIXED_POINT_ROUNDS = 100
SOLVER_SUMMANDS = 24
"""Summands the exact solver takes per instance (module docstring: measured accuracy and cost)."""


def tolerance(target_widths: Sequence[int], eps: float, summands: int) -> float:
    """Per-weight tolerance ``tau = eps / Gamma`` of the module docstring.

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps : float
        Requested accuracy.
    summands : int
        ``s``, summands per instance (bounds the amplification ``A <= s``).

    Returns
    -------
    float
    """
    return float(eps / apriori_error(target_widths, 1.0, summands))


def apriori_error(target_widths: Sequence[int], weight_error: float, summands: int) -> float:
    """``Delta_l`` of the module docstring when every per-weight error is ``<= weight_error``.

    ``Delta_1 = sqrt(d_1 d_0) e``, ``Delta_i = sqrt(d_i d_{i-1}) (s Delta_{i-1} + e)``: valid
    under the target assumption and at least the certified error (each of its terms bounds the
    corresponding term there).

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    weight_error : float
        ``e``, the largest per-weight error.
    summands : int
        ``s``.

    Returns
    -------
    float
    """
    d = np.asarray(target_widths, dtype=np.float64)
    value = math.sqrt(d[1] * d[0]) * weight_error
    for i in range(2, len(d)):
        value = math.sqrt(d[i] * d[i - 1]) * (summands * value + weight_error)
    return float(value)


def _rows(target_widths: Sequence[int], copies: Sequence[int]) -> list[int]:
    """Rows of source layers ``2 ... l+1``: ``d_i c_i`` copies, then the ``d_l`` outputs."""
    return [d * c for d, c in zip(target_widths[1:-1], copies, strict=True)] + [
        int(target_widths[-1])]


@dataclass(frozen=True)
class Sizes:
    """Sizes of the depth-``l + 1`` source (module docstring).

    Parameters
    ----------
    block : int
        ``n``, units per input coordinate.
    copies : tuple of int
        ``c_i`` per hidden target layer ``1 ... l-1``.
    summands : int
        ``m``, the Lueker-form summand count.
    used : int
        ``s = min(m, SOLVER_SUMMANDS)``, summands per instance.
    tolerance : float
        ``tau``.
    """

    block: int
    copies: tuple[int, ...]
    summands: int
    used: int
    tolerance: float


def _instances(target_widths: Sequence[int], copies: int) -> int:
    """``E_s``: ``2 d_0`` subset sums per row of source layer 2, ``d_{i-1}`` per later row."""
    rows = _rows(target_widths, [copies] * (len(target_widths) - 2))
    return 2 * int(target_widths[0]) * rows[0] + sum(
        r * int(k) for r, k in zip(rows[1:], target_widths[1:-1], strict=True))


def sizes_bound(target_widths: Sequence[int], eps: float, delta: float,
                max_summands: int = SOLVER_SUMMANDS,
                tolerance_of: Callable[[int], float] | None = None) -> Sizes:
    """Our input block ``n``, copies ``c_i = s`` and summands ``m`` (least fixed point).

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps, delta : float
        Accuracy and failure probability.
    max_summands : int
        The solver's cap on ``s``.
    tolerance_of : callable, optional
        Per-weight tolerance as a function of ``s`` (default :func:`tolerance` for ``eps``; the
        sign-activation construction passes its own).

    Returns
    -------
    Sizes
    """
    d = [int(w) for w in target_widths]
    tolerance_of = tolerance_of or (lambda used: tolerance(d, eps, used))
    copy = 1
    for _ in range(MAX_FIXED_POINT_ROUNDS):
        used = min(copy, max_summands)
        tau = tolerance_of(used)
        m = summands_per_sign(tau, delta / (2 * _instances(d, copy)))
        if min(m, max_summands) == copy:
            block = hoeffding_block_size(copy, 0.5, union_log_term(4 * d[0], delta))
            return Sizes(block=block, copies=tuple([copy] * (len(d) - 2)), summands=m,
                         used=copy, tolerance=tau)
        copy = min(m, max_summands)
    raise RuntimeError("the depth-plus-one size equations did not reach a fixed point")
def bound_width(sizes: Sizes, target_widths: Sequence[int]) -> int:
    """Widest hidden layer ``max(d_0 n, d_i c_i)`` of the source these sizes give."""
    return max([int(target_widths[0]) * sizes.block,
                *(_rows(target_widths, list(sizes.copies))[:-1])])


def source_widths(target_widths: Sequence[int], block: int, copies: Sequence[int]) -> list[int]:
    """``[d_0, d_0 n, d_1 c_1, ..., d_{l-1} c_{l-1}, d_l]``."""
    return [int(target_widths[0]), int(target_widths[0]) * block, *_rows(target_widths, copies)]


def copies_layer(second: np.ndarray, w_rows: np.ndarray, copies: int,
                 max_summands: int) -> np.ndarray:
    """Kept edges of a later source layer: per ``(row, k)`` the subset of edges from the copies
    of ``k`` whose sum is closest to ``W_i[k', k]`` (one batched exact subset-sum call).

    Parameters
    ----------
    second : numpy.ndarray
        Source layer, shape ``(rows, d_in copies)``; column ``k copies + v`` is copy ``v`` of
        neuron ``k``.
    w_rows : numpy.ndarray
        Target weights of each row, ``(rows, d_in)`` (the row of the neuron it copies).
    copies : int
        Copies per neuron of the previous layer.
    max_summands : int
        Summands per instance: the first copies.

    Returns
    -------
    numpy.ndarray
        Boolean mask of ``second``.
    """
    rows, d_in = w_rows.shape
    q = second.reshape(rows, d_in, copies)
    width = min(copies, max_summands)
    result = solve_subset_sum(q[:, :, :width].reshape(-1, width), w_rows.reshape(-1))
    keep = np.zeros(q.shape, dtype=bool)
    keep[:, :, :width] = np.asarray(result.mask).reshape(rows, d_in, width)
    return keep.reshape(rows, d_in * copies)


def copies_ticket(weights: Sequence[np.ndarray], block: int, copies: Sequence[int], limit: int,
                  rng: np.random.Generator) -> Subnetwork:
    """Draw the uniform source of :func:`source_widths` and prune it to copies of the target.

    The first two source layers are Pensia's gadget for ``W_1`` with every row repeated
    ``c_1`` times (:func:`~theory.constructions.pensia.solve_layer`); every later layer is
    :func:`copies_layer`.  Shared by this construction and
    :mod:`theory.constructions.sign_activations`.

    Parameters
    ----------
    weights : sequence of numpy.ndarray
        Target weights ``W_i`` of shape ``(d_i, d_{i-1})``.
    block : int
        Units per input coordinate of the first hidden layer.
    copies : sequence of int
        ``c_i`` copies of each neuron of target layers ``1 ... l-1``.
    limit : int
        Summands the subset-sum solver may use per instance.
    rng : numpy.random.Generator
        Supplies the seed of the source draw.

    Returns
    -------
    Subnetwork
        The ticket, with the provenance of its source draw.
    """
    widths = layer_widths(list(weights))
    draw = SourceDraw.from_rng(source_widths(widths, block, copies), "uniform", rng)
    source = draw.layers()
    reps = [*copies, 1]
    keep = solve_layer(source[0], source[1], np.repeat(weights[0], reps[0], axis=0), block, limit)
    masks = list(gadget_masks(keep))
    for i in range(1, len(weights)):
        w_rows = np.repeat(weights[i], reps[i], axis=0)
        masks.append(copies_layer(source[i + 1], w_rows, reps[i - 1], limit))
    return Subnetwork.of_draw(draw, source, masks)


def certified_error(
    target: Sequence[np.ndarray], effective: Sequence[np.ndarray], copies: Sequence[int],
) -> tuple[float, np.ndarray, float]:
    """Certified sup error of the masked source, its per-weight errors and max tolerance used.

    Parameters
    ----------
    target : sequence of numpy.ndarray
        Target weights.
    effective : sequence of numpy.ndarray
        The subnetwork's effective layers (depth ``l + 1``).
    copies : sequence of int
        Copies per neuron of target layers ``1 ... l-1``.

    Returns
    -------
    tuple
        ``certified_error`` (module docstring), all per-weight errors (flattened) and the
        largest per-weight error.
    """
    depth = len(target)
    reps = [*copies, 1]
    w1 = np.repeat(target[0], reps[0], axis=0)
    pos, neg = gadget_weights(effective[0], effective[1])
    e_max = np.maximum(np.abs(pos - w1), np.abs(neg - w1))
    errors = [np.abs(pos - w1).ravel(), np.abs(neg - w1).ravel()]
    if depth == 1:
        return float(np.linalg.norm(e_max, ord=2)), np.concatenate(errors), float(e_max.max())
    delta = np.linalg.norm(e_max, axis=1).reshape(-1, reps[0]).max(axis=1)
    growth = float(np.linalg.norm(target[0], ord=2))
    worst = float(e_max.max())
    for i in range(1, depth):
        w_rows = np.repeat(target[i], reps[i], axis=0)
        kept = effective[i + 1].reshape(w_rows.shape[0], w_rows.shape[1], reps[i - 1])
        w_hat, amplification = kept.sum(axis=2), np.abs(kept).sum(axis=2)
        err = w_hat - w_rows
        errors.append(np.abs(err).ravel())
        worst = max(worst, float(np.abs(err).max()))
        if i == depth - 1:
            value = float(np.linalg.norm(amplification @ delta) + np.linalg.norm(err, ord=2)
                          * growth)
            return value, np.concatenate(errors), worst
        bound = amplification @ delta + np.linalg.norm(err, axis=1) * growth
        delta = bound.reshape(-1, reps[i]).max(axis=1)
        growth *= float(np.linalg.norm(target[i], ord=2))
    raise AssertionError("unreachable")


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | None = None,
    rescale: bool = False,
) -> ConstructionResult:
    """Prune a depth-``l + 1`` uniform source with copies of every target neuron (module doc).

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
    block_size : int, optional
        Input block size AND copies per neuron (default: our bound's, module docstring); the
        solver then takes ``min(block_size, SOLVER_SUMMANDS)`` summands per instance.
    rescale : bool
        Rescale a target violating the assumption instead of raising ``ValueError``.

    Returns
    -------
    ConstructionResult
        ``source_depth == l + 1``; ``theorem_width`` is ``None`` (see :mod:`theory.bounds`).
    """
    weights = validate_inputs(target, eps, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    if block_size is not None and (int(block_size) != block_size or block_size < 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    bound = sizes_bound(widths, eps, delta)
    block = bound.block if block_size is None else int(block_size)
    copies = list(bound.copies) if block_size is None else [int(block_size)] * (len(widths) - 2)
    limit = bound.used if block_size is None else min(int(block_size), SOLVER_SUMMANDS)
    tau = tolerance(widths, eps, limit)
    subnetwork = copies_ticket(weights, block, copies, limit, rng)
    certified, per_weight, worst = certified_error(weights, subnetwork.weights(), copies)
    predicted = apriori_error(widths, worst, limit)
    plan = {
        "block_size": block,
        "copies": copies,
        "bound_block_size": bound.block,
        "bound_copies": list(bound.copies),
        "summands": bound.summands,
        "max_summands": limit,
        "summands_capped": bound.summands > bound.used,
        "tolerance": tau,
        "calibrated_c": CALIBRATED_C,
        "assumption": ASSUMPTION,
    }
    widths_used = tuple(layer_widths(list(subnetwork.source)))
    return ConstructionResult(
        method=METHOD,
        subnetwork=subnetwork,
        target_widths=tuple(widths),
        source_widths=widths_used,
        source_depth=len(widths_used) - 1,
        eps=float(eps),
        delta=float(delta),
        bound_width=bound_width(bound, widths),
        theorem_width=None,
        per_weight_errors=per_weight,
        predicted_error=predicted,
        success=bool(worst <= tau and certified <= eps),
        certified_error=certified,
        layer_errors=(worst,),
        plan=plan,
    )


def tolerance_bound() -> sp.Expr:
    """:func:`tolerance` for ``d x d`` layers with ``n`` summands per instance, as sympy:
    ``eps / Gamma``, ``Gamma = d ((n d)^l - 1) / (n d - 1)``."""
    d, n, l, eps = bounds.d, bounds.n, bounds.l, bounds.eps  # noqa: E741
    return eps * (n * d - 1) / (d * ((n * d) ** l - 1))


register(Construction(
    name=METHOD, construct=construct, family="depth",
    theorem="Burkholz 2022; da Cunha et al. 2022",
    bound=bounds.Bound("ours-depth-plus-one-tolerance", tolerance_bound(),
                       "Ours: per-weight tolerance of theory.constructions.depth_plus_one for d "
                       "x d layers with n summands per subset sum (amplification <= n d per "
                       "layer); its width is the least fixed point of the Lueker-form count, "
                       "computed in that module.", False, "ours", calibrated=True),
    theorem_bound=bounds.get_bound("depth-plus-one-width")))
