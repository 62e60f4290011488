"""Top-k selection of scores: the kept count ``K = n - floor((1 - k) n)`` and the exact top-k mask.

``k`` is the fraction KEPT, in ``(0, 1]``. :func:`kept_count` is biprop's count rule (``k = 1``
keeps all ``n``); :func:`top_mask` keeps exactly that many entries of largest magnitude, ties
broken by index, found by an O(n) selection rather than a full sort. Both serve the top-k mask
rule of :mod:`empirical.mask_rules` (layerwise and global scope).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def check_keep(keep: float) -> None:
    """Raise ValueError unless the kept fraction ``keep`` is a finite number in ``(0, 1]``."""
    if not (isinstance(keep, int | float) and math.isfinite(keep) and 0.0 < keep <= 1.0):
        raise ValueError(f"kept fraction k must lie in (0, 1], got {keep!r}")


def kept_count(n: int, keep: float) -> int:
    """Entries a top-k mask keeps out of ``n``: ``K = n - floor((1 - k) n)`` (biprop's rule).

    Parameters
    ----------
    n
        Number of scores.
    keep
        Kept fraction ``k`` in ``(0, 1]``.

    Returns
    -------
    int
        ``K``, between 1 (for ``n >= 1``) and ``n``; ``k = 1`` gives ``n``.
    """
    check_keep(keep)
    return n - math.floor((1.0 - keep) * n)


def _host_path(flat: torch.Tensor) -> bool:
    """Whether :func:`top_mask` may read values on the host: float32/float64 CPU tensors of at
    most ``2^24`` entries (so a float sum of a 0/1 mask is an exact count), outside
    ``torch.compile``."""
    return (flat.device.type == "cpu" and flat.dtype in (torch.float32, torch.float64)
            and flat.numel() <= 1 << 24 and not torch.compiler.is_compiling())


def _kth_smallest(flat: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th smallest entry (1-based) of a 1-D tensor, as a 0-dim tensor.

    On the host path (:func:`_host_path`) numpy's introselect (``np.partition``) runs on the
    IEEE bit patterns read as integers, whose order is the order of non-negative floats (``-0.0``
    and ``+0.0`` both come first, so the value found compares equal): measured 1.9 ms against
    3.0 ms on the floats and 35 ms for ``torch.kthvalue``, 2^21 entries on one core. Elsewhere
    ``torch.kthvalue``. ``flat`` must be non-negative (magnitudes).
    """
    if _host_path(flat):
        values = flat.detach().numpy()
        bits = values.view(np.int32 if values.dtype == np.float32 else np.int64)
        kth = np.partition(bits, k - 1)[k - 1 : k].view(values.dtype)
        return torch.from_numpy(kth).reshape(())
    return flat.kthvalue(k).values


@torch.no_grad()
def top_mask(magnitudes: torch.Tensor, kept: int) -> torch.Tensor:
    """0/1 mask of the ``kept`` largest entries of ``magnitudes`` (exact count, ties by index).

    The threshold ``t`` is the ``(n - kept + 1)``-th smallest value (O(n) selection,
    :func:`_kth_smallest`). Entries above ``t`` are kept, and of those equal to ``t`` the first
    ones in index order fill the remaining places, with device-side operations only (no host
    synchronisation, no graph break under ``torch.compile``). On the CPU, where a host read is
    free (:func:`_host_path`), ``|s| >= t`` is returned directly when it already keeps exactly
    ``kept`` entries (no tie at ``t`` to break): the same mask from one comparison written
    straight into a float tensor.

    Parameters
    ----------
    magnitudes
        Non-negative scores ``|s|`` of any shape (float; negative entries are not supported).
    kept
        Number of entries to keep, ``0 <= kept <= numel``.

    Returns
    -------
    torch.Tensor
        Float mask of the same shape with exactly ``kept`` ones.
    """
    flat = magnitudes.reshape(-1)
    n = flat.numel()
    if kept >= n:
        return torch.ones_like(magnitudes)
    if kept <= 0:
        return torch.zeros_like(magnitudes)
    threshold = _kth_smallest(flat, n - kept + 1)
    if _host_path(flat):
        mask = torch.ge(flat, threshold, out=torch.empty_like(flat))
        if int(mask.sum()) == kept:
            return mask.view_as(magnitudes)
    above = flat > threshold
    tied = flat == threshold
    mask = above | (tied & (tied.cumsum(0) <= kept - above.sum()))
    return mask.to(magnitudes.dtype).view_as(magnitudes)
