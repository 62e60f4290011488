"""Sup-norm distance of two networks on the unit ball: sampling plus ascent, or exact per orthant.

The strong lottery ticket theorems (Malach et al. 2020, Pensia et al. 2020) bound
``sup_{||x||_2 <= 1} ||f(x) - g(x)||_2``.  For bias-free ReLU networks both ``f`` and ``g`` are
positively homogeneous (``f(c x) = c f(x)`` for ``c >= 0``), so the difference is too and the
supremum is attained on the unit sphere; this module samples the ball and the sphere, then
refines the worst points by random-direction hill climbing on the sphere.  The value is a lower
bound on the true supremum (a measurement, not a certificate).

Where ``f - g`` is linear on every orthant (a one-layer target against a two-layer gadget
ticket), :func:`orthant_sup_error` computes the supremum exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


ORTHANT_MAX_D0 = 10
"""Largest input dimension of :func:`orthant_sup_error` (it enumerates ``3^d0`` sign patterns)."""


def orthant_sup_error(
    f: Callable[[np.ndarray], np.ndarray],
    g: Callable[[np.ndarray], np.ndarray],
    d0: int,
    rng: np.random.Generator,
    n_checks: int = 64,
) -> SupErrorResult:
    """Exact ``sup_{||x||_2 <= 1} ||f(x) - g(x)||_2`` when ``f - g`` is linear on every orthant.

    A depth-1 target ``W x`` and a two-layer gadget subnetwork whose first-layer units each read
    one coordinate (Pensia, Malach and MPT-binary constructions) differ by a map that is linear
    on every closed orthant.  By continuity its column for coordinate ``j`` depends only on the
    sign of ``x_j``: ``c_j^+ = (f - g)(e_j)`` and ``c_j^- = -(f - g)(-e_j)``, so
    ``(f - g)(x) = sum_j c_j^{sign x_j} x_j`` and the supremum is

    ``max over patterns p in {+, -, 0}^d0 of max_{u > 0 on S(p), ||u|| = 1} ||C_p u||``,

    ``C_p`` holding the columns ``p_j c_j^{p_j}`` of the support ``S(p)``.  At an optimum with
    support ``S`` the KKT conditions make ``u`` an eigenvector of ``C_p^T C_p`` with positive
    entries, so enumerating every pattern and every such eigenvector (batched ``eigh``) gives the
    exact value.  The linearity assumption is checked on ``n_checks`` random points (ValueError
    if it fails), and the value is re-evaluated at the maximiser.

    Parameters
    ----------
    f, g : callable
        Map inputs ``(batch, d0)`` to outputs ``(batch, d_out)``.
    d0 : int
        Input dimension, ``1 <= d0 <= ORTHANT_MAX_D0``.
    rng : numpy.random.Generator
        Draws the check points.
    n_checks : int
        Random points on which the orthant-linear model is compared with ``f - g``.

    Returns
    -------
    SupErrorResult
        The exact supremum (``method`` says so), its maximiser and the evaluations used.
    """
    if int(d0) != d0 or not 1 <= d0 <= ORTHANT_MAX_D0:
        raise ValueError(f"d0 must be an integer in [1, {ORTHANT_MAX_D0}], got {d0!r}")
    d0 = int(d0)

    def diff(x: np.ndarray) -> np.ndarray:
        return np.asarray(f(x), dtype=np.float64) - np.asarray(g(x), dtype=np.float64)

    eye = np.eye(d0)
    columns = np.stack([diff(eye).T, -diff(-eye).T])  # (2, d_out, d0): sign +, sign -
    checks = _sphere(rng, n_checks, d0)
    model = np.einsum("nj,noj->no", checks,
                      np.where((checks >= 0)[:, None, :], columns[0][None], columns[1][None]))
    actual = diff(checks)
    scale = 1.0 + np.abs(actual).max()
    if not np.allclose(model, actual, rtol=1e-9, atol=1e-9 * scale):
        raise ValueError("f - g is not linear on the orthants (e.g. a target deeper than one "
                         "layer); use sup_error instead")
    best_value, best_x = 0.0, np.zeros(d0)
    for idx, signs in _sign_patterns(d0):
        picked = np.where(signs[:, None, :] > 0, columns[0][:, idx][None],
                          columns[1][:, idx][None]) * signs[:, None, :]
        eigval, eigvec = np.linalg.eigh(np.einsum("poi,poj->pij", picked, picked))
        positive = np.all(eigvec > 0, axis=1) | np.all(eigvec < 0, axis=1)
        values = np.where(positive, np.sqrt(np.maximum(eigval, 0.0)), -1.0)
        p, k = np.unravel_index(int(np.argmax(values)), values.shape)
        if values[p, k] > best_value:
            best_value, best_x = float(values[p, k]), np.zeros(d0)
            best_x[idx] = signs[p] * np.abs(eigvec[p, :, k])
    measured = float(np.linalg.norm(diff(best_x[None])[0]))
    return SupErrorResult(
        value=max(measured, best_value),
        argmax=best_x,
        n_evaluated=2 * d0 + n_checks + 1,
        method="exact (linear on orthants: sign patterns x positive eigenvectors)",
    )


def _sign_patterns(d0: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For every nonempty support ``S`` of ``{0..d0-1}``: ``S`` and all ``2^|S|`` sign rows."""
    for mask in range(1, 1 << d0):
        idx = np.array([j for j in range(d0) if mask >> j & 1])
        yield idx, ((np.arange(1 << len(idx))[:, None] >> np.arange(len(idx))) & 1) * 2 - 1
