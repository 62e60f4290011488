"""A subnetwork of a random source network: the source weights, boolean masks and optional gains.

The effective layer ``i`` is ``M_i ⊙ S_i`` (strong lottery tickets, Ramanujan et al. 2020;
Malach et al. 2020), or ``M_i ⊙ gamma_i sign(S_i)`` for binarised tickets (Diffenderfer & Kailkhura
2021, "multi-prize tickets"), and the network output is multiplied by a global ``output_scale``
(Sreenivasan et al. 2022).  Nothing but the masks, the per-layer gains and the output scale is
chosen: :meth:`Subnetwork.check_genuine` verifies that every kept weight comes from the source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory.networks import forward, layer_widths


@dataclass(frozen=True)
class Subnetwork:
    """A pruned (and optionally binarised and scaled) random source network.

    Parameters
    ----------
    source : tuple of numpy.ndarray
        Source layers ``S_i`` of shape ``(d_i, d_{i-1})``.
    masks : tuple of numpy.ndarray
        Boolean masks, one per source layer, same shapes.
    gains : tuple of float, optional
        Per-layer gains ``gamma_i``: kept weight ``gamma_i sign(S_i)`` (binarised ticket).
    output_scale : float
        Global factor applied to the network output.
    """

    source: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray, ...]
    gains: tuple[float, ...] | None = None
    output_scale: float = 1.0

    def __post_init__(self) -> None:
        if len(self.source) != len(self.masks):
            raise ValueError(
                f"source has {len(self.source)} layers but masks has {len(self.masks)}"
            )
        if self.gains is not None and len(self.gains) != len(self.source):
            raise ValueError(f"gains has {len(self.gains)} entries for {len(self.source)} layers")

    def weights(self) -> list[np.ndarray]:
        """Effective layers ``M_i ⊙ S_i`` (or ``M_i ⊙ gamma_i sign(S_i)`` with gains).

        Returns
        -------
        list of numpy.ndarray
            Float64 layers built from the source only (pruned entries are exactly 0).
        """
        out = []
        for i, (s, m) in enumerate(zip(self.source, self.masks, strict=True)):
            s = np.asarray(s, dtype=np.float64)
            kept = s if self.gains is None else np.sign(s) * float(self.gains[i])
            out.append(np.where(np.asarray(m, dtype=bool), kept, 0.0))
        return out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Network output ``output_scale * f_eff(x)`` for inputs ``(batch, d_0)``."""
        return self.output_scale * forward(self.weights(), x)

    def check_genuine(self) -> None:
        """Raise ``ValueError`` unless this is a genuine subnetwork of its source.

        Checks: as many masks (and gains) as source layers, boolean masks of the source's
        shapes, chaining layer shapes, finite source, gains and output scale, and every kept
        effective weight equal to the source weight (or to ``gamma_i sign(S_i)``).
        """
        if len(self.source) == 0 or len(self.source) != len(self.masks):
            raise ValueError(
                f"need one mask per source layer, got {len(self.masks)} masks for "
                f"{len(self.source)} layers"
            )
        if self.gains is not None:
            if len(self.gains) != len(self.source):
                raise ValueError(
                    f"gains has {len(self.gains)} entries for {len(self.source)} layers"
                )
            if not all(math.isfinite(float(g)) for g in self.gains):
                raise ValueError("gains must be finite")
        if not math.isfinite(float(self.output_scale)):
            raise ValueError("output_scale must be finite")
        layer_widths(list(self.source))
        for i, (s, m) in enumerate(zip(self.source, self.masks, strict=True), start=1):
            if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
                raise ValueError(f"mask of layer {i} must be a boolean numpy array")
            if m.shape != np.shape(s):
                raise ValueError(
                    f"mask of layer {i} has shape {m.shape}, source has {np.shape(s)}"
                )
            if not np.all(np.isfinite(s)):
                raise ValueError(f"source layer {i} has non-finite weights")
        for i, (w, s, m) in enumerate(
            zip(self.weights(), self.source, self.masks, strict=True), start=1
        ):
            expected = s if self.gains is None else np.sign(s) * float(self.gains[i - 1])
            if not np.array_equal(w[m], np.asarray(expected)[m]) or np.any(w[~m] != 0):
                raise ValueError(f"layer {i} keeps weights that are not the source's")

    @property
    def n_kept(self) -> int:
        """Number of kept weights ``sum_i |M_i|``."""
        return int(sum(int(np.count_nonzero(m)) for m in self.masks))

    @property
    def n_source(self) -> int:
        """Number of source weights ``sum_i d_i d_{i-1}``."""
        return int(sum(int(np.size(s)) for s in self.source))

    @property
    def kept_fraction(self) -> float:
        """Fraction of source weights kept, ``n_kept / n_source``."""
        return self.n_kept / self.n_source if self.n_source else 0.0

    @property
    def depth(self) -> int:
        """Number of layers of the source (and of the subnetwork)."""
        return len(self.source)

    @property
    def widths(self) -> list[int]:
        """Source widths ``[d_0, ..., d_L]``."""
        return layer_widths(list(self.source))
