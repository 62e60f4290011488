"""Sign decisions of a binary layer as thresholds on its exact counts (the packed engine's math).

A factory layer with ternary weights (gain ``alpha``, optional bias) followed by BatchNorms (and a
shortcut term ``shift``) has the real pre-activation ``z = A_o s + B_o`` at output ``o``, where
``s = 2 c - K_o - b_po`` is the exact signed sum (``c`` the count of kept inputs agreeing with
their weight's sign, ``K_o`` kept weights, ``b_po`` the share of the ``+1``-filled zero padding
at position ``p``). Then

``sign(z) = +1  <=>  s >= t`` (``A_o > 0``) or ``s <= t`` (``A_o < 0``), ``t = -B_o / A_o``,

that is ``c >= ceil((ceil(t) + K_o + b_po) / 2)``, or ``c <= floor((floor(t) + K_o + b_po) / 2)``
when ``A_o < 0`` (:func:`count_thresholds`). Tie rule: ``z = 0`` gives ``+1``, as the model's sign
(:class:`empirical.activations.BinaryActivation`, ``sign(0) = +1``). ``t`` is exact (a rational
of the float32 parameters, :class:`fractions.Fraction`, :func:`decision`) for a layer followed by
at most one BatchNorm without shift (``beta = 0``, the non-affine BatchNorm of MPT), so ties
exactly at a threshold are decided exactly; with ``beta != 0`` (+BN) or a shortcut, ``t`` is
computed in float64 from the float32 parameters (:func:`composite`). A projection shortcut
``sign(z_1 + z_2)`` gets one threshold on the first count per value of the second
(:func:`pair_thresholds`); a real first layer's float32 sum ``S`` is compared with the float32
limit equivalent to ``t`` (:func:`real_limits`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from torch import nn

from empirical.export import sliced

BOUND = 1 << 40  # thresholds are clipped to +-BOUND (any count lies far inside)


def decision(alpha: float, bias: np.ndarray | None, bn_steps: list[nn.Module], outputs: int,
              shift: float = 0.0) -> tuple[np.ndarray, list[Any]]:
    """Per output: direction (+1: ``s >= t``, -1: ``s <= t``, 0: constant) and ``t`` such that
    ``z = BN_n(... BN_1(alpha s + bias)) + shift >= 0`` (for direction 0, the constant decision).
    """
    exact = shift == 0.0 and len(bn_steps) <= 1 and all(
        bn.bias is None or not bool(torch.any(bn.bias != 0)) for bn in bn_steps)
    directions = np.zeros(outputs, dtype=np.int64)
    limits: list[Any] = []
    for o in range(outputs):
        b = 0.0 if bias is None else float(bias[o])
        if exact:
            scale, offset = Fraction(alpha), Fraction(b)
            sign = 1
            if bn_steps:
                bn = bn_steps[0]
                gamma = 1.0 if bn.weight is None else float(bn.weight[o])
                offset -= Fraction(float(bn.running_mean[o]))
                sign = (gamma > 0) - (gamma < 0)
            if sign == 0 or scale == 0:
                limits.append(sign * offset >= 0)
                continue
            directions[o] = sign
            limits.append(-offset / scale)
            continue
        a, c = composite(alpha, bias, bn_steps, o)
        c += shift
        if a == 0:
            directions[o] = 0
            limits.append(c >= 0)
            continue
        directions[o] = 1 if a > 0 else -1
        limits.append(-c / a)
    return directions, limits


def composite(alpha: float, bias: np.ndarray | None, bn_steps: list[nn.Module],
               o: int) -> tuple[float, float]:
    """``(a, c)`` in float64 with ``BN_n(... BN_1(alpha s + bias)) = a s + c`` at output ``o``."""
    a, c = float(alpha), 0.0 if bias is None else float(bias[o])
    for bn in bn_steps:
        gamma = 1.0 if bn.weight is None else float(bn.weight[o])
        beta = 0.0 if bn.bias is None else float(bn.bias[o])
        factor = gamma / math.sqrt(float(bn.running_var[o]) + bn.eps)
        a, c = a * factor, (c - float(bn.running_mean[o])) * factor + beta
    return a, c


def pair_thresholds(first: tuple[float, float], second: tuple[float, float],
                     ends: tuple[np.ndarray, np.ndarray],
                     values: int) -> tuple[np.ndarray, np.uint64]:
    """Count thresholds ``(P, values)`` of the first layer at one output for
    ``z = a1 s1 + c1 + a2 s2 + c2 >= 0``, ``s_i = 2 count_i - n_i`` (``ends = (n_1, n_2)``, kept
    weights plus padding share), one per value ``v`` of the second count; and the inversion."""
    (a1, c1), (a2, c2) = first, second
    v = np.arange(values)[None, :]
    s2 = 2 * v - ends[1][:, None]
    rest = a2 * s2 + c1 + c2
    n1 = ends[0][:, None]
    if a1 == 0:
        return np.where(rest >= 0, sliced.ALWAYS, sliced.NEVER), np.uint64(0)
    t = np.clip(-rest / a1, -BOUND, BOUND)
    if a1 > 0:  # 2 c - n1 >= ceil(t)
        return -((-(np.ceil(t).astype(np.int64) + n1)) // 2), np.uint64(0)
    return (np.floor(t).astype(np.int64) + n1) // 2 + 1, sliced.ALL_ONES


def count_thresholds(directions: np.ndarray, limits: list[Any], kept: np.ndarray,
                      border: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count thresholds ``(P, O)`` and inversion words: bit = ``(c >= thr) ^ inv``."""
    positions, outs = border.shape
    thresholds = np.empty((positions, outs), dtype=np.int64)
    invert = np.zeros(outs, dtype=np.uint64)
    for o in range(outs):
        n = kept[o] + border[:, o]
        if directions[o] == 0:
            thresholds[:, o] = sliced.ALWAYS
            invert[o] = np.uint64(0) if limits[o] else sliced.ALL_ONES
        elif directions[o] > 0:  # 2c - n >= ceil(t)
            u = max(-BOUND, min(BOUND, math.ceil(limits[o])))
            thresholds[:, o] = -((-(u + n)) // 2)
        else:  # 2c - n <= floor(t)  <=>  not (c >= floor((floor(t) + n) / 2) + 1)
            u = max(-BOUND, min(BOUND, math.floor(limits[o])))
            thresholds[:, o] = (u + n) // 2 + 1
            invert[o] = sliced.ALL_ONES
    return thresholds, invert


def real_limits(directions: np.ndarray, limits: list[Any],
                 positions: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Float64 limits ``(P, O)`` of a real sum ``S``: bit = ``S >= l`` (or ``<=``) ``^ inv``."""
    outs = len(directions)
    above = directions >= 0
    values = np.empty(outs, dtype=np.float64)
    invert = np.zeros(outs, dtype=np.uint64)
    for o in range(outs):
        if directions[o] == 0:
            values[o] = -np.inf
            invert[o] = np.uint64(0) if limits[o] else sliced.ALL_ONES
        else:
            values[o] = float32_limit(limits[o], directions[o] > 0)
    return (above, np.broadcast_to(values, (positions, outs)).copy()), invert


def float32_limit(t: Any, above: bool) -> float:
    """The float32 ``f`` nearest ``t`` with ``{S >= t} = {S >= f}`` (``above``) or
    ``{S <= t} = {S <= f}`` for every float32 ``S`` (exact for rational ``t``)."""
    if not math.isfinite(float(t)):
        return float(t)
    f = np.float32(float(t))
    if above:
        while Fraction(float(f)) < Fraction(t):
            f = np.nextafter(f, np.float32(np.inf))
    else:
        while Fraction(float(f)) > Fraction(t):
            f = np.nextafter(f, np.float32(-np.inf))
    return float(f)
