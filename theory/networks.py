"""Bias-free ReLU networks as lists of float64 weight matrices.

A network of depth ``l`` is ``f(x) = W_l s(W_{l-1} ... s(W_1 x))`` with ``s = ReLU`` and
``W_i`` of shape ``(d_i, d_{i-1})``.  Targets of the strong lottery ticket theorems (Malach et al.
2020, Pensia et al. 2020) satisfy ``||W_i||_2 <= 1`` (spectral) and/or ``|W_i[k, j]| <=
1/sqrt(d_{i-1})`` (entrywise); sources are random with i.i.d. entries.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

CONSTRAINTS = ("spectral", "entrywise", "both")
SOURCE_DISTS = ("uniform", "gaussian", "rademacher", "hyperbolic")
HYPERBOLIC_LOW = 1e-3
"""Smallest magnitude ``a`` of the hyperbolic source: density ``∝ 1/|w|`` on ``[-1,-a] ∪ [a,1]``."""


def layer_widths(weights: Sequence[np.ndarray]) -> list[int]:
    """Widths ``[d_0, d_1, ..., d_l]`` of a network ``W_i in R^{d_i x d_{i-1}}``.

    Parameters
    ----------
    weights : sequence of numpy.ndarray
        Layer matrices, ``weights[i]`` of shape ``(d_{i+1}, d_i)``.

    Returns
    -------
    list of int
        The layer widths.
    """
    if len(weights) == 0:
        raise ValueError("a network needs at least one layer")
    widths: list[int] = []
    for i, w in enumerate(weights, start=1):
        if np.ndim(w) != 2:
            raise ValueError(f"layer {i} must be a 2-D matrix, got shape {np.shape(w)}")
        d_out, d_in = np.shape(w)
        if widths and d_in != widths[-1]:
            raise ValueError(
                f"layer {i} expects {d_in} inputs but layer {i - 1} has {widths[-1]} outputs"
            )
        if not widths:
            widths.append(int(d_in))
        widths.append(int(d_out))
    return widths


def forward(weights: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Evaluate ``f(x) = W_l s(W_{l-1} ... s(W_1 x))``, ``s = ReLU``, bias-free.

    Parameters
    ----------
    weights : sequence of numpy.ndarray
        Layer matrices of shape ``(d_i, d_{i-1})``.
    x : numpy.ndarray
        Inputs ``(batch, d_0)``, or one input ``(d_0,)`` (treated as a batch of one).

    Returns
    -------
    numpy.ndarray
        Outputs ``(batch, d_l)``.
    """
    widths = layer_widths(weights)
    h = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if h.ndim != 2 or h.shape[1] != widths[0]:
        raise ValueError(f"inputs must have shape (batch, {widths[0]}), got {np.shape(x)}")
    for i, w in enumerate(weights):
        h = h @ np.asarray(w, dtype=np.float64).T
        if i < len(weights) - 1:
            h = np.maximum(h, 0.0)
    return h


def _check_widths(widths: Sequence[int]) -> list[int]:
    if len(widths) < 2:
        raise ValueError(f"widths need at least an input and an output width, got {list(widths)}")
    if any(int(d) != d or d < 1 for d in widths):
        raise ValueError(f"every width must be an integer >= 1, got {list(widths)}")
    return [int(d) for d in widths]


def _check_constraint(constraint: str) -> None:
    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {', '.join(CONSTRAINTS)}, got {constraint!r}")


def _excess(w: np.ndarray, constraint: str) -> float:
    """Factor ``c >= 0`` such that ``w / max(c, 1)`` meets ``constraint`` (``c <= 1``: it holds)."""
    factors = [0.0]
    if constraint in ("spectral", "both"):
        factors.append(float(np.linalg.norm(w, ord=2)))
    if constraint in ("entrywise", "both"):
        factors.append(float(np.max(np.abs(w), initial=0.0) * np.sqrt(w.shape[1])))
    return max(factors)


def rescale_target(weights: Sequence[np.ndarray], constraint: str = "both") -> list[np.ndarray]:
    """Scale each layer down just enough to meet the target assumption.

    Layer ``i`` is divided by ``max(1, ||W_i||_2, sqrt(d_{i-1}) max|W_i|)`` (the terms the
    constraint names); layers that already satisfy it are returned unchanged.

    Parameters
    ----------
    weights : sequence of numpy.ndarray
        Layer matrices.
    constraint : {"spectral", "entrywise", "both"}
        ``||W_i||_2 <= 1``, ``|W_i| <= 1/sqrt(d_{i-1})``, or both.

    Returns
    -------
    list of numpy.ndarray
        The rescaled float64 layers.
    """
    _check_constraint(constraint)
    layer_widths(weights)
    out = []
    for w in weights:
        w = np.asarray(w, dtype=np.float64)
        out.append(w / max(1.0, _excess(w, constraint)))
    return out


def check_target(weights: Sequence[np.ndarray], constraint: str = "both") -> None:
    """Raise ``ValueError`` unless every layer meets the target assumption.

    Parameters
    ----------
    weights : sequence of numpy.ndarray
        Layer matrices.
    constraint : {"spectral", "entrywise", "both"}
        ``||W_i||_2 <= 1`` (spectral), ``|W_i| <= 1/sqrt(d_{i-1})`` (entrywise), or both;
        a relative slack of ``1e-9`` absorbs rounding.
    """
    _check_constraint(constraint)
    layer_widths(weights)
    for i, w in enumerate(weights, start=1):
        w = np.asarray(w, dtype=np.float64)
        if not np.all(np.isfinite(w)):
            raise ValueError(f"layer {i} has non-finite weights")
        if constraint in ("spectral", "both") and np.linalg.norm(w, ord=2) > 1 + 1e-9:
            raise ValueError(
                f"layer {i} violates the spectral assumption ||W||_2 <= 1 "
                f"(||W||_2 = {np.linalg.norm(w, ord=2):.4g})"
            )
        bound = 1.0 / np.sqrt(w.shape[1])
        if constraint in ("entrywise", "both") and np.max(np.abs(w)) > bound * (1 + 1e-9):
            raise ValueError(
                f"layer {i} violates the entrywise assumption |w| <= 1/sqrt(d_in) = {bound:.4g} "
                f"(max |w| = {np.max(np.abs(w)):.4g})"
            )


def random_target(
    widths: Sequence[int], rng: np.random.Generator, constraint: str = "both"
) -> list[np.ndarray]:
    """Draw a Gaussian target network and rescale it to meet the assumption.

    Entries are ``N(0, 1/d_{i-1})``, then each layer is scaled down by :func:`rescale_target`.

    Parameters
    ----------
    widths : sequence of int
        ``[d_0, ..., d_l]``, every width ``>= 1``, at least two.
    rng : numpy.random.Generator
        Source of randomness.
    constraint : {"spectral", "entrywise", "both"}
        Assumption the layers satisfy.

    Returns
    -------
    list of numpy.ndarray
        ``W_i`` of shape ``(d_i, d_{i-1})``.
    """
    dims = _check_widths(widths)
    _check_constraint(constraint)
    raw = [rng.standard_normal((d_out, d_in)) / np.sqrt(d_in) for d_in, d_out in
           itertools.pairwise(dims)]
    return rescale_target(raw, constraint)


def random_source(
    widths: Sequence[int], rng: np.random.Generator, dist: str = "uniform",
    density: float = 1.0,
) -> list[np.ndarray]:
    """Draw a random source network with i.i.d. entries (an Erdos-Renyi sparse one if asked).

    Parameters
    ----------
    widths : sequence of int
        ``[d_0, ..., d_L]``, every width ``>= 1``, at least two.
    rng : numpy.random.Generator
        Source of randomness.
    dist : {"uniform", "gaussian", "rademacher", "hyperbolic"}
        ``U[-1, 1]`` (Pensia et al. 2020), ``N(0, 1)``, ``+-1`` with probability 1/2
        (binary sources), or the hyperbolic density ``∝ 1/|w|`` on ``[-1,-a] ∪ [a,1]`` with
        ``a = HYPERBOLIC_LOW`` (log-uniform magnitude, random sign).
    density : float
        Probability in ``(0, 1]`` that an edge exists: below 1, after all weights are drawn,
        every entry is kept independently with this probability and set to 0 otherwise (the
        Erdos-Renyi sources of Gadhikar, Mukherjee & Burkholz 2023).  At 1 nothing more is drawn,
        so a dense source is the same draw as before the parameter existed.

    Returns
    -------
    list of numpy.ndarray
        ``W_i`` of shape ``(d_i, d_{i-1})``.
    """
    dims = _check_widths(widths)
    if dist not in SOURCE_DISTS:
        raise ValueError(f"dist must be one of {', '.join(SOURCE_DISTS)}, got {dist!r}")
    layers = []
    for d_in, d_out in itertools.pairwise(dims):
        shape = (d_out, d_in)
        if dist == "uniform":
            w = rng.uniform(-1.0, 1.0, shape)
        elif dist == "gaussian":
            w = rng.standard_normal(shape)
        elif dist == "rademacher":
            w = rng.choice(np.array([-1.0, 1.0]), size=shape)
        else:
            magnitude = np.exp(rng.uniform(np.log(HYPERBOLIC_LOW), 0.0, shape))
            w = magnitude * rng.choice(np.array([-1.0, 1.0]), size=shape)
        layers.append(w)
    if not 0 < density <= 1:
        raise ValueError(f"density must lie in (0, 1], got {density!r}")
    if density < 1:
        layers = [w * (rng.random(w.shape) < density) for w in layers]
    return layers
