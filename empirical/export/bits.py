"""Bit packing of 0/1 arrays: 8 per byte for files, 64 per word for the popcount kernels.

Bit order is little-endian inside every byte (``numpy.packbits(..., bitorder="little")``): entry
``i`` of a flat array is bit ``i % 8`` of byte ``i // 8``; the last byte is padded with zero bits.
A row-major 2-D array packed into 64-bit words (:func:`pack_rows`) keeps entry ``(r, i)`` in bit
``i % 64`` of word ``(r, i // 64)``, padded with zero bits to a whole word per row, so that
``popcount(a & b)`` of two packed rows counts the positions where both are 1.
"""

from __future__ import annotations

import numpy as np

WORD_BITS = 64


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a 0/1 array (any shape, flattened in C order) into ``ceil(n / 8)`` bytes.

    Parameters
    ----------
    bits
        Boolean or 0/1 integer array.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of ``ceil(n / 8)`` bytes, little-endian bit order, zero padded.
    """
    return np.packbits(np.asarray(bits, dtype=bool).reshape(-1), bitorder="little")


def unpack_bits(packed: np.ndarray, count: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: the first ``count`` bits as a boolean array.

    Parameters
    ----------
    packed
        ``uint8`` bytes.
    count
        Number of bits to return, at most ``8 * len(packed)``.

    Returns
    -------
    numpy.ndarray
        Boolean array of length ``count``.
    """
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    if count < 0 or count > 8 * packed.size:
        raise ValueError(f"cannot unpack {count} bits from {packed.size} bytes")
    return np.unpackbits(packed, count=count, bitorder="little").astype(bool)


def words_per_row(width: int) -> int:
    """``ceil(width / 64)``: 64-bit words holding one packed row of ``width`` bits."""
    return -(-width // WORD_BITS)


def pack_rows(bits: np.ndarray) -> np.ndarray:
    """Pack each row of a 2-D 0/1 array into 64-bit words (last word zero padded).

    Parameters
    ----------
    bits
        Boolean array of shape ``(rows, width)``.

    Returns
    -------
    numpy.ndarray
        ``uint64`` array of shape ``(rows, ceil(width / 64))``.
    """
    bits = np.asarray(bits, dtype=bool)
    rows, width = bits.shape
    nbytes = 8 * words_per_row(width)
    packed = np.packbits(bits, axis=1, bitorder="little")
    if packed.shape[1] < nbytes:
        packed = np.pad(packed, ((0, 0), (0, nbytes - packed.shape[1])))
    return np.ascontiguousarray(packed).view("<u8").reshape(rows, nbytes // 8)
