"""A subnetwork of a random source network: the source draw, boolean masks and optional gains.

The effective layer ``i`` is ``M_i ⊙ S_i`` (strong lottery tickets, Ramanujan et al. 2020;
Malach et al. 2020), or ``M_i ⊙ gamma_i sign(S_i)`` for binarised tickets (Diffenderfer & Kailkhura
2021, "multi-prize tickets"), and the network output is multiplied by a global ``output_scale``
(Sreenivasan et al. 2022).  Nothing but the masks, the per-layer gains and the output scale is
chosen.  The source carries its provenance (:class:`SourceDraw`: widths, distribution and seed of
the draw), so :meth:`Subnetwork.check_genuine` can regenerate it and prove that the weights the
subnetwork keeps are those of an honest random draw, not of the target or of an edited copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from theory.networks import SOURCE_DISTS, layer_widths, random_source

MAX_FACTOR = 1e3
"""Largest gain and output scale :meth:`Subnetwork.check_genuine` accepts.  The constructions
use gains ``<= 2`` (multi-prize counting: ``gamma <= max|W| / (1/2)``) and output scales ``<= 1``
(Sreenivasan et al.: ``2^(-K l)``); a larger factor would let a "ticket" rescale its source at
will instead of selecting from it."""

@dataclass(frozen=True)
class SourceDraw:
    """Provenance of a random source network:
    ``random_source(widths, default_rng(seed), dist, density)``.

    Parameters
    ----------
    widths : tuple of int
        Source widths ``[d_0, ..., d_L]``.
    dist : str
        A distribution of :data:`theory.networks.SOURCE_DISTS`.
    seed : int
        Seed of the generator that drew the weights.
    density : float
        Probability that an edge exists (1: a dense source; below: Erdos-Renyi sparse).
    """

    widths: tuple[int, ...]
    dist: str
    seed: int
    density: float = 1.0

    @classmethod
    def from_rng(
        cls, widths: Sequence[int], dist: str, rng: np.random.Generator, density: float = 1.0,
    ) -> SourceDraw:
        """A draw whose seed is taken from ``rng`` (so one seeded generator fixes everything)."""
        if dist not in SOURCE_DISTS:
            raise ValueError(f"dist must be one of {', '.join(SOURCE_DISTS)}, got {dist!r}")
        if not 0 < density <= 1:
            raise ValueError(f"density must lie in (0, 1], got {density!r}")
        return cls(tuple(int(w) for w in widths), dist, int(rng.integers(0, 2**63 - 1)),
                   float(density))

    def layers(self) -> list[np.ndarray]:
        """The source layers, regenerated from the seed (the same floats every time)."""
        return random_source(self.widths, np.random.default_rng(self.seed), self.dist,
                             self.density)


@dataclass(frozen=True)
class Subnetwork:
    """A pruned (and optionally binarised and scaled) random source network.

    Parameters
    ----------
    source : tuple of numpy.ndarray
        Source layers ``S_i`` of shape ``(d_i, d_{i-1})`` (``provenance.layers()``).
    masks : tuple of numpy.ndarray
        Boolean masks, one per source layer, same shapes.
    gains : tuple of float, optional
        Per-layer gains ``gamma_i > 0``: kept weight ``gamma_i sign(S_i)`` (binarised ticket).
    output_scale : float
        Global factor ``> 0`` applied to the network output.
    provenance : SourceDraw, optional
        How the source was drawn; without it :meth:`check_genuine` refuses the subnetwork.
    """

    source: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray, ...]
    gains: tuple[float, ...] | None = None
    output_scale: float = 1.0
    provenance: SourceDraw | None = None

    def __post_init__(self) -> None:
        if len(self.source) != len(self.masks):
            raise ValueError(
                f"source has {len(self.source)} layers but masks has {len(self.masks)}"
            )
        if self.gains is not None and len(self.gains) != len(self.source):
            raise ValueError(f"gains has {len(self.gains)} entries for {len(self.source)} layers")

    @classmethod
    def of_draw(
        cls,
        draw: SourceDraw,
        source: Sequence[np.ndarray],
        masks: Sequence[np.ndarray],
        gains: Sequence[float] | None = None,
        output_scale: float = 1.0,
    ) -> Subnetwork:
        """The subnetwork of the source ``source = draw.layers()`` with the given choices."""
        return cls(
            source=tuple(source),
            masks=tuple(masks),
            gains=None if gains is None else tuple(float(g) for g in gains),
            output_scale=float(output_scale),
            provenance=draw,
        )

    def weights(self) -> list[np.ndarray]:
        """Effective layers ``M_i ⊙ S_i`` (or ``M_i ⊙ gamma_i sign(S_i)`` with gains).

        Returns
        -------
        list of numpy.ndarray
            Float64 layers built from the source only (pruned entries are exactly 0).
        """
        return _effective(self.source, self.masks, self.gains)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Network output ``output_scale * f_eff(x)`` for inputs ``(batch, d_0)``.

        The bias-free ReLU pass of :func:`theory.networks.forward` over the effective weights,
        each layer held as a sparse matrix of its kept entries (a ticket keeps a small fraction
        of a wide source); equal to the dense pass up to summation order.
        """
        return self.evaluator()(x)

    def evaluator(self) -> Callable[[np.ndarray], np.ndarray]:
        """A function ``x -> output`` that reuses the sparse layers built once now.

        For repeated evaluation (sup-error searches, test sets); it reflects the masks and
        gains as they are when it is made.
        """
        layers = [
            sparse.csr_matrix(w) for w in _effective(self.source, self.masks, self.gains)
        ]
        d0, scale = int(np.shape(self.source[0])[1]), float(self.output_scale)

        def evaluate(x: np.ndarray) -> np.ndarray:
            h = np.atleast_2d(np.asarray(x, dtype=np.float64))
            if h.ndim != 2 or h.shape[1] != d0:
                raise ValueError(f"inputs must have shape (batch, {d0}), got {np.shape(x)}")
            for i, layer in enumerate(layers):
                h = np.asarray((layer @ h.T).T)
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            return scale * h

        return evaluate

    def check_genuine(self) -> None:
        """Raise ``ValueError`` unless this is a genuine subnetwork of an honest random draw.

        Checks, in order: the subnetwork has a provenance; its class evaluates it by this
        class's own ``weights`` and ``__call__`` (the plain bias-free ReLU forward pass of the
        effective weights times ``output_scale``: a subclass overriding either is refused); as
        many masks (and gains) as source layers, boolean masks of the source's shapes; gains and
        output scale finite and in ``(0, MAX_FACTOR]``; the source equals the draw regenerated
        from its seed and distribution bit for bit (so neither the target nor an edited source
        passes); and the effective weights are ``M ⊙ S`` (or ``M ⊙ gamma sign S``) of the
        regenerated source.

        Gains and scales must be positive: a negative gain flips the signs of a whole layer and
        a negative output scale the sign of the output, which is not a selection from the source
        (for bias-free ReLU networks only positive factors commute with the activations), and a
        zero gain or scale replaces the network by zero.  None of the constructions needs one;
        a layer whose weights all go is pruned by its mask, not by a zero gain.
        """
        if self.provenance is None:
            raise ValueError("the subnetwork carries no provenance (seed and distribution of its "
                             "source draw), so its source cannot be verified")
        for name in ("__call__", "weights"):
            if getattr(type(self), name) is not getattr(Subnetwork, name):
                raise ValueError(f"{type(self).__name__} overrides Subnetwork.{name}")
        if len(self.source) == 0 or len(self.source) != len(self.masks):
            raise ValueError(
                f"need one mask per source layer, got {len(self.masks)} masks for "
                f"{len(self.source)} layers"
            )
        factors = {"output_scale": [self.output_scale]}
        if self.gains is not None:
            if len(self.gains) != len(self.source):
                raise ValueError(
                    f"gains has {len(self.gains)} entries for {len(self.source)} layers"
                )
            factors["gains"] = list(self.gains)
        for name, values in factors.items():
            for value in values:
                if not (math.isfinite(float(value)) and 0 < float(value) <= MAX_FACTOR):
                    raise ValueError(f"{name} must be finite and in (0, {MAX_FACTOR:g}], "
                                     f"got {value!r}")
        for i, (s, m) in enumerate(zip(self.source, self.masks, strict=True), start=1):
            if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
                raise ValueError(f"mask of layer {i} must be a boolean numpy array")
            if m.shape != np.shape(s):
                raise ValueError(
                    f"mask of layer {i} has shape {m.shape}, source has {np.shape(s)}"
                )
        drawn = self.provenance.layers()
        if tuple(layer_widths(list(self.source))) != self.provenance.widths:
            raise ValueError("the source's widths differ from its recorded draw")
        for i, (s, d) in enumerate(zip(self.source, drawn, strict=True), start=1):
            if not np.array_equal(np.asarray(s), d):
                raise ValueError(f"source layer {i} differs from its regenerated draw")
        expected = _effective(drawn, self.masks, self.gains)
        for i, (w, e) in enumerate(zip(self.weights(), expected, strict=True), start=1):
            if not np.array_equal(w, e):
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


def _effective(
    source: Sequence[np.ndarray], masks: Sequence[np.ndarray], gains: Sequence[float] | None
) -> list[np.ndarray]:
    """``M_i ⊙ S_i`` per layer, or ``M_i ⊙ gamma_i sign(S_i)`` with gains."""
    out = []
    for i, (s, m) in enumerate(zip(source, masks, strict=True)):
        s = np.asarray(s, dtype=np.float64)
        kept = s if gains is None else np.sign(s) * float(gains[i])
        out.append(np.where(np.asarray(m, dtype=bool), kept, 0.0))
    return out
