"""Popcount products of packed bit rows: a numba kernel when numba is installed, numpy otherwise.

Two reductions over 64-bit words (``x`` rows of inputs, ``(signs, mask)`` rows of weights):

- :func:`and_counts`: ``c[r, o] = sum_w popcount(x[r, w] & m[o, w])``;
- :func:`xnor_counts`: ``c[r, o] = sum_w popcount(m[o, w] & ~(s[o, w] ^ x[r, w]))``, the number of
  kept weights whose sign agrees with the input's (XNOR-Net's XNOR-popcount, Rastegari et al.,
  ECCV 2016, with the mask ANDed in);
- :func:`xnor_outputs`: ``y[r, o] = alpha (2 c[r, o] - d[r mod P, o])`` in float32, the popcount
  layer's output with its epilogue fused into the kernel (no integer array is written).

The numba kernel counts bits with the SWAR popcount (Hacker's Delight, section 5-1), which LLVM
recognises: on the AVX2 machine this was written on, the compiled kernels use ``popcnt`` and,
vectorised over the outputs, ``vpshufb`` nibble-table popcounts. The numpy fallback uses
``numpy.bitwise_count`` on row chunks. Both return exact counts.
"""

from __future__ import annotations

import numpy as np

CHUNK_ELEMENTS = 1 << 18

try:
    import numba
except ImportError:  # pragma: no cover - numba is optional
    numba = None


def numba_available() -> bool:
    """Whether the compiled kernels are in use."""
    return numba is not None


def _numpy_counts(x: np.ndarray, signs: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    rows, words = x.shape
    outs = mask.shape[0]
    out = np.empty((rows, outs), dtype=np.int32)
    chunk = max(1, CHUNK_ELEMENTS // max(1, outs * words))
    for start in range(0, rows, chunk):
        block = x[start:start + chunk, None, :]
        bits = mask[None] & (block if signs is None else ~(signs[None] ^ block))
        out[start:start + chunk] = np.bitwise_count(bits).sum(axis=-1, dtype=np.int32)
    return out


if numba is not None:
    _M1 = np.uint64(0x5555555555555555)
    _M2 = np.uint64(0x3333333333333333)
    _M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
    _H01 = np.uint64(0x0101010101010101)

    @numba.njit(inline="always")
    def _popcount(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
        x = x - ((x >> np.uint64(1)) & _M1)
        x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
        x = (x + (x >> np.uint64(4))) & _M4
        return (x * _H01) >> np.uint64(56)

    # Weights arrive transposed, (W, O): the innermost loop runs over outputs with unit stride,
    # which LLVM vectorises (3.4x the row-by-row loop at W = 128, O = 256).
    @numba.njit(nogil=True, cache=True)
    def _numba_and(x: np.ndarray, mask_t: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
        words, outs = mask_t.shape
        acc = np.zeros(outs, dtype=np.uint64)
        for r in range(x.shape[0]):
            acc[:] = 0
            for w in range(words):
                value = x[r, w]
                for o in range(outs):
                    acc[o] += _popcount(value & mask_t[w, o])
            for o in range(outs):
                out[r, o] = acc[o]

    @numba.njit(nogil=True, cache=True)
    def _numba_xnor(x: np.ndarray, signs_t: np.ndarray, mask_t: np.ndarray,
                    out: np.ndarray) -> None:  # pragma: no cover
        words, outs = mask_t.shape
        acc = np.zeros(outs, dtype=np.uint64)
        for r in range(x.shape[0]):
            acc[:] = 0
            for w in range(words):
                value = x[r, w]
                for o in range(outs):
                    acc[o] += _popcount(mask_t[w, o] & ~(signs_t[w, o] ^ value))
            for o in range(outs):
                out[r, o] = acc[o]


    @numba.njit(nogil=True, cache=True)
    def _numba_xnor_outputs(x: np.ndarray, signs_t: np.ndarray, mask_t: np.ndarray,
                            offsets: np.ndarray, alpha: np.float32,
                            out: np.ndarray) -> None:  # pragma: no cover
        words, outs = mask_t.shape
        period = offsets.shape[0]
        acc = np.zeros(outs, dtype=np.uint64)
        for r in range(x.shape[0]):
            acc[:] = 0
            for w in range(words):
                value = x[r, w]
                for o in range(outs):
                    acc[o] += _popcount(mask_t[w, o] & ~(signs_t[w, o] ^ value))
            p = r % period
            for o in range(outs):
                out[r, o] = alpha * np.float32(2 * np.int64(acc[o]) - offsets[p, o])


def _check(x: np.ndarray, mask: np.ndarray) -> None:
    if x.dtype != np.uint64 or mask.dtype != np.uint64 or x.shape[1] != mask.shape[1]:
        raise ValueError(f"popcount products need uint64 rows of equal width, got "
                         f"{x.dtype}{x.shape} and {mask.dtype}{mask.shape}")


def and_counts(x: np.ndarray, mask: np.ndarray, backend: str = "auto") -> np.ndarray:
    """``c[r, o] = sum_w popcount(x[r, w] & mask[o, w])``.

    Parameters
    ----------
    x
        ``uint64`` ``(R, W)``.
    mask
        ``uint64`` ``(O, W)``.
    backend
        ``auto`` (numba if installed), ``numba`` or ``numpy``.

    Returns
    -------
    numpy.ndarray
        ``int32`` ``(R, O)``.
    """
    _check(x, mask)
    if _use_numba(backend):
        out = np.empty((x.shape[0], mask.shape[0]), dtype=np.int32)
        _numba_and(np.ascontiguousarray(x), np.ascontiguousarray(mask.T), out)
        return out
    return _numpy_counts(x, None, mask)


def xnor_counts(x: np.ndarray, signs: np.ndarray, mask: np.ndarray,
                backend: str = "auto") -> np.ndarray:
    """``c[r, o] = sum_w popcount(mask[o, w] & ~(signs[o, w] ^ x[r, w]))``.

    Parameters
    ----------
    x
        ``uint64`` ``(R, W)``: input sign bits (1 = positive).
    signs, mask
        ``uint64`` ``(O, W)``: weight sign bits (1 = positive) and mask bits.
    backend
        ``auto`` (numba if installed), ``numba`` or ``numpy``.

    Returns
    -------
    numpy.ndarray
        ``int32`` ``(R, O)``.
    """
    _check(x, mask)
    if _use_numba(backend):
        out = np.empty((x.shape[0], mask.shape[0]), dtype=np.int32)
        _numba_xnor(np.ascontiguousarray(x), np.ascontiguousarray(signs.T),
                    np.ascontiguousarray(mask.T), out)
        return out
    return _numpy_counts(x, signs, mask)


def _use_numba(backend: str) -> bool:
    if backend not in ("auto", "numba", "numpy"):
        raise ValueError(f"unknown popcount backend {backend!r}; choose auto, numba or numpy")
    if backend == "numba" and numba is None:
        raise ValueError("the numba popcount backend needs numba (pip install numba)")
    return backend == "numba" or (backend == "auto" and numba is not None)


def xnor_outputs(x: np.ndarray, signs: np.ndarray, mask: np.ndarray, offsets: np.ndarray,
                 alpha: float, backend: str = "auto") -> np.ndarray:
    """``y[r, o] = alpha (2 xnor_counts[r, o] - offsets[r mod P, o])`` as float32.

    Parameters
    ----------
    x, signs, mask
        As in :func:`xnor_counts`.
    offsets
        ``int64`` ``(P, O)``: the subtracted term per output position (``P`` positions per
        sample, rows are sample-major) and output.
    alpha
        The gain (rounded to float32; the product is a float32 product).
    backend
        ``auto`` (numba if installed), ``numba`` or ``numpy``.

    Returns
    -------
    numpy.ndarray
        ``float32`` ``(R, O)``.
    """
    _check(x, mask)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    rows = x.shape[0]
    if rows % offsets.shape[0]:
        raise ValueError(f"{rows} rows are not whole samples of {offsets.shape[0]} positions")
    if _use_numba(backend):
        out = np.empty((rows, mask.shape[0]), dtype=np.float32)
        _numba_xnor_outputs(np.ascontiguousarray(x), np.ascontiguousarray(signs.T),
                            np.ascontiguousarray(mask.T), offsets, np.float32(alpha), out)
        return out
    counts = _numpy_counts(x, signs, mask).astype(np.int64)
    signed = 2 * counts.reshape(-1, *offsets.shape) - offsets
    return (signed.reshape(rows, -1).astype(np.float32) * np.float32(alpha)).astype(np.float32)
