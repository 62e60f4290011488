"""Sup-norm distance of two networks on the unit ball, by dense sampling plus local ascent.

The strong lottery ticket theorems (Malach et al. 2020, Pensia et al. 2020) bound
``sup_{||x||_2 <= 1} ||f(x) - g(x)||_2``.  For bias-free ReLU networks both ``f`` and ``g`` are
positively homogeneous (``f(c x) = c f(x)`` for ``c >= 0``), so the difference is too and the
supremum is attained on the unit sphere; this module samples the ball and the sphere, then
refines the worst points by random-direction hill climbing on the sphere.  The value is a lower
bound on the true supremum (a measurement, not a certificate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

N_STARTS = 8
"""Worst sampled points refined by the ascent."""


@dataclass(frozen=True)
class SupErrorResult:
    """A measured ``sup_{||x|| <= 1} ||f(x) - g(x)||_2``.

    Parameters
    ----------
    value : float
        Largest error found.
    argmax : numpy.ndarray
        ``(d0,)`` input attaining it.
    n_evaluated : int
        Inputs evaluated in total.
    method : str
        How it was measured.
    """

    value: float
    argmax: np.ndarray
    n_evaluated: int
    method: str

    def __float__(self) -> float:
        return self.value


def _sphere(rng: np.random.Generator, n: int, d0: int) -> np.ndarray:
    z = rng.standard_normal((n, d0))
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.where(norms > 0, norms, 1.0)


def sup_error(
    f: Callable[[np.ndarray], np.ndarray],
    g: Callable[[np.ndarray], np.ndarray],
    d0: int,
    rng: np.random.Generator,
    n_samples: int = 4096,
    ascent_steps: int = 50,
) -> SupErrorResult:
    """Measure ``sup_{||x||_2 <= 1} ||f(x) - g(x)||_2`` (Pensia et al. 2020, Theorem 1's metric).

    ``n_samples`` inputs are drawn, half uniform in the ball (direction uniform on the sphere,
    radius ``U^(1/d0)``) and half on the sphere; from the ``N_STARTS`` worst ones, each of
    ``ascent_steps`` steps tries a random perturbation of size ``sigma`` projected back onto the
    sphere, keeps it if the error grows, and otherwise halves ``sigma`` (start ``sigma = 0.5``).

    Parameters
    ----------
    f, g : callable
        Map inputs ``(batch, d0)`` to outputs ``(batch, d_out)``.
    d0 : int
        Input dimension, ``>= 1``.
    rng : numpy.random.Generator
        Source of randomness (same state: same result).
    n_samples : int
        Sampled inputs, ``>= 1``.
    ascent_steps : int
        Hill-climbing steps, ``>= 0``.

    Returns
    -------
    SupErrorResult
        The largest error found, where, how many inputs were evaluated.
    """
    if int(d0) != d0 or d0 < 1:
        raise ValueError(f"d0 must be an integer >= 1, got {d0!r}")
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    if int(ascent_steps) != ascent_steps or ascent_steps < 0:
        raise ValueError(f"ascent_steps must be an integer >= 0, got {ascent_steps!r}")
    d0 = int(d0)

    def error(x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.asarray(f(x)) - np.asarray(g(x)), axis=1)

    n_ball = n_samples // 2
    radii = rng.uniform(0.0, 1.0, (n_ball, 1)) ** (1.0 / d0)
    x = np.concatenate([_sphere(rng, n_ball, d0) * radii, _sphere(rng, n_samples - n_ball, d0)])
    errs = error(x)
    worst = np.argsort(-errs, kind="stable")[:N_STARTS]
    points = x[worst] / np.maximum(np.linalg.norm(x[worst], axis=1, keepdims=True), 1e-300)
    points = np.where(np.linalg.norm(x[worst], axis=1, keepdims=True) > 0, points,
                      _sphere(rng, len(worst), d0))
    current = error(points)
    sigma = np.full(len(points), 0.5)
    evaluated = n_samples + len(points)
    for _ in range(int(ascent_steps)):
        trial = points + sigma[:, None] * rng.standard_normal(points.shape)
        trial /= np.maximum(np.linalg.norm(trial, axis=1, keepdims=True), 1e-300)
        trial_err = error(trial)
        better = trial_err > current
        points = np.where(better[:, None], trial, points)
        current = np.where(better, trial_err, current)
        sigma = np.where(better, sigma, sigma / 2.0)
        evaluated += len(points)
    candidates = np.concatenate([x, points])
    values = np.concatenate([errs, current])
    best = int(np.argmax(values))
    return SupErrorResult(
        value=float(values[best]),
        argmax=candidates[best].copy(),
        n_evaluated=evaluated,
        method=f"sampling ({n_samples}) + sphere hill climbing ({ascent_steps} steps)",
    )
