"""Bias-free convolutional ReLU networks (1-D and 2-D) as float64 kernels, and their tickets.

A kernel of a 1-D layer has shape ``(c_out, c_in, k)``, of a 2-D layer ``(c_out, c_in, k_h, k_w)``;
a layer is the 'valid' cross-correlation with stride 1, ``y_o(p) = sum_{c, t} K[o, c, t]
x_c(p + t)``, and ReLU follows every layer but the last: ``f(x) = K_l * s(K_{l-1} * ... s(K_1 *
x))``.  Inputs are ``(batch, c_0, L)`` or ``(batch, c_0, H, W)``.  Every layer is a linear map of
the flattened input, whose matrix (:func:`layer_matrix`) gives the exact operator norm used by the
assumption ``||K_i||_op <= 1`` of the convolutional strong-ticket theorems (da Cunha, Natale &
Viennot 2022; Burkholz 2022), the analogue of the spectral norm of a fully connected layer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_EINSUM = {1: "bcpk,ock->bop", 2: "bcpqkl,ockl->bopq"}


def _spatial(kernel: np.ndarray) -> tuple[int, ...]:
    if kernel.ndim not in (3, 4):
        raise ValueError(f"a kernel must have shape (c_out, c_in, k) or (c_out, c_in, k_h, k_w), "
                         f"got {kernel.shape}")
    return tuple(int(k) for k in kernel.shape[2:])


def conv_layer(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid stride-1 cross-correlation of a batch with one kernel (no activation).

    Parameters
    ----------
    x : numpy.ndarray
        ``(batch, c_in, *spatial)``.
    kernel : numpy.ndarray
        ``(c_out, c_in, *k)`` with one or two spatial axes.

    Returns
    -------
    numpy.ndarray
        ``(batch, c_out, *(spatial - k + 1))``.
    """
    size = _spatial(kernel)
    if x.ndim != 2 + len(size) or x.shape[1] != kernel.shape[1]:
        raise ValueError(f"input of shape {x.shape} does not fit kernel {kernel.shape}")
    if any(s < k for s, k in zip(x.shape[2:], size, strict=True)):
        raise ValueError(f"input {x.shape[2:]} is smaller than the kernel {size}")
    windows = sliding_window_view(x, size, axis=tuple(range(2, x.ndim)))
    return np.einsum(_EINSUM[len(size)], windows, kernel, optimize=True)


def conv_forward(kernels: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """``f(x) = K_l * s(K_{l-1} * ... s(K_1 * x))``, ``s = ReLU``, bias-free."""
    h = np.asarray(x, dtype=np.float64)
    for i, kernel in enumerate(kernels):
        h = conv_layer(h, np.asarray(kernel, dtype=np.float64))
        if i < len(kernels) - 1:
            h = np.maximum(h, 0.0)
    return h


def conv_forward_loop(kernels: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """The same network by explicit loops over outputs, positions and kernel entries (reference).

    Slow; for testing :func:`conv_forward` on small cases only.
    """
    h = np.asarray(x, dtype=np.float64)
    for i, kernel in enumerate(kernels):
        size = _spatial(kernel)
        out_shape = tuple(s - k + 1 for s, k in zip(h.shape[2:], size, strict=True))
        y = np.zeros((h.shape[0], kernel.shape[0], *out_shape))
        for b, o, c in itertools.product(range(h.shape[0]), range(kernel.shape[0]),
                                         range(kernel.shape[1])):
            for p in itertools.product(*(range(s) for s in out_shape)):
                for t in itertools.product(*(range(k) for k in size)):
                    y[(b, o, *p)] += kernel[(o, c, *t)] * h[(b, c, *(a + d for a, d in
                                                                   zip(p, t, strict=True)))]
        h = np.maximum(y, 0.0) if i < len(kernels) - 1 else y
    return h


def layer_shapes(kernels: Sequence[np.ndarray],
                 input_shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Shapes ``(c, *spatial)`` of the input (spatial size ``input_shape``) and of every layer's
    output."""
    shapes = [(int(kernels[0].shape[1]), *(int(s) for s in input_shape))]
    for kernel in kernels:
        size = _spatial(kernel)
        if kernel.shape[1] != shapes[-1][0] or len(size) != len(input_shape):
            raise ValueError(f"kernel {kernel.shape} does not fit an input of shape {shapes[-1]}")
        spatial = tuple(s - k + 1 for s, k in zip(shapes[-1][1:], size, strict=True))
        if min(spatial) < 1:
            raise ValueError(f"kernel {kernel.shape} is larger than its input {shapes[-1]}")
        shapes.append((int(kernel.shape[0]), *spatial))
    return shapes


def layer_matrix(kernel: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """Matrix of one conv layer as a linear map of the flattened ``(c_in, *spatial)`` input."""
    d_in = int(np.prod(input_shape))
    basis = np.eye(d_in).reshape(d_in, *input_shape)
    return conv_layer(basis, kernel).reshape(d_in, -1).T


def operator_norm(kernel: np.ndarray, input_shape: Sequence[int]) -> float:
    """Exact ``||K||_op = max ||K * x||_2 / ||x||_2`` on inputs of ``input_shape = (c_in, *sp)``."""
    return float(np.linalg.norm(layer_matrix(kernel, input_shape), ord=2))


def rescale_conv_target(kernels: Sequence[np.ndarray],
                        input_shape: Sequence[int]) -> list[np.ndarray]:
    """Divide each kernel by ``max(1, ||K||_op, sqrt(c_in |k|) max|K|)``.

    The result has operator norm ``<= 1`` (the FC spectral assumption) and entries ``<=
    1/sqrt(c_in |k|)`` (the entrywise one, ``|k|`` the kernel size) on inputs of spatial size
    ``input_shape``.
    """
    shapes = layer_shapes(kernels, input_shape)
    out = []
    for kernel, shape in zip(kernels, shapes[:-1], strict=True):
        k = np.asarray(kernel, dtype=np.float64)
        fan_in = k.shape[1] * math.prod(k.shape[2:])
        out.append(k / max(1.0, operator_norm(k, shape), float(np.abs(k).max()) *
                           math.sqrt(fan_in)))
    return out


def check_conv_target(kernels: Sequence[np.ndarray], input_shape: Sequence[int]) -> None:
    """Raise ``ValueError`` unless every kernel has ``||K||_op <= 1`` and ``|K| <=
    1/sqrt(fan_in)`` on inputs of spatial size ``input_shape`` (relative slack ``1e-9``)."""
    shapes = layer_shapes(kernels, input_shape)
    for i, (kernel, shape) in enumerate(zip(kernels, shapes[:-1], strict=True), start=1):
        fan_in = kernel.shape[1] * math.prod(kernel.shape[2:])
        if not np.all(np.isfinite(kernel)):
            raise ValueError(f"layer {i} has non-finite weights")
        if operator_norm(kernel, shape) > 1 + 1e-9:
            raise ValueError(f"layer {i} violates ||K||_op <= 1")
        if np.abs(kernel).max() > (1 + 1e-9) / math.sqrt(fan_in):
            raise ValueError(f"layer {i} violates |K| <= 1/sqrt(c_in |k|) = "
                             f"{1 / math.sqrt(fan_in):.4g}")


def random_conv_target(channels: Sequence[int], kernel: Sequence[int],
                       input_shape: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Gaussian kernels ``N(0, 1/fan_in)`` rescaled by :func:`rescale_conv_target`.

    Parameters
    ----------
    channels : sequence of int
        ``[c_0, ..., c_l]``.
    kernel : sequence of int
        Kernel size, one entry per spatial axis (``(k,)`` or ``(k_h, k_w)``).
    input_shape : sequence of int
        Spatial input size (``(L,)`` or ``(H, W)``).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    list of numpy.ndarray
    """
    if len(channels) < 2 or any(int(c) != c or c < 1 for c in channels):
        raise ValueError(f"channels need at least two integers >= 1, got {list(channels)}")
    if len(kernel) != len(input_shape) or len(kernel) not in (1, 2):
        raise ValueError("kernel and input shape need one or two spatial axes each")
    raw = [rng.standard_normal((c_out, c_in, *kernel)) / math.sqrt(c_in * math.prod(kernel))
           for c_in, c_out in itertools.pairwise(channels)]
    return rescale_conv_target(raw, input_shape)


@dataclass(frozen=True)
class ConvSourceDraw:
    """Provenance of a random convolutional source: kernels of ``shapes``, in order, with i.i.d.
    ``U[-1, 1]`` entries from ``numpy.random.default_rng(seed)`` (the source distribution of the
    convolutional subset-sum construction, as Pensia et al.'s for fully connected layers).

    Parameters
    ----------
    shapes : tuple of tuple of int
        Kernel shapes ``(c_out, c_in, *k)`` of the source layers.
    seed : int
        Seed of the generator that drew them.
    """

    shapes: tuple[tuple[int, ...], ...]
    seed: int

    @classmethod
    def from_rng(cls, shapes: Sequence[Sequence[int]], rng: np.random.Generator
                 ) -> ConvSourceDraw:
        """A draw whose seed is taken from ``rng`` (one seeded generator fixes everything)."""
        return cls(tuple(tuple(int(d) for d in s) for s in shapes),
                   int(rng.integers(0, 2**63 - 1)))

    def layers(self) -> list[np.ndarray]:
        """The source kernels, regenerated from the seed (the same floats every time)."""
        rng = np.random.default_rng(self.seed)
        return [rng.uniform(-1.0, 1.0, shape) for shape in self.shapes]


@dataclass(frozen=True)
class ConvSubnetwork:
    """A pruned random convolutional source: kernels ``S_i`` and boolean masks ``M_i``.

    Evaluated as the ordinary conv network with kernels ``M_i ⊙ S_i`` (:func:`conv_forward`).
    The source carries its provenance (:class:`ConvSourceDraw`), so :meth:`check_genuine` can
    regenerate it and prove that every kept weight is that of an honest random draw.
    """

    source: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray, ...]
    provenance: ConvSourceDraw | None = None

    def weights(self) -> list[np.ndarray]:
        """Effective kernels ``M_i ⊙ S_i`` (pruned entries exactly 0)."""
        return [np.where(m, s, 0.0) for s, m in zip(self.source, self.masks, strict=True)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Network output on a batch ``(batch, c_0, *spatial)``."""
        return conv_forward(self.weights(), x)

    def check_genuine(self) -> None:
        """Raise ``ValueError`` unless this is a genuine subnetwork of an honest random draw.

        Checks, in order: a provenance is recorded; the class evaluates it by this class's own
        ``weights`` and ``__call__`` (a subclass overriding either is refused); one boolean mask
        of the source's shape per kernel, consecutive kernels' channels matching; the source
        equals the draw regenerated from its seed bit for bit (neither the target nor an edited
        source passes); and every kept effective weight is the regenerated source's.
        """
        if self.provenance is None:
            raise ValueError("the subnetwork carries no provenance (shapes and seed of its "
                             "source draw), so its source cannot be verified")
        for name in ("__call__", "weights"):
            if getattr(type(self), name) is not getattr(ConvSubnetwork, name):
                raise ValueError(f"{type(self).__name__} overrides ConvSubnetwork.{name}")
        if len(self.source) == 0 or len(self.source) != len(self.masks):
            raise ValueError("need one mask per source kernel")
        for i, (s, m) in enumerate(zip(self.source, self.masks, strict=True), start=1):
            if not isinstance(m, np.ndarray) or m.dtype != np.bool_ or m.shape != s.shape:
                raise ValueError(f"mask of layer {i} must be a boolean array of shape {s.shape}")
            if i > 1 and s.shape[1] != self.source[i - 2].shape[0]:
                raise ValueError(f"layer {i} expects {s.shape[1]} channels, got "
                                 f"{self.source[i - 2].shape[0]}")
        if tuple(tuple(s.shape) for s in self.source) != self.provenance.shapes:
            raise ValueError("the source's kernel shapes differ from its recorded draw")
        drawn = self.provenance.layers()
        for i, (s, d) in enumerate(zip(self.source, drawn, strict=True), start=1):
            if not np.array_equal(np.asarray(s), d):
                raise ValueError(f"source layer {i} differs from its regenerated draw")
        for i, (w, d, m) in enumerate(zip(self.weights(), drawn, self.masks, strict=True),
                                      start=1):
            if not np.array_equal(w[m], d[m]) or np.any(w[~m] != 0):
                raise ValueError(f"layer {i} keeps weights that are not the source's")

    @property
    def n_kept(self) -> int:
        """Kept weights."""
        return int(sum(int(np.count_nonzero(m)) for m in self.masks))

    @property
    def n_source(self) -> int:
        """Source weights."""
        return int(sum(s.size for s in self.source))

    @property
    def kept_fraction(self) -> float:
        """``n_kept / n_source``."""
        return self.n_kept / self.n_source

    @property
    def depth(self) -> int:
        """Number of source layers."""
        return len(self.source)
