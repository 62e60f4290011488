"""Sreenivasan, Rajput, Sohn, Papailiopoulos (AISTATS 2022): pruning a random +-1 network.

A target ``W_1 ... W_l`` (``|w| <= 1/sqrt(d_in)``, spectral norm ``<= 1``) is quantised to
``Q_i = round(2^K W_i)`` (integers with ``D = K + 1`` binary digits) and every target layer
becomes a block of ``D + 2`` source layers of a network with i.i.d. Rademacher (+-1) weights:

* level 1: for every input ``j`` and sign ``s`` (a *lane*) two *copies* ``relu(s x_j)``, each a unit
  whose edge from ``x_j`` equals ``s``;
* level ``t = 2 ... D``: two copies ``relu(c_a + c_b) = 2^(t-1) relu(s x_j)`` (a unit keeping two
  +1 edges from the previous copies doubles the value; ReLU of positives is the identity), and one
  *carry* unit per earlier digit ``b < t - 1`` keeping its +1 edge from that digit's previous unit;
  digit ``b`` (value ``2^b relu(s x_j)``) is copy ``a`` of level ``b + 1``, then carried;
* level ``D + 1`` (*fan-out*): for every digit a group of units keeping a +1 edge from it;
* output level: output ``k`` keeps, for every lane ``(j, s)`` and every set bit ``b`` of
  ``|Q_kj|``, the edge of sign ``s sign(Q_kj)`` from one fan-out unit of digit ``b``.

So ``sum_b bit_b 2^b (relu(x_j) - relu(-x_j)) sign(Q_kj) = Q_kj x_j`` and each block computes
``2^K W_hat_i``; positive homogeneity of ReLU moves all factors to one global output scale
``2^(-K l)`` (``Subnetwork.output_scale``).  The construction only chooses masks: each slot
(a copy, a carry, or a fan-out unit for one ``(k, lane, digit)``) owns ``q`` (fan-out: ``F``)
candidate units of the random source and takes the first whose needed edges have the needed signs,
searched for all lanes at once with ``argmax``.

Bound (ours, explicit constants).  Per-weight error ``<= 2^-(K+1)``; with the tolerance
``tau_i = ln(1+eps) / (l sqrt(2 d_i d_{i-1}))`` of
:func:`~theory.constructions.blocks.layer_tolerances` the sup error is ``<= eps``, so
``K = max(0, ceil(log2(1 / min_i tau_i)) - 1)``.  A copy candidate is valid with probability
``1/4`` (two +1 edges), a carry with ``1/2``, a fan-out unit with ``1/4``
(its +1 in-edge and the out-edge sign), so a slot with ``q`` candidates fails with probability
``<= (3/4)^q``.  There are ``N_s = sum_i 2 d_{i-1} sum_{t=1}^{D} (t + 1)`` doubling/carry slots
and ``N_f = sum_i 2 d_i d_{i-1} D`` fan-out slots; a union bound with ``delta/2`` each gives::

    q = ceil(ln(2 N_s / delta) / ln(4/3)),     F = ceil(ln(2 N_f / delta) / ln(4/3)),

source depth ``l (D + 2) = Theta(l log(d l / eps))`` and width
``max_i 2 d_{i-1} max((D + 1) q, D F) = Theta(d log(d l / eps) log(d l log(1/eps) / delta))``,
i.e. the paper's ``Theta(d log^2(d l / eps))`` for fixed ``delta``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import sympy as sp

from theory import bounds
from theory.constructions.blocks import finish, layer_tolerances, validate_inputs
from theory.constructions.registry import Construction, register
from theory.constructions.result import ConstructionResult
from theory.networks import layer_widths
from theory.subnetwork import SourceDraw, Subnetwork

METHOD = "binary-depth"
ASSUMPTION = "both"
SLOT_FAILURE = 0.75
MAX_SOURCE_ENTRIES = 5 * 10**8  # dense float64 source of at most 4 GB


def fractional_bits(target_widths: Sequence[int], eps: float) -> int:
    """Bits ``K`` after the binary point: ``2^-(K+1) <= min_i tau_i`` (module docstring).

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps : float
        Requested accuracy.

    Returns
    -------
    int
        ``K = max(0, ceil(log2(1 / min tau)) - 1)``.
    """
    tau = float(np.min(layer_tolerances(target_widths, eps)))
    return max(0, math.ceil(math.log2(1.0 / tau)) - 1)


def candidates_bound(target_widths: Sequence[int], bits: int, delta: float) -> tuple[int, int]:
    """Candidates per slot ``(q, F)`` from the union bound of the module docstring.

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    bits : int
        Fractional bits ``K`` (``D = K + 1`` digits).
    delta : float
        Failure probability.

    Returns
    -------
    tuple of int
        ``q = ceil(ln(2 N_s / delta) / ln(4/3))`` and ``F = ceil(ln(2 N_f / delta) / ln(4/3))``.
    """
    d = np.asarray(target_widths, dtype=np.float64)
    digits = bits + 1
    n_slots = float(np.sum(2 * d[:-1])) * sum(t + 1 for t in range(1, digits + 1))
    n_fan = float(np.sum(2 * d[1:] * d[:-1])) * digits
    rate = -math.log(SLOT_FAILURE)
    return (
        math.ceil(math.log(2 * n_slots / delta) / rate),
        math.ceil(math.log(2 * n_fan / delta) / rate),
    )


def block_widths(d_in: int, d_out: int, digits: int, q: int, fan: int) -> list[int]:
    """Widths of one block's source layers: levels ``1 ... D``, fan-out, output.

    Parameters
    ----------
    d_in, d_out : int
        Target layer sizes.
    digits : int
        ``D``.
    q, fan : int
        Candidates per doubling/carry slot and per fan-out slot.

    Returns
    -------
    list of int
        ``[2 d_in (t+1) q for t = 1..D] + [2 d_in D F, d_out]``.
    """
    lanes = 2 * d_in
    return [lanes * (t + 1) * q for t in range(1, digits + 1)] + [lanes * digits * fan, d_out]


def _first(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first True along the last axis, and whether there is one."""
    return np.argmax(valid, axis=-1), np.any(valid, axis=-1)


def build_block(
    layers: Sequence[np.ndarray], q_int: np.ndarray, digits: int, q: int, fan: int
) -> tuple[list[np.ndarray], bool]:
    """Choose the masks of one block over its random +-1 source layers (module docstring).

    Parameters
    ----------
    layers : sequence of numpy.ndarray
        The block's ``D + 2`` source layers (+-1 entries), widths from :func:`block_widths`.
    q_int : numpy.ndarray
        Integer target ``Q = round(2^K W)``, shape ``(d_out, d_in)``, ``|Q| < 2^D``.
    digits : int
        ``D``.
    q, fan : int
        Candidates per slot.

    Returns
    -------
    tuple
        Boolean masks (one per layer) and whether every needed slot found a candidate.
    """
    d_in = q_int.shape[1]
    lanes = 2 * d_in
    lane = np.arange(lanes)
    sign = np.where(lane < d_in, 1.0, -1.0)
    masks = [np.zeros(m.shape, dtype=bool) for m in layers]
    found = True
    units: list[np.ndarray] = []
    for t in range(1, digits + 1):
        m, slots = layers[t - 1], t + 1
        cand = (lane[:, None, None] * slots + np.arange(slots)[None, :, None]) * q + np.arange(q)
        if t == 1:
            sources = [np.stack([lane % d_in] * 2, axis=1)]
            needed = sign[:, None, None]
        else:
            digit_prev = [units[0]] if t == 2 else [units[2 + b] for b in range(t - 2)] + [units[0]]
            copy_src = [units[0], units[1]]
            sources = [np.stack(copy_src, axis=1), np.stack(digit_prev, axis=1)]
            needed = 1.0
        new: list[np.ndarray] = []
        copy_ok = np.ones((lanes, 2, q), dtype=bool)
        for src in sources[0].T:
            copy_ok &= m[cand[:, :2], src[:, None, None]] == needed
        idx, ok = _first(copy_ok)
        found &= bool(np.all(ok))
        chosen = np.take_along_axis(cand[:, :2], idx[..., None], axis=2)[..., 0]
        for c in range(2):
            for src in sources[0].T:
                masks[t - 1][chosen[:, c], src] = ok[:, c]
            new.append(chosen[:, c])
        if t > 1:
            carry_src = sources[1]
            carry_ok = m[cand[:, 2:], carry_src[:, :, None]] == 1.0
            idx, ok = _first(carry_ok)
            found &= bool(np.all(ok))
            chosen = np.take_along_axis(cand[:, 2:], idx[..., None], axis=2)[..., 0]
            for b in range(t - 1):
                masks[t - 1][chosen[:, b], carry_src[:, b]] = ok[:, b]
                new.append(chosen[:, b])
        units = new
    digit_units = np.stack([units[2 + b] for b in range(digits - 1)] + [units[0]], axis=1)
    fan_layer, out_layer = layers[digits], layers[digits + 1]
    cand = (lane[:, None, None] * digits + np.arange(digits)[None, :, None]) * fan + np.arange(fan)
    in_ok = fan_layer[cand, digit_units[:, :, None]] == 1.0
    magnitude = np.abs(q_int).astype(np.int64)
    bit = (magnitude[:, :, None] >> np.arange(digits)) & 1
    need = np.concatenate([bit, bit], axis=1).astype(bool)
    out_sign = np.concatenate([np.sign(q_int), -np.sign(q_int)], axis=1)
    out_ok = out_layer[:, cand] == out_sign[:, :, None, None]
    idx, ok = _first(in_ok[None] & out_ok)
    found &= bool(np.all(ok | ~need))
    use = need & ok
    every = np.broadcast_to(cand, (*use.shape, fan))
    chosen = np.take_along_axis(every, idx[..., None], 3)[..., 0]
    k, ln, b = np.nonzero(use)
    masks[digits + 1][k, chosen[k, ln, b]] = True
    masks[digits][chosen[k, ln, b], digit_units[ln, b]] = True
    return masks, found


def block_weights(effective: Sequence[np.ndarray], d_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear maps of one masked block for ``x_j >= 0`` and ``x_j < 0`` (integers ``Q_hat``).

    Every kept level-1 unit has one input edge and every deeper kept unit receives only
    non-negative values through +1 edges, so the block is ``A relu(x) - B relu(-x)`` with the
    path products ``P = M_{D+2} ... M_2`` applied to the positive / negative lanes of ``M_1``.

    Parameters
    ----------
    effective : sequence of numpy.ndarray
        The block's effective (masked) weights.
    d_in : int
        Input size.

    Returns
    -------
    tuple of numpy.ndarray
        ``(Q_pos, Q_neg)``, each ``(d_out, d_in)``.
    """
    path = effective[-1]
    for m in reversed(effective[1:-1]):
        path = path @ m
    first = effective[0]
    per_unit_lane = first.shape[0] // (2 * d_in) * d_in
    return path[:, :per_unit_lane] @ first[:per_unit_lane], path[:, per_unit_lane:] @ first[
        per_unit_lane:
    ]


def construct(
    target: Sequence[np.ndarray],
    eps: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | None = None,
    bits: int | None = None,
    rescale: bool = False,
) -> ConstructionResult:
    """Prune a random Rademacher network to ``eps``-approximate ``target`` (Sreenivasan et al.).

    Parameters
    ----------
    target : sequence of numpy.ndarray
        Target weights ``W_i`` of shape ``(d_i, d_{i-1})``, spectral norm ``<= 1`` and entries
        ``<= 1/sqrt(d_{i-1})``.
    eps : float
        Sup-norm accuracy on the unit ball (up to the global output scale).
    delta : float
        Failure probability the default candidate counts are chosen for.
    rng : numpy.random.Generator
        Draws the +-1 source network.
    block_size : int, optional
        Candidates per slot, used for both ``q`` and ``F`` (default: our bound).
    bits : int, optional
        Fractional bits ``K`` (default: :func:`fractional_bits`).
    rescale : bool
        Rescale a violating target into the assumption instead of raising ``ValueError``.

    Returns
    -------
    ConstructionResult
        ``theorem_width`` is ``None``: the paper's ``Theta(d log^2(d l / eps))`` has no constant.
    """
    weights = validate_inputs(target, eps, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    k_bits = fractional_bits(widths, eps) if bits is None else int(bits)
    if k_bits < 0:
        raise ValueError(f"bits must be a non-negative integer, got {bits!r}")
    if block_size is not None and (int(block_size) != block_size or block_size < 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    digits = k_bits + 1
    q_bound, f_bound = candidates_bound(widths, k_bits, delta)
    q, fan = (q_bound, f_bound) if block_size is None else (int(block_size), int(block_size))
    layers = source_widths(widths, eps, delta, block_size, k_bits)
    entries = sum(a * b for a, b in itertools.pairwise(layers))
    if entries > MAX_SOURCE_ENTRIES:
        raise ValueError(
            f"the binary-depth source would hold {entries:.3g} weights (limit "
            f"{MAX_SOURCE_ENTRIES:.0e}); use a smaller target, a larger eps, or block_size/bits"
        )
    draw = SourceDraw.from_rng(layers, "rademacher", rng)
    source = draw.layers()
    per_block = digits + 2
    masks: list[np.ndarray] = []
    found = True
    quantised = [np.rint(w * 2.0**k_bits) for w in weights]
    for i, q_int in enumerate(quantised):
        block_masks, ok = build_block(source[i * per_block : (i + 1) * per_block], q_int, digits,
                                      q, fan)
        masks += block_masks
        found &= ok
    subnetwork = Subnetwork.of_draw(
        draw, source, masks, output_scale=2.0 ** (-k_bits * len(weights))
    )
    effective = subnetwork.weights()
    maps = [tuple(m / 2.0**k_bits for m in
                  block_weights(effective[i * per_block : (i + 1) * per_block], w.shape[1]))
            for i, w in enumerate(weights)]
    lanes_width = max(
        max(block_widths(d_in, d_out, digits, q_bound, f_bound)[:-1])
        for d_in, d_out in itertools.pairwise(widths)
    )
    plan = {
        "bits": k_bits,
        "digits": digits,
        "block_sizes": [q, fan],
        "candidates": q,
        "fanout_candidates": fan,
        "bound_candidates": q_bound,
        "bound_fanout_candidates": f_bound,
        "output_scale": subnetwork.output_scale,
        "slots_found": found,
        "assumption": ASSUMPTION,
    }
    return finish(METHOD, weights, subnetwork, eps, delta, layer_tolerances(widths, eps),
                  lanes_width, None, plan, solved=found, layer_maps=maps)


def source_widths(target_widths: Sequence[int], eps: float, delta: float,
                  block_size: int | None = None, bits: int | None = None) -> list[int]:
    """Widths of the +-1 source :func:`construct` draws (before drawing).

    Parameters
    ----------
    target_widths : sequence of int
        ``[d_0, ..., d_l]``.
    eps, delta : float
        Accuracy and failure probability.
    block_size : int, optional
        Candidates per slot, ``q`` and ``F`` (default: our bound).
    bits : int, optional
        Fractional bits ``K`` (default: :func:`fractional_bits`).

    Returns
    -------
    list of int
        ``d_0`` and every block's :func:`block_widths`.
    """
    k_bits = fractional_bits(target_widths, eps) if bits is None else int(bits)
    if k_bits < 0:
        raise ValueError(f"bits must be a non-negative integer, got {bits!r}")
    q, fan = (candidates_bound(target_widths, k_bits, delta) if block_size is None
              else (int(block_size), int(block_size)))
    widths = [int(target_widths[0])]
    for d_in, d_out in itertools.pairwise(target_widths):
        widths += block_widths(int(d_in), int(d_out), k_bits + 1, q, fan)
    return widths


def width_bound() -> sp.Expr:
    """The widest hidden layer of our bound's source for ``d x d`` layers, as sympy."""
    d, l, delta = bounds.d, bounds.l, bounds.delta  # noqa: E741
    bits = sp.Max(0, sp.ceiling(sp.log(1 / bounds.weight_tolerance(), 2)) - 1)
    digits = bits + 1
    slots = 2 * l * d * digits * (digits + 3) / 2
    fan_slots = 2 * l * d**2 * digits
    rate = -sp.log(sp.nsimplify(SLOT_FAILURE))
    q = sp.ceiling(sp.log(2 * slots / delta) / rate)
    fan = sp.ceiling(sp.log(2 * fan_slots / delta) / rate)
    return 2 * d * sp.Max((digits + 1) * q, digits * fan)


register(Construction(
    name=METHOD, construct=construct, family="depth", theorem="Sreenivasan et al. 2022",
    bound=bounds.Bound("ours-binary-depth", width_bound(),
                       "Ours: widest hidden layer of theory.constructions.binary_depth for d x d "
                       "layers (K fractional bits, candidate slots failing w.p. 3/4, union "
                       "bound).", False, "ours"),
    theorem_bound=bounds.get_bound("sreenivasan-width"), source_widths=source_widths))
