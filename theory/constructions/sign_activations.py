"""Sign activations (binary activations of MPT-1/1, Diffenderfer & Kailkhura 2021): exact
agreement of the ticket with a sign-activation target on every input outside a margin.

With ``sgn`` activations a network is piecewise constant, so a sup-norm approximation of a ReLU
target is impossible (:file:`shared/reference/theory.md`); the property that can hold is exact
agreement with a target that itself has sign activations,

    f(x) = sgn(W_l sgn(W_{l-1} ... sgn(W_1 x))),     sgn(z) = +1 if z >= 0 else -1,

on every input whose pre-activations stay away from 0.  Margins of ``x``:
``mu_1(x) = min_k |(W_1 x)_k| / ||x||`` (scale-free, as ``f(c x) = f(x)`` for ``c > 0``) and
``mu_i(x) = min_k |(W_i h_{i-1})_k|`` for ``i >= 2`` (``h_{i-1} in {-1, +1}^{d_{i-1}}``).

Construction.  The depth-``l + 1`` source of :mod:`theory.constructions.depth_plus_one` (i.i.d.
U[-1, 1], the same masks), evaluated with ReLU in its first hidden layer (the input gadget,
which needs the magnitudes of ``x``) and ``sgn`` in every later layer
(:func:`ticket_forward`).  Copy ``(k, v)`` of target neuron ``k`` of layer 1 has pre-activation
``y_hat_{kv}`` with ``|y_hat_{kv}(x) - (W_1 x)_k| <= ||e_{kv}||_2 ||x||``; after ``sgn`` every copy
of a neuron outputs EXACTLY ``h_k`` if the sign agrees, so there is no error to propagate: at
layer ``i >= 2`` row ``r`` (a copy of ``k'``) sees the exact ``h`` and
``|y_hat_r - (W_i h)_{k'}| = |E_r . h| <= ||E_r||_1``.

Certificate (ours).  With ``gamma_1 = max_{k,v} ||e_{kv}||_2`` and ``gamma_i = max_r ||E_r||_1``,
read off the effective weights: by induction over layers, every ``x`` with ``mu_i(x) > gamma_i``
for all ``i`` gives ``ticket(x) = f(x)`` exactly (each pre-activation keeps its strict sign).
The reported ``gamma_i`` carry a relative slack ``ROUNDING_SLACK``: at ``mu_i = gamma_i`` the
ticket's pre-activation can be exactly 0 (e.g. a copy that found no unit of one sign) and a
rounding of ``mu_i`` upwards would otherwise let such an input count as certified.

Tolerance and width (ours).  Per-weight errors ``<= tau`` give ``gamma_1 <= sqrt(d_0) tau`` and
``gamma_i <= d_{i-1} tau``, so ``tau = gamma / max(sqrt(d_0), d_1, ..., d_{l-1})`` certifies a
requested margin ``gamma``; the sizes are those of the depth-``l + 1`` construction for this
``tau`` (Lueker-form summands with Pensia's calibrated constant, least fixed point, solver cap).
A random input falls inside the margin with a probability that shrinks with ``gamma``; the
agreement RATE over random inputs is measured by :mod:`verify.sign_study` (sampled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theory.constructions.blocks import gadget_weights, validate_inputs
from theory.constructions.depth_plus_one import (
    SOLVER_SUMMANDS,
    bound_width,
    copies_ticket,
    sizes_bound,
)
from theory.constructions.registry import Construction, register
from theory.networks import layer_widths
from theory.subnetwork import Subnetwork

METHOD = "sign"
ASSUMPTION = "both"
ROUNDING_SLACK = 1e-9
"""Relative slack on the certified margins (module docstring)."""


def sgn(z: np.ndarray) -> np.ndarray:
    """``+1`` where ``z >= 0``, ``-1`` elsewhere (float64)."""
    return np.where(np.asarray(z) >= 0, 1.0, -1.0)


def sign_forward(weights: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Target ``f(x) = sgn(W_l ... sgn(W_1 x))`` on a batch ``(batch, d_0)``: ``{-1, +1}^{d_l}``."""
    h = np.atleast_2d(np.asarray(x, dtype=np.float64))
    for w in weights:
        h = sgn(h @ w.T)
    return h


def margins(weights: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Margins ``mu_i(x)`` of every input and layer (module docstring), shape ``(batch, l)``."""
    h = np.atleast_2d(np.asarray(x, dtype=np.float64))
    norm = np.maximum(np.linalg.norm(h, axis=1), 1e-300)
    out = []
    for i, w in enumerate(weights):
        pre = h @ w.T
        out.append(np.min(np.abs(pre), axis=1) / (norm if i == 0 else 1.0))
        h = sgn(pre)
    return np.stack(out, axis=1)


def ticket_forward(subnetwork: Subnetwork, x: np.ndarray) -> np.ndarray:
    """The ticket: ReLU after the first source layer, ``sgn`` after every later one."""
    effective = subnetwork.weights()
    h = np.maximum(np.atleast_2d(np.asarray(x, dtype=np.float64)) @ effective[0].T, 0.0)
    for m in effective[1:]:
        h = sgn(h @ m.T)
    return h


def tolerance(target_widths: Sequence[int], margin: float) -> float:
    """``tau = gamma / max(sqrt(d_0), d_1, ..., d_{l-1})`` (module docstring)."""
    return float(margin / max([math.sqrt(target_widths[0]), *target_widths[1:-1]]))


def certified_margins(target: Sequence[np.ndarray], effective: Sequence[np.ndarray],
                      copies: Sequence[int]) -> tuple[tuple[float, ...], np.ndarray]:
    """``(gamma_1, ..., gamma_l)`` (with ``ROUNDING_SLACK``) and all per-weight errors."""
    reps = [*copies, 1]
    w1 = np.repeat(target[0], reps[0], axis=0)
    pos, neg = gadget_weights(effective[0], effective[1])
    gammas = [float(np.linalg.norm(np.maximum(np.abs(pos - w1), np.abs(neg - w1)), axis=1).max())]
    errors = [np.abs(pos - w1).ravel(), np.abs(neg - w1).ravel()]
    for i in range(1, len(target)):
        w_rows = np.repeat(target[i], reps[i], axis=0)
        w_hat = effective[i + 1].reshape(*w_rows.shape, reps[i - 1]).sum(axis=2)
        err = np.abs(w_hat - w_rows)
        gammas.append(float(err.sum(axis=1).max()))
        errors.append(err.ravel())
    return tuple(g * (1 + ROUNDING_SLACK) for g in gammas), np.concatenate(errors)


@dataclass(frozen=True)
class SignConstructionResult:
    """A sign-activation ticket and its certificate.

    Parameters
    ----------
    subnetwork : Subnetwork
        Masks over the depth-``l + 1`` source; evaluate with :func:`ticket_forward`.
    target_widths, source_widths : tuple of int
        Widths of the target and the source.
    margin, delta : float
        Requested margin ``gamma`` and failure probability.
    certified_margins : tuple of float
        ``gamma_i``: agreement is exact wherever ``mu_i(x) > gamma_i`` for every layer.
    bound_width : int
        Our width bound for ``margin``.
    per_weight_errors : numpy.ndarray
        All per-weight errors.
    success : bool
        Every per-weight error ``<= tau`` and every ``gamma_i <= margin``.
    plan : dict
        Sizes and tolerance.
    """

    subnetwork: Subnetwork
    target_widths: tuple[int, ...]
    source_widths: tuple[int, ...]
    margin: float
    delta: float
    certified_margins: tuple[float, ...]
    bound_width: int
    per_weight_errors: np.ndarray
    success: bool
    plan: dict[str, Any] = field(default_factory=dict)

    @property
    def source_width(self) -> int:
        """Widest hidden source layer."""
        return int(max(self.source_widths[1:-1]))

    @property
    def source_depth(self) -> int:
        """Weight layers of the source (``l + 1``)."""
        return len(self.source_widths) - 1


def construct(
    target: Sequence[np.ndarray],
    margin: float,
    delta: float,
    rng: np.random.Generator,
    block_size: int | None = None,
    rescale: bool = False,
) -> SignConstructionResult:
    """Prune a depth-``l + 1`` uniform source into a sign-activation ticket (module docstring).

    Parameters
    ----------
    target : sequence of numpy.ndarray
        Weights of the sign-activation target, spectral norm ``<= 1`` and entries
        ``<= 1/sqrt(d_{i-1})`` (the range the subset sums are calibrated for).
    margin : float
        ``gamma > 0``, the margin outside which agreement is to be exact.
    delta : float
        Failure probability the default sizes are chosen for.
    rng : numpy.random.Generator
        Draws the source.
    block_size : int, optional
        Input block size and copies per neuron (default: our bound's).
    rescale : bool
        Rescale a target violating the assumption (does not change ``f``: ``sgn`` is
        scale-invariant) instead of raising ``ValueError``.

    Returns
    -------
    SignConstructionResult
    """
    if not (isinstance(margin, int | float) and math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a positive number, got {margin!r}")
    weights = validate_inputs(target, margin, delta, ASSUMPTION, rescale)
    widths = layer_widths(weights)
    if block_size is not None and (int(block_size) != block_size or block_size < 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    tau = tolerance(widths, margin)
    bound = sizes_bound(widths, margin, delta, tolerance_of=lambda _: tau)
    block = bound.block if block_size is None else int(block_size)
    copies = list(bound.copies) if block_size is None else [int(block_size)] * (len(widths) - 2)
    limit = bound.used if block_size is None else min(int(block_size), SOLVER_SUMMANDS)
    subnetwork = copies_ticket(weights, block, copies, limit, rng)
    gammas, per_weight = certified_margins(weights, subnetwork.weights(), copies)
    return SignConstructionResult(
        subnetwork=subnetwork,
        target_widths=tuple(widths),
        source_widths=tuple(layer_widths(list(subnetwork.source))),
        margin=float(margin),
        delta=float(delta),
        certified_margins=gammas,
        bound_width=bound_width(bound, widths),
        per_weight_errors=per_weight,
        success=bool(np.max(per_weight) <= tau and max(gammas) <= margin),
        plan={"block_size": block, "copies": copies, "summands": bound.summands,
              "max_summands": limit, "summands_capped": bound.summands > bound.used,
              "tolerance": tau},
    )


register(Construction(name=METHOD, construct=construct, family="sign",
                      theorem="Diffenderfer & Kailkhura 2021 (MPT-1/1)"))
