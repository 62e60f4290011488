"""Shared pieces of the two-layer ReLU gadget constructions (Pensia, Malach, Multi-Prize binary).

Every target layer ``W_i`` (shape ``d_i x d_{i-1}``) becomes two source layers: ``M_{2i-1}`` of
shape ``(d_{i-1} n_i) x d_{i-1}`` and ``M_{2i}`` of shape ``d_i x (d_{i-1} n_i)``.  Hidden unit
``u`` belongs to the block ``j = u // n_i`` of input coordinate ``j`` and keeps only its edge
``a_u`` from ``x_j``.  Because ``relu(a x) = a x`` exactly when ``a x >= 0``, the gadget computes

    y_k = sum_j P_kj relu(x_j) - N_kj relu(-x_j),
    P_kj = sum_{u in S+_kj} b_ku a_u  (units with a_u > 0),
    N_kj = sum_{u in S-_kj} b_ku a_u  (units with a_u < 0),

so it equals ``W_i x`` when ``P = N = W_i`` (the identity ``w x = w relu(x) - w relu(-x)``).

Error propagation (our derivation).  With ``E+ = P - W`` and ``E- = N - W`` the layer error is
``E+ relu(y) - E- relu(-y)``.  Every ``y`` lies in one orthant, where this is ``A_s y`` with
``A_s`` taking column ``j`` from ``E+`` or ``E-``; since ``|A_s| <= E_max := max(|E+|, |E-|)``
entrywise, ``||A_s y|| <= || E_max ||_2 ||y|| <= ||[E+, E-]||_F ||y||``.  Call either constant
``e_i``.  With ``D_i`` the error after layer ``i`` on ``||x|| <= 1``, ``G_i`` a bound on the
subnetwork's activation norm, ``s_i = ||W_i||_2`` and ReLU 1-Lipschitz:

    D_i <= s_i D_{i-1} + e_i G_{i-1},    G_i <= (s_i + e_i) G_{i-1},    D_0 = 0, G_0 = 1,

which for ``s_i <= 1`` gives ``D_l <= prod_i (1 + e_i) - 1``.  Hence a per-weight tolerance
``tau_i = ln(1 + eps) / (l sqrt(2 d_i d_{i-1}))`` makes ``e_i <= ln(1+eps)/l`` and
``D_l <= exp(ln(1 + eps)) - 1 = eps``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from theory.constructions.result import ConstructionResult
from theory.networks import check_target, layer_widths, rescale_target
from theory.subnetwork import SourceDraw, Subnetwork


def validate_inputs(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    constraint: str,
    rescale: bool = False,
) -> list[np.ndarray]:
    """Check ``eps``, ``delta`` and the theorem's assumption on the target.

    Parameters
    ----------
    target : sequence of numpy.ndarray
        Target weights ``W_1 ... W_l``, ``W_i`` of shape ``(d_i, d_{i-1})``.
    eps : float
        Requested sup-norm accuracy, must be positive.
    delta : float
        Failure probability, must lie in (0, 1).
    constraint : str
        The theorem's assumption (``"spectral"``, ``"entrywise"`` or ``"both"``).
    rescale : bool
        Rescale a violating target into the assumption instead of raising.

    Returns
    -------
    list of numpy.ndarray
        The target as float64 arrays (rescaled if asked).
    """
    if not (isinstance(eps, numbers.Real) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    if not (isinstance(delta, numbers.Real) and 0 < delta < 1):
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    weights = [np.asarray(w, dtype=np.float64) for w in target]
    if not weights or any(w.ndim != 2 for w in weights):
        raise ValueError("target must be a non-empty list of 2-D weight matrices")
    if rescale:
        return [np.asarray(w, dtype=np.float64) for w in rescale_target(weights, constraint)]
    check_target(weights, constraint)
    return weights


def layer_tolerances(target_widths: Sequence[int], eps: float) -> np.ndarray:
    """Per-weight tolerance of each layer that guarantees sup error ``<= eps``.

    ``tau_i = ln(1 + eps) / (l sqrt(2 d_i d_{i-1}))`` (module docstring: Frobenius norm of the
    ``2 d_i d_{i-1}`` per-weight errors, then ``prod (1 + e_i) - 1 <= eps``).

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps : float
        Requested accuracy.

    Returns
    -------
    numpy.ndarray
        ``tau_i`` for ``i = 1 ... l``.
    """
    d = np.asarray(target_widths, dtype=np.float64)
    depth = len(d) - 1
    return np.log1p(eps) / (depth * np.sqrt(2.0 * d[1:] * d[:-1]))


def union_log_term(n_events: float, delta: float) -> float:
    """``ln(n_events / delta)``: the exponent a single event must beat in a union bound."""
    return math.log(n_events / delta)


def hoeffding_block_size(count: float, p: float, log_inv_fail: float) -> int:
    """Smallest block size ``n`` the Hoeffding bound guarantees ``P[Binomial(n, p) < count] <=
    exp(-log_inv_fail)`` for (one more when the root below is an integer and rounds up).

    Hoeffding: ``P[Bin(n, p) <= n p - t] <= exp(-2 t^2 / n)``; with ``t = n p - count`` the
    condition ``n p - count >= sqrt(n L / 2)`` is a quadratic in ``s = sqrt(n)`` whose root is
    ``s = (sqrt(L/2) + sqrt(L/2 + 4 p count)) / (2 p)``.

    Parameters
    ----------
    count : float
        Number of successes needed.
    p : float
        Success probability of one unit.
    log_inv_fail : float
        ``L = ln(1 / failure probability)``.

    Returns
    -------
    int
        ``ceil(s^2)``.
    """
    half = math.sqrt(max(log_inv_fail, 0.0) / 2.0)
    s = (half + math.sqrt(half * half + 4.0 * p * count)) / (2.0 * p)
    return max(1, math.ceil(s * s))


def chernoff_block_size(count: float, p: float, log_inv_fail: float) -> int:
    """Smallest block size ``n`` the multiplicative Chernoff bound guarantees
    ``P[Binomial(n, p) < count] <= exp(-log_inv_fail)`` for; unlike Hoeffding's, it grows like
    ``1/p`` (not ``1/p^2``) for small ``p``.

    Chernoff: ``P[X <= (1 - t) mu] <= exp(-t^2 mu / 2)`` for ``mu = n p``; with
    ``(1 - t) mu = count`` the condition ``(mu - count)^2 >= 2 L mu`` holds for
    ``mu >= count + L + sqrt(L^2 + 2 L count)``.

    Parameters
    ----------
    count : float
        Number of successes needed.
    p : float
        Success probability of one unit.
    log_inv_fail : float
        ``L = ln(1 / failure probability)``.

    Returns
    -------
    int
        ``ceil((count + L + sqrt(L^2 + 2 L count)) / p)``.
    """
    big_l = max(log_inv_fail, 0.0)
    return max(1, math.ceil((count + big_l + math.sqrt(big_l * big_l + 2 * big_l * count)) / p))


def hoeffding_capacity(block: int, p: float, log_inv_fail: float) -> float:
    """Count guaranteed by a block of ``block`` units: ``n p - sqrt(n L / 2)`` (Hoeffding)."""
    return block * p - math.sqrt(block * max(log_inv_fail, 0.0) / 2.0)


def resolve_block_sizes(block_size: int | Sequence[int] | None, bound: Sequence[int]) -> list[int]:
    """Block sizes per layer: the override (one int for all layers, or one per layer) or ours.

    Parameters
    ----------
    block_size : int, sequence of int or None
        The caller's override.
    bound : sequence of int
        Our bound's block sizes, used when ``block_size`` is None.

    Returns
    -------
    list of int
    """
    if block_size is None:
        return [int(n) for n in bound]
    sizes = [block_size] * len(bound) if np.isscalar(block_size) else list(block_size)
    if len(sizes) != len(bound) or any(int(s) != s or s < 1 for s in sizes):
        raise ValueError(f"block_size must be a positive integer or one per layer: {block_size}")
    return [int(s) for s in sizes]


def gadget_draw(
    target_widths: Sequence[int],
    block_sizes: Sequence[int],
    rng: np.random.Generator,
    dist: str = "uniform",
    density: float = 1.0,
) -> tuple[SourceDraw, list[np.ndarray]]:
    """Draw the depth-``2l`` random source ``d_0, d_0 n_1, d_1, d_1 n_2, ..., d_l``.

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    block_sizes : sequence of int
        Units per input coordinate for each target layer.
    rng : numpy.random.Generator
        Seeded generator; it supplies the seed recorded in the draw.
    dist : str
        Entry distribution (:func:`theory.networks.random_source`): ``"uniform"`` U[-1, 1]
        (Pensia, Malach, MPT-binary) or ``"hyperbolic"`` (Orseau et al.).
    density : float
        Probability that a source edge exists (below 1: an Erdos-Renyi sparse source).

    Returns
    -------
    tuple
        The :class:`~theory.subnetwork.SourceDraw` (widths, ``dist``, seed) and its layers
        ``M_1 ... M_{2l}`` with i.i.d. entries of ``dist``.
    """
    draw = SourceDraw.from_rng(gadget_source_widths(target_widths, block_sizes), dist, rng,
                               density)
    return draw, draw.layers()


def gadget_source_widths(target_widths: Sequence[int], block_sizes: Sequence[int]) -> list[int]:
    """``[d_0, d_0 n_1, d_1, d_1 n_2, ..., d_l]``: the gadget source of block sizes ``n_i``."""
    widths = [int(target_widths[0])]
    for d_in, d_out, n in zip(target_widths[:-1], target_widths[1:], block_sizes, strict=True):
        widths += [int(d_in) * int(n), int(d_out)]
    return widths


def block_of_units(d_in: int, block: int) -> np.ndarray:
    """Input coordinate ``j = u // block`` owning each hidden unit ``u``."""
    return np.repeat(np.arange(d_in), block)


def single_edge_mask(d_in: int, block: int) -> np.ndarray:
    """Mask of ``M_{2i-1}`` keeping only the edge ``(u, j)`` of each unit ``u`` of block ``j``."""
    return block_of_units(d_in, block)[:, None] == np.arange(d_in)[None, :]


def unit_inputs(first: np.ndarray, block: int) -> np.ndarray:
    """Input weight ``a_u = M_{2i-1}[u, u // block]`` of each hidden unit, ``(d_in, block)``."""
    d_in = first.shape[1]
    return first[np.arange(d_in * block), block_of_units(d_in, block)].reshape(d_in, block)


def block_view(second: np.ndarray, block: int) -> np.ndarray:
    """Output weights ``b_{k,u}`` arranged as ``(d_out, d_in, block)``."""
    d_out = second.shape[0]
    return second.reshape(d_out, -1, block)


def gadget_masks(second_keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the two source layers from the kept output edges ``(d_out, d_in, block)``.

    A hidden unit keeps its single input edge only if some output edge of it is kept.

    Parameters
    ----------
    second_keep : numpy.ndarray
        Boolean ``(d_out, d_in, block)``: output ``k`` keeps unit ``u`` of block ``j``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(mask of M_{2i-1}, mask of M_{2i})``.
    """
    d_out, d_in, block = second_keep.shape
    used = second_keep.any(axis=0).reshape(-1)
    first_mask = single_edge_mask(d_in, block) & used[:, None]
    return first_mask, second_keep.reshape(d_out, d_in * block)


def gadget_weights(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Effective ``(P, N)`` of a masked single-edge gadget (module docstring).

    ``P = M_{2i} (M_{2i-1})_+`` and ``N = -M_{2i} (M_{2i-1})_-`` where ``(.)_+`` keeps positive
    entries: valid because every kept hidden unit has a single input edge.  When ``first`` has
    no entry outside the single-edge pattern (as every gadget's masked first layer), the
    products are summed per block, ``P_kj = sum_u b_ku (a_u)_+`` over block ``j``, in
    ``O(d_out d_in n)`` instead of the dense ``O(d_out d_in^2 n)``.
    """
    d_in = first.shape[1]
    block = first.shape[0] // d_in
    if block * d_in == first.shape[0] and not np.any(first[~single_edge_mask(d_in, block)]):
        a, b = unit_inputs(first, block), block_view(second, block)
        return (np.einsum("kjn,jn->kj", b, np.maximum(a, 0.0)),
                np.einsum("kjn,jn->kj", b, np.minimum(a, 0.0)))
    return second @ np.where(first > 0, first, 0.0), second @ np.where(first < 0, first, 0.0)


def propagated_error(spectral_norms: Sequence[float], layer_errors: Sequence[float]) -> float:
    """Error-propagation bound ``D_l`` of the module docstring.

    Parameters
    ----------
    spectral_norms : sequence of float
        ``s_i = ||W_i||_2``.
    layer_errors : sequence of float
        ``e_i`` with ``||L_i(y) - W_i y|| <= e_i ||y||``.

    Returns
    -------
    float
        Upper bound on ``sup_{||x|| <= 1} ||f(x) - g(x)||_2``.
    """
    error, activation = 0.0, 1.0
    for s, e in zip(spectral_norms, layer_errors, strict=True):
        error, activation = s * error + e * activation, (s + e) * activation
    return float(error)


def finish(
    method: str,
    target: Sequence[np.ndarray],
    subnetwork: Subnetwork,
    eps: float,
    delta: float,
    tolerances: np.ndarray,
    bound_width: int,
    theorem_width: float | None,
    plan: dict[str, Any],
    solved: bool = True,
    layer_maps: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> ConstructionResult:
    """Measure a finished gadget subnetwork against the target and build the result.

    The per-weight errors are read off the subnetwork's own effective weights (so they hold for
    what is evaluated), ``predicted_error`` propagates the Frobenius layer errors and
    ``certified_error`` the tighter ``||E_max||_2`` ones (module docstring).  Every ticket whose
    layer ``i`` computes ``P_i relu(y) - N_i relu(-y)`` is measured so: the two-layer gadgets
    (``(P_i, N_i)`` read by :func:`gadget_weights`) and deeper blocks that pass ``layer_maps``.

    Parameters
    ----------
    method : str
        Registry name.
    target : sequence of numpy.ndarray
        Target weights.
    subnetwork : Subnetwork
        The masked (and possibly binarised) depth-``2l`` source.
    eps, delta : float
        Requested accuracy and failure probability.
    tolerances : numpy.ndarray
        Per-weight tolerance of each layer.
    bound_width : int
        Our width bound.
    theorem_width : float or None
        The paper's formula value, if constant-free.
    plan : dict
        The construction's choices.
    solved : bool
        Whether every sub-problem the construction posed was feasible.
    layer_maps : sequence of (numpy.ndarray, numpy.ndarray), optional
        ``(P_i, N_i)`` per target layer; default: read off the gadget layers ``2i-1, 2i``.

    Returns
    -------
    ConstructionResult
    """
    if layer_maps is None:
        effective = subnetwork.weights()
        layer_maps = [gadget_weights(effective[2 * i], effective[2 * i + 1])
                      for i in range(len(target))]
    per_weight, frobenius, certified, norms = [], [], [], []
    within = solved
    for i, (w, (pos, neg)) in enumerate(zip(target, layer_maps, strict=True)):
        err_pos, err_neg = np.abs(pos - w), np.abs(neg - w)
        per_weight += [err_pos.ravel(), err_neg.ravel()]
        frobenius.append(float(np.sqrt(np.sum(err_pos**2) + np.sum(err_neg**2))))
        certified.append(float(np.linalg.norm(np.maximum(err_pos, err_neg), ord=2)))
        norms.append(float(np.linalg.norm(w, ord=2)))
        within = within and bool(np.all(np.maximum(err_pos, err_neg) <= tolerances[i]))
    predicted = propagated_error(norms, frobenius)
    certified_error = propagated_error(norms, certified)
    source_widths = tuple(layer_widths(list(subnetwork.source)))
    return ConstructionResult(
        method=method,
        subnetwork=subnetwork,
        target_widths=tuple(layer_widths(list(target))),
        source_widths=source_widths,
        source_depth=len(source_widths) - 1,
        eps=float(eps),
        delta=float(delta),
        bound_width=int(bound_width),
        theorem_width=theorem_width,
        per_weight_errors=np.concatenate(per_weight),
        layer_errors=tuple(frobenius),
        predicted_error=predicted,
        certified_error=certified_error,
        success=bool(within and certified_error <= eps),
        plan={**plan, "tolerances": [float(t) for t in tolerances]},
    )


LayerSelection = Callable[..., Any]
"""``select(first, second, w, block, **options) -> keep`` (or ``(keep, gain)`` when binary): the
kept output edges ``(d_out, d_in, block)`` of one gadget over source layers ``first`` (``(d_in
block, d_in)``) and ``second`` (``(d_out, d_in block)``) for the target layer ``w``."""


def gadget_ticket(
    method: str,
    weights: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | Sequence[int] | None,
    bound: Sequence[int],
    select: LayerSelection,
    plan: Mapping[str, Any],
    layer_options: Sequence[Mapping[str, Any]] | None = None,
    dist: str = "uniform",
    binary: bool = False,
    density: float = 1.0,
) -> ConstructionResult:
    """The gadget construction template: draw the depth-``2l`` source, select every layer, finish.

    Every gadget construction (Pensia, Malach, MPT binary, Orseau, ...) differs only in its
    per-layer selection and its bound: this draws the source of :func:`gadget_draw` for the block
    sizes (``block_size``, else ``bound``), keeps in each layer the output edges ``select`` chooses
    and the single input edge of every unit used (:func:`gadget_masks`), and measures the result
    with :func:`finish`; the width bound is ``max_i d_{i-1} n_i`` of ``bound``.

    Parameters
    ----------
    method : str
        Registry name.
    weights : sequence of numpy.ndarray
        The validated target (:func:`validate_inputs`).
    eps, delta : float
        Requested accuracy and failure probability.
    rng : numpy.random.Generator
        Draws the source.
    block_size : int, sequence of int or None
        The caller's block sizes (:func:`resolve_block_sizes`).
    bound : sequence of int
        Our bound's block size per layer.
    select : callable
        The per-layer selection (:data:`LayerSelection`).
    plan : mapping
        The construction's own plan entries (after ``block_sizes`` and ``bound_block_sizes``).
    layer_options : sequence of mapping, optional
        Keyword arguments of ``select`` for each layer.
    dist : str
        Entry distribution of the source (:func:`gadget_draw`).
    binary : bool
        ``select`` also returns the layer's gain: the ticket's second layers are binarised
        (``sign(w) gain``), its first layers keep gain 1; ``plan["gains"]`` records them.
    density : float
        Edge probability of the source (:func:`gadget_draw`); the masks then keep only edges
        that exist.

    Returns
    -------
    ConstructionResult
    """
    widths = layer_widths(list(weights))
    blocks = resolve_block_sizes(block_size, bound)
    draw, source = gadget_draw(widths, blocks, rng, dist, density)
    options = layer_options or [{}] * len(weights)
    masks: list[np.ndarray] = []
    gains: list[float] = []
    for i, w in enumerate(weights):
        chosen = select(source[2 * i], source[2 * i + 1], w, blocks[i], **options[i])
        keep, gain = chosen if binary else (chosen, 1.0)
        masks += [m & (s != 0) for m, s in zip(gadget_masks(keep), source[2 * i : 2 * i + 2],
                                               strict=True)]
        gains += [1.0, float(gain)]
    subnetwork = Subnetwork.of_draw(draw, source, masks, gains=gains if binary else None)
    record = {"block_sizes": blocks, "bound_block_sizes": [int(n) for n in bound], **plan}
    if binary:
        record["gains"] = gains
    width = max(d * n for d, n in zip(widths[:-1], bound, strict=True))
    return finish(method, weights, subnetwork, eps, delta, layer_tolerances(widths, eps), width,
                  None, record)
