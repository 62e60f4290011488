"""Exact integer first layers for inputs on a pixel grid: 8-bit images after ``Normalize``.

An image dataset feeds the network ``x = (u / M - mean_c) / std_c`` per channel ``c``, with
``u`` in ``{0, ..., M}`` (``M = 255`` for 8-bit images, ``16`` for scikit-learn's digits), each
operation rounded to float32 as torchvision's ``ToTensor`` then ``Normalize`` (and
:func:`empirical.device_data.normalise`) compute it. With ``m_c``, ``s_c`` the float32 constants
as exact rationals, the ideal map of the grid is

``x = scale_c u + offset_c``,  ``scale_c = 1 / (M s_c)``,  ``offset_c = -m_c / s_c``,

and a linear layer with ternary weights ``T`` (per output ``o``, kept inputs ``k``) has the
signed sum

``S = sum_k T_k x_k = sum_c scale_c Q_c + b_o``,  ``Q_c = P_c - N_c``,

``P_c`` / ``N_c`` the integer sums of the pixels ``u_k`` of channel ``c`` with ``T_k = +1`` /
``-1``, ``b_o = sum_c offset_c n_c`` and ``n_c`` the signed count of kept inputs of channel ``c``.

:class:`GridLayer` computes ``P_c`` and ``N_c`` with integer additions only (uint16
accumulators where ``(kept inputs per sign) (levels - 1) < 65536``, else int32), samples
contiguous so that LLVM vectorises the additions, and writes the decision bits of ``sign(z)``,
``z = A_o S + B_o``, in the batch-sliced layout of :mod:`empirical.export.sliced`. For one channel
the decision ``S >= t_o`` is the integer threshold ``Q >= ceil((t_o - b_o) / scale)``
(``Q <= floor(...)`` when ``A_o < 0``), derived with :class:`fractions.Fraction` from the rational
``t_o`` of the engine: exact for the ideal map, ties included (``z = 0`` gives ``+1``). With
several channels ``S`` is formed in float64 from the exact ``Q_c`` (a few float64 roundings: a
sum within that of a threshold may be decided either way).

Only linear first layers take this path. A convolution's first layer stays on the engine's
float32 path: with a 3 x 3 kernel each output position has a handful of kept inputs per
channel and sign, the per-position decision work dominates, and the integer version was measured
slower (Conv-4 at CIFAR-10 shape, batch 256, 1 thread: 30 ms against 17 ms; at MNIST shape 8.0
against 5.1 ms), while the fc net's 784-input layer is 2-3x faster on the grid.

An input batch is on the grid when every value ``x`` recovers a level
``u = rint((x - offset_c) / scale_c)`` in range AND equals the float32 value the pipeline
produces for ``u`` (:attr:`InputGrid.table`, recomputed in float32): :func:`grid_levels` checks
it while it writes the levels transposed for the kernels; a batch that is off the grid (one
value an ulp off is enough) goes back to the engine's float path.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numba
import numpy as np
import torch
from numba import prange

MAX_LEVELS = 256  # levels are stored as uint8
OUTPUT_BLOCK = 16  # outputs per parallel work item of the kernels
_LIMIT = 1 << 40  # integer thresholds beyond every reachable sum
_ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class InputGrid:
    """The pixel grid of a dataset: ``x = (u / max_pixel - mean_c) / std_c`` in float32.

    Parameters
    ----------
    mean, std
        Per-channel normalisation constants (as given to ``Normalize``; used as float32).
    max_pixel
        Largest pixel value ``M`` (255 for 8-bit images); the levels are ``0 .. M``.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    max_pixel: int

    def __post_init__(self) -> None:
        if not self.mean or len(self.mean) != len(self.std):
            raise ValueError(f"InputGrid needs one mean and one std per channel, got "
                             f"{len(self.mean)} means and {len(self.std)} stds")
        if not all(np.float32(s) > 0 for s in self.std):
            raise ValueError(f"InputGrid needs positive stds, got {self.std}")
        if int(self.max_pixel) != self.max_pixel or not 1 <= self.max_pixel < MAX_LEVELS:
            raise ValueError(f"InputGrid max_pixel must be an integer in [1, {MAX_LEVELS - 1}], "
                             f"got {self.max_pixel}")

    @property
    def channels(self) -> int:
        """Number of channels."""
        return len(self.mean)

    @property
    def levels(self) -> int:
        """Number of pixel values ``M + 1``."""
        return int(self.max_pixel) + 1

    @property
    def scale(self) -> tuple[Fraction, ...]:
        """``1 / (M s_c)`` per channel, exact (``s_c`` the float32 std)."""
        return tuple(1 / (self.max_pixel * Fraction(float(np.float32(s)))) for s in self.std)

    @property
    def offset(self) -> tuple[Fraction, ...]:
        """``-m_c / s_c`` per channel, exact (float32 mean and std)."""
        return tuple(-Fraction(float(np.float32(m))) / Fraction(float(np.float32(s)))
                     for m, s in zip(self.mean, self.std, strict=True))

    @functools.cached_property
    def table(self) -> np.ndarray:
        """``(C, M + 1)`` float32: the value the pipeline gives level ``u`` of channel ``c``,
        ``((u / M) - mean_c) / std_c`` with every operation rounded to float32."""
        levels = np.arange(self.levels, dtype=np.float32)[None, :]
        mean = np.asarray(self.mean, dtype=np.float32)[:, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None]
        return np.ascontiguousarray((levels / np.float32(self.max_pixel) - mean) / std)

    def constants(self) -> np.ndarray:
        """``(4, C)`` float32: ``M s_c``, ``M m_c`` (``u = x M s_c + M m_c`` inverts the ideal
        map), then ``mean_c`` and ``std_c`` as the pipeline uses them."""
        std = np.asarray(self.std, dtype=np.float32)
        mean = np.asarray(self.mean, dtype=np.float32)
        return np.stack([np.float32(self.max_pixel) * std, np.float32(self.max_pixel) * mean,
                         mean, std])


@numba.njit(parallel=True, nogil=True, cache=True)
def grid_levels(xt: np.ndarray, channels: np.ndarray, constants: np.ndarray, top: np.float32,
                out: np.ndarray) -> int:  # pragma: no cover - compiled
    """Levels ``out[f, b]`` (uint8) of ``xt[f, b]`` ``(F, B)`` float32 (the batch transposed);
    returns how many values are off the grid.

    ``u = rint(x M s_c + M m_c)`` clipped to ``[0, M]`` (``c = channels[f]``, ``constants`` of
    :meth:`InputGrid.constants`, ``top = M``; float32 suffices: on the MNIST, CIFAR-10,
    ImageNet and digits grids ``x M s_c + M m_c`` is within ``3.1e-5`` of ``u``, measured over
    every level), and ``x`` is on the grid iff it equals the pipeline's value of ``u``,
    recomputed as :attr:`InputGrid.table` computes it, ``((u / M) - mean_c) / std_c`` in float32
    (with the transposition, measured 1.8x faster than a table lookup on the untransposed batch:
    no gather, the loop vectorises). NaN and infinities are off the grid.
    """
    features, batch = xt.shape
    bad = 0
    for f in prange(features):
        c = channels[f]
        spread, base, mean, std = constants[0, c], constants[1, c], constants[2, c], constants[3, c]
        misses = 0
        for b in range(batch):
            v = xt[f, b]
            u = min(max(np.rint(v * spread + base), np.float32(0)), top)
            out[f, b] = np.uint8(u)
            misses += np.int32((u / top - mean) / std != v)
        bad += misses
    return bad


@numba.njit(inline="always")
def _add_rows(q: np.ndarray, offs: np.ndarray, lo: int, hi: int, acc: np.ndarray) -> None:
    """``acc[b] += sum_{k in [lo, hi)} q[offs[k], b]``, four rows per pass over ``acc``
    (measured 1.3-1.4x faster than one: the accumulator is loaded and stored a quarter as often;
    the sums are exact modulo the accumulator's width, which holds every total)."""
    batch = q.shape[1]
    whole = lo + (hi - lo) // 4 * 4
    for k in range(lo, whole, 4):
        r0, r1, r2, r3 = offs[k], offs[k + 1], offs[k + 2], offs[k + 3]
        for b in range(batch):
            acc[b] += (q[r0, b] + q[r1, b]) + (q[r2, b] + q[r3, b])
    for k in range(whole, hi):
        r = offs[k]
        for b in range(batch):
            acc[b] += q[r, b]


@numba.njit(inline="always")
def _sums(q: np.ndarray, offs: np.ndarray, segment: int, segments: np.ndarray, pos: np.ndarray,
          neg: np.ndarray) -> None:
    """``pos[b]`` / ``neg[b]``: the sums of ``q[offs[k], b]`` over ``k`` in
    ``[segments[s], segments[s + 1])`` / ``[segments[s + 1], segments[s + 2])``, ``s = segment``."""
    pos[:] = 0
    neg[:] = 0
    _add_rows(q, offs, segments[segment], segments[segment + 1], pos)
    _add_rows(q, offs, segments[segment + 1], segments[segment + 2], neg)


@numba.njit(parallel=True, nogil=True, cache=True)
def level_threshold_bits(q: np.ndarray, offs: np.ndarray, segments: np.ndarray, like: np.ndarray,
                         thresholds: np.ndarray, invert: np.ndarray,
                         out: np.ndarray) -> None:  # pragma: no cover - compiled
    """One channel: ``out[o]`` ``(O, nw)`` bit ``= (P - N >= thresholds[o]) ^ invert[o]``, ``P``
    / ``N`` the sums of the rows ``offs[k]`` of ``q`` ``(F, B)`` uint8 over ``k`` in
    ``[segments[2 o], segments[2 o + 1])`` / ``[segments[2 o + 1], segments[2 o + 2])``,
    accumulated in the dtype of ``like`` ``(B,)``; outputs in parallel."""
    outs, words = out.shape
    batch = q.shape[1]
    for first in prange(-(-outs // OUTPUT_BLOCK)):
        pos, neg = np.empty_like(like), np.empty_like(like)
        for o in range(first * OUTPUT_BLOCK, min(outs, (first + 1) * OUTPUT_BLOCK)):
            _sums(q, offs, 2 * o, segments, pos, neg)
            threshold = thresholds[o]
            for w in range(words):
                word = np.uint64(0)
                for t in range(min(64, batch - 64 * w)):
                    b = 64 * w + t
                    word |= np.uint64(np.int64(pos[b]) - np.int64(neg[b]) >= threshold) << (
                        np.uint64(t))
                out[o, w] = word ^ invert[o]


@numba.njit(parallel=True, nogil=True, cache=True)
def channel_threshold_bits(q: np.ndarray, offs: np.ndarray, segments: np.ndarray,
                           like: np.ndarray, coefficients: np.ndarray, constants: np.ndarray,
                           limits: np.ndarray, above: np.ndarray, invert: np.ndarray,
                           out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Several channels: ``S = constants[o] + sum_c coefficients[c] (P_c - N_c)`` in float64
    (the sums of segment ``2 (o C + c)`` as in :func:`level_threshold_bits`); bit
    ``= (S >= limits[o]`` where ``above[o]``, else ``S <= limits[o]) ^ invert[o]``."""
    outs, words = out.shape
    batch = q.shape[1]
    channels = coefficients.shape[0]
    for first in prange(-(-outs // OUTPUT_BLOCK)):
        pos, neg = np.empty_like(like), np.empty_like(like)
        total = np.empty(batch, dtype=np.float64)
        for o in range(first * OUTPUT_BLOCK, min(outs, (first + 1) * OUTPUT_BLOCK)):
            total[:] = constants[o]
            for c in range(channels):
                _sums(q, offs, 2 * (o * channels + c), segments, pos, neg)
                for b in range(batch):
                    total[b] += coefficients[c] * (np.float64(pos[b]) - np.float64(neg[b]))
            sign = 1.0 if above[o] else -1.0  # S <= l  <=>  -S >= -l
            limit = sign * limits[o]
            for w in range(words):
                word = np.uint64(0)
                for t in range(min(64, batch - 64 * w)):
                    word |= np.uint64(sign * total[64 * w + t] >= limit) << np.uint64(t)
                out[o, w] = word ^ invert[o]


class GridLayer:
    """A linear first layer's kept entries grouped by output, channel and sign, for grid inputs.

    Parameters
    ----------
    grid
        The input grid.
    offs, signs, starts
        The layer's kept entries: for output ``o``, the input features
        ``offs[starts[o]:starts[o + 1]]`` with weights ``signs`` (+-1).
    feature_channels
        The grid channel of each input feature.
    """

    def __init__(self, grid: InputGrid, offs: np.ndarray, signs: np.ndarray, starts: np.ndarray,
                 feature_channels: np.ndarray) -> None:
        self.grid = grid
        self.constants = grid.constants()
        self.feature_channels = np.ascontiguousarray(feature_channels, dtype=np.int64)
        channels = grid.channels
        if np.any((self.feature_channels < 0) | (self.feature_channels >= channels)):
            raise ValueError(f"feature channels must lie in [0, {channels}) for this grid")
        self.outs = len(starts) - 1
        entry_channels = self.feature_channels[offs]
        order, segments = [], [0]
        self.signed_counts = np.zeros((self.outs, channels), dtype=np.int64)  # n[o, c]
        for o in range(self.outs):
            entries = np.arange(starts[o], starts[o + 1])
            for c in range(channels):
                for sign in (1, -1):
                    chosen = entries[(entry_channels[entries] == c) & (signs[entries] == sign)]
                    order.append(chosen)
                    segments.append(segments[-1] + len(chosen))
                    self.signed_counts[o, c] += sign * len(chosen)
        chosen = np.concatenate(order).astype(np.int64)
        self.offs = np.ascontiguousarray(offs[chosen], dtype=np.int64)
        self.segments = np.asarray(segments, dtype=np.int64)
        per_sign = int(np.diff(self.segments).max(initial=0))
        self.accumulator = np.uint16 if per_sign * (grid.levels - 1) < 1 << 16 else np.int32

    def levels(self, x: torch.Tensor) -> np.ndarray | None:
        """The levels ``(F, B)`` uint8 of ``x`` ``(B, F)``, or None when ``x`` is off the grid."""
        xt = np.ascontiguousarray(x.numpy().T, dtype=np.float32)
        q = np.empty(xt.shape, dtype=np.uint8)
        bad = grid_levels(xt, self.feature_channels, self.constants,
                          np.float32(self.grid.max_pixel), q)
        return q if bad == 0 else None

    def decisions(self, directions: np.ndarray, limits: Sequence[Any]) -> tuple:
        """The kernel's decision tables for ``sign(z) = +1 <=> S >= t_o`` (direction +1),
        ``S <= t_o`` (-1) or the constant ``limits[o]`` (0), the engine's ``_decision``.

        Returns
        -------
        tuple
            One channel: ``(thresholds (O,) int64, invert (O,))`` on ``Q`` (exact rationals).
            Several: ``(constants (O,) float64, limits (O,) float64, above (O,), invert)``.
        """
        invert = np.zeros(self.outs, dtype=np.uint64)
        for o in range(self.outs):
            if directions[o] == 0:
                invert[o] = np.uint64(0) if limits[o] else _ALL_ONES
            elif directions[o] < 0 and self.grid.channels == 1:
                invert[o] = _ALL_ONES  # Q <= f  <=>  not Q >= f + 1
        if self.grid.channels == 1:
            scale, offset = self.grid.scale[0], self.grid.offset[0]
            thresholds = np.full(self.outs, -_LIMIT, dtype=np.int64)
            for o in np.nonzero(directions)[0]:
                thresholds[o] = _level_threshold(Fraction(limits[o]), scale,
                                                 offset * int(self.signed_counts[o, 0]),
                                                 directions[o] > 0)
            return thresholds, invert
        offsets = np.asarray([float(v) for v in self.grid.offset])
        constants = self.signed_counts.astype(np.float64) @ offsets
        values = np.asarray([-np.inf if d == 0 else float(t)
                             for d, t in zip(directions, limits, strict=True)])
        return constants, values, np.asarray(directions) >= 0, invert

    def threshold_bits(self, q: np.ndarray, tables: tuple, out: np.ndarray) -> None:
        """Decision bits ``out`` ``(O, nw)`` of the levels ``q`` (:meth:`levels`)."""
        like = np.empty(q.shape[1], dtype=self.accumulator)
        if self.grid.channels == 1:
            thresholds, invert = tables
            level_threshold_bits(q, self.offs, self.segments, like, thresholds, invert, out)
            return
        constants, limits, above, invert = tables
        coefficients = np.asarray([float(v) for v in self.grid.scale])
        channel_threshold_bits(q, self.offs, self.segments, like, coefficients, constants,
                               limits, above, invert, out)


def _level_threshold(t: Fraction, scale: Fraction, constant: Fraction, above: bool) -> int:
    """The integer threshold on ``Q`` of ``scale Q + constant >= t`` (``above``: ``Q >= thr``)
    or of ``scale Q + constant <= t`` (``Q <= thr - 1``, returned as ``thr`` so that the kernel
    tests ``Q >= thr`` and inverts), ``scale > 0``, clipped to +-2^40."""
    bound = (t - constant) / scale
    if above:  # Q >= ceil(bound)
        value = -((-bound.numerator) // bound.denominator)
    else:  # Q <= floor(bound)  <=>  not Q >= floor(bound) + 1
        value = bound.numerator // bound.denominator + 1
    return max(-_LIMIT, min(_LIMIT, value))
