"""Success probabilities, not medians: constructions over seeds, Pensia's lower bound, Lueker's C.

* :func:`success_probability`: the fraction of seeds on which a construction succeeds (its own
  certified event: every per-weight tolerance met and the certified sup error ``<= eps``) against
  the source width or against ``delta``, with Clopper-Pearson intervals, next to the ``1 - delta``
  the bound promises where it applies (at least the bound's width).
* :func:`pensia_lower_bound_table`: Pensia et al.'s lower bound checked exactly for ``d = 1``.
* :func:`lueker_constant`: an estimate of Lueker's ``C`` for U[-1, 1] summands from the exact
  covering radius.

Every trial ``s`` of a cell draws its target and source from ``default_rng([seed, s])`` (the
same targets in every cell of a sweep), so the rows are reproducible from ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import beta

from theory.constructions import get_method
from theory.networks import random_source, random_target
from theory.subset_sum import counting_lower_bound, covering_radius

PROBABILITY_PARAMS = ("width", "delta")


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson 1934) two-sided interval for a binomial success probability.

    ``lo = Beta^{-1}(alpha/2; k, n - k + 1)`` (0 if ``k = 0``) and
    ``hi = Beta^{-1}(1 - alpha/2; k + 1, n - k)`` (1 if ``k = n``), ``alpha = 1 - confidence``.

    Parameters
    ----------
    successes : int
        ``k``, ``0 <= k <= n``.
    trials : int
        ``n >= 1``.
    confidence : float
        In (0, 1).

    Returns
    -------
    tuple of float
        ``(lo, hi)``.
    """
    if int(trials) != trials or trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes}, "
                         f"{trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    alpha = 1.0 - confidence
    k, n = int(successes), int(trials)
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def _rate_columns(successes: int, trials: int, confidence: float) -> dict[str, Any]:
    lo, hi = clopper_pearson(successes, trials, confidence)
    return {"successes": successes, "trials": trials, "success_rate": successes / trials,
            "ci_low": lo, "ci_high": hi, "confidence": confidence}


def success_probability(
    method: str,
    vary: str,
    values: Sequence[float],
    seeds: int,
    width: int = 2,
    depth: int = 1,
    eps: float = 0.2,
    delta: float = 0.1,
    seed: int = 0,
    confidence: float = 0.95,
    progress: Callable[[int], Any] | None = None,
) -> list[dict[str, Any]]:
    """Success rate of a construction over ``seeds`` trials per value, with CP intervals.

    Parameters
    ----------
    method : str
        A registered construction of the ``gadget`` or ``depth`` family.
    vary : str
        ``"width"`` (values: block sizes, passed as ``block_size``) or ``"delta"`` (values:
        failure probabilities; the construction's default widths for each).
    values : sequence
        Block sizes or deltas.
    seeds : int
        Trials per value.
    width, depth, eps, delta : see :func:`verify.construction_study.run_construction`
        (``delta`` is the fixed one when ``vary="width"``).
    seed : int
        Base seed of every trial's generator ``default_rng([seed, s])``.
    confidence : float
        Of the Clopper-Pearson interval.
    progress : callable, optional
        Called with ``1`` after each value.

    Returns
    -------
    list of dict
        One row per value: construction, param, value, delta, source_width, bound_width,
        successes, trials, success_rate, ci_low, ci_high, confidence, eps_rate (certified error
        ``<= eps`` without the per-weight tolerances) and promised: ``1 - delta`` where the
        source is at least as wide as the bound prescribes, else NaN (no promise).
    """
    if vary not in PROBABILITY_PARAMS:
        raise ValueError(f"vary must be one of {', '.join(PROBABILITY_PARAMS)}, got {vary!r}")
    if int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    construct = get_method(method)
    widths = [width] + [width] * depth
    rows = []
    for value in values:
        cell_delta = float(value) if vary == "delta" else delta
        overrides = {"block_size": int(value)} if vary == "width" else {}
        outcomes, within, source_width, bound = [], [], 0, 0
        for s in range(int(seeds)):
            rng = np.random.default_rng([seed, s])
            target = random_target(widths, rng, constraint="both")
            result = construct(target, eps, cell_delta, rng, **overrides)
            outcomes.append(bool(result.success))
            certified = result.certified_error
            within.append(certified is not None and certified <= eps)
            source_width, bound = result.source_width, result.bound_width
        rows.append({
            "construction": method,
            "param": vary,
            "value": value,
            "delta": cell_delta,
            "eps": float(eps),
            "target_size": "x".join(str(w) for w in widths),
            "source_width": source_width,
            "bound_width": bound,
            **_rate_columns(sum(outcomes), len(outcomes), confidence),
            "eps_rate": float(np.mean(within)),
            "promised": 1.0 - cell_delta if source_width >= bound else math.nan,
        })
        if progress is not None:
            progress(1)
    return rows


def pensia_lower_bound_width(d: int, eps: float) -> float:
    """Hidden width a pruned 2-layer ``d -> N -> d`` network needs to eps-approximate EVERY
    ``d x d`` map with ``||W||_2 <= 1`` (explicit form of Pensia et al.'s ``Omega(d log 1/eps)``).

    Counting: the ``2 d N`` edges give at most ``2^(2 d N)`` functions, and two maps more than
    ``2 eps`` apart in operator norm need different functions; the spectral unit ball holds
    ``eps^(-d^2)`` such maps (volume: ``vol(B) / vol(eps B) = eps^(-d^2)``), so
    ``N >= d log2(1/eps) / 2``.  For ``d = 1`` a unit is useful only with both edges kept and the
    slopes on ``x > 0`` and ``x < 0`` come from the units with ``a > 0`` and ``a < 0``
    separately, each group needing ``2^(N_s) 2 eps >= 2``: ``N >= 2 log2(1/eps)``.

    Parameters
    ----------
    d : int
        Target width.
    eps : float
        Accuracy.

    Returns
    -------
    float
    """
    bits = counting_lower_bound(eps)
    return 2.0 * bits if d == 1 else d * bits / 2.0


def worst_case_error_one_dim(n: int, rng: np.random.Generator) -> float:
    """Exact worst case over ``w in [-1, 1]`` of the best pruning of a random ``1 -> n -> 1``
    uniform source: ``max(radius(S+), radius(S-))``.

    The pruned network is ``P relu(x) - N relu(-x)`` with ``P`` a subset sum of the products
    ``a_u b_u`` over units with ``a_u > 0`` and ``N`` over ``a_u < 0``; its sup error against
    ``w x`` on ``[-1, 1]`` is ``max(|P - w|, |N - w|)``, minimised independently, so the worst
    ``w`` costs the larger covering radius (:func:`theory.subset_sum.covering_radius`) of the
    two product sets.

    Parameters
    ----------
    n : int
        Hidden units, at most ``2 MAX_SUMMANDS``, at most 24 of either sign being practical.
    rng : numpy.random.Generator
        Draws the source.

    Returns
    -------
    float
    """
    first, second = random_source([1, n, 1], rng, dist="uniform")
    a, b = first[:, 0], second[0]
    return max(covering_radius(a[a > 0] * b[a > 0]), covering_radius(a[a < 0] * b[a < 0]))


def pensia_lower_bound_table(
    eps_values: Sequence[float], widths: Sequence[int], seeds: int, seed: int = 0,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """Fraction of random ``1 -> N -> 1`` sources that eps-approximate every 1 x 1 map, vs ``N``.

    Parameters
    ----------
    eps_values : sequence of float
        Accuracies.
    widths : sequence of int
        Hidden widths ``N``.
    seeds : int
        Sources per width.
    seed : int
        Base seed (``default_rng([seed, N, s])``).
    confidence : float
        Of the Clopper-Pearson interval.

    Returns
    -------
    list of dict
        One row per ``(eps, N)``: eps, hidden_width, lower_bound (``2 log2(1/eps)``),
        below_bound, median_worst_error, successes, trials, success_rate, ci_low, ci_high.
        Below the bound the rate must be exactly 0 for every source, a fact the rows check.
    """
    rows = []
    for n in widths:
        worst = np.array([worst_case_error_one_dim(int(n), np.random.default_rng([seed, n, s]))
                          for s in range(int(seeds))])
        for eps in eps_values:
            bound = pensia_lower_bound_width(1, eps)
            rows.append({
                "eps": float(eps),
                "hidden_width": int(n),
                "lower_bound": bound,
                "below_bound": bool(n < bound),
                "median_worst_error": float(np.median(worst)),
                **_rate_columns(int(np.sum(worst <= eps)), len(worst), confidence),
            })
    return rows


def lueker_constant(
    n_values: Sequence[int], eps_values: Sequence[float], delta_values: Sequence[float],
    seeds: int, seed: int = 0,
) -> list[dict[str, Any]]:
    """Estimate Lueker's ``C`` in ``n >= C ln(2 / min(eps, delta))`` for U[-1, 1] summands.

    For every ``(eps, delta)``, ``n_needed`` is the smallest ``n`` of ``n_values`` whose exact
    covering radius (:func:`theory.subset_sum.covering_radius`) is ``<= eps`` in at least
    ``1 - delta`` of the ``seeds`` instances (the empirical rate; sampled), and
    ``c_estimate = n_needed / ln(2 / min(eps, delta))``.  Lueker's theorem needs ONE ``C`` for
    all ``(eps, delta)``, so the maximum over the rows estimates it.  A sampled estimate: the
    grid of ``n`` rounds ``n_needed`` up, the finite seeds add noise either way, and a finite
    grid of ``(eps, delta)`` may miss where the ratio is largest.

    Parameters
    ----------
    n_values : sequence of int
        Numbers of summands tried (each at most 24).
    eps_values, delta_values : sequence of float
        Accuracies and failure probabilities.
    seeds : int
        Instances per ``n``.
    seed : int
        Base seed (``default_rng([seed, n, s])``, as :mod:`verify.subset_sum_study`).

    Returns
    -------
    list of dict
        One row per ``(eps, delta)``: eps, delta, n_needed (None if no ``n`` suffices),
        success_rate at ``n_needed``, log_term ``ln(2/min(eps, delta))``, c_estimate, seeds.
    """
    ordered = sorted(int(n) for n in n_values)
    radii = {n: np.array([covering_radius(np.random.default_rng([seed, n, s]).uniform(-1, 1, n))
                          for s in range(int(seeds))]) for n in ordered}
    rows = []
    for eps in eps_values:
        for delta in delta_values:
            log_term = math.log(2.0 / min(eps, delta))
            needed = next((n for n in ordered if np.mean(radii[n] <= eps) >= 1 - delta), None)
            rows.append({
                "eps": float(eps),
                "delta": float(delta),
                "n_needed": needed,
                "success_rate": None if needed is None else float(np.mean(radii[needed] <= eps)),
                "log_term": log_term,
                "c_estimate": None if needed is None else needed / log_term,
                "seeds": int(seeds),
            })
    return rows
