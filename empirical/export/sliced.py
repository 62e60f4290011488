"""Batch-sliced bit kernels: the samples of a batch packed into the bits of 64-bit words.

Layout. A binary activation map of a batch of ``B`` samples is a ``uint64`` array ``(R, nw)``,
``nw = ceil(B / 64)``: row ``r`` is one feature (a feature map ``(H, C, W)`` has rows
``r = (h C + c) W + w``; a convolution's input is padded and its columns split into stride
phases first, :class:`empirical.export.layer_plan.LayerPlan`, so that the windows of consecutive
output columns start at consecutive rows) and bit ``t`` of word ``q`` is sample ``64 q + t``, set
when its value is ``+1``. Bits of samples ``>= B`` are don't-cares.

A layer with ternary weights ``T`` in ``{-1, 0, +1}`` (one gain per layer) then needs, per output
``o`` and window position ``p``, the number of kept inputs that agree in sign with their weight,

``c[p, o] = sum_{k kept} (x[base_p + off_k] XOR f_k)``  (``f_k`` all ones where ``T_k = -1``),

counted for all 64 samples of a word at once by bit-sliced addition: the counts are held as bit
planes (plane ``j`` holds bit ``j`` of every sample's count) and a Harley-Seal carry-save adder
tree (the Harley-Seal method as in Muła, Kurz & Lemire, "Faster population counts using AVX2
instructions", Comput. J. 61, 2018)
adds 16 input words with 15 carry-save adders (5 logic operations each). Only kept weights are
visited, so the work is ``k`` times that of a dense binary layer. The decision ``c >= t`` is taken
on the planes (a bit-sliced comparison with a constant, most significant bit first) and written
as the next layer's input bits: no per-sample integer is ever formed (:func:`threshold_bits`).
:func:`counts` writes the per-sample counts where an integer is needed (real logits);
:func:`pair_threshold_bits` decides the sum of two layers (a projection shortcut).

The real first layer (:func:`real_threshold_bits`) sums ``+-x`` of the kept inputs per sample in
float32 (samples contiguous, vectorised) and writes the decision bits in the same layout.

Inputs arrive padded: a binary map's zero padding is stored as ``+1`` (all ones) and its share is
subtracted in the thresholds (:mod:`empirical.export.thresholds`); a real map is padded with zeros.
The input copy of :func:`_count` reads and writes through row views (``x[first:first + run]``),
which LLVM vectorises; indexing the arrays inside the loop (a negative-index check per element)
ran it 5-7x slower (0.66-0.85 against 0.12 ns a word, measured at one thread).
Every kernel runs in parallel (``numba.prange``; :func:`numba.set_num_threads` sets the
threads) over tasks: a group of output positions times one of ``blocks`` consecutive blocks of
outputs (:func:`output_blocks`: several per group when there are fewer groups than threads, as
in a linear layer, one position).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
NEVER = np.int64(1 << 40)  # a count threshold no count reaches
ALWAYS = np.int64(-(1 << 40))  # a count threshold every count reaches
TASKS_PER_THREAD = 4  # parallel tasks per thread when a layer has few output positions


def output_blocks(positions: int, outputs: int, threads: int) -> int:
    """Blocks of outputs per group of positions: ``ceil(4 threads / positions)``, at most one
    per output, at least 1 (so that a linear layer's outputs are shared among the threads)."""
    wanted = -(-TASKS_PER_THREAD * threads // max(1, positions))
    return max(1, min(outputs, wanted))


@numba.njit(inline="always")
def _csa(a: np.uint64, b: np.uint64, c: np.uint64) -> tuple[np.uint64, np.uint64]:
    """Carry-save adder of three bit vectors: ``(carries, sums)``."""
    u = a ^ b
    return (a & b) | (u & c), u ^ c


@numba.njit(inline="always")
def _count(x: np.ndarray, nw: int, row: int, stride: int, lines: int, run: int,
           offs: np.ndarray, flips: np.ndarray, start: int, end: int, bits: int,
           planes: np.ndarray, buf: np.ndarray) -> None:
    """Bit planes ``planes[j, l run + t]`` (``j < bits``) of
    ``sum_k (x[(row + l stride + offs[k]) nw + t] ^ f_k)`` over the kept entries ``k`` in
    ``[start, end)``, for the ``lines`` output rows ``l`` of a group and the ``run`` consecutive
    words ``t`` of each (``x`` flat; consecutive output columns read consecutive rows).

    ``end - start`` is a multiple of 16 (padding entries have offset -1 and read the last
    ``run`` words of ``x``, zeros). Each block of 16 entries is copied to ``buf``
    ``(16, words)``, reduced by the Harley-Seal tree (15 carry-save adders) and its carry of
    weight 16 (plane row ``bits``) is rippled into the planes above 4; the loops over the
    words do nothing else, so LLVM vectorises them (four 64-bit words per AVX2 instruction).
    """
    words = lines * run
    zero = x.shape[0] - run
    planes[:bits + 1, :words] = 0
    for k in range(start, end, 16):
        for i in range(16):
            off = offs[k + i]
            f = flips[k + i]
            for line in range(lines):
                first = (row + line * stride + off) * nw if off >= 0 else zero
                source = x[first:first + run]  # views: the copy then vectorises
                target = buf[i, line * run:(line + 1) * run]
                for t in range(run):
                    target[t] = source[t] ^ f
        for t in range(words):
            ones, twos, fours, eights = planes[0, t], planes[1, t], planes[2, t], planes[3, t]
            twos_a, ones = _csa(ones, buf[0, t], buf[1, t])
            twos_b, ones = _csa(ones, buf[2, t], buf[3, t])
            fours_a, twos = _csa(twos, twos_a, twos_b)
            twos_a, ones = _csa(ones, buf[4, t], buf[5, t])
            twos_b, ones = _csa(ones, buf[6, t], buf[7, t])
            fours_b, twos = _csa(twos, twos_a, twos_b)
            eights_a, fours = _csa(fours, fours_a, fours_b)
            twos_a, ones = _csa(ones, buf[8, t], buf[9, t])
            twos_b, ones = _csa(ones, buf[10, t], buf[11, t])
            fours_a, twos = _csa(twos, twos_a, twos_b)
            twos_a, ones = _csa(ones, buf[12, t], buf[13, t])
            twos_b, ones = _csa(ones, buf[14, t], buf[15, t])
            fours_b, twos = _csa(twos, twos_a, twos_b)
            eights_b, fours = _csa(fours, fours_a, fours_b)
            carry, eights = _csa(eights, eights_a, eights_b)
            planes[0, t], planes[1, t], planes[2, t], planes[3, t] = ones, twos, fours, eights
            planes[bits, t] = carry
        for j in range(4, bits):
            for t in range(words):
                plane, carry = planes[j, t], planes[bits, t]
                planes[j, t] = plane ^ carry
                planes[bits, t] = plane & carry


@numba.njit(inline="always")
def _at_least(planes: np.ndarray, bits: int, word: int, threshold: np.int64) -> np.uint64:
    """Lanes of word ``word`` whose bit-sliced count (``bits`` planes) is ``>= threshold``."""
    if threshold <= 0:
        return ALL_ONES
    if threshold >= np.int64(1) << bits:
        return np.uint64(0)
    greater = np.uint64(0)
    equal = ALL_ONES
    for j in range(bits - 1, -1, -1):
        plane = planes[j, word]
        if (threshold >> j) & 1:
            equal &= plane
        else:
            greater |= equal & plane
            equal &= ~plane
    return greater | equal


@numba.njit(inline="always")
def _longest(groups: np.ndarray) -> int:
    """The most output positions in one group (the scratch width, in words per sample word)."""
    longest = 0
    for g in range(groups.shape[0]):
        longest = max(longest, groups[g, 2] * groups[g, 4])
    return longest


@numba.njit(inline="always")
def _split(task: int, blocks: int, outs: int) -> tuple[int, int, int]:
    """``(unit, first, end)``: parallel task ``task`` is the outputs ``[first, end)`` (block
    ``task mod blocks`` of ``blocks``) of unit ``task div blocks`` (a group or a position)."""
    block = task % blocks
    return task // blocks, block * outs // blocks, (block + 1) * outs // blocks


@numba.njit(parallel=True, nogil=True, cache=True)
def threshold_bits(x: np.ndarray, groups: np.ndarray, offs: np.ndarray, flips: np.ndarray,
                   starts: np.ndarray, bits: int, thresholds: np.ndarray, invert: np.ndarray,
                   residual: np.ndarray, residual_thresholds: np.ndarray, blocks: int,
                   out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Decision bits ``out[i, o, j] = (c >= thresholds[i Wo + j, o]) ^ invert[o]``.

    ``x`` is the flat input (rows of ``nw`` words, then a block of zeros), ``out``
    ``(Ho, O, Wo, nw)``; a group ``(i0, j0, n, row, lines, stride)`` of ``groups`` is the block
    of output positions ``(i0 .. i0 + lines - 1, j0 .. j0 + n - 1)`` whose first window starts at
    input row ``row`` (the next column one row further, the next output row ``stride`` rows).
    With a ``residual`` (an identity shortcut, the layout of ``out``), lanes whose residual bit
    is 0 compare with ``residual_thresholds`` instead. ``bits`` (>= 4) planes hold every count;
    the outputs are split into ``blocks`` tasks per group.
    """
    _, outs, out_w, nw = out.shape
    longest = _longest(groups)
    with_residual = residual.shape[0] > 0
    for task in prange(groups.shape[0] * blocks):
        g, first, end = _split(task, blocks, outs)
        i0, j0, n, row = groups[g, 0], groups[g, 1], groups[g, 2], groups[g, 3]
        lines, stride = groups[g, 4], groups[g, 5]
        planes = np.zeros((bits + 1, longest * nw), dtype=np.uint64)
        buf = np.zeros((16, longest * nw), dtype=np.uint64)
        for o in range(first, end):
            _count(x, nw, row, stride, lines, n * nw, offs, flips, starts[o], starts[o + 1], bits,
                   planes, buf)
            for t in range(lines * n * nw):
                i, j, w = i0 + t // (n * nw), j0 + t % (n * nw) // nw, t % nw
                p = i * out_w + j
                ge = _at_least(planes, bits, t, thresholds[p, o])
                if with_residual:
                    r = residual[i, o, j, w]
                    ge = (ge & r) | (_at_least(planes, bits, t, residual_thresholds[p, o]) & ~r)
                out[i, o, j, w] = ge ^ invert[o]


@numba.njit(parallel=True, nogil=True, cache=True)
def pair_threshold_bits(x: np.ndarray, groups: np.ndarray, offs: np.ndarray, flips: np.ndarray,
                        starts: np.ndarray, bits: int, x2: np.ndarray, groups2: np.ndarray,
                        offs2: np.ndarray, flips2: np.ndarray, starts2: np.ndarray, bits2: int,
                        values2: np.ndarray, thresholds: np.ndarray, invert: np.ndarray,
                        blocks: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Decision bits of the sum of two layers at the same outputs (a projection shortcut):
    ``out[i, o, j] = (c >= thresholds[p, o, c2]) ^ invert[o]``, ``c`` the count of the first
    layer, ``c2`` that of the second (``0 <= c2 < values2[o]``), both bit-sliced.

    Each value ``v`` of ``c2`` is selected by a bit-sliced equality test on the second layer's
    planes (skipped when no sample of the word has it), so no per-sample integer is formed.
    """
    _, outs, out_w, nw = out.shape
    longest = _longest(groups)
    for task in prange(groups.shape[0] * blocks):
        g, first, end = _split(task, blocks, outs)
        i0, j0, n, row = groups[g, 0], groups[g, 1], groups[g, 2], groups[g, 3]
        lines, stride = groups[g, 4], groups[g, 5]
        row2 = groups2[g, 3]
        planes = np.zeros((bits + 1, longest * nw), dtype=np.uint64)
        planes2 = np.zeros((bits2 + 1, longest * nw), dtype=np.uint64)
        buf = np.zeros((16, longest * nw), dtype=np.uint64)
        for o in range(first, end):
            _count(x, nw, row, stride, lines, n * nw, offs, flips, starts[o], starts[o + 1], bits,
                   planes, buf)
            _count(x2, nw, row2, groups2[g, 5], lines, n * nw, offs2, flips2, starts2[o],
                   starts2[o + 1], bits2, planes2, buf)
            for t in range(lines * n * nw):
                i, j, w = i0 + t // (n * nw), j0 + t % (n * nw) // nw, t % nw
                p = i * out_w + j
                result = np.uint64(0)
                for v in range(values2[o]):
                    equal = ALL_ONES
                    for b in range(bits2):
                        plane = planes2[b, t]
                        equal &= plane if (v >> b) & 1 else ~plane
                    if equal != 0:
                        result |= equal & _at_least(planes, bits, t, thresholds[p, o, v])
                out[i, o, j, w] = result ^ invert[o]


@numba.njit(parallel=True, nogil=True, cache=True)
def counts(x: np.ndarray, groups: np.ndarray, offs: np.ndarray, flips: np.ndarray,
           starts: np.ndarray, bits: int, blocks: int,
           out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Per-sample counts ``out[i, o, j, b]`` (int32) of sample ``b``; arguments as in
    :func:`threshold_bits` (``out`` ``(Ho, O, Wo, B)``)."""
    _, outs, _, batch = out.shape
    nw = -(-batch // 64)
    longest = _longest(groups)
    for task in prange(groups.shape[0] * blocks):
        g, first, end = _split(task, blocks, outs)
        i0, j0, n, row = groups[g, 0], groups[g, 1], groups[g, 2], groups[g, 3]
        lines, stride = groups[g, 4], groups[g, 5]
        planes = np.zeros((bits + 1, longest * nw), dtype=np.uint64)
        buf = np.zeros((16, longest * nw), dtype=np.uint64)
        for o in range(first, end):
            _count(x, nw, row, stride, lines, n * nw, offs, flips, starts[o], starts[o + 1], bits,
                   planes, buf)
            for q in range(lines * n):
                i, jj = i0 + q // n, q % n
                for b in range(batch):
                    t = q * nw + b // 64
                    value = 0
                    for j in range(bits):
                        value |= np.int32((planes[j, t] >> np.uint64(b % 64)) & np.uint64(1)) << j
                    out[i, o, j0 + jj, b] = value


@numba.njit(parallel=True, nogil=True, cache=True)
def real_threshold_bits(x: np.ndarray, bases: np.ndarray, offs: np.ndarray, signs: np.ndarray,
                        starts: np.ndarray, above: np.ndarray, limits: np.ndarray,
                        invert: np.ndarray, blocks: int,
                        out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Decision bits ``out[i, o, j]`` ``(Ho, O, Wo, nw)`` of a layer on real inputs ``x``
    ``(rows, B)`` float32.

    ``S[p, o, b] = sum_k signs[k] x[bases[p] + offs[k], b]`` (``p = i Wo + j``; float32, the
    kept entries in order, four at a time: ``S += (x_k + x_k+1) + (x_k+2 + x_k+3)``, signs
    applied); the bit is ``S >= limits[p, o]`` where ``above[o]``, else
    ``S <= limits[p, o]`` (float64 comparisons), XOR ``invert[o]``.
    """
    _, outs, out_w, words = out.shape
    batch = x.shape[1]
    for task in prange(bases.shape[0] * blocks):
        p, first, end = _split(task, blocks, outs)
        i, j = p // out_w, p % out_w
        acc = np.empty(batch, dtype=np.float32)
        for o in range(first, end):
            acc[:] = 0
            base = bases[p]
            k = starts[o]
            last = starts[o + 1]
            while k + 4 <= last:  # four rows a pass: a quarter of the accumulator traffic
                r0, r1 = x[base + offs[k]], x[base + offs[k + 1]]
                r2, r3 = x[base + offs[k + 2]], x[base + offs[k + 3]]
                s0, s1, s2, s3 = signs[k], signs[k + 1], signs[k + 2], signs[k + 3]
                for b in range(batch):
                    acc[b] += (s0 * r0[b] + s1 * r1[b]) + (s2 * r2[b] + s3 * r3[b])
                k += 4
            for rest in range(k, last):
                source = x[base + offs[rest]]
                s = signs[rest]
                for b in range(batch):
                    acc[b] += s * source[b]
            limit = limits[p, o]
            for w in range(words):
                word = np.uint64(0)
                for t in range(min(64, batch - 64 * w)):
                    value = np.float64(acc[64 * w + t])
                    if (value >= limit) if above[o] else (value <= limit):
                        word |= np.uint64(1) << np.uint64(t)
                out[i, o, j, w] = word ^ invert[o]


@numba.njit(parallel=True, nogil=True, cache=True)
def pack_batch(values: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[r, q]`` bit ``t`` = ``values[64 q + t, r] > 0`` (``values`` ``(B, R)`` float32)."""
    batch, rows = values.shape
    words = out.shape[1]
    for r in prange(rows):
        for w in range(words):
            word = np.uint64(0)
            for t in range(min(64, batch - 64 * w)):
                if values[64 * w + t, r] > 0:
                    word |= np.uint64(1) << np.uint64(t)
            out[r, w] = word


@numba.njit(parallel=True, nogil=True, cache=True)
def unpack_batch(words: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Inverse of :func:`pack_batch`, feature-major: ``out[r, b]`` (``(R, B)`` float32) = ``+1``
    where the bit is set, else ``-1`` (rows written contiguously; the caller transposes)."""
    rows, batch = out.shape
    for r in prange(rows):
        target = out[r]
        for w in range(words.shape[1]):
            word = words[r, w]
            for t in range(min(64, batch - 64 * w)):
                bit = (word >> np.uint64(t)) & np.uint64(1)
                target[64 * w + t] = np.float32(1.0) if bit else np.float32(-1.0)


@numba.njit(parallel=True, nogil=True, cache=True)
def max_pool_bits(words: np.ndarray, kernel_h: int, kernel_w: int, flip: np.ndarray,
                  out: np.ndarray) -> None:  # pragma: no cover - compiled
    """OR over ``kernel_h x kernel_w`` windows (stride = kernel) of ``(H, C, W, nw)`` bits, then
    XOR ``flip[c]``: the max of signs, or the bits of a max-pool placed before a threshold."""
    out_h, channels, out_w, nw = out.shape
    for i in prange(out_h):
        for c in range(channels):
            for j in range(out_w):
                for w in range(nw):
                    acc = np.uint64(0)
                    for di in range(kernel_h):
                        for dj in range(kernel_w):
                            acc |= words[i * kernel_h + di, c, j * kernel_w + dj, w]
                    out[i, c, j, w] = acc ^ flip[c]
